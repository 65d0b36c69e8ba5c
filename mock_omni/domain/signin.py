"""Signing in: OAuth2 access tokens (client credentials) and IBSSO sessions, alive on the mock's clock. No HTTP.

The vendor's terms (its Create OAuth2 token, Create session and Destroy session pages):

- ``POST /auth/1/oauth2/token`` (RFC 6749 section 4.4) gives a Bearer token for a client's
  id and secret; the account's username and password are such a pair too. A token works
  until it expires; it carries its client's scopes, or fewer when ``scope`` asks for fewer.
- ``POST /auth/1/session`` with a username and password gives a session token; asked again
  while that session lives, it gives the same token ("to create a new token before the
  session expires, you'll need to destroy it first"). A session ends after an hour without
  a call ("the token expires after one hour of inactivity") or by ``DELETE /auth/1/session``.

Tokens belong to their account (``Account.grants``): resets drop them, snapshots copy them.
Every time read goes through ``SignIn.now``: the account's clock (everyone's, plus how far the admin
API moved that account's own), so a token is issued, checked and listed on one clock, the one its
account's messages and rate-limit buckets live on.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import ConfigDict, Field

from . import entropy
from .accounts import Account, Accounts
from .clock import Clock
from .credentials import KNOWN_SCOPES, Grant, GrantKind, OAuth2Client, Principal, Scopes, allows, same_secret
from .deferred import Deferred
from .errors import InvalidArgument, InvalidClient, InvalidScope, NotFound, Unauthorized

#: Choice (the vendor states none): an OAuth2 access token lives an hour, as with most OAuth2 servers.
TOKEN_LIFETIME = 3600.0
#: The vendor's: a session ends after one hour without a call.
SESSION_IDLE = 3600.0
#: Live tokens kept per account; past it, the oldest is dropped (a client fetching a token per call
#: for hours would otherwise grow the server without bound).
MAX_GRANTS = 10_000
# Compared against when the client or user is unknown, so that costs what a wrong secret costs.
_DUMMY_SECRET = secrets.token_urlsafe(32)


class SessionIn(Deferred):
    """``POST /auth/1/session``'s body (JSON or XML); other fields (the vendor's ``unsafe``) are ignored."""

    model_config = ConfigDict(title="CreateSessionRequest", frozen=True)
    username: str = Field(min_length=1, description="Unique username of the existing user who is performing login.")
    password: str = Field(min_length=1, description="Secret password.")


class TokenRequest(Deferred):
    """``POST /auth/1/oauth2/token``'s form (RFC 6749 4.4.2); it documents the form, the handler reads it."""

    model_config = ConfigDict(title="CreateOAuth2TokenRequest")
    grant_type: Literal["client_credentials"] = Field(description="Grant type as defined by the OAuth framework.")
    client_id: str | None = Field(None, description="The client's id; the account's username is one too. "
                                                    "With HTTP Basic, leave out or name the same client.")
    client_secret: str | None = Field(None, description="The client's secret; the account's password is one too. "
                                                        "Leave out when sending it by HTTP Basic.")
    scope: str | None = Field(None, description="Space-separated scopes the token should carry, all held by the "
                                                "client and named by the vendor's API (default: every scope of "
                                                "the client).")


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long issued tokens live, in seconds of the mock's clock (``--token-lifetime``, ``--session-idle``)."""

    token: float = TOKEN_LIFETIME
    session_idle: float = SESSION_IDLE


