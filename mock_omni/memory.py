"""The memory store: every component of state.py in this process's memory.

Replicas on Redis build the same components (replication/state.py) and keep them equal by the log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .api.ratelimit import RateLimiter
from .api.webhook_targets import parse_allow
from .api.webhooks import MAX_PENDING, Webhooks
from .domain.accounts import Account, Accounts, KeyFactory
from .domain.clock import Clock
from .domain.delivery import DeliveryRules
from .domain.fixtures import Extras
from .domain.messages import Messages
from .domain.signin import Lifetimes, SignIn
from .settings import Settings
from .state import State
from .testing.admin import AccountClockOffsets, Baseline, Records
from .testing.faults import Faults
from .testing.fence import Fence
from .testing.journal import Journal
from .testing.server_errors import ServerErrors


def memory_state(settings: Settings, startup: Baseline, initial: list[Account], extras: Extras, clock: Clock,
                 key_factory: KeyFactory, lifetimes: Lifetimes, wall_clock: Callable[[], float],
                 real_clock: Callable[[], float] = time.time, webhooks: Webhooks | None = None) -> State:
    """Every component in this process's memory (replicas on Redis keep the same ones: replication/).

    ``wall_clock`` dates the messages (with the mock's clock); ``real_clock`` the journal, server errors and
    callbacks, which tell when things really happened."""
    store = Accounts([account.copy() for account in initial], key_factory)
    limiter = RateLimiter(settings.rate_limits, clock)
    rules = DeliveryRules(extras.delivery_rules, settings.delivery_delay)
    webhooks = webhooks or Webhooks(**webhook_options(settings))
    webhooks.restore(startup.callbacks)
    messages = Messages(store, clock, rules, limit=settings.message_limit, byte_limit=settings.message_bytes,
                        notify=webhooks.notify, wall_clock=wall_clock)
    messages.load(extras.messages)
    records = Records(startup, AccountClockOffsets(limiter))
    faults = Faults()
    for rule in startup.faults:
        faults.add(rule)
    return State(store, limiter, Journal(settings.journal_limit, real_clock), faults, clock,
                 SignIn(store, clock, lifetimes), messages, webhooks, rules, Fence(), ServerErrors(real_clock),
                 records, initial, extras.messages, tuple(extras.delivery_rules))


def webhook_options(settings: Settings) -> dict[str, Any]:
    """The webhook sender's settings: retries, timeout, and bounds that follow the messages' bound."""
    return {"attempts": settings.webhook_attempts, "backoff": settings.webhook_backoff,
            "timeout": settings.webhook_timeout, "keep": settings.message_limit,
            "max_pending": min(MAX_PENDING, settings.message_limit), "allow": parse_allow(settings.webhook_allow)}
