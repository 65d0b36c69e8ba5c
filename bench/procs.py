"""Server processes for the bench: start, wait for the first 200 on the seed PUT, measure, stop.

Every process is started in its own session and killed by its own process group,
in a ``finally``, so nothing outlives the bench.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO

from .payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def seed_put_status(port: int, path: str = SEED_PATH, timeout: float = 2.0) -> int:
    """Status of one seed PUT, or 0 if nothing answers on the port yet."""
    return _status(port, "PUT", path, SEED_JSON.encode(), {
        "Content-Type": "application/json", "Accept": "application/json", "Authorization": ALADDIN_BASIC,
    }, timeout)


def _status(port: int, method: str, path: str, body: bytes | None, headers: dict[str, str], timeout: float) -> int:
    """Status of one request, or 0 if nothing answers on the port yet."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def get_status(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json", "Authorization": ALADDIN_BASIC})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    #: Seconds from process start to the first 200 on the seed PUT (or the probe's).
    started_in: float

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_mb(self, field: str = "VmRSS") -> float:
        """Resident memory of the server process and its children in MB; ``VmHWM`` for the peak."""
        total = 0
        for pid in [self.process.pid, *_children(self.process.pid)]:
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        if line.startswith(field + ":"):
                            total += int(line.split()[1])
            except OSError:
                continue
        return total / 1024


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            found = [int(p) for p in children.read().split()]
    except OSError:
        return []
    return found + [grand for child in found for grand in _children(child)]


def page_status(port: int, path: str, accept: str, timeout: float = 2.0) -> int:
    """Status of one GET of ``path`` without credentials, or 0 if nothing answers on the port yet."""
    return _status(port, "GET", path, None, {"Accept": accept}, timeout)


@contextmanager
def running(
    name: str, command: Sequence[str], port: int, *, path: str = SEED_PATH, timeout: float = 60.0,
    env: dict[str, str] | None = None, cwd: str | None = None, probe: Callable[[int], int] | None = None,
) -> Iterator[Server]:
    """Start ``command``, wait (bounded) for a 200 on the seed PUT at ``path`` (or from ``probe(port)``, a
    status, 0 while nothing answers), yield, then kill it."""
    # Output goes to a file, not a pipe: a chatty server must never block on a full pipe.
    log = tempfile.TemporaryFile()
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, **(env or {})}, cwd=cwd,
    )
    try:
        deadline = started + timeout
        while True:
            status = probe(port) if probe is not None else seed_put_status(port, path)
            if status == 200:
                break
            if process.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"{name} did not answer 200 (last status {status}): {_tail(log)}")
            time.sleep(0.002 if status == 0 else 0.05)
        yield Server(name, process, port, time.perf_counter() - started)
    finally:
        stop(process)
        log.close()


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=10)


def _tail(log: IO[bytes]) -> str:
    log.seek(0)
    return log.read().decode("utf-8", "replace").strip()[-500:] or "no output"
