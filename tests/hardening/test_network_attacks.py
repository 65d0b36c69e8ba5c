"""Attacks on the network surface found by the atk-net session, over real sockets to real servers (vendor calls
answered in the protocol, and all through the ASGI app): what each got before its fix is in its docstring.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from .. import server
from ..conftest import ALADDIN_BASIC
from .wire import TIMEOUT, exchange, read_one, responses

#: Every admin route that reads a JSON body, with a body it would take whole.
ADMIN_BODIES = [
    ("POST", "/__admin/reset", {"rateLimits": "off"}),
    ("POST", "/__admin/faults", {"status": 503, "path": "/omni/1/scenarios"}),
    ("PUT", "/__admin/state", {"accounts": []}),
    ("POST", "/__admin/accounts", {"username": "cut"}),
    ("PUT", "/__admin/rate-limits", {"limits": "off"}),
    ("POST", "/__admin/clock/advance", {"seconds": 600}),
    ("POST", "/__admin/delivery-rules", {"destination": "41793026727", "outcome": "UNDELIVERABLE"}),
    ("POST", "/__admin/tokens", {"account": "Aladdin", "kind": "oauth2"}),
]


@pytest.fixture(scope="module", params=["direct", "asgi-only"])
def live(request: pytest.FixtureRequest) -> Iterator[server.Server]:
    """One real server per way in; at its end, SIGTERM and no traceback or unexpected error in its log."""
    running = server.start(["--rate-limit", "off", *(["--asgi-only"] if request.param == "asgi-only" else [])])
    try:
        yield running
        assert running.process.poll() is None, "the server died"
        running.process.terminate()
        assert running.process.wait(timeout=server.GONE_WITHIN) == 0
        log = running.output()
        assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]
    finally:
        server.stop(running)


@pytest.fixture
def http(live: server.Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, trust_env=False, timeout=TIMEOUT) as client:
        assert client.post("/__admin/reset").status_code == 200
        assert client.delete("/__admin/errors").status_code == 200
        yield client


def cut_short(port: int, head: bytes, part: bytes) -> None:
    """Send ``head`` and the first ``part`` of its body, then close: the client is gone mid-body."""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(head + part)


def settled(http: httpx.Client) -> dict[str, object]:
    """The admin state after the server has had every chance to act on what it was sent (bounded)."""
    deadline = time.monotonic() + 0.5
    errors = http.get("/__admin/errors").json()
    while not errors["errors"] and time.monotonic() < deadline:
        time.sleep(0.05)
        errors = http.get("/__admin/errors").json()
    return errors  # type: ignore[no-any-return]


CUTS = [(*route, False) for route in ADMIN_BODIES] + [(*route, True) for route in ADMIN_BODIES[:3]]


@pytest.mark.parametrize(("method", "path", "document", "expect"), CUTS,
                         ids=[f"{p}{'-100-continue' if e else ''}" for _, p, _, e in CUTS])
def test_an_admin_body_cut_short_is_no_server_error_and_changes_nothing(
    live: server.Server, http: httpx.Client, method: str, path: str, document: object, expect: bool,
) -> None:
    """The client closes after half its body (or after ``100 Continue``, sending none): nobody to answer.

    Before: starlette's ClientDisconnect escaped every admin route that reads a body, logged with its traceback
    twice (the mock's line and uvicorn's ``Exception in ASGI application``) and recorded in ``/__admin/errors``,
    where the pytest plugin fails the test that happened to be running: as the vendor API, nothing is done
    and nothing is said."""
    before = http.get("/__admin/state").json()
    body = json.dumps(document).encode()
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{'Expect: 100-continue' + chr(13) + chr(10) if expect else ''}\r\n")
    cut_short(live.port, head.encode(), b"" if expect else body[: len(body) // 2])

    assert settled(http) == {"errors": [], "recorded": 0}
    assert http.get("/__admin/state").json() == before
    assert http.get("/__admin/health").json() == {"status": "ok"}
    # What a whole body does, the same request sent again does.
    whole = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    assert whole.status_code < 300, whole.text


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/", "/docs"])
def test_the_mocks_pages_may_be_framed_only_where_the_admin_api_may_be_called(
    http: httpx.Client, method: str, path: str,
) -> None:
    """Before: the dashboard and /docs could be framed by any site (clickjacking its Reset button; test_browser.py
    shows it in Chromium). Their Content-Security-Policy names the pages that may: their own and the local
    origins (the default --cors-origin)."""
    answer = http.request(method, path, headers={"Accept": "text/html"})
    assert answer.status_code == 200
    assert answer.headers["content-security-policy"] == (
        "frame-ancestors 'self' http://localhost:* https://localhost:* http://127.0.0.1:* https://127.0.0.1:*")


CLOSING_FIRST = {
    # uvicorn serves HTTP/1.0 without keep-alive, whatever its Connection header says; httptools goes on parsing.
    "admin-http/1.0-keep-alive": b"GET /__admin/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "vendor-http/1.0-keep-alive": f"GET /omni/1/scenarios?limit=1 HTTP/1.0\r\nConnection: keep-alive\r\n"
                                  f"Authorization: {ALADDIN_BASIC}\r\n\r\n".encode(),
    "vendor-http/1.0": f"GET /omni/1/scenarios?limit=1 HTTP/1.0\r\nAuthorization: {ALADDIN_BASIC}\r\n\r\n".encode(),
}


@pytest.mark.parametrize("first", CLOSING_FIRST.values(), ids=CLOSING_FIRST.keys())
@pytest.mark.parametrize("body_after", [False, True], ids=["", "then-a-big-body"])
def test_requests_pipelined_behind_a_closing_answer_are_not_carried_out(
    live: server.Server, http: httpx.Client, first: bytes, body_after: bool,
) -> None:
    """RFC 9112 section 9.6: after the answer that closes the connection, no further request is processed.

    Before: a request pipelined behind an HTTP/1.0 request (answered with ``connection: close``) was carried
    out all the same, its answer never sent: a snapshot saved, a scenario created, that the client never heard
    of (and retries); with a big body still coming behind them, its answer was written after the server had
    ended its sending side: ``RuntimeError: Cannot call write() after write_eof()``, a 500 in
    ``/__admin/errors`` and two tracebacks in the log."""
    create = json.dumps({"name": "after the close", "flow": [{"from": "a", "channel": "SMS"}]}).encode()
    behind = (b"POST /__admin/snapshots/after-close HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
              + f"POST /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {ALADDIN_BASIC}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(create)}\r\n\r\n".encode() + create)
    big = b"x" * (1024 * 1024 + 1)
    tail = (f"POST /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {ALADDIN_BASIC}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n".encode() + big)
    tail = tail if body_after else b""

    answers = exchange(live.port, first + behind + tail)

    assert answers.count(b"HTTP/1.1 ") == 1 and b"connection: close\r\n" in answers, answers[:300]
    assert settled(http) == {"errors": [], "recorded": 0}
    assert http.get("/__admin/snapshots").json() == {"snapshots": []}
    assert b"after the close" not in http.get("/__admin/state").content


@pytest.mark.parametrize("path", ["/omni/1/scenarios", "/__admin/health", "/"])
def test_an_http_1_1_request_without_host_is_a_400_and_http_1_0_needs_none(live: server.Server, path: str) -> None:
    """RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without ``Host``; the vendor's front
    does. Before: answered as if it had one (a client missing it passed here and failed there)."""
    auth = f"Authorization: {ALADDIN_BASIC}\r\nAccept: application/json\r\n"
    no_host = f"GET {path} HTTP/1.1\r\n{auth}\r\n".encode()
    then = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n".encode()
    answers = responses(exchange(live.port, no_host + then))
    assert [status for status, _, _ in answers] == [400, 200]  # the connection stays usable
    status, headers, body = answers[0]
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["requestError"]["serviceException"] == {
        "messageId": "BAD_REQUEST",
        "text": "Bad request"}  # the vendor's text, as for every other 400 BAD_REQUEST
    old = f"GET {path} HTTP/1.0\r\n{auth}\r\n".encode()
    assert [status for status, _, _ in responses(exchange(live.port, old))] == [200]


@pytest.mark.parametrize("version", ["1.1", "1.0"])
@pytest.mark.parametrize("path", ["/omni/1/scenarios", "/__admin/health", "/"])
def test_a_request_with_two_host_headers_is_a_400(live: server.Server, path: str, version: str) -> None:
    """RFC 9112 section 3.2: a server MUST answer 400 to a request with more than one ``Host``, whatever its
    version (which one a guard, a router or a proxy in front reads differs). Before: 200, the host guard
    and the admin API's same-origin check each reading a different one."""
    auth = f"Authorization: {ALADDIN_BASIC}\r\nAccept: application/json\r\n"
    two = f"GET {path} HTTP/{version}\r\nHost: localhost\r\nHost: 127.0.0.1\r\n{auth}Connection: keep-alive\r\n\r\n"
    then = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    answers = responses(exchange(live.port, (two + then).encode()))
    # HTTP/1.1: the connection stays usable; HTTP/1.0 is answered with a close, keep-alive or not (uvicorn)
    assert [status for status, _, _ in answers] == ([400, 200] if version == "1.1" else [400])
    assert json.loads(answers[0][2])["requestError"]["serviceException"] == {
        "messageId": "BAD_REQUEST",
        "text": "Bad request"}  # the vendor's text, as for every other 400 BAD_REQUEST
    empty = f"GET {path} HTTP/1.1\r\nHost:\r\n{auth}Connection: close\r\n\r\n".encode()
    assert [status for status, _, _ in responses(exchange(live.port, empty))] == [200]  # RFC 9110 7.2


