"""Start real ``mock-omni serve`` processes for tests that need a socket (uvicorn, signals, other clients)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from mock_omni.testing.pytest_plugin import read_serving_url, stop_process

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
    try:
        url = read_serving_url(process, START_TIMEOUT)
    except BaseException:
        stop_process(process)
        raise
    return Server(process, url)


def stop(server: Server) -> None:
    stop_process(server.process)


@contextmanager
def running(args: Sequence[str] = (), env: dict[str, str] | None = None) -> Iterator[Server]:
    server = start(args, env)
    try:
        yield server
    finally:
        stop(server)
