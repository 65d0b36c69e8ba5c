"""Calls with a big body are answered a few steps per turn of the event loop (server/work_share.py): small calls
on other connections are served between the steps, and a reset between two steps stops the call there.

Byte-for-byte equality of such answers with the ASGI path's is in tests/test_http_protocol.py (its
"1,000 destinations" cases); here, the scheduling itself (units on a fake clock), the steps of a send
(in-process, step by step), and what a client sees over real sockets.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import signal
import socket
import threading
import time
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from bench.payloads import ALADDIN_BASIC, SEED_KEY, SEED_PATH
from mock_omni.api.answers import Answer
from mock_omni.api.dispatcher import VendorRequest
from mock_omni.app import MockOmni, create_app
from mock_omni.domain.messages import SEND_STEP, own_size
from mock_omni.domain.steps import Steps, run
from mock_omni.server.work_share import BIG_BODY, WorkShare
from mock_omni.settings import Settings
from mock_omni.testing import ADMIN_TOKEN_HEADER
from mock_omni.testing.admin_client import AdminClient
from tests import server
from tests.hardening import wire

HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": ALADDIN_BASIC}


def send_body(count: int, text: str = "Hi") -> bytes:
    destinations = [{"to": {"phoneNumber": f"4179{index:07d}"}} for index in range(count)]
    return json.dumps({"scenarioKey": SEED_KEY, "sms": {"text": text}, "viber": {"text": text},
                       "destinations": destinations}).encode()


# --- the share, on a fake clock ------------------------------------------------------------------


class FakeLoop:
    """Collects ``call_soon`` callbacks: each ``turn()`` runs those scheduled before it, as a loop turn does."""

    def __init__(self) -> None:
        self.ready: list[tuple[object, tuple[object, ...]]] = []

    def call_soon(self, callback: object, *args: object) -> None:
        self.ready.append((callback, args))

    def turn(self) -> None:
        ready, self.ready = self.ready, []
        for callback, args in ready:
            callback(*args)  # type: ignore[operator]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def work(clock: Clock, costs: list[float], log: list[str], name: str) -> Steps[str]:
    """Steps costing ``costs`` seconds each on ``clock``; logs each step."""
    for index, cost in enumerate(costs):
        if index:
            yield
        clock.now += cost
        log.append(f"{name}{index}")
    return name


def test_each_turn_runs_steps_for_the_budget_then_lets_the_loop_go_oldest_first() -> None:
    clock, loop, log, results = Clock(), FakeLoop(), [], []
    share = WorkShare(budget=0.001, clock=clock)
    share.submit(loop, work(clock, [0.0004] * 4, log, "a"), lambda result, error: results.append(result))  # type: ignore[arg-type]
    share.submit(loop, work(clock, [0.0004] * 2, log, "b"), lambda result, error: results.append(result))  # type: ignore[arg-type]
    loop.turn()
    assert log == ["a0", "a1", "a2"]  # 1.2 ms: the step that passed the budget ends the turn
    assert results == []
    loop.turn()
    assert log == ["a0", "a1", "a2", "a3", "b0"]  # the 0.2 ms over is paid back: this turn had 0.8 ms
    assert results == ["a"]
    loop.turn()
    assert log == ["a0", "a1", "a2", "a3", "b0", "b1"]
    assert results == ["a", "b"]
    assert loop.ready == [] and len(share) == 0


def test_a_step_far_over_the_budget_is_paid_back_by_the_next_turns() -> None:
    clock, loop, log = Clock(), FakeLoop(), []
    share = WorkShare(budget=0.001, clock=clock)
    share.submit(loop, work(clock, [0.0035, 0.0001], log, "a"), lambda result, error: None)
    seen = []
    while loop.ready:
        loop.turn()
        seen.append(list(log))
    # 3.5 ms: 2.5 over, paid by the next two turns' budgets (nothing runs), the fourth has 0.5 ms left.
    assert seen == [["a0"], ["a0"], ["a0"], ["a0", "a1"]]


def test_an_error_or_a_failing_caller_is_told_and_the_other_work_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    clock, loop, told = Clock(), FakeLoop(), []

    def failing() -> Steps[str]:
        yield
        raise ValueError("boom")

    def raising_done(result: object, error: BaseException | None) -> None:
        raise RuntimeError("the caller failed")

    share = WorkShare(budget=1.0, clock=clock)
    share.submit(loop, failing(), lambda result, error: told.append((result, repr(error))))
    share.submit(loop, work(clock, [0.0], [], "b"), raising_done)  # type: ignore[arg-type]
    share.submit(loop, work(clock, [0.0], [], "c"), lambda result, error: told.append((result, error)))  # type: ignore[arg-type]
    loop.turn()
    assert told == [(None, "ValueError('boom')"), ("c", None)]
    assert "answering a call with a big body failed" in caplog.text


def test_cancelled_work_takes_no_more_steps_and_its_caller_is_not_told() -> None:
    clock, loop, log, results = Clock(), FakeLoop(), [], []
    share = WorkShare(budget=0.001, clock=clock)
    first = share.submit(loop, work(clock, [0.0004] * 4, log, "a"), lambda result, error: results.append(result))  # type: ignore[arg-type]
    share.submit(loop, work(clock, [0.0004] * 2, log, "b"), lambda result, error: results.append(result))  # type: ignore[arg-type]
    loop.turn()
    assert share.cancel(first)
    assert not share.cancel(first)  # no longer waiting
    while loop.ready:
        loop.turn()
    assert log == ["a0", "a1", "a2", "b0", "b1"] and results == ["b"]
    assert first[0].gi_frame is None  # closed, not left suspended


def test_the_shares_threshold_is_under_a_hundred_destination_send() -> None:
    assert len(send_body(SEND_STEP)) > BIG_BODY > len(send_body(1, "x" * 1000))


# --- a send in steps, in-process ----------------------------------------------------------------


def request_for(body: bytes) -> VendorRequest:
    return VendorRequest.read("POST", "/omni/1/advanced", b"", [
        (b"content-type", b"application/json"), (b"authorization", ALADDIN_BASIC.encode()),
        (b"content-length", str(len(body)).encode())])


def test_a_big_send_keeps_its_messages_a_step_at_a_time_and_answers_as_one_call() -> None:
    mock = create_app(Settings())
    body = send_body(5 * SEND_STEP)
    steps = mock.vendor.answering(request_for(body), body, mock.state.fence.ticket())
    counts = []
    for _ in range(20):
        try:
            next(steps)
        except StopIteration as done:
            answer = done.value
            break
        counts.append(mock.vendor.backend.messages.count())
    assert answer is not None and answer.status == 200
    assert len(json.loads(answer.content)["messages"]) == 5 * SEND_STEP
    # Nothing before the parse, then a step of destinations at a time (between steps, others see them coming).
    assert counts[0] == 0 and counts[-1] == 4 * SEND_STEP
    assert sorted(set(counts)) == [0, SEND_STEP, 2 * SEND_STEP, 3 * SEND_STEP, 4 * SEND_STEP]
    assert mock.vendor.backend.messages.count() == 5 * SEND_STEP
    assert [entry.status for entry in mock.state.journal.entries()] == [200]


def test_a_big_sends_reports_are_pushed_once_it_is_all_kept_never_before_its_answer() -> None:
    """A client that records the IDs of the answer must not get a report of an ID it has not seen yet."""
    from mock_omni.domain.messages import RecordedNotifications

    mock = create_app(Settings())
    recorder = mock.state.messages.notify = RecordedNotifications()
    document = json.loads(send_body(3 * SEND_STEP))
    document["notifyUrl"] = "http://127.0.0.1:9/hook"
    body = json.dumps(document).encode()
    steps = mock.vendor.answering(request_for(body), body, mock.state.fence.ticket())
    while True:
        try:
            next(steps)
        except StopIteration as done:
            answer = done.value
            break
        assert not recorder.calls, "a report was pushed while the send was under way"
    assert answer is not None and answer.status == 200
    assert len(recorder.calls) == 3 * SEND_STEP


@pytest.mark.parametrize("whole", [True, False], ids=["reset of everything", "reset of the account"])
def test_a_reset_between_two_steps_stops_the_send_there_and_keeps_nothing_of_it(whole: bool) -> None:
    mock = create_app(Settings())
    body = send_body(5 * SEND_STEP)
    steps = mock.vendor.answering(request_for(body), body, mock.state.fence.ticket())
    while mock.vendor.backend.messages.count() < 2 * SEND_STEP:
        next(steps)
    mock.reset(None if whole else "Aladdin")
    assert run(steps) is None  # dropped unanswered, like a call whose body was still coming
    assert mock.vendor.backend.messages.count() == 0
    assert mock.state.journal.entries() == []


def begun(mock: MockOmni, steps: int) -> Steps[Answer | None]:
    """A send of five steps' destinations, carried out up to ``steps`` of them."""
    body = send_body(5 * SEND_STEP)
    work = mock.vendor.answering(request_for(body), body, mock.state.fence.ticket())
    while mock.vendor.backend.messages.count() < steps * SEND_STEP:
        next(work)
    return work


