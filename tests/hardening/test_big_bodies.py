"""Attacks on the calls with a big body (server/work_share.py): what a client sees of them over real sockets.

Bodies of ``BIG_BODY`` and more are answered over several turns of the event loop on the direct path, at once on
``--asgi-only``'s. Every framing a client may wrap such a body in must come back byte for byte as the ASGI path
answers it (tests/test_http_protocol.py compares the common cases); then what the server does while such a call
is under way: shutdown, stalled clients, resets, a failing step.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_KEY, SEED_PATH
from mock_omni.app import create_app
from mock_omni.server.work_share import BIG_BODY
from mock_omni.settings import MAX_BODY_BYTES, Settings
from mock_omni.testing import ADMIN_TOKEN_HEADER
from mock_omni.testing.admin_client import AdminClient
from mock_omni.testing.process import ServerProcess, serve_command
from tests import server
from tests.hardening import wire
from tests.test_http_protocol import (
    CLOSER,
    H2C,
    JSON_HEADERS,
    SEND_BULK,
    SEND_ONE,
    chunked_put,
    get,
    normalized,
    patched_server,
    pipelined_outcomes,
    post,
    put,
)
from tests.test_work_share import HEADERS as SEND_HEADERS
from tests.test_work_share import send_body


def padded(body: str, size: int) -> str:
    """``body`` with spaces before its closing brace, ``size`` bytes in all (JSON ignores them)."""
    assert len(body) <= size and body.endswith("}")
    return body[:-1] + " " * (size - len(body)) + "}"


SEED_BIG = SEED_JSON + " " * 10_000

#: Each sent alone on a connection, then CLOSER: the direct path's bytes must be the ASGI path's.
CASES: dict[str, bytes] = {
    "big, small, big, small pipelined": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK) + get(SEED_PATH)
    + post("/omni/1/advanced", JSON_HEADERS, SEND_BULK) + post("/omni/1/advanced", JSON_HEADERS, SEND_ONE),
    "small then big pipelined": post("/omni/1/advanced", JSON_HEADERS, SEND_ONE)
    + post("/omni/1/advanced", JSON_HEADERS, SEND_BULK),
    "big, chunked": chunked_put("/omni/1/advanced", JSON_HEADERS, *(SEND_BULK[i:i + 5000].encode()
                                                                    for i in range(0, len(SEND_BULK), 5000)))
    .replace(b"PUT ", b"POST ", 1),
    "big, HTTP/1.0": put("/omni/1/advanced", JSON_HEADERS, SEND_BULK, version="1.0").replace(b"PUT ", b"POST ", 1),
    "big, HTTP/1.0 keep-alive": put("/omni/1/advanced", {**JSON_HEADERS, "Connection": "keep-alive"}, SEND_BULK,
                                    version="1.0").replace(b"PUT ", b"POST ", 1),
    "big, Expect: 100-continue": post("/omni/1/advanced", {**JSON_HEADERS, "Expect": "100-continue"}, SEND_BULK),
    "big, Upgrade: h2c": post("/omni/1/advanced", {**JSON_HEADERS, **H2C}, SEND_BULK),
    "seed PUT, one byte under BIG_BODY": put(SEED_PATH, JSON_HEADERS, padded(SEED_JSON, BIG_BODY - 1)),
    "seed PUT, BIG_BODY": put(SEED_PATH, JSON_HEADERS, padded(SEED_JSON, BIG_BODY)),
    "send, the largest body read": post("/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES)),
    "send, one byte over the largest body read": post("/omni/1/advanced", JSON_HEADERS,
                                                      padded(SEND_BULK, MAX_BODY_BYTES + 1)),
    "send, the largest body read, chunked": chunked_put(
        "/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES).encode()).replace(b"PUT ", b"POST ", 1),
    "send, one byte over the largest body read, chunked": chunked_put(
        "/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES + 1).encode()).replace(b"PUT ", b"POST ",
                                                                                                   1),
    "big, then a request on an ASGI path": put(SEED_PATH, JSON_HEADERS, SEED_BIG) + get("/nothing-here"),
    "big 404 path": post("/omni/1/nothing", JSON_HEADERS, SEND_BULK),
    "big 405": put("/omni/1/advanced", JSON_HEADERS, SEND_BULK),
    "big 406": post("/omni/1/advanced", {**JSON_HEADERS, "Accept": "text/html"}, SEND_BULK),
    "big, no credentials": post("/omni/1/advanced", {"Content-Type": "application/json"}, SEND_BULK),
    # Refused in the send's first step after the parse (Messages._begin), not in the handler.
    "big send, sendAt too far": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK[:-1]
                                     + ', "sendAt": "2099-01-01T00:00:00.000+0000"}'),
    "big send, no such scenario": post("/omni/1/advanced", JSON_HEADERS,
                                       SEND_BULK.replace(SEED_KEY, "0123456789ABCDEF0123456789ABCDEF")),
    "big, XML body": put(SEED_PATH, {"Content-Type": "application/xml", "Authorization": ALADDIN_BASIC},
                         "<scenario><name>x</name>" + " " * BIG_BODY + "</scenario>"),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[server.Server, server.Server]]:
    with server.running(["--rate-limit", "off"]) as direct, \
            server.running(["--rate-limit", "off", "--asgi-only"]) as asgi:
        yield direct, asgi


@pytest.mark.parametrize("case", list(CASES))
def test_big_bodies_in_any_framing_are_answered_as_the_asgi_path_answers_them(
    servers: tuple[server.Server, server.Server], case: str,
) -> None:
    direct, asgi = servers
    from_direct = normalized(wire.exchange(direct.port, CASES[case] + CLOSER))
    from_asgi = normalized(wire.exchange(asgi.port, CASES[case] + CLOSER))
    assert from_direct.startswith(b"HTTP/1.")
    assert from_direct == from_asgi
#: Answers each case gets.
HALF_CLOSED = {"big, small, big, small pipelined": 4, "big, chunked": 1, "big 406": 1, "big, HTTP/1.0": 1,
               "send, the largest body read": 1, "big, then a request on an ASGI path": 2}


@pytest.mark.parametrize("case", list(HALF_CLOSED))
def test_a_client_that_closes_its_side_after_its_requests_gets_every_answer_then_the_close(
    servers: tuple[server.Server, server.Server], case: str,
) -> None:
    """``printf ... | nc -N``: the requests, then the client's side of the connection closed, which comes while
    the big call is still being carried out. It was carried out and journaled, and its answer lost. (The
    ASGI path's is uvicorn's race: its app sees the client gone, and answers if it is quick enough.)"""
    direct, asgi = servers
    received = wire.exchange(direct.port, CASES[case], half_close=True)  # read until the server closes
    assert len(wire.responses(received)) == HALF_CLOSED[case], received[:300]
    assert normalized(received) == normalized(wire.exchange(asgi.port, CASES[case] + CLOSER))[
        :len(normalized(received))]


def test_a_long_poll_whose_client_closes_its_side_ends_at_once_as_a_killed_clients(
    servers: tuple[server.Server, server.Server],
) -> None:
    """A request alone in the ASGI app keeps uvicorn's way: a FIN (a killed test run's, or a half-close: the
    server cannot tell them apart) ends a ``?wait=`` at once rather than at its timeout."""
    for srv in servers:
        began = time.monotonic()
        received = wire.exchange(srv.port, get("/__admin/callbacks?wait=30&count=5", {"Accept": "application/json"}),
                                 half_close=True, timeout=60)
        assert received == b"" and time.monotonic() - began < 20  # not the 30 s


@pytest.mark.parametrize("requests", [
    get(SEED_PATH), get("/nothing-here") + get(SEED_PATH), get(SEED_PATH) + get("/nothing-here"),
], ids=["answered in place", "behind one the ASGI app answered", "pipelined into the ASGI app"])
def test_a_connection_whose_client_closes_after_its_answers_closes_at_once(
    servers: tuple[server.Server, server.Server], requests: bytes,
) -> None:
    """Nothing owed, nothing pipelined: the close is the server's at once, not after the keep-alive timeout (5 s:
    a client opening a connection per request would hold the server's file descriptors that long)."""
    for srv in servers:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            conn.sendall(requests)
            count = requests.count(b" HTTP/1.1\r\n")
            received = b""
            while len(answers := wire.responses(received)) < count or any(
                    len(body) < int(headers.get("content-length", "0")) for _, headers, body in answers):
                received += conn.recv(65536)
            began = time.monotonic()
            conn.shutdown(socket.SHUT_WR)
            assert conn.recv(1) == b""
            assert time.monotonic() - began < 2.5  # the keep-alive timeout is 5 s; a close at once takes ms


