"""The access log: uvicorn's line, formatted in one step and written in batches.

uvicorn logs each request through ``logging`` and flushes stdout once per line; with that
on, the seed PUT ran at about half the rate of ``--quiet``. This writer makes the same line
(``INFO:     127.0.0.1:50000 - "PUT /omni/1/scenarios/KEY HTTP/1.1" 200 OK``, coloured like
uvicorn's when stdout is a terminal) with one f-string, and writes what has gathered once per
``FLUSH_SECONDS`` from the event loop (sooner past ``MAX_LINES``), so ``docker logs`` stays
live. ``flush`` writes the rest at shutdown.

http_protocol.py hands it to uvicorn's request cycles as their ``access_logger`` and uses it
for its direct answers, so the lines are the same whichever way a request was answered.
"""

from __future__ import annotations

import asyncio
import http
import sys
from typing import TextIO

from ..testing.redaction import redact_query

FLUSH_SECONDS = 0.1
MAX_LINES = 256

# uvicorn's colours (uvicorn.logging.AccessFormatter): green level name, bold request line,
# status by class. tests/test_access_log.py checks these lines against uvicorn's formatter.
_RESET = "\033[0m"
_STATUS_COLOURS = {1: "\033[97m", 2: "\033[32m", 3: "\033[33m", 4: "\033[31m", 5: "\033[91m"}


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


class AccessLog:
    """Lines in uvicorn's access-log format, buffered and written by the event loop."""

    def __init__(self, stream: TextIO | None = None, *, colours: bool | None = None) -> None:
        self.stream = stream
        if colours is None:
            colours = (stream or sys.stdout).isatty()
        self.prefix = f"\033[32mINFO{_RESET}:     " if colours else "INFO:     "
        self.request_line = '"\033[1m{} {} HTTP/{}' + _RESET + '"' if colours else '"{} {} HTTP/{}"'
        self.statuses = {
            status: (f"{_STATUS_COLOURS.get(status // 100, '')}{status} {_phrase(status)}{_RESET}" if colours
                     else f"{status} {_phrase(status)}")
            for status in range(100, 600)
        }
        self.lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def info(self, message: str, client: str, method: str, path: str, version: str, status: int) -> None:
        """What uvicorn's request cycle calls on its ``access_logger``: ``message`` is its format,
        ``'%s - "%s %s HTTP/%s" %d'``, over the other arguments."""
        if "?" in path:
            # A secret in a query (client_secret=..., which RFC 6749 forbids but clients send) is masked,
            # as the journal masks it: the log is read by more people than the client's developer.
            target, _, query = path.partition("?")
            path = f"{target}?{redact_query(query)}"
        request_line = self.request_line.format(method, path, version)
        self.lines.append(f"{self.prefix}{client} - {request_line} {self.statuses[status]}\n")
        if len(self.lines) >= MAX_LINES:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.lines:
            stream = self.stream or sys.stdout
            stream.write("".join(self.lines))
            self.lines.clear()
            stream.flush()