@pytest.mark.parametrize(("method", "path"), [("PUT", "/__admin/state"), ("POST", "/__admin/faults")])
def test_an_admin_body_declared_over_the_limit_is_413_before_it_is_sent(
    live: server.Server, http: httpx.Client, method: str, path: str,
) -> None:
    """As the vendor API: a declared length over the admin API's 64 MiB is refused at once. Before: the client
    waiting for ``100 Continue`` got it, and was refused only after sending 64 MiB."""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Expect: 100-continue\r\nContent-Length: {64 * 1024 * 1024 + 1}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", live.port), timeout=TIMEOUT) as conn:
        conn.sendall(head)
        status, headers, body = read_one(conn)
    assert status == 413, (status, headers)
    assert json.loads(body)["requestError"]["serviceException"]["messageId"] == "PAYLOAD_TOO_LARGE"
    assert http.get("/__admin/faults").json()["faults"] == []


def test_sigterm_with_an_admin_body_half_sent_exits_cleanly() -> None:
    """The grace period ends with the admin call still waiting for its body: nothing is done, nothing said.
    Before: the route's ClientDisconnect was logged with two tracebacks as the server stopped."""
    with server.running() as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as conn:
            conn.sendall(b"PUT /__admin/state HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"accounts\":")
            assert httpx.get(f"{running.url}/__admin/health", timeout=TIMEOUT).status_code == 200  # it is in
            running.process.terminate()
            assert running.process.wait(timeout=server.GONE_WITHIN) == 0
        log = running.output()
    assert "Traceback" not in log and "unexpected error" not in log, log[-3000:]
