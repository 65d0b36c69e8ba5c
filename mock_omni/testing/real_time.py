"""Real time for the testing toolkit while a test freezes the clock (freezegun and the like).

freezegun replaces ``time.monotonic`` for everyone, module attributes that hold it included, and
asyncio's event loops read it: a deadline computed from it never comes, and on the in-process
app's loop a delay fault, a webhook retry's backoff or a callback wait never ends. The toolkit's
deadlines, and that loop, read the clock kept here instead: the system's monotonic clock through
``time.clock_gettime``, which freezegun leaves alone, so it is real even when this module is first
imported inside a frozen test. The mock's own clock is moved with ``advance_clock``, never by freezing time.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

#: The system's monotonic clock; where ``clock_gettime`` is missing (Windows), ``time.monotonic`` as found on import.
real_monotonic: Callable[[], float] = (functools.partial(time.clock_gettime, time.CLOCK_MONOTONIC)
                                       if hasattr(time, "clock_gettime") else time.monotonic)


class RealTimeEventLoop(asyncio.SelectorEventLoop):
    """The in-process app's loop: its timers run on real time whatever a test does to ``time.monotonic``."""

    def time(self) -> float:
        return real_monotonic()