CREATE = post("/omni/1/scenarios", JSON_HEADERS, '{"name":"made","flow":[{"from":"a","channel":"SMS"}]}')


@pytest.mark.parametrize("closing", [
    post("/omni/1/advanced", {**JSON_HEADERS, "Connection": "close"}, SEND_BULK),
    put("/omni/1/advanced", JSON_HEADERS, SEND_BULK, version="1.0").replace(b"PUT ", b"POST ", 1),
], ids=["Connection: close", "HTTP/1.0"])
def test_nothing_pipelined_behind_a_closing_big_call_is_carried_out(
    servers: tuple[server.Server, server.Server], closing: bytes,
) -> None:
    outcomes = pipelined_outcomes(servers, closing + CREATE)
    assert outcomes[0] == outcomes[1] == ([200], ["POST"])  # the scenario's POST behind it was never run


#: Access-log lines: the direct path takes them when the request is read, writes them with the answer.
LOGGED = ["big, small, big, small pipelined", "big, HTTP/1.0", "big, chunked", "big 406", "big, no credentials",
          "send, one byte over the largest body read", "big, then a request on an ASGI path"]


def test_the_access_log_lines_of_big_calls_are_the_asgi_paths() -> None:
    lines = []
    for extra in ([], ["--asgi-only"]):
        process = ServerProcess(serve_command(extra))  # not tests/server.py's: those are --quiet
        try:
            for case in LOGGED:
                wire.exchange(process.port, CASES[case] + CLOSER)
        finally:
            process.stop()
        logged = [line for line in process.output().splitlines() if " HTTP/1." in line]
        lines.append([re.sub(r"127\.0\.0\.1:\d+ ", "127.0.0.1:<port> ", line) for line in logged])
    assert lines[0] == lines[1]
    assert len(lines[0]) == 5 + 1 + 2 + 2 + 2 + 2 + 3  # each case and its closer; HTTP/1.0 closes


