"""Attacks on the writes held until the end of the event loop's turn (server/batched_transport.py).

Real server processes, real sockets, on both paths (the direct one and ``--asgi-only``): whatever the client's
timing and framing, every answer it is owed arrives whole, in order, before the connection ends, and the bytes
before a fault's reset or truncation are what they were when each write went out at once.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH
from mock_omni.server.batched_transport import HOLD_LIMIT, BatchedTransport, Outbox
from mock_omni.testing import ADMIN_PREFIX
from mock_omni.testing.process import ServerProcess

from .. import redis_server, server
from ..test_batched_transport import Recording
from .wire import TIMEOUT, exchange, read_one, read_one_after, responses

PATHS = {"direct": ["--rate-limit", "off"], "asgi-only": ["--rate-limit", "off", "--asgi-only"]}


#: The module's servers by port (their process, for their memory).
SERVERS: dict[int, server.Server] = {}


@pytest.fixture(scope="module", params=[*PATHS, "replica"])
def port(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A server answering in the protocol, one with --asgi-only, and a replica on Redis (its calls answered
    later in the loop, a turn's together: ``_answer_later``)."""
    with ExitStack() as stack:
        args = PATHS.get(request.param)
        if args is None:
            store = stack.enter_context(redis_server.running(tmp_path_factory.mktemp("redis")))
            args = [*PATHS["direct"], "--store", store.store_url]
        running = stack.enter_context(server.running(args))
        SERVERS[running.port] = running
        yield running.port
        output = running.output()
        stack.close()
    # Whatever the attacks did, the server said nothing of it but uvicorn's warnings for what is not HTTP.
    assert "Traceback" not in output and "Exception in callback" not in output and "ERROR" not in output, output


def rss_mib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) // 1024 for line in status if line.startswith("VmRSS:"))


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


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_cut_answers_alone_send_what_they_sent_before(port: int, kind: str) -> None:
    """The cut call alone on its connection: a truncated answer is its head's start, a reset sends nothing."""
    arm(port, {"method": "PUT", "path": SEED_PATH, "connection": kind, "times": None})
    try:
        for attempt in range(10):
            raw = exchange(port, seed_put(f"alone {attempt}"))
            if kind == "reset":
                assert raw == b"", raw
            else:
                assert raw and b"HTTP/1.1 200 OK\r\n".startswith(raw[:17]), raw
                found = responses(raw)
                assert not found or len(found[0][2]) < int(found[0][1].get("content-length", "0")), raw
    finally:
        clear_faults(port)


def test_a_slow_answer_still_trickles(port: int) -> None:
    """A ``bytesPerSecond`` rule's body goes out in parts over time, not held until the whole is written."""
    arm(port, {"method": "PUT", "path": SEED_PATH, "bytesPerSecond": 200, "times": None})
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
            conn.sendall(seed_put("slow", extra=("Connection: close",)))
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
    finally:
        clear_faults(port)
    found = responses(b"".join(chunks))
    assert found[0][0] == 200 and name_of(found[0][2]) == "slow"
    assert len(chunks) >= 3, chunks  # about a second of body in 50 ms steps: never one write


# --- clients that go away, or never read ----------------------------------------------------------------


def test_clients_that_reset_while_answers_are_held_leave_the_server_well(port: int) -> None:
    """Many pipelined requests, then a reset at once (SO_LINGER 0): answers held for a gone client are dropped
    without an error, and the server goes on answering."""
    data = b"".join(seed_put(f"r{index}") for index in range(200))
    for _ in range(20):
        conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        conn.sendall(data)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    found = responses(exchange(port, seed_put("after", extra=("Connection: close",))))
    assert [(status, name_of(body)) for status, _, body in found] == [(200, "after")]


