"""Where one mock server keeps its state: this process's memory, or a Redis shared by replicas.

Each part of the state is one component with one interface, stated here, and two
implementations: the in-memory one (the plain classes in domain/, vendor/ and testing/,
unchanged, so the default path pays nothing for the choice) and the one on Redis
(shared/). ``open_state`` builds the set the settings ask for.

    component              interface       in memory                      on Redis
    accounts, scenarios    ScenarioStore   domain.store.Store             shared.store.RedisStore
    tokens and sessions    SignIn          domain.signin.SignIn           shared.signin.SharedSignIn
    messages and reports   Messages        domain.messages.Messages       shared.messages.SharedMessages
    pushed reports         CallbackSender  vendor.webhooks.Webhooks       shared.callbacks.SharedWebhooks
    delivery rules         DeliveryRules   domain.delivery.DeliveryRules  shared.delivery.SharedDeliveryRules
    rate-limit buckets     RateLimits      vendor.ratelimit.RateLimiter   shared.limiter.RedisRateLimiter
    request journal        RequestJournal  testing.journal.Journal        shared.journal.RedisJournal
    faults                 FaultRules      testing.faults.Faults          shared.faults.RedisFaults
    the clock's offset     Clock           domain.clock.Clock             shared.clock.SharedClock
    accounts' own clocks   AccountClocks   testing.admin.AccountClockOffsets  shared.clock.SharedAccountClocks
    the reset fence        Fences          testing.fence.Fence            shared.fence.SharedFence
    server errors          ErrorLog        testing.server_errors          shared.errors.SharedErrors
    baseline, created      AdminRecords    testing.admin.Records          shared.documents.SharedRecords
      accounts, snapshots

On Redis, one vendor call is one script (shared/vendor.py): credentials, scopes, rate limit,
operation and journal entry in one round trip, atomic across replicas.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .domain.clock import Clock
from .domain.credentials import Principal
from .domain.delivery import DeliveryRules
from .domain.delivery import Rule as DeliveryRule
from .domain.fixtures import Extras, load_files
from .domain.messages import Messages
from .domain.scenarios import ScenarioIn
from .domain.signin import Lifetimes, SignIn
from .domain.store import Account, KeyFactory, Store
from .settings import Settings
from .testing.admin import AccountClockOffsets, Baseline, Records, Snapshot
from .testing.admin_models import FaultIn
from .testing.faults import Fault, Faults
from .testing.fence import Fence
from .testing.journal import Entry, Journal
from .testing.server_errors import ErrorLog, ServerErrors
from .vendor.ratelimit import RateLimiter, Rule
from .vendor.webhooks import MAX_PENDING, CallbackSender, Webhooks

if TYPE_CHECKING:
    from .replication.replica import Replica
    from .vendor.api import VendorApi


class StoreUnreachable(RuntimeError):
    """The shared store cannot be used at start-up; ``str()`` is the one line users see."""


class ScenarioStore(Protocol):
    """Accounts with their credentials and scenarios; every method is atomic."""

    @property
    def revision(self) -> int:
        """Grows on every change (the dashboard shows it)."""

    def replace(self, accounts: Iterable[Account]) -> None: ...
    def add_account(self, account: Account) -> None: ...
    def replace_account(self, account: Account) -> None: ...
    def remove_account(self, username: str) -> None: ...
    def account(self, username: str) -> Account | None: ...
    def usernames(self) -> list[str]: ...
    def snapshot(self) -> list[Account]: ...
    def export(self, username: str | None = None) -> dict[str, object]: ...
    def list_scenarios(
        self, username: str, is_default: bool | None = None, limit: int = 100, page: int = 0
    ) -> list[dict[str, object]]: ...
    def get(self, username: str, key: str) -> dict[str, object]: ...
    def create(self, username: str, data: ScenarioIn) -> dict[str, object]: ...
    def update(self, username: str, key: str, data: ScenarioIn) -> dict[str, object]: ...


class RateLimits(Protocol):
    """Token buckets per (account, operation), and the rules they refill by."""

    @property
    def rules(self) -> dict[str, Rule]: ...
    @property
    def overrides(self) -> dict[tuple[str, str], Rule | None]: ...
    def rule_for(self, account: str, op: str) -> Rule | None: ...
    def check(self, account: str, op: str) -> None: ...
    def set_rule(self, op: str, rule: Rule | None, account: str | None = None) -> None: ...
    def reset(self, account: str | None = None, rules: bool = False) -> None: ...
    def buckets(self) -> list[dict[str, object]]: ...


class RequestJournal(Protocol):
    """The vendor requests received, newest last, bounded."""

    @property
    def limit(self) -> int: ...
    @property
    def recorded(self) -> int: ...
    def record(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
        body: bytes, status: int, account: str | None,
    ) -> None: ...
    def entries(self) -> list[Entry]: ...
    def __len__(self) -> int: ...
    def clear(self, account: str | None = None) -> None: ...


class FaultRules(Protocol):
    """Injected faults; ``hook`` is what the vendor dispatcher awaits after authentication."""

    @property
    def armed(self) -> bool: ...
    def add(self, rule: FaultIn | Mapping[str, object]) -> Fault: ...
    def rules(self, account: str | None = None) -> list[Fault]: ...
    def clear(self, account: str | None = None) -> int: ...
    def take(self, method: str, path: str, account: str) -> Fault | None: ...
    async def hook(self, method: str, path: str, account: str) -> None: ...


class Fences(Protocol):
    """Requests in flight across a reset write nothing (testing/fence.py)."""

    def ticket(self) -> int: ...
    def close(self, account: str | None = None) -> None: ...
    def admits(self, ticket: int, account: str | None) -> bool: ...


class PrincipalFinder(Protocol):
    """Who an Authorization header proves to be, with which scopes (vendor/auth.py), or 401."""

    def principal_for(self, authorization: str | None) -> Principal: ...


class AccountClocks(Protocol):
    """How far each account's own clock was advanced beyond the global one (the admin API's per-account
    advance): its rate-limit buckets refill by it."""

    def advance(self, account: str, seconds: float) -> None: ...
    def offset(self, account: str) -> float: ...
    def forget(self, account: str) -> None: ...
    def clear(self) -> None: ...


class AdminRecords(Protocol):
    """What the admin API remembers besides the accounts: what resets return to, created accounts'
    starting points, snapshots and the accounts' own clocks (testing/admin.py)."""

    @property
    def startup(self) -> Baseline: ...
    @property
    def baseline(self) -> Baseline: ...
    @baseline.setter
    def baseline(self, value: Baseline) -> None: ...
    @property
    def created(self) -> MutableMapping[str, Account]: ...
    @property
    def snapshots(self) -> MutableMapping[tuple[str | None, str], Snapshot]: ...
    @property
    def clocks(self) -> AccountClocks: ...