@pytest.mark.parametrize("account", [None, "Aladdin"], ids=["everyone's", "the account's"])
def test_a_snapshot_taken_during_a_send_then_restored_during_it_keeps_nothing_of_it(account: str | None) -> None:
    """The restore stops the send (its call dropped unanswered): the snapshot must not bring back its part."""
    mock = create_app(Settings())
    steps = begun(mock, 2)
    mock.admin.save_snapshot("during", account)
    next(steps)
    mock.admin.restore_snapshot("during", account)
    assert run(steps) is None
    messages = mock.vendor.backend.messages
    assert (messages.count(), messages.bytes) == (0, 0)


def test_a_state_exported_during_a_send_then_imported_during_it_keeps_nothing_of_it() -> None:
    mock = create_app(Settings())
    steps = begun(mock, 2)
    exported = mock.admin.export_state()
    mock.admin.import_state(exported)
    assert run(steps) is None
    messages = mock.vendor.backend.messages
    assert (messages.count(), messages.bytes) == (0, 0)


def exported_messages(mock: MockOmni) -> int:
    accounts: list[dict[str, list[object]]] = mock.admin.export_state()["accounts"]  # type: ignore[assignment]
    return sum(len(account.get("messages", [])) for account in accounts)


def test_a_snapshot_or_export_taken_during_a_send_has_it_once_done() -> None:
    """What a snapshot or an export holds of a send: all of it, once it is done; nothing before."""
    mock = create_app(Settings())
    steps = begun(mock, 2)
    mock.admin.save_snapshot("during")
    assert exported_messages(mock) == 0
    assert run(steps) is not None
    mock.admin.save_snapshot("after")
    assert exported_messages(mock) == 5 * SEND_STEP
    mock.admin.restore_snapshot("during")
    assert mock.vendor.backend.messages.count() == 0
    mock.admin.restore_snapshot("after")
    assert mock.vendor.backend.messages.count() == 5 * SEND_STEP


