"""Stalling clients (slowloris) against a real server: --header-timeout closes them, nobody else.

A request's head must be in within the timeout of its first byte (or of the connection's start, or of the
previous response); its body must not stall that long. Otherwise 408 in the vendor's envelope and a closed
connection, as Node's headersTimeout answers. Idle keep-alive connections, pipelined requests behind a slow
answer and slow-but-progressing clients are served as before. Timings only bound from below what must not
happen early, and from above by generous margins.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from .. import server
from ..conftest import ALADDIN_BASIC, SEED_KEY
from .wire import read_one, request, responses

TIMEOUT = 1.0
#: Generous: the server closes about TIMEOUT after the stall (a body: within 2 TIMEOUT); a busy machine is slower.
CLOSED_WITHIN = 15.0
AUTH = {"Authorization": ALADDIN_BASIC}
SEED = f"/omni/1/scenarios/{SEED_KEY}"


@pytest.fixture(scope="module")
def srv() -> Iterator[server.Server]:
    with server.running(["--header-timeout", f"{TIMEOUT:g}s", "--rate-limit", "off"]) as running:
        yield running


@pytest.fixture
def port(srv: server.Server) -> Iterator[int]:
    yield srv.port
    httpx.post(f"{srv.url}/__admin/reset").raise_for_status()


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=CLOSED_WITHIN)


def trickle_until_closed(conn: socket.socket, data: bytes, every: float) -> tuple[bytes, float]:
    """Send ``data`` a byte at a time, ``every`` seconds apart, until the server closes; what came back, and
    when it closed (seconds after the first byte)."""
    start = time.monotonic()
    conn.settimeout(every)
    received = b""
    for byte in data:
        try:
            conn.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        try:
            chunk = conn.recv(65536)
        except TimeoutError:
            continue
        except ConnectionResetError:
            break
        received += chunk
        if not chunk:
            break
        assert time.monotonic() - start < CLOSED_WITHIN, "never closed"
    else:
        raise AssertionError("the server waited for the whole trickle")
    conn.settimeout(CLOSED_WITHIN)
    try:
        while chunk := conn.recv(65536):
            received += chunk
    except (ConnectionResetError, OSError):
        pass
    return received, time.monotonic() - start


def assert_408(received: bytes) -> None:
    [(status, headers, body)] = responses(received)
    assert status == 408 and headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert json.loads(body) == {"requestError": {"serviceException": {
        "messageId": "REQUEST_TIMEOUT", "text": "Request timeout: the request did not arrive in time"}}}


@pytest.mark.parametrize("before", [0, 1], ids=["first-request", "after-a-request"])
def test_a_head_sent_a_byte_at_a_time_is_answered_408_and_closed(port: int, before: int) -> None:
    head = request("GET", SEED, port, {**AUTH, **{f"X-Pad-{n}": "x" * 20 for n in range(20)}})
    with connect(port) as conn:
        for _ in range(before):
            conn.sendall(request("GET", SEED, port, AUTH))
            assert read_one(conn)[0] == 200
            time.sleep(TIMEOUT * 0.5)  # idle a while: the trickled head's time counts from its first byte
        received, after = trickle_until_closed(conn, head, 0.2)
    assert_408(received)
    assert TIMEOUT * 0.9 <= after < CLOSED_WITHIN, after


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(port: int) -> None:
    with connect(port) as conn:
        start = time.monotonic()
        received = conn.recv(65536)
        while chunk := conn.recv(65536):
            received += chunk
        after = time.monotonic() - start
    assert_408(received)
    assert TIMEOUT * 0.9 <= after < CLOSED_WITHIN, after


@pytest.mark.parametrize("path", ["/omni/1/advanced", "/__admin/faults"], ids=["direct", "asgi"])
def test_a_body_that_stalls_is_answered_408_and_closed(port: int, path: str) -> None:
    head = request("POST", path, port, {**AUTH, "Content-Type": "application/json", "Content-Length": "100"})
    with connect(port) as conn:
        conn.sendall(head + b'{"dest')
        start = time.monotonic()
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
        after = time.monotonic() - start
    assert_408(received)
    assert TIMEOUT * 0.9 <= after < CLOSED_WITHIN, after


def test_a_body_that_keeps_coming_slowly_is_served(port: int) -> None:
    body = json.dumps({"name": "slow but steady"}).encode()
    head = request("PUT", SEED, port, {**AUTH, "Content-Type": "application/json", "Content-Length": str(len(body))})
    with connect(port) as conn:
        conn.sendall(head)
        for byte in body:  # about 2.5 s in all, 0.1 s between bytes: longer than the timeout, never idle that long
            time.sleep(0.1)
            conn.sendall(bytes([byte]))
        status, _, answer = read_one(conn)
    assert status == 200 and json.loads(answer)["name"] == "slow but steady"


def test_a_head_that_arrives_in_pieces_within_the_timeout_is_served(port: int) -> None:
    head = request("GET", SEED, port, AUTH)
    with connect(port) as conn:
        for start in range(0, len(head), len(head) // 4 + 1):
            conn.sendall(head[start:start + len(head) // 4 + 1])
            time.sleep(0.05)
        assert read_one(conn)[0] == 200


def test_an_idle_keep_alive_connection_and_a_client_slow_to_read_are_served_as_before(port: int) -> None:
    get = request("GET", SEED, port, AUTH)
    with connect(port) as conn:
        conn.sendall(get)
        assert read_one(conn)[0] == 200
        time.sleep(TIMEOUT * 2.5)  # idle, over the header timeout (the keep-alive timeout is uvicorn's 5 s)
        conn.sendall(get)
        time.sleep(TIMEOUT * 2.5)  # a whole head sent, and the answer left unread that long
        assert read_one(conn)[0] == 200
        conn.sendall(get)
        assert read_one(conn)[0] == 200


def test_a_head_pipelined_behind_a_slow_answer_counts_from_that_answer(srv: server.Server, port: int) -> None:
    fault = {"method": "GET", "path": SEED, "delayMs": 3000, "times": 1}
    httpx.post(f"{srv.url}/__admin/faults", json=fault).raise_for_status()
    get = request("GET", SEED, port, AUTH)
    with connect(port) as conn:
        conn.sendall(get + get[:20])  # the second head begins while the first waits 3 s
        time.sleep(TIMEOUT * 2)
        conn.sendall(get[20:])
        received = b""
        while len(found := responses(received)) < 2 or len(found[1][2]) < int(found[1][1]["content-length"]):
            chunk = conn.recv(65536)
            assert chunk, f"closed after {received!r}"
            received += chunk
    assert [status for status, _, _ in found] == [200, 200]
