"""Unexpected errors inside the server (the 500s nobody injected), kept for the test that caused them.

A fault rule's 500 is what a test asked for; an exception in mock-omni's own code is
not, and a client under test may well swallow the 500 it got. So both places that turn
an unexpected exception into a 500 (the vendor API and the web app) record it here; the
admin API lists them (``GET /__admin/errors``), a reset clears them, and the pytest
plugin fails the test during which one happened, with the server's message (as
pytest-httpserver does with its handler errors).

Both places log an error line before they answer: the plugin reads this list only when
the server's log grew during the test, so a test that logged nothing costs no call.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: The newest ones kept: enough to explain a failure, bounded against a loop of 500s.
KEPT = 50


@dataclass(frozen=True, slots=True)
class ServerError:
    timestamp: float
    request: str
    error: str
    traceback: str

    def to_dict(self) -> dict[str, object]:
        return {"timestamp": self.timestamp, "request": self.request, "error": self.error,
                "traceback": self.traceback}


class ErrorLog(Protocol):
    """Where server errors go (``ServerErrors``)."""

    @property
    def recorded(self) -> int: ...
    def record(self, where: str, error: BaseException) -> None: ...
    def entries(self) -> list[ServerError]: ...
    def clear(self) -> None: ...


def server_error(timestamp: float, where: str, error: BaseException) -> ServerError:
    """The record of ``error``, which happened answering ``where`` ("METHOD /path")."""
    text = "".join(traceback.format_exception(error)).rstrip()
    return ServerError(timestamp, where, f"{type(error).__name__}: {error}", text)


class ServerErrors:
    def __init__(self, wall_clock: Callable[[], float] = time.time) -> None:
        self._errors: deque[ServerError] = deque(maxlen=KEPT)
        self._lock = threading.Lock()
        self._wall_clock = wall_clock
        #: How many were ever recorded since the last clear (the bound drops the oldest).
        self.recorded = 0

    def record(self, where: str, error: BaseException) -> None:
        """``error`` happened answering ``where`` ("METHOD /path")."""
        entry = server_error(self._wall_clock(), where, error)
        with self._lock:
            self._errors.append(entry)
            self.recorded += 1

    def entries(self) -> list[ServerError]:
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self.recorded = 0
