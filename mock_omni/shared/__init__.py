"""The state on Redis, shared by replicas: every component of state.py, and the dispatcher that
runs a vendor call as one script. Imported only when ``--store`` names a Redis."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from ..domain.clock import Clock
from ..domain.signin import Lifetimes
from ..domain.store import KeyFactory
from ..settings import Settings
from ..state import State, StoreUnreachable, webhook_options
from ..testing.admin import Baseline
from .auth import SharedAuthenticator
from .callbacks import SharedWebhooks
from .clock import SharedClock
from .config import SharedConfig
from .delivery import SharedDeliveryRules
from .documents import SharedRecords
from .errors import SharedErrors
from .faults import RedisFaults
from .fence import SharedFence
from .journal import RedisJournal
from .limiter import RedisRateLimiter
from .link import Link, StoreUnavailable, shown
from .messages import SharedMessages
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


def open_shared_state(settings: Settings, fixtures: Baseline, clock: Clock | None, key_factory: KeyFactory,
                      lifetimes: Lifetimes, wall_clock: Callable[[], float]) -> State:
    """Connect, then join the store's state or seed it with ``fixtures``; one line if Redis cannot be used."""
    link = Link(settings.store, settings.store_prefix)
    link.check()
    config = SharedConfig(link)
    store = RedisStore(link, key_factory)
    shared_clock = SharedClock(link, config, clock)
    limiter = RedisRateLimiter(link, config, store, shared_clock)

    webhooks = SharedWebhooks(link, **webhook_options(settings))

    def seed() -> tuple[Baseline, bool]:
        found, seeded = join_or_seed(link, store, limiter, fixtures, settings.rate_limits, key_factory)
        if seeded and delivery is not None and messages is not None:
            # Beside the accounts (seeding.py), in steps of their own: the fixtures' rules, messages, callbacks.
            delivery.replace(found.delivery_rules)
            messages.load(found.messages)
            webhooks.restore(found.callbacks)
        return found, seeded

    delivery: SharedDeliveryRules | None = None
    messages: SharedMessages | None = None

    # A store that loses its data (Redis restarted without persistence) is seeded again.
    config.reseed = seed
    try:
        startup, seeded = seed()
        config.reload()
    except StoreUnavailable:
        link.close()
        raise StoreUnreachable(f"Redis at {shown(settings.store)} stopped answering while mock-omni started") from None
    journal = RedisJournal(link, settings.journal_limit)
    faults = RedisFaults(link, config)
    auth = SharedAuthenticator(link)
    fence = SharedFence(link)
    shared = Shared(link, config, store, limiter, journal, faults, shared_clock, auth, fence, Pipe(link))
    try:
        delivery = SharedDeliveryRules(link, settings.delivery_delay)
        messages = SharedMessages(link, store, shared_clock, delivery, limit=settings.message_limit,
                                  notify=webhooks.notify, wall_clock=wall_clock)
        if seeded:
            delivery.replace(startup.delivery_rules)
            messages.load(startup.messages)
            webhooks.restore(startup.callbacks)
    except StoreUnavailable:
        link.close()
        raise StoreUnreachable(f"Redis at {shown(settings.store)} stopped answering while mock-omni started") from None
    initial = list(startup.accounts)
    return State(
        store, limiter, journal, faults, shared_clock, SharedSignIn(link, store, shared_clock, lifetimes), messages,
        webhooks, delivery, fence, SharedErrors(link), SharedRecords(link, key_factory), initial,
        dict(startup.messages), startup.delivery_rules, auth,
        functools.partial(SharedVendorApi, shared=shared), link.close,
        f"state on Redis at {shown(settings.store)}, prefix {settings.store_prefix}: "
        + (f"seeded with {len(initial)} fixture accounts" if seeded else
           f"joined, {len(store.usernames())} accounts there"),
        link.ping,
    )
