"""The backend: accounts, their scenarios, and the exactly-one-default rule. No HTTP here.

Every method validates everything first and changes state second, under one lock,
so a refused request changes nothing and no reader ever sees two defaults or none.
No operation scans an account's scenarios: the default's key is kept per account
and creation order is an append-only list, so paging is a slice.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .errors import InvalidArgument, NotFound
from .scenarios import Scenario, ScenarioIn, steps_from_input

KeyFactory = Callable[[], str]

EXACTLY_ONE_DEFAULT = "Exactly one scenario must be default."


def random_key() -> str:
    """A new scenario key: 32 uppercase hex characters, like every vendor example."""
    return secrets.token_hex(16).upper()


def secret_digest(secret: str) -> bytes:
    # API keys and tokens are indexed by digest, so a dict lookup leaks nothing of the secret.
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


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
        )

    def to_document(self) -> dict[str, object]:
        return {
            "username": self.username,
            "password": self.password,
            "apiKeys": list(self.api_keys),
            "tokens": list(self.tokens),
            "scenarios": [self.view(self.scenarios[key]) for key in self.order],
        }


class Store:
    """All accounts of one mock server. Thread-safe; every public method is atomic."""

    def __init__(self, accounts: Iterable[Account] = (), key_factory: KeyFactory = random_key):
        self._lock = threading.RLock()
        self._key_factory = key_factory
        self._accounts: dict[str, Account] = {}
        self._by_api_key: dict[bytes, str] = {}
        self._by_token: dict[bytes, str] = {}
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
        with self._lock:
            self._accounts, self._by_api_key, self._by_token = new, by_api_key, by_token
            self.revision += 1
            self.credentials_revision += 1

    def add_account(self, account: Account) -> None:
        """Add one account; the caller has checked it (fixtures.validate_account)."""
        with self._lock:
            taken = self._credential_clash(account)
            if taken:
                raise InvalidArgument(validation_errors={taken: ["already used by another account"]})
            self._accounts[account.username] = account
            for key in account.api_keys:
                self._by_api_key[secret_digest(key)] = account.username
            for token in account.tokens:
                self._by_token[secret_digest(token)] = account.username
            self.revision += 1
            self.credentials_revision += 1

    def replace_account(self, account: Account) -> None:
        """Replace the scenarios of an existing account (same credentials)."""
        with self._lock:
            if account.username not in self._accounts:
                raise NotFound(f"Account {account.username} not found.")
            current = self._accounts[account.username]
            account.password, account.api_keys, account.tokens = (
                current.password, current.api_keys, current.tokens,
            )
            self._accounts[account.username] = account
            self.revision += 1

    def remove_account(self, username: str) -> None:
        with self._lock:
            account = self._accounts.pop(username, None)
            if account is None:
                raise NotFound(f"Account {username} not found.")
            for key in account.api_keys:
                self._by_api_key.pop(secret_digest(key), None)
            for token in account.tokens:
                self._by_token.pop(secret_digest(token), None)
            self.revision += 1
            self.credentials_revision += 1

    def _credential_clash(self, account: Account) -> str | None:
        if account.username in self._accounts:
            return "username"
        if any(secret_digest(k) in self._by_api_key for k in account.api_keys):
            return "apiKeys"
        if any(secret_digest(t) in self._by_token for t in account.tokens):
            return "tokens"
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
                raise NotFound()
            return account.view(scenario)

    def create(self, username: str, data: ScenarioIn) -> dict[str, object]:
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

    def update(self, username: str, key: str, data: ScenarioIn) -> dict[str, object]:
        with self._lock:
            account = self._require(username)
            current = account.scenarios.get(key)
            if current is None:
                raise NotFound()
            # Refuse before changing anything: the seed's {"default": false} on the default.
            if data.default is False and key == account.default_key:
                raise InvalidArgument(EXACTLY_ONE_DEFAULT)
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
