"""Opening the state the settings ask for: in this process's memory, or on Redis shared by replicas."""

from __future__ import annotations

import time
from collections.abc import Callable

from .domain.accounts import KeyFactory
from .domain.clock import Clock
from .domain.fixtures import Extras, load_files
from .domain.signin import Lifetimes
from .memory import memory_state
from .settings import Settings
from .state import State
from .testing.admin import Baseline
from .testing.faults import document_faults


def open_state(settings: Settings, clock: Clock | None, key_factory: KeyFactory,
               wall_clock: Callable[[], float] = time.time) -> State:
    """The state the settings ask for; replicas on Redis join the log (or begin it) when the app is built.

    ``wall_clock`` gives the POSIX seconds the mock's clock starts at (the dates of messages).
    """
    extras = Extras()
    initial = load_files(settings.fixtures, key_factory, extras)
    faults = document_faults(extras.faults, "fixtures", extras.fault_origins)
    startup = Baseline(tuple(initial), delivery_rules=tuple(extras.delivery_rules), messages=extras.messages,
                       callbacks=extras.documented_callbacks(), faults=faults)
    lifetimes = Lifetimes(float(settings.token_lifetime), float(settings.session_idle))
    if settings.shared:
        from .replication.state import open_replicated_state

        return open_replicated_state(settings, startup, initial, extras, clock, key_factory, lifetimes, wall_clock)
    return memory_state(settings, startup, initial, extras, clock or Clock(), key_factory, lifetimes, wall_clock)