def test_a_client_that_never_reads_holds_no_more_than_it_did(port: int) -> None:
    """Three clients send megabytes of pipelined requests (admin journal reads, direct calls) and read nothing:
    the server stops reading them (its writes back up), its memory stays bounded, and others are answered."""
    for start in range(0, 2000, 500):  # a journal worth reading: each GET of it answers hundreds of KiB
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
            sender = send_in_background(conn, b"".join(seed_put("j" * 200 + str(index))
                                                        for index in range(start, start + 500))
                                        + seed_put("filled", extra=("Connection: close",)))
            read_all(conn)
            sender.join(TIMEOUT)
    pid = SERVERS[port].process.pid
    before = rss_mib(pid)
    silent = []
    data = admin_get("/requests") * 200 + b"".join(seed_put(f"q{index}") for index in range(3000))
    for _ in range(3):
        conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        conn.setblocking(False)
        sent = 0
        for _ in range(200):  # what the server takes: it stops reading once its answers back up
            try:
                sent += conn.send(data[sent:sent + 65536])
            except BlockingIOError:
                select.select([], [conn], [], 0.05)
            if sent == len(data):
                break
        silent.append(conn)
    found = responses(exchange(port, seed_put("other", extra=("Connection: close",))))
    assert [(status, name_of(body)) for status, _, body in found] == [(200, "other")]
    grown = rss_mib(pid) - before
    for conn in silent:
        conn.close()
    assert grown < 150, f"{grown} MiB more with three clients that never read"  # it was about 40


# --- shutdown, timeouts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", list(PATHS))
def test_sigterm_with_answers_held_ends_on_whole_answers(path: str) -> None:
    """SIGTERM while a client's pipelined calls are being answered: every answer that comes is whole and in
    order, the connection then ends, and the server exits cleanly."""
    names = [f"t{index}" for index in range(2000)]
    with server.running(PATHS[path]) as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as conn:
            sender = send_in_background(conn, b"".join(seed_put(name) for name in names))
            first = conn.recv(65536)
            assert first.startswith(b"HTTP/1.1 200 OK\r\n"), first
            os.kill(running.process.pid, signal.SIGTERM)
            raw = first + read_all(conn)
            sender.join(TIMEOUT)
        assert running.process.wait(server.GONE_WITHIN) == 0
        output = running.output()
    found = responses(raw)
    assert found and sum(len(head) + 4 + len(body) for head, body in split_raw(raw)) == len(raw), raw[-300:]
    assert [name_of(body) for _, _, body in found] == names[:len(found)]
    assert all(len(body) == int(headers["content-length"]) for _, headers, body in found)
    assert "Traceback" not in output and "Exception in callback" not in output, output


def split_raw(raw: bytes) -> list[tuple[bytes, bytes]]:
    """(head, body) of each whole response in ``raw``, by Content-Length (a partial last one is left out)."""
    parts = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")[1:]
                          if line.lower().startswith(b"content-length:")))
        if len(rest) < length:
            break
        parts.append((head, rest[:length]))
        raw = rest[length:]
    return parts


@pytest.mark.parametrize("path", list(PATHS))
def test_a_header_timeout_answer_behind_a_held_answer(path: str) -> None:
    """An answer, then a head that never ends: the answer, then the 408, both whole, then the close."""
    with server.running([*PATHS[path], "--header-timeout", "1"]) as running:
        with socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT) as conn:
            conn.sendall(seed_put("before"))
            status, _, body = read_one(conn)
            conn.sendall(b"PUT /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nX-")
            raw = read_all(conn)
    assert status == 200 and name_of(body) == "before"
    found = responses(raw)
    assert [status for status, _, _ in found] == [408], raw
    assert found[0][1]["connection"] == "close" and len(found[0][2]) == int(found[0][1]["content-length"])


@pytest.mark.parametrize("path", list(PATHS))
def test_a_head_that_stalls_in_the_packet_of_an_answered_call_is_answered_408(path: str) -> None:
    """The call and the start of a head that never ends, in one packet: the call's answer, then the 408, whole.
    The head's clock started only with a packet's first bytes: begun after a request in the same packet, it
    was not timed, and the connection counted as idle (closed by the keep-alive timeout, without a 408)."""
    with server.running([*PATHS[path], "--header-timeout", "1"]) as running:
        raw = exchange(running.port, seed_put("before") + b"PUT /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nX-")
    found = responses(raw)
    assert [status for status, _, _ in found] == [200, 408], raw
    assert name_of(found[0][2]) == "before" and found[1][1]["connection"] == "close"


def test_a_long_poll_answer_keeps_its_place_among_pipelined_calls(port: int) -> None:
    """An admin long poll (``?wait=``), a direct call pipelined behind it: the poll's answer first, then the
    call's, whole."""
    raw = exchange(port, admin_get("/callbacks?wait=1&count=1") + seed_put("behind", extra=("Connection: close",)))
    found = responses(raw)
    assert [status for status, _, _ in found] == [200, 200], raw
    assert "callbacks" in json.loads(found[0][2]) and name_of(found[1][2]) == "behind"


