"""Pushed reports end to end: sends with ``notifyUrl`` reach a real HTTP receiver on loopback, in order, JSON or
XML, retried; the admin API shows and awaits them; resets, snapshots and shutdown stop them."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import httpx
import pytest
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app

from . import server
from .conftest import ALADDIN_BASIC, GENIE_BASIC
from .receiver import Receiver, receiver
from .sending import advance, body, date, reports, rule, scenario, send, sending_app, sending_client

TO = "41793026727"
#: Retries a twentieth of a second apart: a failing receiver is given up on quickly.
FAST = {"webhook_backoff": 0.05}


@pytest.fixture
def target() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


pytestmark = pytest.mark.both_stores


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    return sending_app(new_app, **FAST)


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with sending_client(app) as test_client:  # the lifespan: callbacks go out
        yield test_client


def pushed_to(url: str, message_id: str, to: str = TO, **extra: Any) -> dict[str, Any]:
    """A send through Aladdin's default scenario (SMS, then VIBER) whose reports go to ``url``."""
    return body(None, to, channels=["SMS", "VIBER"], notifyUrl=url, **extra) | {
        "destinations": [{"messageId": message_id, "to": {"phoneNumber": to}}]}


def callbacks(client: TestClient, **query: Any) -> dict[str, Any]:
    response = client.get("/__admin/callbacks", params=query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def wait_for(client: TestClient, count: int, state: str = "delivered", **query: Any) -> list[dict[str, Any]]:
    answer = callbacks(client, wait=10, count=count, state=state, **query)
    assert answer["reached"], answer
    found: list[dict[str, Any]] = answer["callbacks"]
    return found


# --- what is pushed, and how ------------------------------------------------------------------


def test_reports_reach_the_receiver_in_order_as_one_element_of_the_reports(
    client: TestClient, target: Receiver,
) -> None:
    for n in range(5):
        extra = {"callbackData": f"order-{n}"} if n % 2 == 0 else {}
        send(client, pushed_to(f"{target.url}/cb", f"M{n}", **extra))
    recorded = wait_for(client, 5)
    pushed = target.reports()
    assert [report["messageId"] for report in pushed] == [f"M{n}" for n in range(5)]
    assert [report.get("callbackData") for report in pushed] == ["order-0", None, "order-2", None, "order-4"]
    assert {(item.path, item.content_type) for item in target.received} == {("/cb", "application/json")}
    # Each push is the report GET /omni/1/reports gives (pushing does not take it from there).
    assert sorted(reports(client), key=lambda report: report["messageId"]) == pushed
    assert [(c["messageId"], c["url"], c["state"], [a["status"] for a in c["attempts"]]) for c in recorded] == [
        (f"M{n}", f"{target.url}/cb", "delivered", [200]) for n in range(5)]
    assert [c["body"].encode() for c in recorded] == [item.body for item in target.received]


def test_xml_when_the_send_asks_for_it_as_get_reports_renders_it(client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(target.url, "X1", notifyContentType="application/xml", callbackData="<x & y>"))
    (recorded,) = wait_for(client, 1)
    ((_, kind, pushed, *_),) = target.received
    assert kind == recorded["contentType"] == "application/xml"
    root = fromstring(pushed)
    assert root.tag == "omniReportsResponse"
    assert [result.findtext("messageId") for result in root.iterfind("results/result")] == ["X1"]
    assert root.findtext("results/result/callbackData") == "<x & y>"
    assert root.findtext("results/result/status/groupName") == "DELIVERED"
    fetched = client.get("/omni/1/reports", headers={"Accept": "application/xml"})
    assert fetched.content == pushed  # byte for byte what GET /omni/1/reports answers


def test_intermediate_reports_come_first_when_asked_and_only_then(client: TestClient, target: Receiver) -> None:
    rule(client, destination=TO, channel="SMS", outcome="UNDELIVERABLE")
    send(client, pushed_to(target.url, "I1", intermediateReport=True))
    send(client, pushed_to(target.url, "F2"))
    recorded = wait_for(client, 3)
    assert [(r["messageId"], r["channel"], r["status"]["groupName"]) for r in target.reports()] == [
        ("I1", "SMS", "UNDELIVERABLE"), ("I1", "VIBER", "DELIVERED"), ("F2", "VIBER", "DELIVERED")]
    assert [(c["channel"], c["reportStatus"]) for c in recorded] == [
        ("SMS", "UNDELIVERABLE"), ("VIBER", "DELIVERED"), ("VIBER", "DELIVERED")]


def test_without_a_url_or_with_notify_false_nothing_is_pushed(client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(target.url, "N1", notify=False))
    send(client, body(None, TO, channels=["SMS", "VIBER"]))
    send(client, pushed_to(target.url, "Y1"))  # the receiver's FIFO: once this is there, nothing came before it
    wait_for(client, 1)
    assert [report["messageId"] for report in target.reports()] == ["Y1"]
    assert callbacks(client)["recorded"] == 1


def test_an_expired_failover_is_pushed_only_when_the_clock_gets_there(client: TestClient, target: Receiver) -> None:
    key = scenario(client, "VIBER", "SMS")
    # 447700900001 never answers on Viber: the Viber step expires after its validity period, one minute.
    data = body(key, "447700900001", channels=["VIBER", "SMS"], notifyUrl=target.url, intermediateReport=True)
    data["viber"]["validityPeriod"] = 1
    send(client, data)
    advance(client, 59)
    assert callbacks(client)["callbacks"] == [] and target.received == []
    advance(client, 1)
    wait_for(client, 2)
    assert [(r["channel"], r["status"]["groupName"], r["doneAt"]) for r in target.reports()] == [
        ("VIBER", "EXPIRED", date(60)), ("SMS", "DELIVERED", date(60))]


# --- retries ----------------------------------------------------------------------------------


def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(client: TestClient) -> None:
    with receiver(fail=2) as failing:
        send(client, pushed_to(failing.url, "R1"))
        (recorded,) = wait_for(client, 1)
    assert [a["status"] for a in recorded["attempts"]] == [503, 503, 200]
    first, second, third = (a["at"] for a in recorded["attempts"])
    assert second - first >= 0.04 and third - second >= 0.09  # the backoff, then twice it
    assert len(failing.received) == 3 and len({item.body for item in failing.received}) == 1


def test_a_receiver_that_never_succeeds_is_given_up_and_the_failure_recorded(new_app: Callable[..., MockOmni]) -> None:
    app = sending_app(new_app, webhook_attempts=3, **FAST)
    with receiver(fail=100) as failing, sending_client(app) as client:
        send(client, pushed_to(failing.url, "G1"))
        (recorded,) = wait_for(client, 1, state="failed")
        with receiver() as gone:
            dead = gone.url  # nothing listens there any more
        send(client, pushed_to(dead, "G2"))
        (refused,) = wait_for(client, 1, state="failed", url=dead)
    assert [a["status"] for a in recorded["attempts"]] == [503, 503, 503]
    assert recorded["reason"] == "no 2xx answer in 3 attempt(s)" and failing.count() == 3
    assert [a["status"] for a in refused["attempts"]] == [None, None, None]
    assert all("ConnectError" in a["error"] for a in refused["attempts"])


# --- the admin API ----------------------------------------------------------------------------


def test_a_wait_that_is_not_reached_answers_after_the_wait_with_what_there_is(client: TestClient) -> None:
    began = time.monotonic()
    answer = callbacks(client, wait=0.3, count=1)
    assert time.monotonic() - began >= 0.3
    assert answer == {"callbacks": [], "reached": False, "settled": False, "pending": 0, "recorded": 0,
                      "limit": 10_000}


def test_filters_by_account_url_and_state(client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(f"{target.url}/a", "A1"))
    genie = client.post("/omni/1/advanced", headers={"Authorization": GENIE_BASIC}, json=body(
        None, TO, channels=["VIBER", "SMS"], notifyUrl=f"{target.url}/g"))
    assert genie.status_code == 200, genie.text
    wait_for(client, 2)
    assert [c["account"] for c in callbacks(client, account="Genie")["callbacks"]] == ["Genie"]
    assert [c["messageId"] for c in callbacks(client, url=f"{target.url}/a")["callbacks"]] == ["A1"]
    assert callbacks(client, state="failed")["callbacks"] == []
    assert callbacks(client, url=target.url)["callbacks"] == []  # exact URLs, not prefixes


@pytest.mark.parametrize(("query", "field", "problem"), [
    ({"state": "sent"}, "state", "'pending', 'delivered', 'failed' or 'dropped'"),
    ({"wait": "61"}, "wait", "less than or equal to 60"),
    ({"wait": "-1"}, "wait", "greater than or equal to 0"),
    ({"wait": "nan"}, "wait", ""),
    ({"count": "0"}, "count", "greater than or equal to 1"),
    ({"count": "many"}, "count", "valid integer"),
    ({"colour": "blue"}, "colour", "unknown field"),
])
def test_a_bad_query_is_a_400_naming_the_parameter(client: TestClient, query: dict[str, str], field: str,
                                                   problem: str) -> None:
    response = client.get("/__admin/callbacks", params=query)
    assert response.status_code == 400, response.text
    errors = response.json()["requestError"]["serviceException"]["validationErrors"]
    assert list(errors) == [field] and problem in errors[field][0]


def test_an_unknown_account_is_a_404_naming_it(client: TestClient) -> None:
    response = client.get("/__admin/callbacks", params={"account": "Nobody", "wait": 30})
    assert response.status_code == 404
    assert response.json()["requestError"]["serviceException"]["validationErrors"] == {
        "account": ["no account 'Nobody'"]}


def test_the_calls_are_published_with_their_parameters(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    listed = paths["/__admin/callbacks"]["get"]
    assert listed["tags"] == ["admin"]
    parameters = {p["name"]: p for p in listed["parameters"]}
    assert set(parameters) == {"account", "url", "state", "wait", "count"}
    assert all(p["in"] == "query" and not p.get("required") for p in parameters.values())
    wait = parameters["wait"]["schema"]
    assert (wait["minimum"], wait["maximum"]) == (0, 60)
    assert set(parameters["state"]["schema"]["anyOf"][0]["enum"]) == {"pending", "delivered", "failed", "dropped"}
    assert [p["name"] for p in paths["/__admin/callbacks"]["delete"]["parameters"]] == ["account"]


# --- resets, snapshots, state -------------------------------------------------------------------


def test_a_reset_forgets_the_callbacks_and_sends_none_of_those_queued(client: TestClient) -> None:
    with receiver(held=True) as slow:
        for n in range(3):
            send(client, pushed_to(slow.url, f"Q{n}"))
        assert callbacks(client)["pending"] == 3
        assert client.post("/__admin/reset").status_code == 200
        slow.release()
        # A whole reset starts the count again (it was 3).
        assert callbacks(client) == {"callbacks": [], "reached": False, "settled": False, "pending": 0,
                                     "recorded": 0, "limit": 10_000}
        send(client, pushed_to(slow.url, "AFTER"))
        wait_for(client, 1)
        # One FIFO per URL: had Q1 or Q2 gone out, they would have come before AFTER.
        assert [report["messageId"] for report in slow.reports()][-1] == "AFTER"
        assert len(slow.received) <= 2 and "Q1" not in str(slow.reports())
        # Q0 was on the wire at the reset: its answer came after it, and is not written into the new state.
        assert [c["messageId"] for c in callbacks(client)["callbacks"]] == ["AFTER"]


def test_an_account_reset_forgets_only_that_accounts_callbacks(client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(target.url, "A1"))
    genie = body(None, TO, channels=["VIBER", "SMS"], notifyUrl=target.url)
    assert client.post("/omni/1/advanced", headers={"Authorization": GENIE_BASIC}, json=genie).status_code == 200
    wait_for(client, 2)
    assert client.post("/__admin/reset", params={"account": "Aladdin"}).status_code == 200
    assert [c["account"] for c in callbacks(client)["callbacks"]] == ["Genie"]
    assert client.delete("/__admin/callbacks", params={"account": "Genie"}).json() == {"cleared": "Genie"}
    assert callbacks(client)["callbacks"] == []


def test_snapshots_keep_the_records_and_restoring_sends_nothing(client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(target.url, "S1"))
    (kept,) = wait_for(client, 1)
    assert client.post("/__admin/snapshots/one").status_code == 201
    assert client.post("/__admin/snapshots/mine", params={"account": "Aladdin"}).status_code == 201
    send(client, pushed_to(target.url, "S2"))
    wait_for(client, 2)
    assert client.post("/__admin/snapshots/one/restore").status_code == 200
    assert callbacks(client)["callbacks"] == [kept]
    send(client, pushed_to(target.url, "S3"))
    genie = body(None, TO, channels=["VIBER", "SMS"], notifyUrl=target.url)
    assert client.post("/omni/1/advanced", headers={"Authorization": GENIE_BASIC}, json=genie).status_code == 200
    wait_for(client, 3)
    assert client.post("/__admin/snapshots/mine/restore", params={"account": "Aladdin"}).status_code == 200
    assert [(c["account"], c["messageId"]) for c in callbacks(client)["callbacks"]] == [
        ("Aladdin", "S1"), ("Genie", callbacks(client, account="Genie")["callbacks"][0]["messageId"])]
    assert len(target.received) == 4  # S1, S2, S3 and Genie's: no restore sent anything again


def test_the_state_document_carries_the_callbacks_and_an_import_sends_none_again(
        client: TestClient, target: Receiver) -> None:
    send(client, pushed_to(target.url, "D1"))
    (delivered,) = wait_for(client, 1)
    with receiver(held=True) as slow:
        for n in range(3):
            send(client, pushed_to(slow.url, f"Q{n}"))
        document = client.get("/__admin/state").json()
        (aladdin,) = [item for item in document["accounts"] if item["username"] == "Aladdin"]
        exported = aladdin["callbacks"]
        assert [c["messageId"] for c in exported] == ["D1", "Q0", "Q1", "Q2"]
        assert exported[0] == {k: v for k, v in delivered.items() if k not in ("account", "json")}
        assert {c["state"] for c in exported[1:]} == {"pending"}
        assert client.put("/__admin/state", json=document).status_code == 200
        back = callbacks(client)["callbacks"]
        assert back[0] == delivered  # the same record, id and attempts included
        assert [(c["messageId"], c["state"], c["reason"]) for c in back[1:]] == [
            (f"Q{n}", "dropped", "pending when the state was exported") for n in range(3)]
        slow.release()
        send(client, pushed_to(slow.url, "AFTER"))
        after = callbacks(client, wait=10, count=5)["callbacks"][-1]
        assert after["id"] > max(c["id"] for c in back)  # ids never repeat after an import
        wait_for(client, 2)
        assert [report["messageId"] for report in slow.reports()][-1] == "AFTER" and len(slow.received) <= 2
        # Q0 was on the wire at the import: its answer came before AFTER's, and wrote nothing into the new state.
        final = callbacks(client)["callbacks"]
        assert final[:4] == back and [(c["messageId"], c["state"]) for c in final[4:]] == [("AFTER", "delivered")]
    assert len(target.received) == 1  # D1 was not pushed again


# --- a waiting client that hangs up ----------------------------------------------------------------


def test_a_client_that_hangs_up_ends_its_wait(app: MockOmni) -> None:
    """``?wait=`` polls until its timeout; a client gone meanwhile (a killed test run) ends it at once."""
    sent: list[dict[str, Any]] = []

    async def exchange() -> None:
        arriving = iter([{"type": "http.request", "body": b"", "more_body": False}])

        async def receive() -> dict[str, Any]:
            return next(arriving, {"type": "http.disconnect"})  # after the request: the client hung up

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/__admin/callbacks", "raw_path": b"/__admin/callbacks", "root_path": "",
                 "query_string": b"wait=60&count=5", "headers": [(b"host", b"mock")],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
        with anyio.fail_after(10):  # far below the 60 s it would otherwise wait
            await app(scope, receive, send)

    anyio.run(exchange)
    assert sent[0]["status"] == 200


def test_long_polls_abandoned_by_their_clients_cost_the_server_nothing() -> None:
    """300 clients start a 60 s wait and hang up: before the fix the server polled on for them (2 s of CPU in
    5 s); CPU time is counted, not wall time, so a loaded machine does not decide it."""
    with server.running(["--quiet"]) as live:
        connections = []
        for _ in range(300):
            connection = socket.create_connection(("127.0.0.1", live.port), timeout=10)
            connection.sendall(b"GET /__admin/callbacks?wait=60&count=5 HTTP/1.1\r\nHost: localhost\r\n\r\n")
            connections.append(connection)
        time.sleep(0.5)  # every wait has begun
        for connection in connections:
            connection.close()
        time.sleep(1)
        before = cpu_seconds(live.process.pid)
        time.sleep(3)
        spent = cpu_seconds(live.process.pid) - before
        # It still answers at once.
        assert httpx.get(f"{live.url}/__admin/callbacks", params={"wait": 0}, trust_env=False).status_code == 200
    assert spent < 0.4, f"{spent:.2f} s of CPU in 3 s for clients that are gone"


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- sends never wait for a receiver; nothing goes out after shutdown -----------------------------


def test_a_stalled_receiver_does_not_slow_sends() -> None:
    """Every send is answered while the receiver still holds the first callback unanswered: none waits for it.
    The receiver holds until released (60 s at most) and an attempt may last as long, so a send that waited
    for it could not be answered within the client's 20 s, however loaded the machine. Nor is a send slowed:
    the median send to the stalled receiver against the median of sends without a ``notifyUrl``, interleaved
    with them (the same load for both). A 1 s bound on every send failed under load, when the first
    callback held the loop (_http); a median does not follow one send that the machine delayed."""
    with receiver(held=True) as slow, server.running(["--webhook-timeout", "60s"]) as live, httpx.Client(
            base_url=live.url, headers={"Authorization": ALADDIN_BASIC}, trust_env=False, timeout=20) as http:
        timed: dict[bool, list[float]] = {True: [], False: []}
        for n in range(40):
            stalled = n % 2 == 0
            sent = pushed_to(slow.url, f"L{n // 2}") if stalled else body(None, TO, channels=["SMS", "VIBER"])
            began = time.perf_counter()
            response = http.post("/omni/1/advanced", json=sent)
            timed[stalled].append(time.perf_counter() - began)
            assert response.status_code == 200
        assert slow.wait_arrived(1)  # the first callback is on the wire, and held there
        assert slow.count() == 0  # still unanswered: every send above was answered during the stall
        assert http.get("/__admin/callbacks").json()["pending"] == 20
        slow.release()
        delivered = http.get("/__admin/callbacks", params={"wait": 20, "count": 20, "state": "delivered"})
        assert delivered.json()["reached"], delivered.text
    assert statistics.median(timed[True]) < statistics.median(timed[False]) + 0.5, timed
    assert [report["messageId"] for report in slow.reports()] == [f"L{n}" for n in range(20)]


def test_the_first_callbacks_client_is_made_off_the_loop(
        new_app: Callable[..., MockOmni], target: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    """Making the callbacks' HTTP client (in a server: importing httpx, loading CA certificates; 0.2 s, 0.6 s
    on a loaded machine) is done on a thread: a send is answered while it is under way. Done on the loop, it
    held every vendor call meanwhile. Here it is held until the test's second send is answered; on the loop
    that send could not be, and the hold ends only at its 10 s limit."""
    made, making = threading.Event(), threading.Event()
    released: list[bool] = []
    make = httpx.AsyncClient.__init__

    def held(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        making.set()
        released.append(made.wait(timeout=10))
        make(client, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", held)
    with sending_client(sending_app(new_app, **FAST)) as client:
        send(client, pushed_to(target.url, "A1"))
        assert making.wait(timeout=10)  # the first callback's client is being made
        send(client, pushed_to(target.url, "A2"))
        made.set()
        wait_for(client, 2)
    assert released == [True]  # answered while the client was being made (one client: later ones reuse it)
    assert [report["messageId"] for report in target.reports()] == ["A1", "A2"]


def test_nothing_is_sent_after_the_lifespan_ends() -> None:
    app = create_app(Settings(webhook_backoff=0.05))  # the real clock: the ticker makes reports due by itself
    with receiver(held=True) as slow, receiver() as later:
        with sending_client(app) as client:
            for n in range(3):  # the first goes on the wire and stalls; two wait behind it
                send(client, pushed_to(slow.url, f"Q{n}"))
            rule(client, destination="41793026799", outcome="DELIVERED", delaySeconds=1.0)
            send(client, pushed_to(later.url, "D1", to="41793026799"))  # its report is due in a second
            assert callbacks(client)["pending"] == 3
        stopped = time.monotonic()
        time.sleep(1.5)  # past the report's due time
    assert later.received == []
    assert slow.count() <= 1 and all(item.at < stopped for item in slow.received)
    records = app.state.webhooks.records()
    assert [(c.state, c.reason) for c in records] == [("dropped", "the server is shutting down")] * 3
    assert app.state.webhooks.pending == 0


def test_a_server_process_stops_at_sigterm_without_waiting_for_its_callbacks() -> None:
    stall = 10.0
    with receiver(delay=stall) as slow, receiver() as later:
        live = server.start(["--delivery-delay", "1s"])
        try:
            with httpx.Client(base_url=live.url, headers={"Authorization": ALADDIN_BASIC}, trust_env=False,
                              timeout=10) as http:
                now = {"destination": "447700900000", "outcome": "DELIVERED", "delaySeconds": 0}
                assert http.post("/__admin/delivery-rules", json=now).status_code == 201
                for n in range(5):  # the first goes on the wire and stalls; four wait behind it
                    sent = http.post("/omni/1/advanced", json=pushed_to(slow.url, f"Q{n}", to="447700900000"))
                    assert sent.status_code == 200
                # ... and one whose report is due in a second.
                assert http.post("/omni/1/advanced", json=pushed_to(later.url, "D1")).status_code == 200
                assert http.get("/__admin/callbacks").json()["pending"] == 5
            began = time.monotonic()
            live.process.send_signal(signal.SIGTERM)
            assert live.process.wait(timeout=server.GONE_WITHIN) == 0
            # Far below the stall: it never waited for the receiver (a generous bound, not a timing test).
            assert time.monotonic() - began < stall / 2
            time.sleep(1.5)  # past the delayed report's due time
        finally:
            server.stop(live)
    assert later.received == []
    assert slow.count() <= 1  # at most the one on the wire at SIGTERM


def test_under_trio_callbacks_go_out_from_a_loop_of_their_own(
        new_app: Callable[..., MockOmni], target: Receiver) -> None:
    app = sending_app(new_app, **FAST)
    with TestClient(app, backend="trio", headers={"Authorization": ALADDIN_BASIC}) as client:
        send(client, pushed_to(target.url, "T1"))
        wait_for(client, 1)
        assert any(thread.name == "mock-omni-webhooks" for thread in threading.enumerate())
    assert [report["messageId"] for report in target.reports()] == ["T1"]
    assert not any(thread.name == "mock-omni-webhooks" for thread in threading.enumerate())
