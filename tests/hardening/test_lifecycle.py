"""Lifecycle of a real process: SIGTERM under load drains in-flight requests and exits 0; a port
already taken (here by another mock-omni) is one line and a non-zero status.

(A port taken by a plain socket: tests/test_cli.py. SIGKILL with --state-file: see the state-file tests.)
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx

from .. import server
from ..conftest import ALADDIN_BASIC, SEED_KEY
from .wire import TIMEOUT, request, responses

SEED = f"/omni/1/scenarios/{SEED_KEY}"
CLIENTS = 16
REQUESTS_PER_CLIENT = 200
EXIT_WITHIN = 15.0  # a bound for the test not to hang, not a timing assertion: graceful shutdown is 5 s


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_zero() -> None:
    srv = server.start(["--rate-limit", "off"])
    statuses: list[int] = []
    broken: list[str] = []
    enough = threading.Event()
    lock = threading.Lock()

    def client(n: int) -> None:
        body = {"name": f"client {n}", "default": True}
        with httpx.Client(base_url=srv.url, headers={"Authorization": ALADDIN_BASIC}, timeout=TIMEOUT) as http:
            for _ in range(REQUESTS_PER_CLIENT):
                try:
                    response = http.put(SEED, json=body)
                except httpx.TransportError:
                    return  # the server stopped taking connections: expected once SIGTERM is in
                with lock:
                    statuses.append(response.status_code)
                    if len(statuses) >= 100:
                        enough.set()
                if response.status_code != 200 or response.json()["key"] != SEED_KEY:
                    broken.append(response.text[:200])

    try:
        # One request is mid-body when SIGTERM arrives: it must still be answered in full.
        update = json.dumps({"name": "in flight at SIGTERM"}).encode()
        head = request("PUT", SEED, srv.port, {"Authorization": ALADDIN_BASIC, "Content-Type": "application/json",
                                               "Content-Length": str(len(update))})
        in_flight = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
        in_flight.sendall(head + update[:10])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        assert enough.wait(timeout=60), "the load never got going"
        srv.process.send_signal(signal.SIGTERM)

        deadline = time.monotonic() + EXIT_WITHIN
        while not server.refuses_connections(srv.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        in_flight.sendall(update[10:])
        answer = b""
        while chunk := in_flight.recv(65536):
            answer += chunk
        in_flight.close()
        [(status, _, body)] = responses(answer)
        assert status == 200 and json.loads(body)["name"] == "in flight at SIGTERM"

        for thread in threads:
            thread.join(timeout=EXIT_WITHIN)
        assert srv.process.wait(timeout=EXIT_WITHIN) == 0
        assert "Traceback" not in srv.output()
    finally:
        server.stop(srv)
    assert len(statuses) >= 100 and set(statuses) == {200}, sorted(set(statuses))
    assert broken == []


def test_a_second_server_on_the_same_port_is_one_line_and_non_zero() -> None:
    with server.running() as first:
        result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", str(first.port)],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 1
        assert result.stderr.startswith(f"mock-omni: cannot listen on 127.0.0.1:{first.port}: ")
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        # and the first one is unharmed
        response = httpx.get(f"{first.url}{SEED}", headers={"Authorization": ALADDIN_BASIC}, timeout=TIMEOUT)
        assert response.status_code == 200
