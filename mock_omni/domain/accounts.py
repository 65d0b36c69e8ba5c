"""The backend: accounts, their scenarios, and the exactly-one-default rule. No HTTP here.

Every method validates everything first and changes state second, under one lock,
so a refused request changes nothing and no reader ever sees two defaults or none.
No operation scans an account's scenarios: the default's key is kept per account
and creation order is an append-only list, so paging is a slice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from . import entropy
from .credentials import Grant, OAuth2Client, secret_digest
from .errors import InvalidArgument, NotFound
from .scenarios import Scenario, ScenarioFields, steps_from_input

KeyFactory = Callable[[], str]

EXACTLY_ONE_DEFAULT = "Exactly one scenario must be default."


def random_key() -> str:
    """A new scenario key: 32 uppercase hex characters, like every vendor example."""
    return entropy.current().token_hex(16).upper()


#: Ended tokens an account remembers (for the journal's reasons).
ENDED_KEPT = 64


#: Ended tokens an account remembers (for the journal's reasons).
ENDED_KEPT = 64


@dataclass
class Account:
    username: str
    password: str
    api_keys: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    default_key: str | None = None
    #: key -> index in ``order``; order is append-only (the vendor has no DELETE).
    positions: dict[str, int] = field(default_factory=dict)
    #: The scopes of API keys limited to some; a key not here has every scope.
    key_scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    oauth2_clients: list[OAuth2Client] = field(default_factory=list)
    #: Tokens the mock issued (sessions, OAuth2 access tokens) by digest, oldest first. Snapshots
    #: copy them and resets drop them; fixture documents (exports, the state file) leave them out.
    grants: dict[bytes, Grant] = field(default_factory=dict)
    #: Issued tokens that stopped working, by digest: how (``expired``, ``was ended``) and when on the
    #: account's clock, the newest ``ENDED_KEPT``; only for the journal's reason of a refused call.
    ended: dict[bytes, tuple[str, float]] = field(default_factory=dict)

    def add(self, scenario: Scenario, default: bool) -> None:
        self.scenarios[scenario.key] = scenario
        self.positions[scenario.key] = len(self.order)
        self.order.append(scenario.key)
        # Choice (omni-api.md): the first scenario an account gets becomes its default.
        if default or self.default_key is None:
            self.default_key = scenario.key

    def view(self, scenario: Scenario) -> dict[str, object]:
        return scenario.to_dict(scenario.key == self.default_key)

    def copy(self) -> Account:
        # Scenarios are immutable, so sharing them between copies is safe and cheap.
        return Account(
            self.username, self.password, list(self.api_keys), list(self.tokens),
            dict(self.scenarios), list(self.order), self.default_key, dict(self.positions),
            dict(self.key_scopes), list(self.oauth2_clients),
            {digest: grant.copy() for digest, grant in self.grants.items()}, dict(self.ended),
        )

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {
            "username": self.username,
            "password": self.password,
            "apiKeys": [{"key": key, "scopes": list(self.key_scopes[key])} if key in self.key_scopes else key
                        for key in self.api_keys],
            "tokens": list(self.tokens),
        }
        if self.oauth2_clients:
            document["oauth2Clients"] = [client.to_document() for client in self.oauth2_clients]
        document["scenarios"] = [self.view(self.scenarios[key]) for key in self.order]
        return document


class Accounts:
    """All accounts of one mock server. Thread-safe; every public method is atomic."""

    def __init__(self, accounts: Iterable[Account] = (), key_factory: KeyFactory = random_key):
        self._lock = threading.RLock()
        self._key_factory = key_factory
        self._accounts: dict[str, Account] = {}
        self._by_api_key: dict[bytes, str] = {}
        self._by_token: dict[bytes, str] = {}
        self._by_client: dict[str, str] = {}
        self._by_grant: dict[bytes, str] = {}
        #: Bumped on every change: the state file and the dashboard watch it.
        self.revision = 0
        #: Bumped when credentials change: the auth cache is keyed on it.
        self.credentials_revision = 0
        self.replace(accounts)

    # --- accounts and credentials -------------------------------------------------

    def replace(self, accounts: Iterable[Account]) -> None:
        """Swap in a whole new set of accounts (fixtures, reset, state import), atomically."""
        new = {account.username: account for account in accounts}
        by_api_key = {secret_digest(k): a.username for a in new.values() for k in a.api_keys}
        by_token = {secret_digest(t): a.username for a in new.values() for t in a.tokens}
        by_client = {c.client_id: a.username for a in new.values() for c in a.oauth2_clients}
        by_grant = {digest: a.username for a in new.values() for digest in a.grants}
        with self._lock:
            self._accounts, self._by_api_key, self._by_token = new, by_api_key, by_token
            self._by_client, self._by_grant = by_client, by_grant
            self.revision += 1
            self.credentials_revision += 1

    def add_account(self, account: Account) -> None:
        """Add one account; the caller has checked it (fixtures.validate_account)."""
        with self._lock:
            taken = self._credential_clash(account)
            if taken:
                raise InvalidArgument(validation_errors={taken: ["already used by another account"]})
            self._accounts[account.username] = account
            self._index(account)
            self.revision += 1
            self.credentials_revision += 1

    def replace_account(self, account: Account) -> None:
        """Replace the state of an existing account: scenarios, sessions and tokens; same keys and clients.

        Fixture tokens and issued tokens come from ``account`` (a per-account reset or a
        snapshot restore brings back a session ended since); the password, API keys and
        OAuth2 clients stay the current ones.
        """
        with self._lock:
            if account.username not in self._accounts:
                raise NotFound(f"Account {account.username} not found.")
            current = self._accounts[account.username]
            account.password, account.api_keys, account.key_scopes, account.oauth2_clients = (
                current.password, current.api_keys, current.key_scopes, current.oauth2_clients,
            )
            # A fixture token ended here and since given to another account stays that account's.
            account.tokens = [token for token in account.tokens
                              if self._by_token.get(secret_digest(token), account.username) == account.username]
            self._unindex(current)
            self._accounts[account.username] = account
            self._index(account)
            self.revision += 1
            self.credentials_revision += 1

    def remove_account(self, username: str) -> None:
        with self._lock:
            account = self._accounts.pop(username, None)
            if account is None:
                raise NotFound(f"Account {username} not found.")
            self._unindex(account)
            self.revision += 1
            self.credentials_revision += 1

    def _index(self, account: Account) -> None:
        name = account.username
        for key in account.api_keys:
            self._by_api_key[secret_digest(key)] = name
        for token in account.tokens:
            self._by_token[secret_digest(token)] = name
        for client in account.oauth2_clients:
            self._by_client[client.client_id] = name
        for digest in account.grants:
            self._by_grant[digest] = name

    def _unindex(self, account: Account) -> None:
        # Only entries that still point at this account: a value may since belong to another one.
        name = account.username
        for index, keys in ((self._by_api_key, map(secret_digest, account.api_keys)),
                            (self._by_token, map(secret_digest, account.tokens)),
                            (self._by_grant, account.grants)):
            for digest in keys:
                if index.get(digest) == name:
                    del index[digest]
        for client in account.oauth2_clients:
            if self._by_client.get(client.client_id) == name:
                del self._by_client[client.client_id]

    def _credential_clash(self, account: Account) -> str | None:
        if account.username in self._accounts or account.username in self._by_client:
            return "username"
        if any(secret_digest(k) in self._by_api_key for k in account.api_keys):
            return "apiKeys"
        if any(secret_digest(t) in self._by_token for t in account.tokens):
            return "tokens"
        if any(c.client_id in self._by_client or c.client_id in self._accounts for c in account.oauth2_clients):
            return "oauth2Clients"
        return None

    def account(self, username: str) -> Account | None:
        return self._accounts.get(username)

    def usernames(self) -> list[str]:
        with self._lock:
            return list(self._accounts)

    def account_for_api_key(self, api_key: str) -> Account | None:
        username = self._by_api_key.get(secret_digest(api_key))
        return None if username is None else self._accounts.get(username)

    def account_for_token(self, token: str) -> Account | None:
        username = self._by_token.get(secret_digest(token))
        return None if username is None else self._accounts.get(username)

    # --- sign-in: OAuth2 clients and the tokens the mock issues ---------------------

    def client(self, client_id: str) -> tuple[Account, OAuth2Client] | None:
        """The OAuth2 client with this id, or the account whose username it is (the vendor's own
        client credentials are the username and password, with every scope)."""
        username = self._by_client.get(client_id)
        if username is None:
            account = self._accounts.get(client_id)
            return None if account is None else (account, OAuth2Client(account.username, account.password))
        owner = self._accounts.get(username)
        if owner is not None:
            for client in owner.oauth2_clients:
                if client.client_id == client_id:
                    return owner, client
        return None

    def grant_for(self, token: str) -> tuple[Account, Grant] | None:
        """The issued token (session or OAuth2) and its account, found by digest."""
        digest = secret_digest(token)
        username = self._by_grant.get(digest)
        account = None if username is None else self._accounts.get(username)
        grant = None if account is None else account.grants.get(digest)
        return None if account is None or grant is None else (account, grant)

    def grants(self, username: str | None = None) -> list[tuple[str, Grant]]:
        """(username, grant) of every issued token, or of one account's, oldest first."""
        with self._lock:
            accounts = self._accounts.values() if username is None else [self._require(username)]
            return [(account.username, grant) for account in accounts for grant in account.grants.values()]

    def add_grant(self, username: str, grant: Grant, keep: Callable[[Grant], bool], limit: int) -> None:
        """Add an issued token; first drops, oldest first, those ``keep`` refuses and any past ``limit``.

        Tokens live alike, so the oldest expire first: dropping stops at the first one kept,
        which keeps issuing O(1) however many tokens an account holds.
        """
        with self._lock:
            account = self._require(username)
            dropped = False
            while account.grants:
                digest, old = next(iter(account.grants.items()))
                if keep(old) and len(account.grants) < limit:
                    break
                self._drop_grant(account, digest)
                dropped = True
            account.grants[grant.digest] = grant
            self._by_grant[grant.digest] = username
            if dropped:
                # A cached verdict may name a dropped token (a new token was never cached: it is random).
                self.credentials_revision += 1

    def remove_grant(self, username: str, grant: Grant, how: str = "was ended", when: float = 0.0) -> bool:
        """End an issued token (noting ``how`` and ``when`` it stopped working); False if it was already gone."""
        with self._lock:
            account = self._accounts.get(username)
            if account is None or account.grants.get(grant.digest) is not grant:
                return False
            self._drop_grant(account, grant.digest)
            account.ended[grant.digest] = (how, when)
            if len(account.ended) > ENDED_KEPT:
                del account.ended[next(iter(account.ended))]
            self.credentials_revision += 1
            return True

    def ended_grant(self, token: str) -> tuple[str, str, float] | None:
        """(account, how, when) of an issued token that stopped working, if one of the newest noted."""
        digest = secret_digest(token)
        with self._lock:
            for account in self._accounts.values():
                found = account.ended.get(digest)
                if found is not None:
                    return account.username, *found
        return None

    def _drop_grant(self, account: Account, digest: bytes) -> None:
        del account.grants[digest]
        if self._by_grant.get(digest) == account.username:
            del self._by_grant[digest]

    def end_token(self, username: str, token: str) -> bool:
        """End a fixture token (``DELETE /auth/1/session``) until the account is reset; False if not its own."""
        with self._lock:
            account = self._accounts.get(username)
            if account is None or token not in account.tokens:
                return False
            account.tokens = [kept for kept in account.tokens if kept != token]
            self._by_token.pop(secret_digest(token), None)
            self.revision += 1
            self.credentials_revision += 1
            return True

    def snapshot(self) -> list[Account]:
        """A consistent copy of every account, cheap (scenarios are shared, not copied)."""
        with self._lock:
            return [account.copy() for account in self._accounts.values()]

    def export(self, username: str | None = None) -> dict[str, object]:
        """The whole state (or one account) as a fixture document."""
        with self._lock:
            accounts = self._accounts.values() if username is None else [self._require(username)]
            return {"accounts": [account.to_document() for account in accounts]}

    def _require(self, username: str) -> Account:
        account = self._accounts.get(username)
        if account is None:
            raise NotFound(f"Account {username} not found.")
        return account

    # --- the four vendor operations ------------------------------------------------

    def list_scenarios(
        self, username: str, is_default: bool | None = None, limit: int = 100, page: int = 0
    ) -> list[dict[str, object]]:
        with self._lock:
            account = self._require(username)
            start = page * limit
            default_key = account.default_key
            if is_default is True:
                keys = [default_key] if default_key is not None and start == 0 and limit else []
            elif is_default is False and default_key is not None:
                # The order list without the default, sliced without building it whole.
                keys = _slice_skipping(account.order, account.positions[default_key], start, limit)
            else:
                keys = account.order[start:start + limit]
            return [account.view(account.scenarios[key]) for key in keys]

    def get(self, username: str, key: str) -> dict[str, object]:
        with self._lock:
            account = self._require(username)
            scenario = account.scenarios.get(key)
            if scenario is None:
                raise _no_scenario(username, key, account.scenarios)
            return account.view(scenario)

    def create(self, username: str, data: ScenarioFields) -> dict[str, object]:
        if data.flow is None:
            raise InvalidArgument(validation_errors={"flow": ["must not be null"]})
        flow = steps_from_input(data.flow)
        with self._lock:
            account = self._require(username)
            key = self._key_factory()
            while key in account.scenarios:
                key = self._key_factory()
            scenario = Scenario(key, data.name, flow)
            account.add(scenario, bool(data.default))
            self.revision += 1
            return account.view(scenario)

    def update(self, username: str, key: str, data: ScenarioFields) -> dict[str, object]:
        with self._lock:
            account = self._require(username)
            current = account.scenarios.get(key)
            if current is None:
                raise _no_scenario(username, key, account.scenarios)
            # Refuse before changing anything: the seed's {"default": false} on the default.
            if data.default is False and key == account.default_key:
                raise InvalidArgument(EXACTLY_ONE_DEFAULT).because(
                    f"{key} is {username}'s default scenario: make another one the default instead "
                    "(every account has exactly one)")
            updated = Scenario(
                key,
                current.name if data.name is None else data.name,
                current.flow if data.flow is None else steps_from_input(data.flow),
            )
            account.scenarios[key] = updated
            if data.default:
                account.default_key = key
            self.revision += 1
            return account.view(updated)


def _slice_skipping(order: list[str], skip: int, start: int, limit: int) -> list[str]:
    """order[start:start+limit] as if order[skip] were not there."""
    if start + limit <= skip:
        return order[start:start + limit]
    if start >= skip:
        return order[start + 1:start + 1 + limit]
    return order[start:skip] + order[skip + 1:start + limit + 1]


def _no_scenario(username: str, key: str, scenarios: Mapping[str, object]) -> NotFound:
    """NotFound for ``key``, saying whether another case of it is there (keys are case-sensitive)."""
    twin = next((other for other in scenarios if other.lower() == key.lower()), None)
    hint = f"; {twin} differs only in case (keys are case-sensitive)" if twin else ""
    return NotFound().because(f"{username} has no scenario with key {key!r}{hint}")