@dataclass
class State:
    """The state components of one mock server, as ``open_state`` built them."""

    store: ScenarioStore
    limiter: RateLimits
    journal: RequestJournal
    faults: FaultRules
    clock: Clock
    signin: SignIn
    messages: Messages
    #: Sends the reports ``messages`` pushes (``messages.notify`` is its ``notify``), and records them.
    webhooks: CallbackSender
    delivery_rules: DeliveryRules
    fence: Fences
    errors: ErrorLog
    records: AdminRecords
    #: The start-up fixture accounts (the state file, when there is one, may hold others).
    initial_accounts: list[Account]
    #: The start-up fixtures' messages (documents per account) and delivery rules.
    initial_messages: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    initial_delivery_rules: tuple[DeliveryRule, ...] = ()
    #: Who a credential proves; None: the dispatcher's own (vendor/auth.py on the memory store).
    auth: PrincipalFinder | None = None
    #: Builds the dispatcher for this store (the Redis one runs a call as one script); None: VendorApi.
    vendor: Callable[..., VendorApi] | None = None
    #: Releases what the state holds outside the process (Redis connections); nothing for memory.
    close: Callable[[], None] = lambda: None
    #: Where the state is and how this server came to it (``serve`` prints it), "" in memory.
    origin: str = ""
    #: Raises an OmniError (500) when the store does not answer (the health check); memory always does.
    check: Callable[[], None] = lambda: None
    #: Replicas on Redis: what keeps this state equal to the others' (replication/replica.py); None in memory.
    replica: Replica | None = None


def open_state(settings: Settings, clock: Clock | None, key_factory: KeyFactory,
               wall_clock: Callable[[], float] = time.time) -> State:
    """The state the settings ask for; a shared store is joined (or seeded once) before this returns.

    ``wall_clock`` gives the POSIX seconds the mock's clock starts at (the dates of messages).
    """
    extras = Extras()
    initial = load_files(settings.fixtures, key_factory, extras)
    startup = Baseline(tuple(initial), delivery_rules=tuple(extras.delivery_rules), messages=extras.messages,
                       callbacks=extras.documented_callbacks())
    lifetimes = Lifetimes(float(settings.token_lifetime), float(settings.session_idle))
    if settings.shared:
        from .replication.state import open_replicated_state

        return open_replicated_state(settings, startup, initial, extras, clock, key_factory, lifetimes, wall_clock)
    return memory_state(settings, startup, initial, extras, clock or Clock(), key_factory, lifetimes, wall_clock)


def memory_state(settings: Settings, startup: Baseline, initial: list[Account], extras: Extras, clock: Clock,
                 key_factory: KeyFactory, lifetimes: Lifetimes, wall_clock: Callable[[], float],
                 real_clock: Callable[[], float] = time.time, webhooks: Webhooks | None = None) -> State:
    """Every component in this process's memory (replicas on Redis keep the same ones: replication/).

    ``wall_clock`` dates the messages (with the mock's clock); ``real_clock`` the journal, server errors and
    callbacks, which tell when things really happened."""
    store = Store([account.copy() for account in initial], key_factory)
    limiter = RateLimiter(settings.rate_limits, clock)
    rules = DeliveryRules(extras.delivery_rules, settings.delivery_delay)
    webhooks = webhooks or Webhooks(**webhook_options(settings))
    webhooks.restore(startup.callbacks)
    messages = Messages(store, clock, rules, limit=settings.message_limit, notify=webhooks.notify,
                        wall_clock=wall_clock)
    messages.load(extras.messages)
    records = Records(startup, AccountClockOffsets(limiter))
    return State(store, limiter, Journal(settings.journal_limit, real_clock), Faults(), clock,
                 SignIn(store, clock, lifetimes), messages, webhooks, rules, Fence(), ServerErrors(real_clock),
                 records, initial, extras.messages, tuple(extras.delivery_rules))


def webhook_options(settings: Settings) -> dict[str, Any]:
    """The webhook sender's settings: retries, timeout, and bounds that follow the messages' bound."""
    return {"attempts": settings.webhook_attempts, "backoff": settings.webhook_backoff,
            "timeout": settings.webhook_timeout, "keep": settings.message_limit,
            "max_pending": min(MAX_PENDING, settings.message_limit)}
