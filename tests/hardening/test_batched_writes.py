"""Attacks on the writes held until the end of the event loop's turn (server/batched_transport.py).

Real server processes, real sockets, on both paths (the direct one and ``--asgi-only``): whatever the client's
timing and framing, every answer it is owed arrives whole, in order, before the connection ends, and the bytes
before a fault's reset or truncation are what they were when each write went out at once.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH
from mock_omni.testing import ADMIN_PREFIX

from .. import server
from .wire import TIMEOUT, exchange, read_one, read_one_after, responses

PATHS = {"direct": ["--rate-limit", "off"], "asgi-only": ["--rate-limit", "off", "--asgi-only"]}


@pytest.fixture(scope="module", params=list(PATHS))
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    with server.running(PATHS[request.param]) as running:
        yield running.port


def seed_put(name: str, *, extra: tuple[str, ...] = (), version: str = "1.1") -> bytes:
    body = SEED_JSON.replace("SMS or VIBER", name).encode()
    head = [f"PUT {SEED_PATH} HTTP/{version}", "Host: 127.0.0.1", "Content-Type: application/json",
            "Accept: application/json", f"Authorization: {ALADDIN_BASIC}", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def admin_get(path: str, *, extra: tuple[str, ...] = ()) -> bytes:
    return ("\r\n".join([f"GET {ADMIN_PREFIX}{path} HTTP/1.1", "Host: 127.0.0.1", *extra]) + "\r\n\r\n").encode()


def admin_post(path: str, document: object) -> bytes:
    body = json.dumps(document).encode()
    head = [f"POST {ADMIN_PREFIX}{path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
            f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def name_of(body: bytes) -> str:
    return str(json.loads(body)["name"]).removeprefix("Test update: ")


def read_all(conn: socket.socket) -> bytes:
    received = b""
    while True:
        try:
            chunk = conn.recv(1 << 20)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def send_in_background(conn: socket.socket, data: bytes) -> threading.Thread:
    """Send while the caller reads: a client that sends a lot before reading would deadlock with the server."""
    def run() -> None:
        try:
            conn.sendall(data)
        except OSError:
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def arm(port: int, rule: dict[str, object]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(admin_post("/faults", rule))
        status, _, body = read_one(conn)
    assert status in (200, 201), body


def clear_faults(port: int) -> None:
    raw = exchange(port, (f"DELETE {ADMIN_PREFIX}/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                   .encode())
    assert responses(raw)[0][0] == 200, raw


# --- a client that closes its side as soon as it has sent ------------------------------------------------


def test_a_client_that_closes_its_side_after_sending_gets_its_answer(port: int) -> None:
    """``printf 'PUT ...' | nc -N``: the FIN can come in the turn the answer was written and held. The loop then
    closes the transport itself (nothing more is owed): what was held must have been written first."""
    lost = []
    for attempt in range(40):
        raw = exchange(port, seed_put(f"half {attempt}"), half_close=True)
        found = responses(raw)
        if not found or found[0][0] != 200 or name_of(found[0][2]) != f"half {attempt}":
            lost.append((attempt, raw[:200]))
    assert lost == []


def test_pipelined_requests_then_a_fin_are_all_answered_in_order(port: int) -> None:
    names = [f"fin {index}" for index in range(50)]
    raw = exchange(port, b"".join(seed_put(name) for name in names), half_close=True)
    found = responses(raw)
    assert [status for status, _, _ in found] == [200] * len(names)
    assert [name_of(body) for _, _, body in found] == names


# --- framing: many requests in one packet, both paths mixed ----------------------------------------------


def test_a_thousand_pipelined_requests_in_one_stream_are_answered_once_each_in_order(port: int) -> None:
    names = [f"p{index}" for index in range(1000)]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        sender = send_in_background(conn, b"".join(seed_put(name) for name in names)
                                    + seed_put("last", extra=("Connection: close",)))
        raw = read_all(conn)
        sender.join(TIMEOUT)
    found = responses(raw)
    assert [name_of(body) for _, _, body in found] == [*names, "last"]
    assert {status for status, _, _ in found} == {200}
    assert found[-1][1]["connection"] == "close"


def test_admin_and_vendor_requests_in_one_packet_keep_their_order(port: int) -> None:
    """Direct answers and the ASGI app's (admin API, a 404, the dashboard) interleaved in one packet."""
    parts: list[bytes] = []
    expected: list[tuple[int, str]] = []
    for index in range(30):
        parts.append(seed_put(f"m{index}"))
        expected.append((200, f"m{index}"))
        parts.append(admin_get("/health"))
        expected.append((200, "health"))
        parts.append(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        expected.append((404, "404"))
    parts.append(seed_put("end", extra=("Connection: close",)))
    expected.append((200, "end"))
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        sender = send_in_background(conn, b"".join(parts))
        raw = read_all(conn)
        sender.join(TIMEOUT)
    found = responses(raw)
    seen = []
    for status, _headers, body in found:
        if status == 404:
            seen.append((404, "404"))
        elif b'"name"' in body:
            seen.append((status, name_of(body)))
        else:
            seen.append((status, "health"))
    assert seen == expected


# --- answers that close the connection --------------------------------------------------------------------


@pytest.mark.parametrize("closing", ["connection-close", "http-1.0"])
def test_a_closing_answer_arrives_whole_before_the_fin(port: int, closing: str) -> None:
    for attempt in range(20):
        data = (seed_put(f"c{attempt}", extra=("Connection: close",)) if closing == "connection-close"
                else seed_put(f"c{attempt}", version="1.0"))
        found = responses(exchange(port, data))
        assert len(found) == 1 and found[0][0] == 200
        assert len(found[0][2]) == int(found[0][1]["content-length"])
        assert name_of(found[0][2]) == f"c{attempt}"


def test_an_admin_answer_that_closes_arrives_whole(port: int) -> None:
    for _ in range(20):
        found = responses(exchange(port, admin_get("/health", extra=("Connection: close",))))
        assert len(found) == 1 and found[0][0] == 200
        assert json.loads(found[0][2])


def test_expect_100_continue_is_answered_before_the_body_is_sent(port: int) -> None:
    whole = seed_put("continued", extra=("Expect: 100-continue",))
    head, _, body = whole.partition(b"\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(head + b"\r\n\r\n")
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = conn.recv(4096)
            assert chunk, interim
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n"), interim
        rest = interim.partition(b"\r\n\r\n")[2]
        conn.sendall(body)
        status, _, answer = read_one_after(conn, rest)
    assert status == 200 and name_of(answer) == "continued"


# --- faults: the bytes before a cut are what they were -----------------------------------------------------


@pytest.mark.parametrize("kind", ["reset", "drop", "garbage", "truncate"])
def test_an_answer_before_a_cut_connection_arrives_whole(port: int, kind: str) -> None:
    """An answer held in the turn, then a pipelined call a fault rule cuts: the first answer is not lost to the
    cut, and of the cut call only what the rule sends comes after it."""
    get = (f"GET {SEED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
           f"Authorization: {ALADDIN_BASIC}\r\n\r\n").encode()
    arm(port, {"method": "PUT", "path": SEED_PATH, "connection": kind, "times": None})
    try:
        for attempt in range(10):
            raw = exchange(port, get + seed_put(f"cut {attempt}"))
            found = responses(raw)
            assert found and found[0][0] == 200, (attempt, raw[:300])
            first = found[0][2]
            assert len(first) == int(found[0][1]["content-length"]) and json.loads(first)["key"]
            after = raw[raw.index(first) + len(first):]
            if kind in ("reset", "drop"):
                assert after == b"", after
            elif kind == "garbage":
                assert after and not after.startswith(b"HTTP/1.1 200"), after
            else:
                assert after.startswith(b"HTTP/1.1 200 OK\r\n") or b"HTTP/1.1 200 OK\r\n".startswith(after), after
                assert not responses(after) or len(responses(after)[0][2]) < int(
                    responses(after)[0][1].get("content-length", "0")), after
    finally:
        clear_faults(port)
