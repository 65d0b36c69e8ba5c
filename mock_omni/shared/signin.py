"""Sign-in on Redis: the OAuth2 tokens and IBSSO sessions of domain/signin.py, shared by every replica.

A token lives in its account's grants hash (lua/grants.lua), so checking it is part of the call's
own script (call.lua) and reaches every replica at once; a {g} index finds its account by digest
(auth.py). Opening a session is one script (lua/session.lua): two logins at once, on any replicas,
share one session. Issuing a token is one (lua/issue.lua), dropping expired ones oldest first as in
memory. Ending a session is the call's operation (lua/ops/logout.lua). What a step of a vendor call
draws at random (a token) comes through ``stable``, so a step run again draws the same (link.py).

The rules themselves (which client, which scopes, what a mint may ask) are the base class's.
"""

from __future__ import annotations

from ..domain.credentials import Grant, GrantKind, OAuth2Client, Scopes
from ..domain.errors import NotFound, OmniError, Unauthorized
from ..domain.signin import MAX_GRANTS, Lifetimes, SignIn
from ..domain.store import Account
from . import scripts
from .clock import SharedClock
from .gate import run_call
from .link import Link, stable
from .store import RedisStore, clients_from, decoded, digest, scope_set

SESSION = scripts.named("session", "bucket", "grants")
ISSUE = scripts.named("issue", "bucket", "grants")
INDEX = scripts.named("index")
READ = scripts.named("read")
LOGOUT = scripts.call("logout")


class SharedSignIn(SignIn):
    # The base's memory store is not used: every method that reads or writes it is replaced here.
    def __init__(self, link: Link, store: RedisStore, clock: SharedClock, lifetimes: Lifetimes) -> None:
        self.link = link
        self._shared = store
        self._clock = clock
        self._shared_clock = clock
        self.lifetimes = lifetimes

    def now(self, username: str) -> float:
        del username  # one clock for every account's tokens, as in memory
        return self._shared_clock.now()

    # --- reading an account's credentials (through scripts: a vendor call's step may run again) ------------

    def _read(self, username: str) -> Account | None:
        """The account's password and OAuth2 clients (nothing else), or None."""
        password, clients = self.link.run(READ, (self.link.keys.account(username).account,), ["password", "clients"])
        if password is None:
            return None
        return Account(username, decoded(password), oauth2_clients=clients_from(clients))

    def _account(self, username: str) -> Account:
        account = self._read(username)
        if account is None:
            raise NotFound(f"Account {username} not found.")
        return account

    def _find_client(self, client_id: str) -> tuple[Account, OAuth2Client] | None:
        (owner,) = self.link.run(READ, (self.link.keys.clients,), [client_id])
        account = self._read(client_id if owner is None else decoded(owner))
        if account is None:
            return None
        if owner is None:  # the account's own username and password
            return account, OAuth2Client(account.username, account.password)
        client = next((c for c in account.oauth2_clients if c.client_id == client_id), None)
        return None if client is None else (account, client)

    # --- issuing ---------------------------------------------------------------------------------------

    def _grant(self, account: Account, kind: GrantKind, scopes: Scopes, client_id: str | None) -> Grant:
        token, lifetime = stable(lambda: self.new_token(kind))
        hexed = digest(token)
        keys = self.link.keys.account(account.username)
        reply = self.link.run(ISSUE, (keys.account, keys.grants, keys.grant_order), [
            hexed, token, scope_set(scopes), client_id or "", *self._time(), repr(lifetime), str(MAX_GRANTS)])
        if reply[0] == b"U":
            raise NotFound(f"Account {account.username} not found.")
        issued = float(reply[1])
        self._index(account.username, hexed, reply[2:])
        return Grant(kind, token, scopes, issued, lifetime, issued, client_id)

    def mint_token(self, username: str, client_id: str | None = None, scopes: Scopes = None) -> Grant:
        self._shared_clock.config.reload()  # the admin API's: the clock as it is now
        return super().mint_token(username, client_id, scopes)

    def open_session(self, username: str, password: str) -> Grant:
        return self._session(username, digest(password), Unauthorized())

    def session_for(self, username: str) -> Grant:
        self._shared_clock.config.reload()
        return self._session(username, "", NotFound(f"Account {username} not found."))

    def _session(self, username: str, proof: str, missing: OmniError) -> Grant:
        token, lifetime = stable(lambda: self.new_token("ibsso"))
        hexed = digest(token)
        keys = self.link.keys.account(username)
        reply = self.link.run(SESSION, (keys.account, keys.grants, keys.grant_order), [
            proof, hexed, token, *self._time(), repr(lifetime), str(MAX_GRANTS)])
        if reply[0] == b"U":
            raise missing
        if reply[0] == b"S":  # the live session
            return Grant("ibsso", reply[1].decode(), None, float(reply[2]), float(reply[3]), float(reply[4]))
        issued = float(reply[1])
        self._index(username, hexed, reply[2:])
        return Grant("ibsso", token, None, issued, lifetime, issued)

    def _index(self, username: str, added: str, dropped: list[bytes]) -> None:
        """The {g} index entries of a new grant and of those dropped to make room for it."""
        self.link.run(INDEX, (self.link.keys.grants,), [username.encode("utf-8", "surrogatepass"), added, *dropped])

    def _time(self) -> tuple[str, str]:
        """The time a script should take (''  for Redis's) and the clock's offset."""
        return self._shared_clock.base(), repr(self._shared_clock.config.current.offset)

    # --- ending and listing ----------------------------------------------------------------------------

    def end_session(self, username: str, token: str) -> None:
        """``DELETE /auth/1/session`` within its call (the call's script proved ``token``): the session or
        fixture token ends; Unauthorized for any other credential."""
        if run_call(self.link, LOGOUT, username, [token])[1] == b"t":
            self.link.run(INDEX, (self.link.keys.tokens,), [username.encode("utf-8", "surrogatepass"), "",
                                                             digest(token)])

    def _issued_grants(self, username: str | None) -> list[tuple[str, Grant]]:
        self._shared_clock.config.reload()
        return self._shared.grants(username)