def test_a_thousand_waiting_big_calls_hold_their_bodies_and_little_more() -> None:
    """Only the oldest call is worked on: the others wait unparsed (a parsed send is about 28 times its body).
    One body for all here: what is measured is what each call holds beyond its body."""
    mock = create_app(Settings())
    body = send_body(2_500)  # 100 KB
    loop, share = FakeLoop(), WorkShare()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        entries = [share.submit(loop, mock.vendor.answering(request_for(body), body, mock.state.fence.ticket()),
                                lambda answer, error: None) for _ in range(1000)]
        waiting = tracemalloc.get_traced_memory()[0]
        loop.turn()
        turned = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert (waiting - before) / 1000 < 4096  # about 1 KB measured
    assert [inspect.getgeneratorstate(steps) for steps, _ in entries[:3]] == [
        inspect.GEN_SUSPENDED, inspect.GEN_CREATED, inspect.GEN_CREATED]
    assert turned - waiting < 100 * len(body)  # one call parsed (about 2.8 MB measured), not a thousand


def test_a_send_run_whole_is_the_same_send() -> None:
    mock = create_app(Settings())
    body = send_body(3 * SEND_STEP + 7)
    stepped = run(mock.vendor.answering(request_for(body), body, mock.state.fence.ticket()))
    whole = mock.vendor.answer(request_for(body), body, mock.state.fence.ticket())
    assert stepped is not None and whole is not None
    assert (stepped.status, stepped.fmt, stepped.extra, stepped.reason) == (whole.status, whole.fmt, whole.extra,
                                                                            whole.reason)
    assert [list(m) for m in json.loads(stepped.content)["messages"]] == [
        list(m) for m in json.loads(whole.content)["messages"]]
    assert mock.vendor.backend.messages.count() == 2 * (3 * SEND_STEP + 7)