#: Messages._keep (one step of a send) fails on the send's third step: the first 200 messages are kept.
KEEP_RAISES = """
from mock_omni.domain.messages import Messages
original = Messages._keep
def _keep(self, batch, begin):
    if begin == 200:
        raise RuntimeError("a defect in a step")
    return original(self, batch, begin)
Messages._keep = _keep
"""


@pytest.mark.parametrize("mode", ["direct", "asgi-only"])
def test_a_defect_in_a_step_is_the_vendors_500_recorded_and_the_connection_goes_on(mode: str) -> None:
    args = ["--quiet", "--rate-limit", "off", *(["--asgi-only"] if mode == "asgi-only" else [])]
    xml = {**JSON_HEADERS, "Accept": "application/xml"}
    with patched_server(KEEP_RAISES, *args) as srv:
        answers = wire.responses(wire.exchange(srv.port, post("/omni/1/advanced", JSON_HEADERS, SEND_BULK)
                                               + post("/omni/1/advanced", xml, SEND_BULK) + get(SEED_PATH)
                                               + CLOSER))
        with AdminClient(f"http://127.0.0.1:{srv.port}") as admin:
            errors = admin.errors()
            journal = admin.requests(method="POST")
    assert [status for status, _, _ in answers] == [500, 500, 200, 404]
    assert json.loads(answers[0][2])["requestError"]["serviceException"]["messageId"] == "GENERAL_ERROR"
    assert answers[1][1]["content-type"] == "application/xml" and b"<messageId>GENERAL_ERROR" in answers[1][2]
    assert [(error["request"], "a defect in a step" in error["error"]) for error in errors] == [
        ("POST /omni/1/advanced", True)] * 2
    assert [entry["status"] for entry in journal] == [500, 500]
    assert "RuntimeError: a defect in a step" in srv.stderr


# --- the state changing while a big send is under way -----------------------------------------------------

BIG = 20_000  # destinations: tens of milliseconds of steps at least


@pytest.fixture(scope="module")
def roomy() -> Iterator[server.Server]:
    with server.running(["--rate-limit", "off", "--message-limit", "1000000", "--message-bytes", "1GiB"],
                        env={"MOCK_OMNI_ADMIN_TOKEN": "t"}) as srv:
        yield srv


def whole_or_dropped(conn: socket.socket) -> int | None:
    """The big send's status, or None if its connection closed without a byte."""
    try:
        first = conn.recv(65536)
    except ConnectionResetError:
        return None
    if not first:
        return None
    status, _, payload = wire.read_one_after(conn, first)
    assert status != 200 or len(json.loads(payload)["messages"]) == BIG
    return status


