"""A receiver for pushed reports in the test process: the ``mock_omni_receiver`` fixture's.

A real HTTP server on a free loopback port (a thread of the test process) that records every POST
and answers ``status`` (200 unless a test sets another, to see the mock retry). Point an app's
``notifyUrl`` at ``receiver.url``; ``receiver.reports()`` are the reports it got, in order.
"""

from __future__ import annotations

import http.server
import json
import threading
from dataclasses import dataclass
from typing import Any

#: The most a receiver reads of one POST: a pushed report is a few hundred bytes.
MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Received:
    path: str
    #: Names in lower case.
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records the POSTs it receives; ``close`` stops it (the fixture does, after the test)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                length = min(int(self.headers.get("content-length") or 0), MAX_BODY)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-body (a reset or shutdown drops a push on the wire): no
                    # request was made, so none is recorded (reports() would fail on half a JSON body).
                    self.close_connection = True
                    return
                with receiver._lock:
                    receiver.received.append(Received(
                        self.path, {name.lower(): value for name, value in self.headers.items()}, body))
                    status = receiver.status
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        #: Where to push: ``http://127.0.0.1:PORT/reports``.
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/reports"
        self._thread = threading.Thread(target=self._server.serve_forever, name="mock-omni-receiver", daemon=True)
        self._thread.start()

    def reports(self) -> list[dict[str, Any]]:
        """Each JSON report received, in order (a push carries one: ``{"results": [report]}``)."""
        with self._lock:
            bodies = [item.json() for item in self.received if "json" in item.headers.get("content-type", "")]
        return [report for body in bodies for report in body["results"]]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