def test_sends_in_steps_between_other_sends_keep_the_bound_the_byte_count_and_say_what_they_lost() -> None:
    mock = create_app(Settings(message_limit=450))
    messages = mock.vendor.backend.messages
    first, second = send_body(3 * SEND_STEP), send_body(2 * SEND_STEP + 50, "Hello")
    a = mock.vendor.answering(request_for(first), first, mock.state.fence.ticket())
    b = mock.vendor.answering(request_for(second), second, mock.state.fence.ticket())
    answers: dict[str, object] = {}
    kept_when: dict[str, set[str]] = {}
    small = send_body(1)
    while len(answers) < 2:
        for name, steps in (("a", a), ("b", b)):
            if name in answers:
                continue
            try:
                next(steps)
            except StopIteration as done:
                answers[name] = done.value
                kept_when[name] = {message.message_id for message in messages.snapshot()}
            mock.vendor.answer(request_for(small), small)  # a small call between two steps
    kept = messages.snapshot()
    assert messages.count() == 450 == len(kept)
    shares = {id(message.share): message.share for message in kept}
    assert messages.bytes == sum(own_size(message) for message in kept) + sum(
        share.size for share in shares.values() if share is not None)
    for name in ("a", "b"):
        answer = answers[name]
        assert isinstance(answer, Answer) and answer.status == 200
        sent = [message["messageId"] for message in json.loads(answer.content)["messages"]]
        # Dropped by the time it was answered (oldest first: later sends drop more of it, and say so themselves).
        lost = sum(1 for message_id in sent if message_id not in kept_when[name])
        assert lost, "each send outgrew the bound (450 kept of about 600 sent)"
        assert answer.reason is not None and f"{lost} of its {len(sent)} messages were dropped" in answer.reason


# --- over real sockets ---------------------------------------------------------------------------

BIG = 20_000  # destinations: about 0.8 MB, tens of milliseconds of work at least


class BigServer:
    """A server answering vendor calls in the protocol (direct), or every one through the ASGI app: with
    ``--asgi-only``, or because a fault rule is armed (for another path: it changes nothing here)."""

    def __init__(self, srv: server.Server, fault: bool) -> None:
        self.srv, self.fault = srv, fault
        self.url, self.port = srv.url, srv.port

    def reset(self, admin: AdminClient) -> None:
        admin.reset()
        if self.fault:
            admin.fault(503, path="/omni/1/scenarios/NOPE")


