"""Time, injectable: the limiter reads it, tests and the admin API move it."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """Monotonic seconds plus an offset that only grows (``advance``) until a reset, so tests never sleep."""

    def __init__(self, source: Callable[[], float] = time.monotonic) -> None:
        self._source = source
        self._offset = 0.0

    def __call__(self) -> float:
        return self._source() + self._offset

    def follow(self, source: Callable[[], float]) -> Callable[[], float]:
        """Read time from ``source`` from now on; returns the source it had (replicas stamp their calls
        with it and read the time of the call being applied: replication/replica.py)."""
        previous, self._source = self._source, source
        return previous

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def reset(self) -> None:
        """Back to no offset (a reset clears the buckets that were filled on the advanced clock)."""
        self._offset = 0.0

    @property
    def offset(self) -> float:
        return self._offset


class ManualClock(Clock):
    """A clock that stands still until advanced: for unit tests."""

    def __init__(self, start: float = 0.0) -> None:
        super().__init__(lambda: start)
