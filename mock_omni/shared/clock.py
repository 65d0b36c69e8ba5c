"""The clock on Redis: the offset that ``advance`` adds is shared configuration (config.py),
and the time it adds to is Redis's own (``TIME`` inside the call's script), so replicas on
different hosts refill buckets alike. A clock given to ``create_app`` (tests) is used
instead of Redis's time, as the memory store uses it.
"""

from __future__ import annotations

import time

import redis

from ..domain.clock import Clock
from .config import OFFSET, Config, SharedConfig
from .link import Link


class SharedClock(Clock):
    def __init__(self, link: Link, config: SharedConfig, injected: Clock | None = None) -> None:
        super().__init__(injected if injected is not None else time.time)
        self.link = link
        self.config = config
        self.injected = injected

    def __call__(self) -> float:
        return self._source() + self.config.current.offset

    def base(self) -> str:
        """The time a script should use, without the offset: '' for Redis's own."""
        return "" if self.injected is None else repr(self.injected())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")

        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            pipe.hincrbyfloat(self.link.keys.config, OFFSET, seconds)

        self.config.change(write)

    @property
    def offset(self) -> float:
        return self.config.reload().offset

    def now(self) -> float:
        """The clock's time now, offset included (Redis's time unless one was injected)."""
        if self.injected is not None:
            return self.injected() + self.config.current.offset
        with self.link.guard():
            seconds, micros = self.link.client.time()
        return seconds + micros / 1e6 + self.config.current.offset