@pytest.fixture(scope="module", params=["direct", "asgi-only", "fault armed"])
def big_server(request: pytest.FixtureRequest) -> Iterator[BigServer]:
    extra = ["--asgi-only"] if request.param == "asgi-only" else []
    with server.running(["--rate-limit", "off", "--message-limit", "100000", *extra],
                        env={"MOCK_OMNI_ADMIN_TOKEN": "t"}) as srv:
        yield BigServer(srv, request.param == "fault armed")


def kept(srv: server.Server | BigServer) -> int:
    """Messages the server keeps (``GET /__admin/messages``' ``kept``)."""
    found = httpx.get(f"{srv.url}/__admin/messages?limit=0", headers={ADMIN_TOKEN_HEADER: "t"}, timeout=30)
    return int(found.json()["kept"])


def small_calls_while(port: int, busy: threading.Event, answered: list[float]) -> None:
    """One-destination sends on one connection, back to back, while ``busy`` is set; when each was answered."""
    small = wire.request("POST", "/omni/1/advanced", port, {**HEADERS, "Content-Length": str(len(send_body(1)))},
                         send_body(1))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        while busy.is_set():
            conn.sendall(small)
            status, _, _ = wire.read_one(conn)
            assert status == 200
            answered.append(time.monotonic())


def test_small_calls_are_answered_while_a_big_send_is_carried_out(big_server: BigServer) -> None:
    port = big_server.port
    body = send_body(BIG)
    answered: list[float] = []
    busy = threading.Event()
    busy.set()
    poller = threading.Thread(target=small_calls_while, args=(port, busy, answered))
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn, AdminClient(big_server.url,
                                                                                          token="t") as admin:
        big_server.reset(admin)
        poller.start()
        try:
            while not answered:  # the small calls are going
                time.sleep(0.001)
            conn.sendall(wire.request("POST", "/omni/1/advanced", port,
                                      {**HEADERS, "Content-Length": str(len(body))}, body))
            sent = time.monotonic()  # the server has all but the last bytes of the body (loopback buffers)
            first = conn.recv(1)
            came = time.monotonic()
            rest = wire.read_one_after(conn, first)
        finally:
            busy.clear()
            poller.join(30)
    status, _, payload = rest
    assert status == 200 and len(json.loads(payload)["messages"]) == BIG
    # Served whole, the send held the loop from its body's end to its answer: the small calls waited (one
    # answer, or two). A step at a time, they go on being answered (hundreds here).
    assert len([moment for moment in answered if sent < moment < came]) >= 10


def test_a_reset_during_a_big_send_keeps_nothing_of_it(big_server: BigServer) -> None:
    port = big_server.port
    body = send_body(BIG)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn, AdminClient(big_server.url,
                                                                                          token="t") as admin:
        big_server.reset(admin)
        conn.sendall(wire.request("POST", "/omni/1/advanced", port, {**HEADERS, "Content-Length": str(len(body))},
                                  body))
        while kept(big_server) == 0:  # the send has begun keeping its messages
            pass
        admin.reset()
        try:
            answered = conn.recv(65536)
        except ConnectionResetError:
            answered = b""
        # Dropped unanswered, as a call whose body was still coming (unless it was all done before the reset came:
        # a machine that paused this test; tests above check the step-by-step case in-process).
        if answered:
            assert wire.read_one_after(conn, answered)[0] == 200
        assert kept(big_server) == 0
        assert admin.requests(method="POST") == []


def test_a_client_that_leaves_during_a_big_send_leaves_the_server_serving(big_server: BigServer) -> None:
    port = big_server.port
    body = send_body(BIG)
    with AdminClient(big_server.url, token="t") as admin:
        big_server.reset(admin)
        with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
            conn.sendall(wire.request("POST", "/omni/1/advanced", port,
                                      {**HEADERS, "Content-Length": str(len(body))}, body))
            while kept(big_server) == 0:
                pass
        # Carried out (its body was in), as the vendor would; nobody to answer.
        while kept(big_server) < BIG:
            pass
        assert wire.responses(wire.exchange(port, wire.request("GET", SEED_PATH, port, {
            "Authorization": ALADDIN_BASIC, "Connection": "close"})))[0][0] == 200


