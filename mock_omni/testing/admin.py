"""What the admin API does, without HTTP: accounts, resets, state import, snapshots, limits, clock.

Accounts are the unit of isolation: every operation here can be scoped to one
account, so suites sharing one server never reset each other's state. Each account
remembers where it started (its fixture, or how ``create_account`` made it): that is
what a per-account reset returns to.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..domain.errors import InvalidArgument, NotFound
from ..domain.fixtures import Extras, FixtureError, account_from_data, accounts_from_document, format_document_error
from ..domain.message import Message
from ..domain.store import Account
from ..vendor.ratelimit import OPERATIONS, RateLimitSpecError, Rule, parse_rule

if TYPE_CHECKING:
    from ..app import MockOmni

SNAPSHOT_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
MAX_SNAPSHOTS = 256
MAX_CLOCK_ADVANCE = 10 * 365 * 86400.0


def credentials(account: Account) -> dict[str, object]:
    """An account's credentials, with ready-made Authorization headers for each scheme."""
    basic = base64.b64encode(f"{account.username}:{account.password}".encode()).decode()
    headers = {"basic": f"Basic {basic}"}
    if account.api_keys:
        headers["app"] = f"App {account.api_keys[0]}"
    if account.tokens:
        headers["ibsso"] = f"IBSSO {account.tokens[0]}"
        headers["bearer"] = f"Bearer {account.tokens[0]}"
    return {
        "username": account.username, "password": account.password,
        "apiKeys": list(account.api_keys), "tokens": list(account.tokens), "authorization": headers,
    }


def _invalid(exc: FixtureError) -> InvalidArgument:
    return InvalidArgument(str(exc), validation_errors=format_document_error(exc))


