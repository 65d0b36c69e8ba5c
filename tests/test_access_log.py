"""The access log (server/access_log.py): uvicorn's lines, written in batches, live and complete."""

from __future__ import annotations

import asyncio
import io
import logging
import signal
import time

import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from mock_omni.server import access_log
from mock_omni.server.access_log import AccessLog
from mock_omni.testing.process import ServerProcess, serve_command
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
    server = ServerProcess(serve_command())
    try:
        port = server.port
        request = wire.request("GET", "/omni/1/scenarios", port, {"Authorization": ALADDIN_BASIC})
        sent = time.monotonic()
        wire.exchange(port, request + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        while '"GET /omni/1/scenarios HTTP/1.1" 200 OK\n' not in server.output() and time.monotonic() - sent < 5:
            time.sleep(0.01)
        assert time.monotonic() - sent < 1.0, "no access log line within a second"
        assert any(line.startswith("INFO:     127.0.0.1:") and line.endswith('"GET /omni/1/scenarios HTTP/1.1" 200 OK')
                   for line in server.output().splitlines())
        # A burst, then SIGTERM at once: every line is out before the process ends.
        burst = request * 99 + request.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        assert len(wire.responses(wire.exchange(port, burst))) == 100
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=10) == 0, server.output()
    finally:
        server.stop()
    assert server.output().count('"GET /omni/1/scenarios HTTP/1.1" 200 OK\n') == 2 + 100


def test_secrets_in_a_query_are_masked_and_the_rest_kept() -> None:
    stream = Writes()
    log = AccessLog(stream, colours=False)
    log_lines(log, [("127.0.0.1:1", "POST", "/auth/1/oauth2/token?client_id=app&client_secret=s3cr3t", "1.1", 400),
                    ("127.0.0.1:1", "GET", "/omni/1/logs?limit=5&token=abc", "1.1", 200),
                    ("127.0.0.1:1", "GET", "/omni/1/logs?limit=5", "1.1", 200)])
    log.flush()
    text = stream.getvalue()
    assert "s3cr3t" not in text and "abc" not in text
    assert "client_id=app&client_secret=***" in text and "limit=5&token=***" in text
    assert '"GET /omni/1/logs?limit=5 HTTP/1.1" 200' in text