def test_sigterm_during_a_big_send_answers_it_then_closes() -> None:
    srv = server.start(["--message-limit", "100000"], env={"MOCK_OMNI_ADMIN_TOKEN": "t"})
    try:
        body = send_body(BIG)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=60) as conn:
            conn.sendall(wire.request("POST", "/omni/1/advanced", srv.port,
                                      {**HEADERS, "Content-Length": str(len(body))}, body))
            while kept(srv) == 0:
                pass
            srv.process.send_signal(signal.SIGTERM)
            status, headers, payload = wire.read_one(conn)
            assert conn.recv(1) == b""
        # Whole, then closed: with "connection: close" when shutdown began before the last step (the usual case),
        # without when the last step came first (a fast machine).
        assert status == 200 and headers.get("connection", "close") == "close"
        assert len(json.loads(payload)["messages"]) == BIG
        assert srv.process.wait(timeout=20) == 0
    finally:
        server.stop(srv)


def test_a_task_awaits_its_work_and_another_loop_with_work_pending_elsewhere_runs_it_at_once() -> None:
    share = WorkShare()
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(share.finish(work(Clock(), [0.0, 0.0], [], "x"))) == "x"
        share.submit(first, work(Clock(), [0.0, 0.0], [], "never run"), lambda result, error: None)  # type: ignore[arg-type]
        # The first loop has stopped with work pending: a call on another loop does not wait for it.
        assert second.run_until_complete(asyncio.wait_for(share.finish(work(Clock(), [0.0], [], "y")), 5)) == "y"
    finally:
        first.close()
        second.close()


def test_work_submitted_on_another_loop_is_done_at_once() -> None:
    share, first, second, told = WorkShare(), asyncio.new_event_loop(), asyncio.new_event_loop(), []
    try:
        assert share.submit(first, work(Clock(), [0.0], [], "mine"), lambda result, error: None) is not None  # type: ignore[arg-type]
        assert share.submit(second, work(Clock(), [0.0, 0.0], [], "other"),  # type: ignore[arg-type]
                            lambda result, error: told.append((result, error))) is None
        assert told == [("other", None)] and len(share) == 1  # the first loop's work is untouched
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_in_process_app_answers_a_big_send_under_asyncio_and_trio(backend: str) -> None:
    """Under trio there is no asyncio loop to share: the send is carried out at once (was: a 500)."""
    from starlette.testclient import TestClient

    body = send_body(3 * SEND_STEP)
    with TestClient(create_app(Settings()), backend=backend) as client:
        answered = client.post("/omni/1/advanced", content=body, headers=HEADERS)
    assert answered.status_code == 200 and len(answered.json()["messages"]) == 3 * SEND_STEP


def test_a_cancelled_task_leaves_its_work_to_finish() -> None:
    loop, clock, log = asyncio.new_event_loop(), Clock(), []
    try:
        share = WorkShare()

        async def cancelled() -> None:
            task = asyncio.ensure_future(share.finish(work(clock, [0.0] * 5, log, "z")))
            await asyncio.sleep(0)
            task.cancel()
            await asyncio.sleep(0.05)

        loop.run_until_complete(cancelled())
        assert log == ["z0", "z1", "z2", "z3", "z4"] and len(share) == 0
    finally:
        loop.close()


def test_the_loop_of_a_served_app_is_the_one_the_share_uses() -> None:
    """The share schedules on the loop it is given (the connection's): asyncio's own loop runs it."""
    loop = asyncio.new_event_loop()
    try:
        share = WorkShare()
        results: list[object] = []
        share.submit(loop, work(Clock(), [0.0, 0.0], [], "x"), lambda result, error: results.append(result))  # type: ignore[arg-type]
        loop.run_until_complete(asyncio.sleep(0.01))
        assert results == ["x"]
    finally:
        loop.close()