def recounted(admin: AdminClient) -> tuple[int, int]:
    """Messages and bytes kept, as an app importing the state exported now counts them."""
    mock = create_app(Settings(message_limit=1_000_000, message_bytes=1 << 30))
    mock.admin.import_state(admin.state())
    return mock.state.messages.count(), mock.state.messages.bytes


#: Admin calls that replace the state (the fence closes: a send under way stops, keeping nothing), and others.
REPLACING = {
    "reset": lambda admin, state: admin.reset(),
    "account reset": lambda admin, state: admin.reset("Aladdin"),
    "snapshot restored": lambda admin, state: admin.restore("before"),
    "state imported": lambda admin, state: admin.load(state),
    "account removed": lambda admin, state: admin.remove_account("Aladdin"),
}
BESIDE = {
    "clock advanced": lambda admin, state: admin.advance_clock(3600),
    "account's clock advanced": lambda admin, state: admin.advance_clock(3600, "Aladdin"),
    "delivery rule with times": lambda admin, state: admin.delivery_rule("*", "UNDELIVERABLE", times=5),
    "snapshot taken": lambda admin, state: admin.snapshot("during"),
    "journal cleared": lambda admin, state: admin.clear_requests(),
    "rate limits changed": lambda admin, state: admin.rate_limit("off"),
}


@pytest.mark.parametrize("change", list(REPLACING) + list(BESIDE))
def test_an_admin_call_during_a_big_send_leaves_it_whole_or_gone(roomy: server.Server, change: str) -> None:
    """The send is answered whole and all kept, or (a change that replaces the state) dropped unanswered with
    nothing of it kept; never a 500, and the bytes counted are what the messages kept weigh."""
    port = roomy.port
    with AdminClient(roomy.url, token="t") as admin:
        admin.reset()
        admin.snapshot("before")
        state = admin.state()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(big_send(port, BIG))
            while messages_kept(roomy)["kept"] == 0:  # under way (or, on a machine that paused here, done)
                pass
            {**REPLACING, **BESIDE}[change](admin, state)
            status = whole_or_dropped(conn)
        counts = messages_kept(roomy)
        journaled = admin.requests(method="POST", path="/omni/1/advanced")
        assert admin.errors() == []
        assert (counts["kept"], counts["bytes"]) == recounted(admin)
    if change in REPLACING:
        assert status in (200, None) and counts["kept"] == 0
        # Dropped: not journaled. Answered: it was all done before the change came (a fast machine, or one that
        # paused this test), and a change that keeps the journal (an import, a restore) keeps its entry.
        assert journaled == [] if status is None else len(journaled) <= 1
    else:
        assert status == 200 and counts["kept"] == BIG
        # Journaled once; unless the journal was cleared after the send was done and journaled (the send was done
        # before the clear came: a fast machine, or one that paused this test between the two).
        assert len(journaled) == 1 or (change == "journal cleared" and journaled == [])


def test_a_big_send_is_journaled_when_answered_after_the_calls_answered_meanwhile(roomy: server.Server) -> None:
    port = roomy.port
    with AdminClient(roomy.url, token="t") as admin:
        admin.reset()
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(big_send(port, BIG))
            while messages_kept(roomy)["kept"] == 0:
                pass
            read = wire.responses(wire.exchange(port, get(SEED_PATH, {"Authorization": ALADDIN_BASIC,
                                                                      "Connection": "close"})))
            under_way = messages_kept(roomy)["kept"] < BIG  # still, after the GET's answer: that came during it
            answered = whole_or_dropped(conn)
        journal = [(entry["method"], entry["status"]) for entry in admin.requests()]
    assert read[0][0] == 200 and answered == 200
    assert sorted(journal) == [("GET", 200), ("POST", 200)]
    if under_way:  # (else the send ended after the GET's answer, or before it on a machine that paused here)
        assert journal == [("GET", 200), ("POST", 200)]


# --- waiting in the share ------------------------------------------------------------------------------