@pytest.mark.parametrize("path", list(PATHS))
def test_the_access_log_keeps_the_order_of_pipelined_requests(path: str) -> None:
    parts = []
    for index in range(20):
        parts += [seed_put(f"l{index}"), admin_get("/health"), b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"]
    parts.append(seed_put("end", extra=("Connection: close",)))
    running = ServerProcess.serve(PATHS[path], dict(os.environ), server.START_TIMEOUT)
    try:
        found = responses(exchange(running.port, b"".join(parts)))
        assert len(found) == len(parts)
        deadline = time.monotonic() + server.GONE_WITHIN
        while running.output().count('" 2') + running.output().count('" 4') < len(parts):
            assert time.monotonic() < deadline, running.output()
            time.sleep(0.05)
        output = running.output()
    finally:
        running.stop()
    lines = [line for line in output.splitlines() if " HTTP/1.1\" " in line]
    targets = [line.split('"')[1].split(" ")[1] for line in lines]
    assert targets == [SEED_PATH, f"{ADMIN_PREFIX}/health", "/nowhere"] * 20 + [SEED_PATH], output


@pytest.mark.parametrize("before", ["calls", "admin"])
def test_answers_owed_before_a_malformed_request_come_before_its_400(port: int, before: str) -> None:
    """Requests, then bytes that are no HTTP, in one packet: the requests' answers, then the 400, then the close
    (RFC 9112 section 9.3.2: responses in the order of the requests). uvicorn wrote its 400 at once and closed:
    the answers of requests still in the ASGI app (every one with --asgi-only; the admin API's) were lost."""
    first = seed_put("a") if before == "calls" else admin_get("/health")
    raw = exchange(port, first + seed_put("b") + b"\x00\x01 not http\r\n\r\n")
    found = responses(raw)
    assert [status for status, _, _ in found] == [200, 200, 400], raw
    assert name_of(found[1][2]) == "b" and found[2][1]["connection"] == "close"


def test_a_malformed_body_is_still_answered_400_at_once(port: int) -> None:
    """Bad bytes in a request's own body (a broken chunk): nothing earlier is owed, so the 400 comes at once."""
    head = (f"PUT {SEED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {ALADDIN_BASIC}\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(head + b"zz\r\n{}\r\n")
        raw = read_all(conn)
    assert [status for status, _, _ in responses(raw)] == [400], raw


@pytest.mark.parametrize("target", ["/omni/1/scenarios?" + "q" * 70000, "/omni/1/scenarios/%zz%"])
def test_answers_held_before_a_refused_target_keep_their_place(port: int, target: str) -> None:
    """A target httptools refuses (414, 400) between two calls in one packet: answered in its place."""
    refused = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {ALADDIN_BASIC}\r\n\r\n".encode()
    raw = exchange(port, seed_put("a") + refused + seed_put("b", extra=("Connection: close",)))
    found = responses(raw)
    statuses = [status for status, _, _ in found]
    assert statuses[0] == 200 and statuses[1] in (400, 404, 414) and statuses[2:] == [200], raw[:600]
    assert name_of(found[0][2]) == "a" and name_of(found[2][2]) == "b"


def test_an_upgrade_offer_between_calls_is_answered_in_its_place(port: int) -> None:
    offer = seed_put("offer", extra=("Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c",
                                     "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA"))
    raw = exchange(port, seed_put("a") + offer + seed_put("b", extra=("Connection: close",)))
    found = responses(raw)
    assert [(status, name_of(body)) for status, _, body in found] == [(200, "a"), (200, "offer"), (200, "b")], raw


def test_a_413_with_connection_close_arrives_whole_before_the_fin(port: int) -> None:
    """A declared body over the limit, ``Connection: close``: the 413 is written, then write_eof (the client
    sees the answer end while the server reads the rest): answers held before it go first."""
    head = (f"PUT {SEED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {ALADDIN_BASIC}\r\nContent-Length: {1 << 30}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(seed_put("first") + head + b"{" * 1000)
        received = b""
        while b"HTTP/1.1 413" not in received or not responses(received[received.index(b"HTTP/1.1 413"):]):
            chunk = conn.recv(65536)
            assert chunk, received
            received += chunk
    found = responses(received)
    assert [status for status, _, _ in found] == [200, 413], received
    assert name_of(found[0][2]) == "first" and json.loads(found[1][2])["requestError"]


@pytest.mark.parametrize("path", list(PATHS))
def test_a_broken_chunk_in_the_rest_of_a_body_answered_413_is_dropped_with_it(path: str) -> None:
    """A chunked body over the limit with ``Connection: close``: the 413, then write_eof while the rest is read and
    dropped (close_after_body). A broken chunk size in that rest got uvicorn's 400 written after the EOF: a
    RuntimeError out of data_received ("Fatal error on transport", a traceback), the connection aborted."""
    head = (f"PUT {SEED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: {ALADDIN_BASIC}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    body = b"%x\r\n%s\r\n" % (65536, b" " * 65536) * 48  # 3 MiB: most of it comes after the 413, at 1 MiB
    with server.running(PATHS[path]) as running:
        raw = exchange(running.port, head + body + b"zz\r\n{}\r\n", half_close=True)
        running.stop()
        output = running.output()
    assert [status for status, _, _ in responses(raw)] == [413], raw[:300]
    assert "Traceback" not in output and "Fatal error" not in output, output


def test_a_malformed_request_then_a_fin_behind_owed_answers(port: int) -> None:
    raw = exchange(port, admin_get("/health") + seed_put("a") + b"\x00 not http\r\n\r\n", half_close=True)
    assert [status for status, _, _ in responses(raw)] == [200, 200, 400], raw


def test_calls_pipelined_behind_a_delayed_one_then_direct_again(port: int) -> None:
    """A call a rule delays (``times`` 1), calls pipelined behind it, then, once the rule is spent, calls the
    direct path answers again, on the same connection: every answer whole and in order."""
    get = (f"GET {SEED_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
           f"Authorization: {ALADDIN_BASIC}\r\n\r\n").encode()
    arm(port, {"method": "GET", "path": SEED_PATH, "delayMs": 300, "times": 1})
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as conn:
        conn.sendall(get + seed_put("b") + seed_put("c"))
        received = b""
        while len(responses(received)) < 3 or len(responses(received)[2][2]) < int(
                responses(received)[2][1]["content-length"]):
            chunk = conn.recv(65536)
            assert chunk, received
            received += chunk
        conn.sendall(seed_put("d") + seed_put("e", extra=("Connection: close",)))
        raw = received + read_all(conn)
    found = responses(raw)
    assert [status for status, _, _ in found] == [200] * 5, raw
    assert json.loads(found[0][2])["key"] and [name_of(body) for _, _, body in found[1:]] == ["b", "c", "d", "e"]


def test_many_connections_at_once_each_get_their_own_answers(port: int) -> None:
    """Forty clients at once, each pipelining its own calls (half of them closing their side after sending):
    the answers of one turn go out together, each to its own connection, whole and in order."""
    results: dict[int, list[str]] = {}

    def client(number: int) -> None:
        names = [f"k{number}-{index}" for index in range(40)]
        raw = exchange(port, b"".join(seed_put(name) for name in names)
                       + (b"" if number % 2 else seed_put("bye", extra=("Connection: close",))),
                       half_close=bool(number % 2))
        results[number] = [name_of(body) for status, _, body in responses(raw) if status == 200]

    threads = [threading.Thread(target=client, args=(number,)) for number in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 3)
    for number in range(40):
        expected = [f"k{number}-{index}" for index in range(40)] + ([] if number % 2 else ["bye"])
        assert results.get(number) == expected, number


def test_held_writes_never_pass_the_hold_limit() -> None:
    """Ten thousand small writes in one turn: nothing is held past HOLD_LIMIT; each write to the transport is
    at most HOLD_LIMIT plus the last write."""
    loop = asyncio.new_event_loop()
    try:
        inner = Recording()
        transport = BatchedTransport(inner, loop, Outbox())
        most = 0
        for index in range(10_000):
            transport.write(b"%05d" % index * 20)
            most = max(most, transport.held_size if transport.held is not None else 0)
        loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    written = [data for kind, data in inner.events if kind == "write"]
    assert most < HOLD_LIMIT and all(len(data) < HOLD_LIMIT + 100 for data in written)
    assert b"".join(written) == b"".join(b"%05d" % index * 20 for index in range(10_000))
