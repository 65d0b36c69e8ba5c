"""What the admin API does, without HTTP: the one reset, accounts, state import, snapshots, limits, clock.

Accounts are the unit of isolation: every operation here can be scoped to one account,
so suites sharing one server never reset each other's state. Each account remembers
where it started (its fixture, or how ``create_account`` made it): that is what a
per-account reset returns to.

The baseline is what a reset returns to: the start-up fixtures and limits, unless a
reset was given fixtures or limits of its own (the pytest marker does that for one
test); resets without them keep the baseline, so a test's own ``reset()`` keeps its
marker.

What is per account and what is global, with ``account`` given or not: scenarios,
messages, callbacks, journal entries, fault rules, rate limits, the clock and snapshots
are per account; the baseline, the start-up limits, ``recorded`` counts, server errors
and a call without ``account`` are global. Everything that replaces state closes the fence (fence.py), so
a request still in flight can never write into the state that replaced its own.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..api.ratelimit import RateLimiter, Rule
from ..api.webhooks import Callback
from ..domain import entropy
from ..domain.accounts import Account, KeyFactory
from ..domain.delivery import DeliveryRuleIn
from ..domain.delivery import Rule as DeliveryRule
from ..domain.errors import InvalidArgument, NotFound
from ..domain.fixtures import Extras, FixtureError, account_from_data, accounts_from_document, format_document_error
from ..domain.message import Message
from .admin_client import authorization_headers
from .admin_models import MAX_CLOCK_AHEAD, FaultIn, NewAccountIn, ResetIn
from .faults import Fault, document_faults
from .journal import Entry
from .resets import Target, reset_state, restore_limits

if TYPE_CHECKING:
    from ..settings import Settings
    from ..state import State

MAX_SNAPSHOTS = 256


def credentials(account: Account) -> dict[str, object]:
    """An account's credentials, with ready-made Authorization headers for each scheme."""
    return {
        "username": account.username, "password": account.password,
        "apiKeys": list(account.api_keys), "tokens": list(account.tokens),
        "authorization": authorization_headers(account.username, account.password, account.api_keys, account.tokens),
        "apiKeyScopes": {key: list(scopes) for key, scopes in account.key_scopes.items()},
        "oauth2Clients": [client.to_document() for client in account.oauth2_clients],
    }


def _invalid(exc: FixtureError) -> InvalidArgument:
    return InvalidArgument(str(exc), validation_errors=format_document_error(exc))


def no_account(username: str, field: str = "account") -> NotFound:
    return NotFound(f"Account {username} not found.", validation_errors={field: [f"no account {username!r}"]})