def test_calls_waiting_in_the_share_longer_than_the_header_and_keep_alive_timeouts_are_answered() -> None:
    """Twenty 20,000-destination sends at once: the last waits seconds for the others' steps, more than
    ``--header-timeout`` (0.5 s here) and uvicorn's keep-alive timeout (5 s). Neither is the client's fault: each
    is answered, and its connection then serves the next request."""
    with server.running(["--rate-limit", "off", "--message-limit", "1000000", "--message-bytes", "1GiB",
                         "--header-timeout", "0.5s"], env={"MOCK_OMNI_ADMIN_TOKEN": "t"}) as srv:
        data = big_send(srv.port, BIG)
        conns = [socket.create_connection(("127.0.0.1", srv.port), timeout=120) for _ in range(20)]
        try:
            senders = [threading.Thread(target=conn.sendall, args=(data,)) for conn in conns]
            for sender in senders:
                sender.start()
            for sender in senders:
                sender.join()
            began = time.monotonic()
            statuses, closers = [], []
            for conn in conns:  # each answer, then at once the next request (idle, the keep-alive timeout counts)
                statuses.append(wire.read_one(conn)[0])
                conn.sendall(CLOSER)
                closers.append(wire.read_one(conn)[0])
            waited = time.monotonic() - began
        finally:
            for conn in conns:
                conn.close()
    assert statuses == [200] * 20 and closers == [404] * 20
    assert waited > 0.5  # the header timeout at least (a machine ten times as fast would not test the keep-alive)


def test_big_sends_from_clients_that_leave_at_once_are_all_carried_out_and_the_server_goes_on(
    roomy: server.Server,
) -> None:
    """Fifty connections each send a 2,500-destination send and close without reading: each call was read
    whole, so it is carried out and journaled (as the vendor would), nobody answered; nothing fails."""
    port = roomy.port
    with AdminClient(roomy.url, token="t") as admin:
        admin.reset()
        data = big_send(port, 2_500)
        for _ in range(50):
            with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
                conn.sendall(data)
        while len(admin.requests(method="POST")) < 50:
            time.sleep(0.05)
        assert messages_kept(roomy)["kept"] == 50 * 2_500
        assert admin.errors() == []
    assert wire.responses(wire.exchange(port, CLOSER))[0][0] == 404


# --- shutdown with big calls queued ---------------------------------------------------------------------

def big_send(port: int, count: int, headers: dict[str, str] | None = None) -> bytes:
    body = send_body(count)
    return wire.request("POST", "/omni/1/advanced", port,
                        {**SEND_HEADERS, **(headers or {}), "Content-Length": str(len(body))}, body)


def messages_kept(srv: server.Server) -> dict[str, int]:
    found = httpx.get(f"{srv.url}/__admin/messages?limit=0", headers={ADMIN_TOKEN_HEADER: "t"}, timeout=30)
    return {name: int(found.json()[name]) for name in ("kept", "bytes", "sent")}


def test_sigterm_with_more_big_sends_queued_than_the_grace_period_allows_answers_or_drops_each_cleanly() -> None:
    """Forty sends of 25,000 destinations are more work than uvicorn's 5 s grace period: those done in it are
    answered whole, the others' connections closed without a byte; exit 0, and no uvicorn error line."""
    srv = server.start(["--message-limit", "1000000", "--message-bytes", "1GiB", "--rate-limit", "off"],
                       env={"MOCK_OMNI_ADMIN_TOKEN": "t"})
    try:
        data = big_send(srv.port, 25_000)
        conns = [socket.create_connection(("127.0.0.1", srv.port), timeout=60) for _ in range(40)]
        senders = [threading.Thread(target=conn.sendall, args=(data,)) for conn in conns]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        while messages_kept(srv)["kept"] == 0:  # the first send is being kept
            pass
        srv.process.send_signal(signal.SIGTERM)
        # Each connection read by a reader of its own, as forty clients would: read one after the other, the
        # last answers (5 MB each) waited in the server's buffers until the grace period ended and the process
        # exited with them half written (on a loaded machine: the test failed, not the server).
        received_by = [b""] * len(conns)

        def read(index: int) -> None:
            with conns[index] as conn:
                try:
                    while chunk := conn.recv(1 << 20):
                        received_by[index] += chunk
                except ConnectionResetError:
                    pass

        readers = [threading.Thread(target=read, args=(index,)) for index in range(len(conns))]
        for reader in readers:
            reader.start()
        for reader in readers:
            reader.join(timeout=120)
        outcomes = []
        for received in received_by:
            answers = wire.responses(received)
            outcomes.append("dropped" if not received else
                            "answered" if [(a[0], len(json.loads(a[2])["messages"])) for a in answers] == [
                                (200, 25_000)] else f"broken: {received[:200]!r}")
        assert srv.process.wait(timeout=60) == 0
    finally:
        server.stop(srv)
    assert "answered" in outcomes and all(outcome in ("answered", "dropped") for outcome in outcomes), outcomes
    output = srv.output()
    assert "ERROR" not in output and "Traceback" not in output, output
    # One warning line for each call dropped.
    assert output.count("was still being carried out when the grace period ended") == outcomes.count("dropped")
