"""The state on Redis, shared by replicas: every component of state.py, and the dispatcher that
runs a vendor call as one script. Imported only when ``--store`` names a Redis."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..domain.clock import Clock
from ..domain.signin import Lifetimes
from ..domain.store import Account, KeyFactory
from ..settings import Settings
from ..state import State, StoreUnreachable
from .auth import SharedAuthenticator
from .clock import SharedClock
from .config import SharedConfig
from .documents import SharedRecords
from .errors import SharedErrors
from .faults import RedisFaults
from .fence import SharedFence
from .journal import RedisJournal
from .limiter import RedisRateLimiter
from .link import Link, StoreUnavailable, shown
from .pipe import Pipe
from .seeding import join_or_seed
from .signin import SharedSignIn
from .store import RedisStore
from .vendor import SharedVendorApi

__all__ = ["Shared", "open_shared_state"]


@dataclass
class Shared:
    """What the shared dispatcher (vendor.py) works with."""

    link: Link
    config: SharedConfig
    store: RedisStore
    limiter: RedisRateLimiter
    journal: RedisJournal
    faults: RedisFaults
    clock: SharedClock
    auth: SharedAuthenticator
    fence: SharedFence
    pipe: Pipe


def open_shared_state(settings: Settings, fixtures: list[Account], clock: Clock | None,
                      key_factory: KeyFactory, lifetimes: Lifetimes) -> State:
    """Connect, then join the store's state or seed it with ``fixtures``; one line if Redis cannot be used."""
    link = Link(settings.store, settings.store_prefix)
    link.check()
    config = SharedConfig(link)
    store = RedisStore(link, key_factory)
    shared_clock = SharedClock(link, config, clock)
    limiter = RedisRateLimiter(link, config, store, shared_clock)

    def seed() -> tuple[list[Account], bool]:
        return join_or_seed(link, store, limiter, fixtures, settings.rate_limits, key_factory)

    # A store that loses its data (Redis restarted without persistence) is seeded again.
    config.reseed = seed
    try:
        initial, seeded = seed()
        config.reload()
    except StoreUnavailable:
        link.close()
        raise StoreUnreachable(f"Redis at {shown(settings.store)} stopped answering while mock-omni started") from None
    journal = RedisJournal(link, settings.journal_limit)
    faults = RedisFaults(link, config)
    auth = SharedAuthenticator(link)
    fence = SharedFence(link)
    shared = Shared(link, config, store, limiter, journal, faults, shared_clock, auth, fence, Pipe(link))
    return State(
        store, limiter, journal, faults, shared_clock, SharedSignIn(link, store, shared_clock, lifetimes), fence,
        SharedErrors(link), SharedRecords(link, key_factory), initial, auth,
        functools.partial(SharedVendorApi, shared=shared), link.close,
        f"state on Redis at {shown(settings.store)}, prefix {settings.store_prefix}: "
        + (f"seeded with {len(initial)} fixture accounts" if seeded else
           f"joined, {len(store.usernames())} accounts there"),
        link.ping,
    )
