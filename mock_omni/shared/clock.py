"""The clock on Redis: the offset that ``advance`` adds is shared configuration (config.py),
and the time it adds to is Redis's own (``TIME`` inside a call's script), so replicas on
different hosts refill buckets and expire tokens alike. A clock given to ``create_app`` (tests)
is used instead of Redis's time, as the memory store uses it. An account's own clock (the admin
API's per-account advance) is a field of its hash, which its calls' scripts add for its buckets.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis

from ..domain.clock import Clock
from . import scripts
from .config import OFFSET, Config, SharedConfig
from .keys import tag
from .link import Link, as_names

ADVANCE = scripts.named("advance")


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
        self._write(lambda pipe: pipe.hincrbyfloat(self.link.keys.config, OFFSET, seconds))

    def reset(self) -> None:
        self._write(lambda pipe: pipe.hset(self.link.keys.config, OFFSET, 0))

    def _write(self, queue: Callable[[redis.client.Pipeline], object]) -> None:
        def write(pipe: redis.client.Pipeline, config: Config, tags: list[str]) -> None:
            queue(pipe)

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


class SharedAccountClocks:
    """testing/admin.py's AccountClocks on Redis: each account's offset in its own hash."""

    def __init__(self, link: Link) -> None:
        self.link = link

    def advance(self, account: str, seconds: float) -> None:
        keys = self.link.keys
        self.link.script(ADVANCE, [keys.account(account).account], [repr(seconds)])
        # Its messages' transitions may now be due: the tickers look at once (shared/messages.py).
        with self.link.guard():
            self.link.client.zadd(keys.msg_scheduled, {tag(account): 0})

    def offset(self, account: str) -> float:
        with self.link.guard():
            return float(self.link.client.hget(self.link.keys.account(account).account, "clock") or 0.0)

    def forget(self, account: str) -> None:
        with self.link.guard():
            self.link.client.hdel(self.link.keys.account(account).account, "clock")

    def clear(self) -> None:
        keys = self.link.keys
        with self.link.guard():
            tags = as_names(self.link.client.zrange(keys.accounts, 0, -1))
            pipe = self.link.client.pipeline(transaction=False)
            for name in tags:
                pipe.hdel(keys.account_by_tag(name).account, "clock")
            pipe.execute()