class SignIn:
    """Issues, checks and ends the tokens of sign-in calls; the admin API mints them for tests."""

    def __init__(self, store: Accounts, clock: Clock, lifetimes: Lifetimes | None = None) -> None:
        self._accounts = store
        self._clock = clock
        self.lifetimes = lifetimes or Lifetimes()
        # Finding a live session and opening one is one step: two logins at once share one session.
        self._lock = threading.Lock()
        #: Seconds one account's clock is ahead of everyone's (the admin API moves it); the app sets it.
        self.account_offset: Callable[[str], float] = lambda username: 0.0

    def now(self, username: str) -> float:
        """The mock's time for ``username``'s tokens: everyone's clock plus that account's own advance
        (every time read goes through here)."""
        return self._clock() + self.account_offset(username)

    # --- OAuth2 client credentials ------------------------------------------------------

    def client(self, client_id: str, client_secret: str) -> tuple[Account, OAuth2Client]:
        """The client with this id and secret and its account; InvalidClient (RFC 6749 5.2) otherwise."""
        found = self._find_client(client_id)
        # Always one constant-time compare, so an unknown client costs what a wrong secret does.
        expected = found[1].client_secret if found is not None else _DUMMY_SECRET
        if not same_secret(client_secret, expected) or found is None:
            raise InvalidClient().because(f"no OAuth2 client {client_id!r} in any account" if found is None else
                                          f"the secret of client {client_id!r} ({found[0].username}) is not the "
                                          "one given")
        return found

    def _find_client(self, client_id: str) -> tuple[Account, OAuth2Client] | None:
        return self._accounts.client(client_id)

    def issue_token(self, account: Account, client: OAuth2Client, scope: str | None = None) -> Grant:
        """An access token for an authenticated client, with its scopes or the fewer ``scope`` names."""
        return self._grant(account, "oauth2", self._token_scopes(client, scope), client.client_id)

    def mint_token(self, username: str, client_id: str | None = None, scopes: Scopes = None) -> Grant:
        """A token for a test, no secret needed: a client's (its scopes), or the account's own, maybe narrowed."""
        account = self._account(username)
        client: OAuth2Client | None = OAuth2Client(username, account.password)
        if client_id is not None:
            client = next((c for c in account.oauth2_clients if c.client_id == client_id), None)
            if client is None:
                raise InvalidArgument(validation_errors={"clientId": [f"account {username!r} has no such client"]})
        assert client is not None
        unknown = [name for name in scopes or () if name not in KNOWN_SCOPES]
        if unknown:
            raise InvalidArgument(validation_errors={"scopes": [f"unknown scope {', '.join(map(repr, unknown))}: "
                                                                f"the API's are {', '.join(sorted(KNOWN_SCOPES))}"]})
        if scopes is not None and client.scopes is not None and not set(scopes) <= set(client.scopes):
            raise InvalidArgument(validation_errors={"scopes": [f"client {client.client_id!r} holds only "
                                                                f"{', '.join(client.scopes) or 'no scope'}"]})
        return self._grant(account, "oauth2", client.scopes if scopes is None else scopes, client.client_id)

    @staticmethod
    def _token_scopes(client: OAuth2Client, scope: str | None) -> Scopes:
        if scope is None:
            return client.scopes
        # RFC 6749 3.3: space-delimited; a scope the API does not know, or the client lacks, is invalid_scope
        # (5.2), for a client holding every scope too: it holds every scope there is, not any name at all.
        asked = tuple(dict.fromkeys(scope.split(" ")))
        for name in asked:
            if name not in KNOWN_SCOPES:
                raise InvalidScope().because(f"scope {name!r} is none of the API's: {', '.join(sorted(KNOWN_SCOPES))}")
            if not allows(client.scopes, (name,)):
                raise InvalidScope().because(f"client {client.client_id!r} does not hold scope {name!r}")
        return asked

    # --- IBSSO sessions -------------------------------------------------------------------

    def open_session(self, username: str, password: str) -> Grant:
        """The account's live session, or a new one; Unauthorized for a wrong username or password."""
        account = self._accounts.account(username)
        if not same_secret(password, account.password if account is not None else _DUMMY_SECRET) or account is None:
            raise Unauthorized().because(f"no account named {username!r}" if account is None else
                                         f"the password of {account.username} is not the one given")
        return self.session_for(account.username)

    def session_for(self, username: str) -> Grant:
        """The account's live session (its inactivity period restarted), or a new one."""
        account = self._account(username)
        with self._lock:
            now = self.now(username)
            for grant in account.grants.values():
                if grant.kind == "ibsso" and grant.alive(now):
                    grant.touch(now)
                    return grant
            return self._grant(account, "ibsso", None, None)

    def end_session(self, username: str, token: str) -> None:
        """``DELETE /auth/1/session``: end the session (or fixture token) ``token``; Unauthorized if it is none."""
        found = self._accounts.grant_for(token)
        if found is not None and found[0].username == username and found[1].kind == "ibsso":
            if self._accounts.remove_grant(username, found[1], "was ended", self.now(username)):
                return
        elif self._accounts.end_token(username, token):
            return
        raise Unauthorized()

    # --- checking and listing ----------------------------------------------------------

    def principal(self, kind: GrantKind, token: str) -> Principal | None:
        """Who an issued token of ``kind`` proves, if it is alive (a use: a session's idle period restarts)."""
        found = self._accounts.grant_for(token)
        if found is None or found[1].kind != kind:
            return None
        account, grant = found
        principal = Principal(account.username, grant.scopes, grant)
        return principal if self.use(principal) else None

    def refusal(self, kind: GrantKind, token: str) -> str:
        """Why ``token`` of ``kind`` proves no one (for the journal)."""
        scheme, what = ("IBSSO", "session") if kind == "ibsso" else ("Bearer", "access token")
        ended = self._accounts.ended_grant(token)
        if ended is not None:
            username, how, when = ended
            ago = max(0.0, self.now(username) - when)
            return (f"{scheme}: this {what} of {username} {how} {ago:.3f} s ago on the account's clock "
                    "(POST /__admin/clock/advance moves it)" if how == "expired" else
                    f"{scheme}: this {what} of {username} {how} {ago:.3f} s ago (DELETE /auth/1/session)")
        return f"{scheme}: no live {what} or fixture token has this token (unknown, or ended long ago)"

    def use(self, principal: Principal) -> bool:
        """Whether the token behind ``principal`` is still alive; records the use. An expired one is dropped."""
        grant = principal.grant
        if grant is None:
            return True
        now = self.now(principal.username)
        if grant.alive(now):
            grant.touch(now)
            return True
        self._accounts.remove_grant(principal.username, grant, "expired", grant.expires_at())
        return False

    def issued(self, username: str | None = None) -> list[dict[str, object]]:
        """The live issued tokens (masked), of every account or one."""
        listed = []
        for owner, grant in self._issued_grants(username):
            now = self.now(owner)
            if grant.alive(now):
                listed.append({"account": owner, **grant.view(now)})
        return listed

    def _issued_grants(self, username: str | None) -> list[tuple[str, Grant]]:
        return self._accounts.grants(username)

    def _grant(self, account: Account, kind: GrantKind, scopes: Scopes, client_id: str | None) -> Grant:
        now = self.now(account.username)
        token, lifetime = self.new_token(kind)
        grant = Grant(kind, token, scopes, now, lifetime, now, client_id)
        self._accounts.add_grant(account.username, grant, lambda old: old.alive(now), MAX_GRANTS)
        return grant

    def new_token(self, kind: GrantKind) -> tuple[str, float]:
        """A new token of ``kind`` and how long it lives."""
        if kind == "oauth2":
            return entropy.current().token_urlsafe(32), self.lifetimes.token
        return entropy.current().secret_uuid4(), self.lifetimes.session_idle  # the vendor's session tokens are UUIDs

    def _account(self, username: str) -> Account:
        account = self._accounts.account(username)
        if account is None:
            raise NotFound(f"Account {username} not found.")
        return account
