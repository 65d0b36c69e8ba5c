"""Server errors (testing/server_errors.py) on Redis: what went wrong on any replica, for the test that
caused it, whichever replica the admin API asks. A capped list, newest first, and a count."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import cast

from ..testing.server_errors import KEPT, ServerError, server_error
from .link import Link, StoreUnavailable, as_bytes, stable
from .store import dumps, load_json

log = logging.getLogger("mock_omni")


class SharedErrors:
    def __init__(self, link: Link, wall_clock: Callable[[], float] = time.time) -> None:
        self.link = link
        self._wall_clock = wall_clock

    def record(self, where: str, error: BaseException) -> None:
        """``error`` happened answering ``where``; once, however often a vendor call's step runs (link.py)."""
        entry = server_error(self._wall_clock(), where, error)
        stable(lambda: self._push(entry))

    def _push(self, entry: ServerError) -> None:
        keys = self.link.keys
        try:
            with self.link.guard():
                pipe = self.link.client.pipeline(transaction=True)
                pipe.lpush(keys.errors, dumps(entry.to_dict()))
                pipe.ltrim(keys.errors, 0, KEPT - 1)
                pipe.incr(keys.errors_recorded)
                pipe.execute()
        except StoreUnavailable:
            log.error("mock-omni: the server error above could not be recorded: Redis does not answer")

    def entries(self) -> list[ServerError]:
        with self.link.guard():
            raw = cast("list[bytes]", self.link.client.lrange(self.link.keys.errors, 0, -1))
        return [ServerError(**load_json(item)) for item in reversed(raw)]

    @property
    def recorded(self) -> int:
        with self.link.guard():
            return int(as_bytes(self.link.client.get(self.link.keys.errors_recorded)) or 0)

    def clear(self) -> None:
        with self.link.guard():
            self.link.client.delete(self.link.keys.errors, self.link.keys.errors_recorded)
