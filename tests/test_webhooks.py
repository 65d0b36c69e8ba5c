"""Callbacks to a real HTTP receiver on loopback: order, retries, XML, a slow receiver, nothing after close."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import ssl
import subprocess
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from mock_omni.api.webhooks import Callback, Webhooks

from .receiver import receiver

REPORT = {"bulkId": "B", "messageId": "M1", "to": "41793026727", "status": {"groupName": "DELIVERED"},
          "channel": "SMS"}


def delivered(records: list[Callback], count: int) -> bool:
    return sum(c.state in ("delivered", "failed") for c in records) >= count


async def run(hooks: Webhooks, sends: list[tuple[str, str | None, dict[str, object], str | None]], wait_for: int,
              timeout: float = 10.0) -> bool:
    await hooks.start()
    try:
        for url, content_type, report, data in sends:
            hooks.notify("Aladdin", url, content_type, report, data)
        return await hooks.wait(lambda: delivered(hooks.records(), wait_for), timeout)
    finally:
        await hooks.close()


def test_reports_arrive_in_order_as_the_vendor_shapes_them() -> None:
    with receiver() as target:
        sends = [(f"{target.url}/cb", None, {**REPORT, "messageId": f"M{n}"}, "tag" if n == 0 else None)
                 for n in range(5)]
        assert asyncio.run(run(Webhooks(), sends, 5))
    bodies = [json.loads(item.body) for item in target.received]
    assert [b["results"][0]["messageId"] for b in bodies] == [f"M{n}" for n in range(5)]
    assert bodies[0] == {"results": [{**REPORT, "messageId": "M0", "callbackData": "tag"}]}
    assert "callbackData" not in bodies[1]["results"][0]
    assert {(item.path, item.content_type) for item in target.received} == {("/cb", "application/json")}


def test_xml_when_the_send_asked_for_it() -> None:
    with receiver() as target:
        assert asyncio.run(run(Webhooks(), [(target.url, "application/xml", REPORT, "x")], 1))
    (_, kind, body, *_), = target.received
    assert kind == "application/xml"
    root = fromstring(body)
    assert root.tag == "omniReportsResponse"
    assert root.findtext("results/result/messageId") == "M1"
    assert root.findtext("results/result/callbackData") == "x"


def test_a_failing_receiver_is_retried_with_backoff_then_succeeds() -> None:
    hooks = Webhooks(backoff=0.05)
    with receiver(fail=2) as target:
        assert asyncio.run(run(hooks, [(target.url, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert callback.state == "delivered"
    assert [a.status for a in callback.attempts] == [503, 503, 200]
    gaps = [b.at - a.at for a, b in zip(callback.attempts, callback.attempts[1:], strict=False)]
    assert gaps[0] >= 0.04 and gaps[1] >= 0.09  # 1x then 2x the backoff


def test_an_endpoint_that_never_answers_is_given_up_and_recorded() -> None:
    hooks = Webhooks(attempts=3, backoff=0.01, timeout=1.0)
    with receiver() as target:
        dead = target.url  # the port closes with the receiver
    assert asyncio.run(run(hooks, [(dead, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert callback.state == "failed" and len(callback.attempts) == 3
    assert all(a.status is None and a.error for a in callback.attempts)


def test_a_slow_receiver_delays_only_its_own_callbacks() -> None:
    hooks = Webhooks()
    with receiver(held=True) as slow, receiver() as fast:
        async def scenario() -> int:
            await hooks.start()
            try:
                hooks.notify("A", slow.url, None, REPORT)
                hooks.notify("A", fast.url, None, REPORT)
                assert await hooks.wait(lambda: hooks.count(url=fast.url, state="delivered") == 1, 5)
                return hooks.count(url=slow.url, state="pending")
            finally:
                await hooks.close()

        assert asyncio.run(scenario()) == 1  # the fast one went out while the slow one was still held


def test_notify_returns_at_once_even_with_a_stalled_receiver() -> None:
    hooks = Webhooks()
    with receiver(held=True) as slow:
        async def scenario() -> float:
            await hooks.start()
            try:
                began = time.perf_counter()
                for _ in range(200):
                    hooks.notify("A", slow.url, None, REPORT)
                return time.perf_counter() - began
            finally:
                await hooks.close()

        assert asyncio.run(scenario()) < 0.5


def test_nothing_is_sent_after_close_and_the_queue_is_bounded() -> None:
    hooks = Webhooks(max_pending=3)
    with receiver(delay=0.5) as target:
        async def scenario() -> None:
            await hooks.start()
            for n in range(5):
                hooks.notify("A", target.url, None, {**REPORT, "messageId": f"M{n}"})
            await asyncio.sleep(0.1)  # the first is on the wire
            await hooks.close()
            hooks.notify("A", target.url, None, REPORT)

        asyncio.run(scenario())
        time.sleep(0.8)
    states = [c.state for c in hooks.records()]
    assert states[3:] == ["dropped", "dropped", "dropped"]  # over the bound, and after close
    assert "pending" not in states
    assert len(target.received) <= 1


def test_notify_from_another_thread_is_delivered_on_the_loop() -> None:
    hooks = Webhooks()
    with receiver() as target:
        async def scenario() -> bool:
            await hooks.start()
            try:
                thread = threading.Thread(target=hooks.notify, args=("A", target.url, None, REPORT))
                thread.start()
                thread.join()
                return await hooks.wait(lambda: delivered(hooks.records(), 1), 5)
            finally:
                await hooks.close()

        assert asyncio.run(scenario())
    assert len(target.received) == 1


def test_clear_forgets_one_accounts_callbacks() -> None:
    hooks = Webhooks()
    hooks.notify("A", "http://127.0.0.1:9/x", None, REPORT)
    hooks.notify("B", "http://127.0.0.1:9/x", None, REPORT)
    hooks.clear("A")
    assert [c.account for c in hooks.records()] == ["B"]
    assert [c.state for c in hooks.records()] == ["pending"]
    hooks.clear()
    assert hooks.records() == []


def test_a_restore_puts_records_back_and_sends_nothing() -> None:
    hooks = Webhooks()
    hooks.notify("A", "http://127.0.0.1:9/x", None, {**REPORT, "messageId": "kept"})
    saved = hooks.snapshot("A")
    hooks.notify("A", "http://127.0.0.1:9/x", None, {**REPORT, "messageId": "later"})
    hooks.notify("B", "http://127.0.0.1:9/y", None, {**REPORT, "messageId": "other"})
    hooks.restore(saved, "A")
    assert [(c.account, c.message_id, c.state, c.reason) for c in hooks.records()] == [
        ("A", "kept", "dropped", "pending when the snapshot was taken"),
        ("B", "other", "pending", None)]
    assert hooks.pending == 1  # "later" was dropped too: it is not sent
    saved[0].state = "delivered"
    assert hooks.records()[0].state == "dropped"  # the records are copies, not the snapshot's


def test_a_closed_sender_starts_again_afresh() -> None:
    hooks = Webhooks()
    with receiver() as target:
        async def serve_twice() -> bool:
            await hooks.start()
            await hooks.close()
            hooks.notify("A", target.url, None, REPORT)  # between two runs: dropped
            await hooks.start()
            try:
                hooks.notify("A", target.url, None, REPORT)
                return await hooks.wait(lambda: hooks.count(state="delivered") == 1, 5)
            finally:
                await hooks.close()

        assert asyncio.run(serve_twice())
    assert [c.state for c in hooks.records()] == ["dropped", "delivered"] and len(target.received) == 1


def test_a_nested_lifespan_leaves_the_outer_ones_callbacks_running() -> None:
    from starlette.testclient import TestClient

    from mock_omni import create_app

    app = create_app()
    with receiver() as target, TestClient(app) as outer:
        with TestClient(app):
            pass  # a test's own client around the plugin's in-process app, say
        app.state.webhooks.notify("Aladdin", target.url, None, REPORT)
        answer = outer.get("/__admin/callbacks", params={"wait": 5, "state": "delivered"}).json()
    assert answer["reached"] and len(target.received) == 1


@contextmanager
def raw_receiver(answer: Callable[[socket.socket], None]) -> Iterator[tuple[str, list[str]]]:
    """A loopback socket that reads one request and then answers as ``answer`` does; records what happened."""
    listener = socket.create_server(("127.0.0.1", 0))
    events: list[str] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            try:
                answer(connection)
                events.append("answered")
            except OSError as exc:
                events.append(type(exc).__name__)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", events
    finally:
        thread.join(timeout=10)
        listener.close()


def test_a_huge_answer_is_not_read_whole() -> None:
    def flood(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000000\r\n\r\n")
        for _ in range(1000):  # 1 GB announced, 1 GB offered: the sender hangs up long before
            connection.sendall(b"x" * 1_000_000)

    hooks = Webhooks(timeout=10)
    with raw_receiver(flood) as (url, events):
        assert asyncio.run(run(hooks, [(url, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert (callback.state, [a.status for a in callback.attempts]) == ("delivered", [200])
    assert events[0] in ("BrokenPipeError", "ConnectionResetError")


def test_a_receiver_trickling_its_answer_times_out_as_a_whole() -> None:
    def trickle(connection: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\n":
            connection.sendall(bytes([byte]))
            time.sleep(0.1)  # each byte well within any read timeout; the whole far past the attempt's

    hooks = Webhooks(attempts=1, timeout=0.5)
    with raw_receiver(trickle) as (url, _):
        assert asyncio.run(run(hooks, [(url, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert callback.state == "failed"
    assert [(a.status, a.error) for a in callback.attempts] == [(None, "TimeoutError")]
    assert 0.4 < callback.attempts[0].milliseconds / 1000 < 1.5


def test_notifies_from_many_threads_keep_each_threads_order() -> None:
    hooks = Webhooks()
    with receiver() as target:
        async def scenario() -> bool:
            await hooks.start()
            try:
                def notify_many(thread: int) -> None:
                    for n in range(100):
                        hooks.notify("A", target.url, None, {**REPORT, "messageId": f"{thread}-{n}"})

                threads = [threading.Thread(target=notify_many, args=(t,)) for t in range(6)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                return await hooks.wait(lambda: hooks.count(state="delivered") == 600, 20)
            finally:
                await hooks.close()

        assert asyncio.run(scenario())
    received = [report["messageId"] for report in target.reports()]
    assert len(received) == 600
    for thread in range(6):
        mine = [int(message_id.split("-")[1]) for message_id in received if message_id.startswith(f"{thread}-")]
        assert mine == list(range(100))


def test_a_queued_callback_takes_about_its_bodys_size() -> None:
    # orjson's output keeps its 4 KiB buffer: 10,000 queued callbacks kept 40 MB for 5 MB of reports.
    hooks = Webhooks(keep=1000, max_pending=1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(1000):
            hooks.notify("A", "http://127.0.0.1:9/x", None, {**REPORT, "messageId": f"M{n}"}, "data")
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    body = len(hooks.records()[0].body)
    assert grown / 1000 < body + 600, (grown / 1000, body)


# --- the HTTP client and the TLS context, made on a thread (_made) ---------------------------------------


def test_a_client_that_cannot_be_made_is_a_failed_attempt_not_a_dead_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client is made outside the attempt's timeout, but its failure is the attempt's: retried, and the
    URL's next callbacks go out. A failure that killed the URL's worker left every callback to it pending."""
    make = httpx.AsyncClient.__init__
    made: list[bool] = []

    def once_unreadable(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        made.append(True)
        if len(made) == 1:
            raise OSError("the CA bundle cannot be read")
        make(client, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", once_unreadable)
    hooks = Webhooks(backoff=0.01)
    with receiver() as target:
        sends: list[tuple[str, str | None, dict[str, object], str | None]] = [
            (target.url, None, {**REPORT, "messageId": f"M{n}"}, None) for n in range(2)]
        assert asyncio.run(run(hooks, sends, 2))
    first, second = hooks.records()
    unreadable = "OSError: the CA bundle cannot be read"
    assert [(a.status, a.error) for a in first.attempts] == [(None, unreadable), (200, None)]
    assert first.state == second.state == "delivered"
    assert [report["messageId"] for report in target.reports()] == ["M0", "M1"]


def test_first_callbacks_to_many_urls_make_one_client_and_close_closes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every first callback waits for the same client: one CA file parsed, not one per URL on the loop's
    executor (where the names of the callbacks' URLs are resolved too); the one client is closed with the sender."""
    make = httpx.AsyncClient.__init__
    made: list[httpx.AsyncClient] = []

    def counted(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.1)  # every first callback asks before it is made (they all start together regardless)
        make(client, *args, **kwargs)
        made.append(client)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counted)
    with receiver() as target:
        sends: list[tuple[str, str | None, dict[str, object], str | None]] = [
            (f"{target.url}/{n}", None, REPORT, None) for n in range(8)]
        assert asyncio.run(run(Webhooks(), sends, 8))
    assert target.count() == 8
    assert len(made) == 1 and made[0].is_closed


@pytest.fixture
def tls_receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An https receiver answering 200 at ``localhost`` (its URL), its certificate (for ``localhost`` and
    127.0.0.1) trusted through ``SSL_CERT_FILE``, as every callback's TLS context is made (``_tls_context``)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://localhost:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_tls_context_slower_than_the_timeout_is_made_once_and_used_by_the_first_attempt(
        tls_receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TLS context (its CA file parsed: slow on a loaded machine) is made before the attempt's timeout starts,
    as the client is. Made within it, the first attempt timed out; made again by each attempt, and each slower
    than the timeout, it was never made and the callback failed however fast the receiver."""
    create = httpx.create_ssl_context
    calls: list[bool] = []

    def slow(*args: Any, **kwargs: Any) -> Any:
        calls.append(True)
        time.sleep(1.5)  # beyond the attempt's 1 s
        return create(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", slow)
    hooks = Webhooks(timeout=1.0, attempts=6, backoff=0.05)
    assert asyncio.run(run(hooks, [(tls_receiver, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert callback.state == "delivered", callback.attempts
    assert [attempt.status for attempt in callback.attempts] == [200] and calls == [True]


@pytest.mark.parametrize("to", ["a name", "an address"])
def test_https_callbacks_verify_with_ssl_cert_file_to_a_name_and_to_an_address(tls_receiver: str, to: str) -> None:
    """Every https callback trusts what SSL_CERT_FILE holds: to a name (a client of its own) and to an address
    (the pooled client), alike. The pooled one used to verify with certifi's bundle whatever the environment
    said, so a receiver at https://127.0.0.1 with a certificate the user trusted failed every attempt."""
    url = tls_receiver if to == "a name" else tls_receiver.replace("//localhost:", "//127.0.0.1:")
    hooks = Webhooks(attempts=1)
    assert asyncio.run(run(hooks, [(url, None, REPORT, None)], 1))  # delivered, or failed for good
    (callback,) = hooks.records()
    statuses = [attempt.status for attempt in callback.attempts]
    assert (callback.state, statuses) == ("delivered", [200]), callback.attempts


@pytest.mark.parametrize("to", ["a name", "an address"])
def test_https_callbacks_refuse_a_certificate_nobody_trusted(tls_receiver: str, to: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE")
    url = tls_receiver if to == "a name" else tls_receiver.replace("//localhost:", "//127.0.0.1:")
    hooks = Webhooks(attempts=1)
    assert asyncio.run(run(hooks, [(url, None, REPORT, None)], 1))
    (callback,) = hooks.records()
    assert callback.state == "failed", callback.attempts
    assert (callback.attempts[0].error or "").startswith("ConnectError: [SSL: CERTIFICATE_VERIFY_FAILED]"), \
        callback.attempts


def test_the_tls_context_is_made_off_the_loop(tls_receiver: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The TLS context of https to a name (its CA file parsed) is made on a thread, like the client: held here
    until the loop has gone on without it. Made on the loop, the loop waited for it until the hold's 10 s limit."""
    create = httpx.create_ssl_context
    making, made = threading.Event(), threading.Event()
    released: list[bool] = []

    def held(*args: Any, **kwargs: Any) -> Any:
        making.set()
        released.append(made.wait(timeout=10))
        return create(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", held)
    hooks = Webhooks(timeout=30.0)

    async def scenario() -> bool:
        await hooks.start()
        try:
            hooks.notify("A", tls_receiver, None, REPORT)
            assert await asyncio.to_thread(making.wait, 10)
            await asyncio.sleep(0.01)  # the loop runs on while the context is made
            made.set()
            return await hooks.wait(lambda: delivered(hooks.records(), 1), 20)
        finally:
            await hooks.close()

    assert asyncio.run(scenario())
    assert released == [True]
    assert hooks.records()[0].state == "delivered"


def test_close_while_the_client_is_made_does_not_wait_for_it_and_a_restart_makes_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopping (SIGTERM, a lifespan's end) while the first client is made drops the callbacks at once: the
    making is abandoned (its thread cannot be stopped; what it makes is never used). Served again, the
    sender makes a client afresh and delivers."""
    make = httpx.AsyncClient.__init__
    making, made = threading.Event(), threading.Event()
    released: list[bool] = []

    def held(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        if not making.is_set():  # the first one (the next is made once this one is released)
            making.set()
            released.append(made.wait(timeout=10))  # False: close waited for it
        make(client, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", held)
    hooks = Webhooks()
    with receiver() as target:
        async def scenario() -> bool:
            await hooks.start()
            hooks.notify("A", target.url, None, {**REPORT, "messageId": "STOPPED"})
            assert await asyncio.to_thread(making.wait, 10)
            await hooks.close()
            made.set()
            return await run(hooks, [(target.url, None, {**REPORT, "messageId": "AGAIN"}, None)], 1)

        assert asyncio.run(scenario())
    assert released == [True]
    assert [(c.message_id, c.state) for c in hooks.records()] == [("STOPPED", "dropped"), ("AGAIN", "delivered")]
    assert [report["messageId"] for report in target.reports()] == ["AGAIN"]


def test_a_ca_bundle_that_cannot_be_read_fails_https_callbacks_only_and_says_which(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An SSL_CERT_FILE naming no file (a moved venv, an image without the bundle) failed every callback once the
    pooled client verified with it, plain http ones too ('FileNotFoundError: [Errno 2] No such file or
    directory', naming no variable): http callbacks are delivered, https ones fail naming the variable."""
    missing = tmp_path / "missing.pem"
    monkeypatch.setenv("SSL_CERT_FILE", str(missing))
    with receiver() as target:
        hooks = Webhooks(attempts=1)
        assert asyncio.run(run(hooks, [(f"{target.url}/cb", None, REPORT, None),
                                       ("https://127.0.0.1:9/cb", None, REPORT, None)], 2))
    plain, tls = sorted(hooks.records(), key=lambda callback: callback.url)
    assert plain.state == "delivered", plain.attempts
    assert len(target.received) == 1
    assert tls.state == "failed"
    assert tls.attempts[0].error == f"CaBundleUnusable: SSL_CERT_FILE={str(missing)!r}: No such file or directory", \
        tls.attempts
