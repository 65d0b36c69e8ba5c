"""Start real ``mock-omni serve`` processes for tests that need a socket (uvicorn, signals, other clients).

Through mock_omni/testing/process.py, as the pytest plugin does: the log goes to a file (``output()``),
never to a pipe nobody reads, and a server ends with the test run that started it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from mock_omni.testing.process import ServerProcess

START_TIMEOUT = 20.0
#: A bound for a test not to hang, not a timing assertion: a server stops within about a second.
GONE_WITHIN = 20.0

Server = ServerProcess


def start(args: Sequence[str] = (), env: dict[str, str] | None = None) -> Server:
    """Run ``python -m mock_omni serve --port 0 --quiet ARGS`` and wait for the URL it prints."""
    return ServerProcess.serve(["--quiet", *args], {**os.environ, **(env or {})}, START_TIMEOUT)


def stop(server: Server) -> None:
    server.stop()


@contextmanager
def running(args: Sequence[str] = (), env: dict[str, str] | None = None) -> Iterator[Server]:
    server = start(args, env)
    try:
        yield server
    finally:
        stop(server)


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def wait_until_refused(port: int, within: float = GONE_WITHIN) -> bool:
    deadline = time.monotonic() + within
    while not refuses_connections(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