@dataclass(frozen=True)
class Baseline:
    """What a reset returns to."""

    accounts: tuple[Account, ...]
    #: Rate limits over the start-up ones (None: not limited).
    limits: Mapping[str, Rule | None] = field(default_factory=dict)
    #: Outcome rules of message delivery, and messages (documents per account), of the fixtures.
    delivery_rules: tuple[DeliveryRule, ...] = ()
    messages: Mapping[str, list[dict[str, object]]] = field(default_factory=dict)
    #: Records of pushed reports of the fixtures (none of them pending: nothing of a fixture is sent).
    callbacks: tuple[Callback, ...] = ()
    #: Fault rules of the fixtures: a reset arms them again, with their uses and draws from the start.
    faults: tuple[FaultIn, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    accounts: list[Account]
    #: The creation state of the created accounts among them (a per-account reset returns there).
    origins: dict[str, Account]
    #: Copies of the messages of the accounts (messages.py restores them).
    messages: list[Message] = field(default_factory=list)
    #: Copies of the callback records of the accounts (restored as records: nothing is sent again).
    callbacks: list[Callback] = field(default_factory=list)


class AccountClockOffsets:
    """How far each account's own clock was advanced (beyond the global one): the limiter's buckets of the
    account age by as much; its messages (Messages.now) and tokens (SignIn.now) read it."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter
        self._offsets: dict[str, float] = {}

    def advance(self, account: str, seconds: float) -> None:
        self._limiter.age(account, seconds)
        self._offsets[account] = self._offsets.get(account, 0.0) + seconds

    def offset(self, account: str) -> float:
        return self._offsets.get(account, 0.0)

    def forget(self, account: str) -> None:
        self._offsets.pop(account, None)

    def clear(self) -> None:
        self._offsets.clear()


@dataclass
class Records:
    """What the admin API remembers besides the accounts, in memory (state.py's ``AdminRecords``)."""

    #: The start-up fixtures: what a reset with ``{}`` returns to.
    startup: Baseline
    clocks: AccountClockOffsets
    #: What a reset returns to.
    baseline: Baseline = field(init=False)
    #: username -> the account as ``create_account`` made it (per-account reset returns there).
    created: dict[str, Account] = field(default_factory=dict)
    #: (account or None, name) -> snapshot: names are per account, so suites never collide.
    snapshots: dict[tuple[str | None, str], Snapshot] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.baseline = self.startup


class Admin:
    """The admin API's operations on one server's state; the admin routes and the dashboard call them."""

    def __init__(self, state: State, settings: Settings, key_factory: KeyFactory, tick: Callable[[], None]) -> None:
        self.state = state
        self.settings = settings
        #: New scenario keys (of fixtures given in a reset body or a new account).
        self.key_factory = key_factory
        #: Performs the messages' due transitions (after the clock moved).
        self._tick = tick
        #: Whether the call being served was let in already (replicas applying the log set it).
        self.trusted: Callable[[], bool] = lambda: False
        self._lock = threading.RLock()
        #: Set when the server stops: every admin wait ends at once (answered 503).
        self.stopping = threading.Event()
        self.records = state.records
        self._created: MutableMapping[str, Account] = self.records.created
        self._snapshots: MutableMapping[tuple[str | None, str], Snapshot] = self.records.snapshots

    @property
    def startup(self) -> Baseline:
        return self.records.startup

    @property
    def baseline(self) -> Baseline:
        return self.records.baseline

    # --- the one reset ----------------------------------------------------------------

    def reset(self, account: str | None = None, baseline: Baseline | None = None) -> None:
        """Everything back to the baseline (a new one if given), or one account back to where it started.

        A walk over the state's components (resets.py). Whole: scenarios, messages, callbacks and delivery
        rules, journal, faults, rate limits and buckets, the clock, snapshots, created accounts and server
        errors. One account: the same, for that account.
        """
        with self._lock:
            if account is not None:
                reset_state(self.state, Target(self.baseline, account, self._origin(account)))
                return
            if baseline is not None:
                self.records.baseline = baseline
            reset_state(self.state, Target(self.baseline))

    def baseline_from(self, body: ResetIn, data: Mapping[str, Any]) -> Baseline:
        """The baseline a reset body asks for, checked (fixtures as a fixture file) before anything changes."""
        start = self.startup
        if body.fixtures is not None:
            extras = Extras()
            try:
                accounts = tuple(accounts_from_document(data["fixtures"], "fixtures", self.key_factory, extras))
            except FixtureError as exc:
                raise _invalid(exc) from None
            start = Baseline(accounts, {}, tuple(extras.delivery_rules), extras.messages,
                             extras.documented_callbacks(), self._faults_of(extras, "fixtures"))
        return replace(start, limits=body.rate_limits.rules() if body.rate_limits is not None else {})

    def _origin(self, username: str) -> Account:
        if username in self._created:
            return self._created[username]
        for account in self.baseline.accounts:
            if account.username == username:
                return account
        raise NotFound(f"Account {username} has no fixture or creation state to return to.",
                       validation_errors={"account": [f"{username!r} is neither a fixture account nor created"]})

    # --- accounts ---------------------------------------------------------------------

    def create_account(self, body: NewAccountIn, data: Mapping[str, Any]) -> dict[str, object]:
        """A fresh account; fields as in a fixture (missing ones generated), or the scenarios of ``seedAccount``."""
        fields = {name: value for name, value in data.items() if name != "seedAccount"}
        if body.seed_account is not None:
            source = self._seed(body.seed_account)
            fields["scenarios"] = [source.view(source.scenarios[key]) for key in source.order]
        random = entropy.current()
        fields.setdefault("username", f"user-{random.token_hex(6)}")
        fields.setdefault("password", random.token_urlsafe(12))
        fields.setdefault("apiKeys", [random.token_hex(16)])
        fields.setdefault("tokens", [random.token_hex(16)])
        fields.setdefault("oauth2Clients", [{"clientId": f"client-{random.token_hex(6)}",
                                             "clientSecret": random.token_urlsafe(24)}])
        try:
            account = account_from_data(fields, "account", "body", self.key_factory)
        except FixtureError as exc:
            raise _invalid(exc) from None
        with self._lock:
            self.state.accounts.add_account(account)
            self._created[account.username] = account.copy()
        return credentials(account)

    def _seed(self, username: str) -> Account:
        """A fixture account as the baseline defines it; any other account as it is now."""
        for account in self.baseline.accounts:
            if account.username == username:
                return account
        current = self.state.accounts.account(username)
        if current is None:
            raise InvalidArgument(validation_errors={"seedAccount": [f"no account {username!r}"]})
        return current.copy()

    def remove_account(self, username: str) -> None:
        """The account goes, with everything of it (the reset walk with no origin to return to)."""
        with self._lock:
            reset_state(self.state, Target(self.baseline, username))

    def require_account(self, username: str | None, field: str = "account") -> None:
        """404 naming ``field`` when an account is named that does not exist."""
        if username is not None and self.state.accounts.account(username) is None:
            raise no_account(username, field)

    def accounts(self) -> list[dict[str, object]]:
        store = self.state.accounts
        result = []
        for username in store.usernames():
            account = store.account(username)
            if account is not None:
                result.append({**credentials(account), "scenarios": len(account.order),
                               "created": username in self._created})
        return result

    # --- state ------------------------------------------------------------------------

    def import_state(self, document: object) -> int:
        """Replace the whole state with a fixture document, checked first; returns the account count."""
        extras = Extras()
        try:
            accounts = accounts_from_document(document, "state", self.key_factory, extras)
        except FixtureError as exc:
            raise _invalid(exc) from None
        faults = self._faults_of(extras, "state")
        with self._lock:
            self.state.fence.close()
            self.state.accounts.replace(accounts)
            self.state.messages.load(extras.messages)
            self.state.webhooks.restore(extras.documented_callbacks())  # those queued are not sent
            self.state.delivery_rules.replace(extras.delivery_rules)
            self.state.faults.clear()
            for rule in faults:
                self.state.faults.add(rule)
            names = {account.username for account in accounts}
            for gone in [name for name in self._created if name not in names]:
                del self._created[gone]
        return len(accounts)

    # --- journal, faults and delivery rules --------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None, account: str | None = None,
                 status: int | None = None) -> list[Entry]:
        """The journal's entries that match (``path`` exact, or an fnmatch pattern), newest last."""
        method = method.upper() if method else None
        wildcard = path is not None and any(c in path for c in "*?[")
        return [
            entry for entry in self.state.journal.entries()
            if (method is None or entry.method == method)
            and (account is None or entry.account == account)
            and (status is None or entry.status == status)
            and (path is None or (fnmatch.fnmatchcase(entry.path, path) if wildcard else entry.path == path))
        ]

    def add_fault(self, rule: FaultIn) -> Fault:
        self.require_account(rule.account)
        return self.state.faults.add(rule)

    def add_delivery_rule(self, rule: DeliveryRuleIn) -> DeliveryRule:
        self.require_account(rule.account)
        return self.state.delivery_rules.add(rule)

    # --- snapshots --------------------------------------------------------------------

    def save_snapshot(self, name: str, account: str | None = None) -> None:
        store = self.state.accounts
        with self._lock:
            if account is None:
                accounts = store.snapshot()  # cheap: scenarios are immutable and shared
            else:
                found = store.account(account)
                if found is None:
                    raise no_account(account)
                accounts = [found.copy()]
            if (account, name) not in self._snapshots and len(self._snapshots) >= MAX_SNAPSHOTS:
                raise InvalidArgument(f"At most {MAX_SNAPSHOTS} snapshots; delete some first.")
            names = {a.username for a in accounts}
            origins = {user: origin for user, origin in self._created.items() if user in names}
            self._snapshots[(account, name)] = Snapshot(accounts, origins, self.state.messages.snapshot(account),
                                                        self.state.webhooks.snapshot(account))

    def _snapshot(self, name: str, account: str | None) -> Snapshot:
        found = self._snapshots.get((account, name))
        if found is None:
            whose = f" of account {account}" if account is not None else ""
            raise NotFound(f"Snapshot {name}{whose} not found.")
        return found

    def restore_snapshot(self, name: str, account: str | None = None) -> None:
        with self._lock:
            snapshot = self._snapshot(name, account)
            store = self.state.accounts
            # Copies again, so changes after the restore never reach the snapshot.
            if account is None:
                self.state.fence.close()
                store.replace([a.copy() for a in snapshot.accounts])
                self.state.messages.restore(snapshot.messages)
                self.state.webhooks.restore(snapshot.callbacks)
                self._created.clear()
                self._created.update(snapshot.origins)
                return
            self.state.fence.close(account)
            if store.account(account) is None:
                store.add_account(snapshot.accounts[0].copy())
            else:
                store.replace_account(snapshot.accounts[0].copy())
            self.state.messages.restore(snapshot.messages, account)
            self.state.webhooks.restore(snapshot.callbacks, account)
            if account in snapshot.origins:
                self._created[account] = snapshot.origins[account]

    def delete_snapshot(self, name: str, account: str | None = None) -> None:
        with self._lock:
            self._snapshot(name, account)
            del self._snapshots[(account, name)]

    def clear_snapshots(self, account: str | None = None) -> int:
        """Forget every snapshot (or one account's); returns how many."""
        with self._lock:
            gone = [key for key in self._snapshots if account is None or key[0] == account]
            for key in gone:
                del self._snapshots[key]
            return len(gone)

    def snapshots(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"name": name, "account": account, "accounts": len(snapshot.accounts)}
                    for (account, name), snapshot in self._snapshots.items()]

    # --- rate limits and clock --------------------------------------------------------

    def set_rate_limits(self, rules: Mapping[str, Rule | None], account: str | None = None) -> None:
        """Change limits for everyone or one account (None: not limited); the rules are checked already."""
        self.require_account(account)
        for op, rule in rules.items():
            self.state.limiter.set_rule(op, rule, account)

    def rate_limits(self) -> dict[str, object]:
        limiter = self.state.limiter
        return {
            "rules": {op: str(rule) for op, rule in limiter.rules.items()},
            "accounts": [{"account": account, "operation": op, "rule": None if rule is None else str(rule)}
                         for (account, op), rule in limiter.overrides.items()],
            "buckets": limiter.buckets(),
        }

    def reset_rate_limits(self, account: str | None = None) -> None:
        """Back to the baseline's limits with full buckets (everyone's, or one account's)."""
        with self._lock:
            restore_limits(self.state.limiter, self.baseline, account)

    def advance_clock(self, seconds: float, account: str | None = None) -> float:
        """Move the clock forward (everyone's, or one account's own); returns its offset.

        At most MAX_CLOCK_AHEAD in all: each advance is bounded, but many of them would reach the year 10000,
        where no date of a message can be written any more (every read of messages would fail)."""
        with self._lock:
            if account is not None:
                self.require_account(account)
            ahead = self.clock_offset(account)
            if ahead + seconds > MAX_CLOCK_AHEAD:
                raise InvalidArgument(validation_errors={"seconds": [
                    f"would move the clock more than {MAX_CLOCK_AHEAD:.0f} seconds (100 years) ahead; it is "
                    f"{ahead:.0f} ahead now (a reset brings it back)"]})
            if account is None:
                self.state.clock.advance(seconds)
            else:
                self.records.clocks.advance(account, seconds)
        self._tick()  # what fell due happens now, pushes included
        return self.clock_offset(account)

    def clock_offset(self, account: str | None = None) -> float:
        return self.state.clock.offset + (0.0 if account is None else self.own_clock_offset(account))

    def export_state(self, account: str | None = None) -> dict[str, object]:
        """The state as a fixture document: accounts with their scenarios, messages and callbacks; delivery rules."""
        document = self.state.accounts.export(account)
        messages = self.state.messages.export(account)
        callbacks: dict[str, list[dict[str, object]]] = {}
        for callback in self.state.webhooks.records(account):
            callbacks.setdefault(callback.account, []).append(callback.document())
        for item in document["accounts"]:  # type: ignore[attr-defined]
            if item["username"] in messages:
                item["messages"] = messages[item["username"]]
            if item["username"] in callbacks:
                item["callbacks"] = callbacks[item["username"]]
        if account is None:
            document["deliveryRules"] = self.state.delivery_rules.export()
            faults = self.state.faults.rules()
            if faults:  # as they were defined: a document imported or reset to arms them afresh
                document["faults"] = [rule.definition() for rule in faults]
        return document

    @staticmethod
    def _faults_of(extras: Extras, source: str) -> tuple[FaultIn, ...]:
        try:
            return document_faults(extras.faults, source)
        except FixtureError as exc:
            raise _invalid(exc) from None

    def own_clock_offset(self, account: str) -> float:
        """How far one account's own clock was advanced beyond everyone's (messages walk on it too)."""
        return self.records.clocks.offset(account)
