"""Where one mock server keeps its state: this process's memory, or a Redis shared by replicas.

Each part of the state is one component with one interface, stated here, and two
implementations: the in-memory one (the plain classes in domain/, vendor/ and testing/,
unchanged, so the default path pays nothing for the choice) and the one on Redis
(shared/). ``open_state`` builds the set the settings ask for.

    component          interface        in memory                      on Redis
    accounts, scenarios ScenarioStore   domain.store.Store             shared.store.RedisStore
    rate-limit buckets RateLimits       vendor.ratelimit.RateLimiter   shared.limiter.RedisRateLimiter
    request journal    RequestJournal   testing.journal.Journal        shared.journal.RedisJournal
    faults             FaultRules       testing.faults.Faults          shared.faults.RedisFaults
    clock offset       Clock            domain.clock.Clock             shared.clock.SharedClock
    created accounts,  MutableMapping   dict                           shared.documents.AccountMap,
    snapshots                                                          shared.documents.SnapshotMap

On Redis, one vendor call is one script (shared/vendor.py): credentials, rate limit,
operation and journal entry in one round trip, atomic across replicas.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .domain.clock import Clock
from .domain.fixtures import load_files
from .domain.scenarios import ScenarioIn
from .domain.store import Account, KeyFactory, Store
from .settings import Settings
from .testing.faults import Fault, Faults
from .testing.journal import Entry, Journal
from .vendor.auth import Authenticator
from .vendor.ratelimit import RateLimiter, Rule

if TYPE_CHECKING:
    from .vendor.api import VendorApi

#: A saved snapshot: the account it is of (None: the whole state) and the accounts.
Snapshot = tuple["str | None", list[Account]]


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
    def add(self, data: dict[str, object]) -> Fault: ...
    def rules(self, account: str | None = None) -> list[Fault]: ...
    def clear(self, account: str | None = None) -> int: ...
    def take(self, method: str, path: str, account: str) -> Fault | None: ...
    async def hook(self, method: str, path: str, account: str) -> None: ...


class AccountFinder(Protocol):
    """Who an Authorization header proves to be (vendor/auth.py), or 401."""

    def account_for(self, authorization: str | None) -> str: ...


@dataclass
class State:
    """The state components of one mock server, as ``open_state`` built them."""

    store: ScenarioStore
    limiter: RateLimits
    journal: RequestJournal
    faults: FaultRules
    clock: Clock
    auth: AccountFinder
    #: The fixture state that a reset returns to.
    initial_accounts: list[Account]
    #: username -> the account as the admin API created it (a per-account reset returns there).
    created: MutableMapping[str, Account] = field(default_factory=dict)
    snapshots: MutableMapping[str, Snapshot] = field(default_factory=dict)
    #: Builds the dispatcher for this store (the Redis one runs a call as one script); None: VendorApi.
    vendor: Callable[..., VendorApi] | None = None
    #: Releases what the state holds outside the process (Redis connections); nothing for memory.
    close: Callable[[], None] = lambda: None
    #: Where the state is and how this server came to it (``serve`` prints it), "" in memory.
    origin: str = ""
    #: Raises an OmniError (500) when the store does not answer (the health check); memory always does.
    check: Callable[[], None] = lambda: None


def open_state(settings: Settings, clock: Clock | None, key_factory: KeyFactory) -> State:
    """The state the settings ask for; a shared store is joined (or seeded once) before this returns."""
    initial = load_files(settings.fixtures, key_factory)
    if settings.shared:
        from .shared import open_shared_state

        return open_shared_state(settings, initial, clock, key_factory)
    store = Store([account.copy() for account in initial], key_factory)
    clock = clock or Clock()
    return State(store, RateLimiter(settings.rate_limits, clock), Journal(settings.journal_limit), Faults(), clock,
                 Authenticator(store), initial)
