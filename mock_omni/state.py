"""What one mock server's state is made of: the contract of each component, and ``State``, which holds them.

Each component has one implementation, in memory (memory.py builds them). Replicas on Redis keep
the same components and keep them equal by applying one log of calls (replication/): no rule of the
vendor or admin API is written twice. stores.py opens the state the settings ask for.

    component              contract        implementation
    accounts, scenarios    Accounts        domain.accounts.Accounts
    tokens and sessions    SignIn          domain.signin.SignIn
    messages and reports   Messages        domain.messages.Messages
    pushed reports         CallbackSender  api.webhooks.Webhooks (replicas: replication.webhooks)
    delivery rules         DeliveryRules   domain.delivery.DeliveryRules
    rate-limit buckets     RateLimits      api.ratelimit.RateLimiter
    request journal        RequestJournal  testing.journal.Journal
    faults                 FaultRules      testing.faults.Faults
    the clock's offset     Clock           domain.clock.Clock
    accounts' own clocks   AccountClocks   testing.admin.AccountClockOffsets
    the reset fence        Fences          testing.fence.Fence (replicas: replication.fence)
    server errors          ErrorLog        testing.server_errors.ServerErrors
    baseline, created      AdminRecords    testing.admin.Records
      accounts, snapshots
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .api.ratelimit import Rule
from .api.webhooks import CallbackSender
from .domain.accounts import Account, Accounts
from .domain.clock import Clock
from .domain.delivery import DeliveryRules
from .domain.delivery import Rule as DeliveryRule
from .domain.messages import Messages
from .domain.signin import SignIn
from .testing.admin import Baseline, Snapshot
from .testing.admin_models import FaultIn
from .testing.faults import Fault, Hit
from .testing.journal import Entry, Response
from .testing.server_errors import ErrorLog

if TYPE_CHECKING:
    from .api.dispatcher import VendorApi
    from .replication.replica import Replica


class StoreUnreachable(RuntimeError):
    """Redis cannot be used at start-up; ``str()`` is the one line users see."""


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
        body: bytes, response: Response | None, account: str | None, why: str | None = None,
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
    def take(self, method: str, path: str, account: str) -> Hit | None: ...
    async def hook(self, method: str, path: str, account: str) -> Hit | None: ...
    async def sleep(self, seconds: float) -> None: ...
    def stop(self) -> None: ...


class Fences(Protocol):
    """Requests in flight across a reset write nothing (testing/fence.py)."""

    def ticket(self) -> int: ...
    def close(self, account: str | None = None) -> None: ...
    def admits(self, ticket: int, account: str | None) -> bool: ...


class AccountClocks(Protocol):
    """How far each account's own clock was advanced beyond the global one (the admin API's per-account
    advance): its rate-limit buckets refill by it, its messages walk and its tokens and sessions expire on it."""

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

    accounts: Accounts
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
    #: Builds the dispatcher (replicas: one that appends each call to the log); None: VendorApi.
    vendor: Callable[..., VendorApi] | None = None
    #: Releases what the state holds outside the process (Redis connections); nothing for memory.
    close: Callable[[], None] = lambda: None
    #: Where the state is and how this server came to it (``serve`` prints it), "" in memory.
    origin: str = ""
    #: Raises an OmniError (500) when the store does not answer (the health check); memory always does.
    check: Callable[[], None] = lambda: None
    #: Replicas on Redis: what keeps this state equal to the others' (replication/replica.py); None in memory.
    replica: Replica | None = None
