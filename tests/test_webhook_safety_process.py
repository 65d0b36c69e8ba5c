"""Pushed-report safety and stopping on real ``mock-omni serve`` processes: a send cannot reach the server's own
admin API through its notifyUrl, ``--webhook-allow`` is read from its flag and variable, and SIGTERM ends
every wait at once (an answer, exit 0, no traceback) on both stores."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from typing import Any

import httpx
import pytest

from mock_omni.api.webhook_targets import ADMIN_REFUSED, NOT_ALLOWED

from . import server
from .conftest import ALADDIN_BASIC
from .receiver import receiver
from .sending import body

pytestmark = [pytest.mark.slow, pytest.mark.both_stores]

AUTH = {"Authorization": ALADDIN_BASIC}
TO = "41793026727"
#: Enough for the waiting request to reach the server before the signal; not a timing assertion.
SETTLE = 1.5


def store_args(store: str) -> list[str]:
    return [] if store == "memory" else ["--store", store, "--store-prefix", f"test-{uuid.uuid4().hex[:12]}"]


def send_body(url: str, message_id: str) -> dict[str, Any]:
    return body(None, TO, channels=["SMS", "VIBER"], notifyUrl=url) | {
        "destinations": [{"messageId": message_id, "to": {"phoneNumber": TO}}]}


def settled(client: httpx.Client, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 20
    while True:
        found = [c for c in client.get("/__admin/callbacks").json()["callbacks"] if c["state"] != "pending"]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_a_send_cannot_make_the_server_reset_or_restore_itself(store: str) -> None:
    with server.running(store_args(store)) as running, httpx.Client(base_url=running.url, headers=AUTH,
                                                                     timeout=30) as client:
        created = client.post("/omni/1/scenarios", json={"name": "kept", "flow": [{"channel": "SMS", "from": "S"}]})
        assert created.status_code == 201, created.text
        assert client.post("/__admin/snapshots/empty").status_code == 201
        port = running.port
        urls = [f"http://127.0.0.1:{port}/__admin/reset", f"http://localhost:{port}/x/../__admin/reset",
                f"http://127.1:{port}/%5F_admin/snapshots/empty/restore", f"http://[::1]:{port}/__admin/reset",
                f"http://0x7f000001:{port}/__admin/state"]
        for n, url in enumerate(urls):
            assert client.post("/omni/1/advanced", json=send_body(url, f"M{n}")).status_code == 200
        found = settled(client, len(urls))
        assert [(c["state"], c["reason"], c["attempts"]) for c in found] == [("failed", ADMIN_REFUSED, [])] * 5
        names = [s["name"] for s in client.get("/omni/1/scenarios").json()["scenarios"]]
        assert "kept" in names  # neither reset nor restored
        assert [e["path"] for e in client.get("/__admin/requests").json()["requests"]
                if e["path"].startswith("/__admin")] == []  # the journal keeps vendor calls only: none came in
    assert "Traceback" not in running.output()


def test_webhook_allow_from_its_variable_refuses_a_receiver_outside(store: str) -> None:
    with receiver() as target, server.running(store_args(store), env={"MOCK_OMNI_WEBHOOK_ALLOW": "10.0.0.0/8"}) \
            as running, httpx.Client(base_url=running.url, headers=AUTH, timeout=30) as client:
        assert client.post("/omni/1/advanced", json=send_body(f"{target.url}/r", "M1")).status_code == 200
        (callback,) = settled(client, 1)
        assert (callback["state"], callback["reason"], callback["attempts"]) == ("failed", NOT_ALLOWED, [])
        assert target.received == []


def test_a_bad_webhook_allow_is_one_line_naming_the_flag() -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--webhook-allow", "10.0.0.0/33"],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("mock-omni: --webhook-allow: '10.0.0.0/33'") and done.stderr.count("\n") == 1


def test_sigterm_ends_a_callbacks_wait_and_a_fault_delay_at_once(store: str) -> None:
    running = server.start(store_args(store))
    answers: dict[str, httpx.Response | BaseException] = {}

    def ask(name: str, method: str, path: str, **kwargs: Any) -> None:
        try:
            answers[name] = httpx.request(method, running.url + path, headers=AUTH, timeout=60, trust_env=False,
                                          **kwargs)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            answers[name] = exc

    try:
        fault = httpx.post(running.url + "/__admin/faults", json={"method": "GET", "delayMs": 60000, "times": 1},
                           timeout=30, trust_env=False)
        assert fault.status_code == 201, fault.text
        threads = [threading.Thread(target=ask, args=("wait", "GET", "/__admin/callbacks"),
                                    kwargs={"params": {"wait": 60, "count": 1}}),
                   threading.Thread(target=ask, args=("held", "GET", "/omni/1/scenarios"))]
        for thread in threads:
            thread.start()
        time.sleep(SETTLE)
        signalled = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        status = running.process.wait(timeout=server.GONE_WITHIN)
        took = time.monotonic() - signalled
        for thread in threads:
            thread.join(timeout=30)
        output = running.output()
    finally:
        running.stop()
    assert status == 0, output
    waited, held = answers["wait"], answers["held"]
    assert isinstance(waited, httpx.Response), waited
    assert waited.status_code == 503 and waited.json() == {"requestError": {"serviceException": {
        "messageId": "SERVICE_UNAVAILABLE", "text": "The server is shutting down."}}}
    assert isinstance(held, httpx.Response) and held.status_code == 200, held
    # Before: 5.2 s (uvicorn's whole grace period), a plain-text 500 and ~70 lines of CancelledError.
    assert "Traceback" not in output and "graceful shutdown exceeded" not in output, output
    assert took < server.GONE_WITHIN


def test_a_send_cannot_reach_the_admin_api_through_a_proxy_in_front_of_the_server(store: str) -> None:
    """A dev proxy that serves the mock under a prefix (Vite's ``server.proxy``, nginx's ``location /mock/``), or
    any address that forwards to it (a cloud VM's public address, a Kubernetes service, a published port): the
    notifyUrl names neither ``/__admin`` nor an address of this machine, yet the push lands on the admin API.
    Pushes say they are pushes, and the admin API refuses them."""
    import http.server

    forwarded: list[int] = []
    with server.running(store_args(store)) as running, httpx.Client(base_url=running.url, headers=AUTH,
                                                                     timeout=30) as client:

        class Proxy(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() not in ("host", "content-length", "connection")}
                answer = httpx.post(running.url + self.path.removeprefix("/mock"), content=body, headers=headers,
                                    timeout=10, trust_env=False)
                forwarded.append(answer.status_code)
                self.send_response(answer.status_code)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
        threading.Thread(target=proxy.serve_forever, daemon=True).start()
        try:
            assert client.post("/__admin/snapshots/empty").status_code == 201
            created = client.post("/omni/1/scenarios", json={"name": "kept", "flow": [{"channel": "SMS", "from": "S"}]})
            assert created.status_code == 201, created.text
            url = f"http://127.0.0.1:{proxy.server_address[1]}/mock/__admin/snapshots/empty/restore"
            assert client.post("/omni/1/advanced", json=send_body(url, "M1")).status_code == 200
            deadline = time.monotonic() + 20
            while not forwarded and time.monotonic() < deadline:
                time.sleep(0.05)
            assert forwarded and set(forwarded) == {403}, forwarded  # each attempt refused by the admin API
            names = [s["name"] for s in client.get("/omni/1/scenarios").json()["scenarios"]]
            assert "kept" in names  # not restored
        finally:
            proxy.shutdown()
            proxy.server_close()
    assert "Traceback" not in running.output()
