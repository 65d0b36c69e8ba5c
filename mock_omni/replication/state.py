"""The state of a replica on Redis: the memory store's components, kept equal across replicas by the log."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from ..domain.accounts import Account, KeyFactory
from ..domain.clock import Clock
from ..domain.fixtures import Extras
from ..domain.signin import Lifetimes
from ..memory import memory_state, webhook_options
from ..settings import Settings
from ..state import State, StoreUnreachable
from ..testing.admin import Baseline
from .dispatcher import ReplicatedVendorApi
from .fence import ReplicatedFence
from .log import RedisLog
from .replica import Replica, settings_of
from .urls import shown
from .webhooks import ReplicatedWebhooks


def open_replicated_state(settings: Settings, startup: Baseline, initial: list[Account], extras: Extras,
                          clock: Clock | None, key_factory: KeyFactory, lifetimes: Lifetimes,
                          wall_clock: Callable[[], float]) -> State:
    """Connect (one line if Redis cannot be used); the app joins the log, or begins it, when built."""
    link = RedisLog(settings.store, settings.store_prefix)
    link.check()
    # Replicas in other processes stamp their calls on one time line: the wall clock, not a monotonic one.
    default_clocks = clock is None and wall_clock is time.time
    clock = clock or Clock(time.time)
    replica = Replica(link, clock.follow(lambda: replica.now), settings_of(settings))
    # Real times are those of the entry being applied (when the call came), or of now outside one (an attempt).
    real = replica.real_time
    webhooks = ReplicatedWebhooks(**webhook_options(settings), wall_clock=real)
    webhooks.replica = replica
    replica.webhooks = webhooks
    # Dates are the mock's clock plus a fixed offset, the same on every replica: none with the default clocks.
    dates = (lambda: replica.now) if default_clocks else wall_clock
    state = memory_state(settings, startup, initial, extras, clock, key_factory, lifetimes, dates, real, webhooks)
    state.replica = replica
    # Its tickets are where the log ends: caught up first (never while an entry is applied).
    state.fence = ReplicatedFence(lambda: replica.cursor,
                                  lambda: None if replica.applying else replica.exchange([]))
    state.vendor = functools.partial(_vendor, replica=replica, faults=state.faults)
    state.close = link.close
    state.check = link.healthy
    state.origin = f"state on Redis at {shown(settings.store)}, prefix {settings.store_prefix}"
    return state


def _vendor(*args: Any, replica: Replica, faults: Any, **kwargs: Any) -> ReplicatedVendorApi:
    vendor = ReplicatedVendorApi(*args, **kwargs)
    vendor.replica = replica
    vendor.faults = faults
    replica.dispatcher = vendor
    return vendor


__all__ = ["StoreUnreachable", "open_replicated_state"]
