"""A real HTTP receiver on loopback for pushed reports: a threaded http.server recording every POST."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class Received(NamedTuple):
    path: str
    content_type: str
    body: bytes
    #: time.monotonic() when the request had been read (before any delay).
    at: float
    authorization: str | None = None


@dataclass
class Receiver:
    """``fail``: how many first answers are 503; ``delay``: seconds before each answer (a stalled app);
    ``held``: every answer waits until ``release()`` (a stall that no loaded machine can outlast);
    ``stall_first``: the first N requests wait until ``release()``, later ones are answered at once."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    fail: int = 0
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    held: threading.Event | None = None
    stall_first: int = 0
    #: Requests whose body was read (counted before any stall).
    arrived: int = 0

    def release(self) -> None:
        """Let the held answers (and every later one) go."""
        if self.held is not None:
            self.held.set()

    def reports(self) -> list[dict[str, Any]]:
        """The JSON reports received, in order (each POST carries one: ``{"results": [report]}``)."""
        with self.lock:
            bodies = [json.loads(item.body) for item in self.received]
        assert all(len(body["results"]) == 1 for body in bodies), bodies
        return [body["results"][0] for body in bodies]

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def wait_arrived(self, count: int, within: float = 20.0) -> bool:
        """Whether ``count`` requests arrived (stalled ones included) within ``within`` seconds."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                if self.arrived >= count:
                    return True
            time.sleep(0.01)
        return False


@contextmanager
def receiver(fail: int = 0, delay: float = 0.0, held: bool = False, stall_first: int = 0) -> Iterator[Receiver]:
    state = Receiver(fail=fail, delay=delay, held=threading.Event() if held or stall_first else None,
                     stall_first=stall_first)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("content-length", 0))
            body = self.rfile.read(length)
            if len(body) < length:  # the sender went away mid-body (a reset dropped the push): nothing received
                self.close_connection = True
                return
            arrived = time.monotonic()
            with state.lock:
                state.arrived += 1
                stalled = state.arrived <= state.stall_first if state.stall_first else True
            time.sleep(state.delay)
            if state.held is not None and stalled:
                state.held.wait(timeout=60)
            with state.lock:
                state.received.append(Received(self.path, self.headers.get("content-type", ""), body, arrived,
                                               self.headers.get("authorization")))
                failing = state.fail > 0
                state.fail -= 1
            self.send_response(503 if failing else 200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release()
        server.shutdown()
        server.server_close()
