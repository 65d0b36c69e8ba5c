"""Start real ``mock-omni serve`` processes for tests that need a socket (uvicorn, signals, other clients)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

START_TIMEOUT = 20.0


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def start(args: Sequence[str] = (), env: dict[str, str] | None = None) -> Server:
    """Run ``python -m mock_omni serve --port 0 ARGS`` and wait for the URL it prints."""
    command = [sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--quiet", *args]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, **(env or {})},
    )
    deadline = time.monotonic() + START_TIMEOUT
    assert process.stdout is not None
    line = process.stdout.readline()
    if " serving on " not in line or time.monotonic() > deadline:
        process.kill()
        _, err = process.communicate(timeout=5)
        raise RuntimeError(f"server did not start: {line!r} {err!r}")
    return Server(process, line.strip().rsplit(" ", 1)[1])


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)
    for stream in (server.process.stdout, server.process.stderr):
        if stream:
            stream.close()


@contextmanager
def running(args: Sequence[str] = (), env: dict[str, str] | None = None) -> Iterator[Server]:
    server = start(args, env)
    try:
        yield server
    finally:
        stop(server)
