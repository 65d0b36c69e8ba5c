"""The access log (server/access_log.py): uvicorn's lines, written in batches, live and complete."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import selectors
import signal
import subprocess
import sys
import time

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from mock_omni.server import access_log
from mock_omni.server.access_log import AccessLog
from mock_omni.testing.pytest_plugin import read_serving_url
from tests.hardening import wire

from .conftest import ALADDIN_BASIC

ARGS = [
    ("127.0.0.1:50000", "PUT", "/omni/1/scenarios/CD265875E3A6EA43478D5F37A635BE4A", "1.1", 200),
    ("[::1]:1", "GET", "/omni/1/scenarios?isDefault=true&limit=1", "1.0", 404),
    ("127.0.0.1:2", "POST", "/omni/1/scenarios", "1.1", 201),
    ("127.0.0.1:3", "DELETE", "/__admin/faults", "1.1", 503),
    ("127.0.0.1:4", "GET", "/%7Bbraces%7D", "1.1", 302),
    ("127.0.0.1:5", "GET", "/", "1.1", 599),  # no phrase
    ("127.0.0.1:6", "GET", "/", "1.1", 101),
]


class Writes(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def log_lines(log: AccessLog, args: list[tuple[str, str, str, str, int]]) -> None:
    async def run() -> None:
        for line in args:
            log.info('%s - "%s %s HTTP/%s" %d', *line)

    asyncio.run(run())


@pytest.mark.parametrize("colours", [False, True])
def test_each_line_is_uvicorns(colours: bool) -> None:
    formatter = AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=colours)
    expected = []
    for args in ARGS:
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
        expected.append(formatter.format(record) + "\n")
    stream = Writes()
    log = AccessLog(stream, colours=colours)
    log_lines(log, ARGS)
    log.flush()
    assert stream.getvalue() == "".join(expected)


def test_lines_are_written_together_after_a_moment() -> None:
    stream = Writes()
    log = AccessLog(stream, colours=False)

    async def run() -> tuple[int, int]:
        for args in ARGS[:3]:
            log.info("", *args)
        before = stream.writes
        await asyncio.sleep(access_log.FLUSH_SECONDS * 2)
        return before, stream.writes

    assert asyncio.run(run()) == (0, 1)
    assert stream.getvalue().count("\n") == 3


def test_a_burst_is_written_without_waiting_for_the_timer() -> None:
    stream = Writes()
    log = AccessLog(stream, colours=False)
    log_lines(log, [ARGS[0]] * (access_log.MAX_LINES * 2 + 1))
    assert stream.writes == 2
    log.flush()  # what the CLI does at shutdown
    assert stream.getvalue().count("\n") == access_log.MAX_LINES * 2 + 1


def test_a_running_server_logs_within_a_fraction_of_a_second_and_loses_nothing_at_sigterm() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mock_omni", "serve", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(read_serving_url(process).rsplit(":", 1)[1])
        request = wire.request("GET", "/omni/1/scenarios", port, {"Authorization": ALADDIN_BASIC})
        sent = time.monotonic()
        wire.exchange(port, request + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=1.0), "no access log line within a second"
        assert time.monotonic() - sent < 1.0
        first = os.read(process.stdout.fileno(), 65536).decode()  # not readline: communicate() reads the fd
        assert first.startswith("INFO:     127.0.0.1:") and '"GET /omni/1/scenarios HTTP/1.1" 200 OK\n' in first
        # A burst, then SIGTERM at once: every line is out before the process ends.
        burst = request * 99 + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        assert len(wire.responses(wire.exchange(port, burst))) == 100
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()
    assert (first + out.decode()).count('"GET /omni/1/scenarios HTTP/1.1" 200 OK\n') == 2 + 100