class Admin:
    def __init__(self, app: MockOmni) -> None:
        self.app = app
        self._lock = threading.RLock()
        #: username -> the account as ``create_account`` made it (per-account reset returns there).
        self._created: dict[str, Account] = {}
        self._snapshots: dict[str, tuple[str | None, list[Account]]] = {}
        #: The messages of each snapshot (same names).
        self._message_snapshots: dict[str, list[Message]] = {}

    # --- reset and accounts ---------------------------------------------------------

    def reset(self, account: str | None = None) -> None:
        """Everything back to the fixture state, or one account back to where it started."""
        app = self.app
        with self._lock:
            if account is None:
                app.reset()
                self._created.clear()
                return
            origin = self._origin(account)
            if app.store.account(account) is None:
                app.store.add_account(origin.copy())
            else:
                app.store.replace_account(origin.copy())
        self._forget_activity(account)

    def _origin(self, username: str) -> Account:
        if username in self._created:
            return self._created[username]
        for account in self.app.initial_accounts:
            if account.username == username:
                return account
        raise NotFound(f"Account {username} has no fixture or creation state to return to.")

    def _forget_activity(self, username: str) -> None:
        self.app.journal.clear(username)
        self.app.faults.clear(username)
        self.app.limiter.reset(username, rules=True)
        self.app.messages.clear(username)
        self.app.delivery_rules.clear(username)

    def create_account(self, data: Mapping[str, object]) -> dict[str, object]:
        """A fresh account; fields as in a fixture, all optional (generated), plus ``seedAccount``."""
        fields = dict(data)
        seed = fields.pop("seedAccount", None)
        if seed is not None:
            if "scenarios" in fields:
                raise InvalidArgument(validation_errors={"seedAccount": ["give seedAccount or scenarios, not both"]})
            if not isinstance(seed, str):
                raise InvalidArgument(validation_errors={"seedAccount": ["must be a username"]})
            source = self._seed(seed)
            fields["scenarios"] = [source.view(source.scenarios[key]) for key in source.order]
        fields.setdefault("username", f"user-{secrets.token_hex(6)}")
        fields.setdefault("password", secrets.token_urlsafe(12))
        fields.setdefault("apiKeys", [secrets.token_hex(16)])
        fields.setdefault("tokens", [secrets.token_hex(16)])
        try:
            account = account_from_data(fields, "account", "body", self.app.key_factory)
        except FixtureError as exc:
            raise _invalid(exc) from None
        with self._lock:
            self.app.store.add_account(account)
            self._created[account.username] = account.copy()
        return credentials(account)

    def _seed(self, username: str) -> Account:
        for account in self.app.initial_accounts:
            if account.username == username:
                return account
        raise InvalidArgument(validation_errors={"seedAccount": [f"no fixture account {username!r}"]})

    def remove_account(self, username: str) -> None:
        with self._lock:
            self.app.store.remove_account(username)
            self._created.pop(username, None)
        self._forget_activity(username)

    def accounts(self) -> list[dict[str, object]]:
        store = self.app.store
        result = []
        for username in store.usernames():
            account = store.account(username)
            if account is not None:
                result.append({**credentials(account), "scenarios": len(account.order),
                               "created": username in self._created})
        return result

    # --- state ----------------------------------------------------------------------

    def import_state(self, document: object) -> int:
        """Replace the whole state with a fixture document, checked first; returns the account count."""
        extras = Extras()
        try:
            accounts = accounts_from_document(document, "state", self.app.key_factory, extras)
        except FixtureError as exc:
            raise _invalid(exc) from None
        with self._lock:
            self.app.store.replace(accounts)
            self.app.messages.load(extras.messages)
            self.app.delivery_rules.replace(extras.delivery_rules)
            names = {account.username for account in accounts}
            self._created = {name: origin for name, origin in self._created.items() if name in names}
        return len(accounts)

    # --- snapshots ------------------------------------------------------------------

    def save_snapshot(self, name: str, account: str | None = None) -> None:
        if not SNAPSHOT_NAME.match(name):
            raise InvalidArgument(validation_errors={"name": ["1 to 100 of A-Z a-z 0-9 . _ -"]})
        store = self.app.store
        if account is None:
            accounts = store.snapshot()  # cheap: scenarios are immutable and shared
        else:
            found = store.account(account)
            if found is None:
                raise NotFound(f"Account {account} not found.")
            accounts = [found.copy()]
        with self._lock:
            if name not in self._snapshots and len(self._snapshots) >= MAX_SNAPSHOTS:
                raise InvalidArgument(f"At most {MAX_SNAPSHOTS} snapshots; delete some first.")
            self._snapshots[name] = (account, accounts)
            self._message_snapshots[name] = self.app.messages.snapshot(account)

    def restore_snapshot(self, name: str) -> None:
        with self._lock:
            if name not in self._snapshots:
                raise NotFound(f"Snapshot {name} not found.")
            account, accounts = self._snapshots[name]
            # Copies again, so changes after the restore never reach the snapshot.
            if account is None:
                self.app.store.replace([a.copy() for a in accounts])
            elif self.app.store.account(account) is None:
                self.app.store.add_account(accounts[0].copy())
            else:
                self.app.store.replace_account(accounts[0].copy())
            self.app.messages.restore(self._message_snapshots[name], account)

    def delete_snapshot(self, name: str) -> None:
        with self._lock:
            if self._snapshots.pop(name, None) is None:
                raise NotFound(f"Snapshot {name} not found.")
            self._message_snapshots.pop(name, None)

    def snapshots(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"name": name, "account": account, "accounts": len(accounts)}
                    for name, (account, accounts) in self._snapshots.items()]

    # --- rate limits and clock ------------------------------------------------------

    def set_rate_limits(self, limits: object, account: str | None = None) -> None:
        """``"off"``, or ``{op: "COUNT/DURATION" | "off" | null}``; all checked before any is applied."""
        if limits == "off":
            parsed: dict[str, Rule | None] = dict.fromkeys(OPERATIONS)
        elif isinstance(limits, dict) and limits:
            parsed = {}
            errors: dict[str, list[str]] = {}
            for op, spec in limits.items():
                if spec is None or spec == "off":
                    if op in OPERATIONS:
                        parsed[op] = None
                    else:
                        errors[f"limits.{op}"] = [f"operation must be one of {', '.join(OPERATIONS)}"]
                    continue
                try:
                    parsed[op] = parse_rule(f"{op}={spec}")[1]
                except RateLimitSpecError as exc:
                    errors[f"limits.{op}"] = [str(exc)]
            if errors:
                raise InvalidArgument(validation_errors=errors)
        else:
            raise InvalidArgument(validation_errors={
                "limits": ['"off", or an object such as {"update": "5/1m", "create": "off"}'],
            })
        if account is not None and self.app.store.account(account) is None:
            raise NotFound(f"Account {account} not found.")
        for op, rule in parsed.items():
            self.app.limiter.set_rule(op, rule, account)

    def rate_limits(self) -> dict[str, object]:
        limiter = self.app.limiter
        return {
            "rules": {op: str(rule) for op, rule in limiter.rules.items()},
            "accounts": [{"account": account, "operation": op, "rule": None if rule is None else str(rule)}
                         for (account, op), rule in limiter.overrides.items()],
            "buckets": limiter.buckets(),
        }

    def reset_rate_limits(self, account: str | None = None) -> None:
        self.app.limiter.reset(account, rules=True)

    def advance_clock(self, seconds: object) -> float:
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= MAX_CLOCK_ADVANCE:
            limit = f"must be a number from 0 to {MAX_CLOCK_ADVANCE:.0f}"
            raise InvalidArgument(validation_errors={"seconds": [limit]})
        self.app.clock.advance(float(seconds))
        self.app.tick()  # what fell due happens now, pushes included
        return self.app.clock.offset
