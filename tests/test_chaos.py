"""Network faults as real clients meet them, on real sockets: every kind of fault rule against httpx, and
``requests`` with urllib3's ``Retry``, on ``mock-omni serve`` (the direct path, which hands faulted calls to
the ASGI app), ``--asgi-only``, and two replicas sharing Redis (the rule added through one, the calls made to
the other: its first call after the rule is answered on the direct path, later ones on the ASGI path).

Timing kinds are measured from the client with generous bounds (a lower bound the mock must not beat, an upper
one only a hung server misses).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import uvicorn
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from mock_omni import Settings, create_app
from mock_omni.server.http_protocol import protocol_for
from mock_omni.testing.process import ServerProcess

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY
from .redis_server import RedisServer

pytestmark = pytest.mark.slow

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
AUTH = {"Authorization": ALADDIN_BASIC}
START_TIMEOUT = 30.0
#: Only a hung server misses this.
HUNG = 20.0


@dataclass
class Target:
    """Where rules are added (``admin``) and where the calls go (``calls``): one server, or two replicas."""

    kind: str
    admin: str
    calls: str

    def fault(self, **rule: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.admin}/__admin/faults", json=rule, trust_env=False)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def journal(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = httpx.get(f"{self.admin}/__admin/requests", trust_env=False).json()["requests"]
        return entries

    def reset(self) -> None:
        assert httpx.post(f"{self.admin}/__admin/reset", trust_env=False).status_code == 200

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.calls, headers=AUTH, trust_env=False, timeout=options.pop("timeout", HUNG),
                            **options)


@pytest.fixture(scope="module", params=["serve", "asgi-only", "replicas"])
def served(request: pytest.FixtureRequest) -> Iterator[Target]:
    started: list[ServerProcess] = []
    try:
        if request.param == "replicas":
            redis: RedisServer = request.getfixturevalue("redis_server")
            args = ["--quiet", "--store", redis.store_url, "--store-prefix", f"test-{uuid.uuid4().hex[:12]}"]
            for _ in range(2):
                started.append(ServerProcess.serve(args, None, START_TIMEOUT))
            yield Target("replicas", started[0].url, started[1].url)
        else:
            started.append(server.start(["--asgi-only"] if request.param == "asgi-only" else []))
            yield Target(request.param, started[0].url, started[0].url)
    finally:
        for process in started:
            process.stop()
            assert "Traceback" not in process.output(), process.output()


@pytest.fixture
def target(served: Target) -> Target:
    served.reset()
    return served


def last(target: Target) -> dict[str, Any]:
    return target.journal()[-1]


# --- connection faults -------------------------------------------------------------------------


def test_reset_is_a_connection_reset_by_peer(target: Target) -> None:
    rule = target.fault(connection="reset", path=LIST, times=1)
    with target.client() as client:
        with pytest.raises(httpx.ReadError, match="reset by peer"):
            client.get(LIST)
        assert client.get(LIST).status_code == 200  # once: the next call is answered
    entry = target.journal()[0]
    assert (entry["status"], entry["response"]) == (0, None)
    assert entry["reason"].startswith(f"fault rule {rule['id']} (any method {LIST}; 0 of 1 uses left) "
                                      "reset the connection (TCP RST): no answer was sent")


def test_drop_as_a_connection_kind_closes_without_an_answer(target: Target) -> None:
    target.fault(connection="drop", times=1)
    with target.client() as client, pytest.raises(httpx.RemoteProtocolError, match="without sending"):
        client.get(LIST)
    assert "dropped the connection" in last(target)["reason"]


def test_garbage_is_random_bytes_then_close(target: Target) -> None:
    target.fault(connection="garbage", times=1, seed=5)
    with target.client() as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(LIST)
    entry = last(target)
    assert entry["status"] == 0 and "sent garbage (" in entry["reason"]


def test_truncate_sends_the_head_and_half_the_body_after_carrying_the_call_out(target: Target) -> None:
    target.fault(connection="truncate", method="PUT", times=1)
    with target.client() as client:
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete|peer closed"):
            client.put(SEED, json={"name": "Renamed before the cut"})
        # The call was carried out: only its answer was cut.
        assert client.get(SEED).json()["name"] == "Renamed before the cut"
    entry = target.journal()[0]
    sent = entry["response"]
    assert entry["status"] == 200 and int(sent["headers"]["content-length"]) > len(sent["body"]) > 0
    assert "truncated the answer: sent the head and" in entry["reason"]
    assert "the call itself: answered by PUT" in entry["reason"]


def test_truncate_mid_body_as_seen_on_the_raw_socket(target: Target) -> None:
    target.fault(connection="truncate", times=1)
    with target.client() as client, client.stream("GET", LIST) as response:
        assert response.status_code == 200
        declared = int(response.headers["content-length"])
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                got += chunk
    assert len(got) == declared // 2


# --- answers that do not parse -------------------------------------------------------------------


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_malformed_keeps_status_and_headers_with_a_body_that_does_not_parse(target: Target, accept: str) -> None:
    target.fault(malformed=True, status=404, times=1)
    with target.client() as client:
        response = client.get(LIST, headers={"Accept": accept})
    assert response.status_code == 404
    assert response.headers["content-type"] == accept
    assert int(response.headers["content-length"]) == len(response.content) > 0
    if accept == "application/json":
        with pytest.raises(json.JSONDecodeError):
            response.json()
    else:
        with pytest.raises(ET.ParseError):
            ET.fromstring(response.content)
    entry = last(target)
    assert entry["response"]["body"] == response.text
    assert "malformed the body" in entry["reason"]


# --- timing ------------------------------------------------------------------------------------


def test_bytes_per_second_writes_the_real_answer_slowly(target: Target) -> None:
    with target.client() as client:
        whole = client.get(LIST).content
        target.fault(bytesPerSecond=len(whole) * 2, times=1)  # half a second
        began = time.monotonic()
        slow = client.get(LIST)
        took = time.monotonic() - began
    assert slow.content == whole
    assert 0.45 <= took < HUNG
    assert "bytes per second" in last(target)["reason"]


def test_a_read_timeout_fires_mid_body(target: Target) -> None:
    target.fault(bytesPerSecond=2, times=1)  # a byte every half second
    with target.client(timeout=httpx.Timeout(HUNG, read=0.1)) as client, client.stream("GET", LIST) as response:
        assert response.status_code == 200  # the head came at once
        with pytest.raises(httpx.ReadTimeout):
            response.read()


def test_delay_past_the_read_timeout_is_a_read_timeout(target: Target) -> None:
    target.fault(delayMs=1500, times=1)
    with target.client(timeout=httpx.Timeout(HUNG, read=0.2)) as client, pytest.raises(httpx.ReadTimeout):
        client.get(LIST)


def test_jitter_draws_each_delay_between_delay_and_delay_plus_jitter(target: Target) -> None:
    target.fault(delayMs=200, jitterMs=300, times=3, seed=11)
    took = []
    with target.client() as client:
        for _ in range(3):
            began = time.monotonic()
            assert client.get(LIST).status_code == 200
            took.append(time.monotonic() - began)
    assert all(0.2 <= seconds < HUNG for seconds in took), took


# --- probability ---------------------------------------------------------------------------------


def statuses(target: Target, calls: int, spread: bool = False) -> list[int]:
    """``calls`` lists' statuses; ``spread``: taken in turn by both replicas (the rules' one and the other)."""
    urls = [target.calls, target.admin] if spread else [target.calls]
    clients = [httpx.Client(base_url=url, headers=AUTH, trust_env=False, timeout=HUNG) for url in urls]
    try:
        return [clients[n % len(clients)].get(LIST).status_code for n in range(calls)]
    finally:
        for client in clients:
            client.close()


def test_probability_applies_to_its_share_and_a_seed_replays_the_sequence(target: Target) -> None:
    target.fault(status=503, probability=0.3, seed=2024, times=None)
    first = statuses(target, 300)
    assert 60 <= first.count(503) <= 120, first.count(503)  # 90 expected; 6 standard deviations apart
    assert set(first) == {200, 503}
    target.reset()
    target.fault(status=503, probability=0.3, seed=2024, times=None)
    assert statuses(target, 300) == first
    target.reset()
    target.fault(status=503, probability=0.3, seed=2025, times=None)
    assert statuses(target, 300) != first


def test_one_seed_gives_one_sequence_on_every_store(served: Target, redis_server: RedisServer) -> None:
    """The sequence is the rule's: the same on the memory store as across replicas taken in turn."""
    served.reset()
    served.fault(status=503, probability=0.5, seed=99, times=None)
    here = statuses(served, 40, spread=True)
    with server.running() as memory:
        other = Target("serve", memory.url, memory.url)
        other.fault(status=503, probability=0.5, seed=99, times=None)
        assert statuses(other, 40) == here


# --- requests with urllib3's Retry: an app's retry policy, as against production -----------------------


def retrying(target: Target, retry: Retry) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.headers.update(AUTH)
    return session


def test_requests_retries_two_503s_then_succeeds(target: Target) -> None:
    target.fault(status=503, times=2)
    with retrying(target, Retry(total=3, status_forcelist=[503], backoff_factor=0)) as session:
        response = session.get(f"{target.calls}{LIST}", timeout=HUNG)
    assert response.status_code == 200
    assert [entry["status"] for entry in target.journal()] == [503, 503, 200]


def test_requests_retries_a_reset_then_succeeds(target: Target) -> None:
    target.fault(connection="reset", times=1)
    with retrying(target, Retry(total=3, read=2, backoff_factor=0)) as session:
        response = session.get(f"{target.calls}{LIST}", timeout=HUNG)
    assert response.status_code == 200
    assert [entry["status"] for entry in target.journal()] == [0, 200]


def test_without_retries_requests_sees_the_reset(target: Target) -> None:
    target.fault(connection="reset", times=1)
    with retrying(target, Retry(total=0, read=0, connect=0)) as session, pytest.raises(
            requests.exceptions.ConnectionError, match="reset by peer"):
        session.get(f"{target.calls}{LIST}", timeout=HUNG)


# --- a replica's direct path: the call came before the replica had applied the rule ------------------------


@contextmanager
def late_replica_server(redis_server: RedisServer) -> Iterator[tuple[Target, uvicorn.Server]]:
    """A replica served by uvicorn in this process, whose protocol answers every vendor call directly (as a
    replica does that has not yet applied the entry adding a rule: the rule is then taken when the call's
    entry is applied, and what it does is done by server/http_protocol.py), and another to add the rules."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    adder = ServerProcess.serve(["--quiet", "--store", redis_server.store_url, "--store-prefix", prefix], None,
                                START_TIMEOUT)
    app = create_app(Settings(store=redis_server.store_url, store_prefix=prefix))
    app.answers_directly = lambda request: True  # type: ignore[method-assign]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocol_for(app), log_level="warning",
                            access_log=False)
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield Target("late-replica", adder.url, f"http://127.0.0.1:{port}"), running
    finally:
        running.should_exit = True
        thread.join(HUNG)
        app.close()
        adder.stop()


@pytest.fixture(scope="module")
def late_replica(redis_server: RedisServer) -> Iterator[Target]:
    with late_replica_server(redis_server) as (target, _):
        yield target


@pytest.fixture
def late(late_replica: Target) -> Target:
    late_replica.reset()
    return late_replica


@pytest.mark.parametrize(("connection", "error"), [
    ("reset", httpx.ReadError), ("garbage", httpx.RemoteProtocolError), ("drop", httpx.RemoteProtocolError),
    ("truncate", httpx.RemoteProtocolError)])
def test_connection_faults_on_a_replicas_direct_path(late: Target, connection: str, error: type[Exception]) -> None:
    late.fault(connection=connection, times=1)
    with late.client() as client:
        with pytest.raises(error):
            client.get(LIST)
        assert client.get(LIST).status_code == 200
    assert [entry["status"] for entry in late.journal()] == [200 if connection == "truncate" else 0, 200]


def test_malformed_and_slow_on_a_replicas_direct_path(late: Target) -> None:
    with late.client() as client:
        whole = client.get(LIST).content
        late.fault(malformed=True, times=1)
        with pytest.raises(json.JSONDecodeError):
            client.get(LIST).json()
        late.fault(bytesPerSecond=len(whole) * 2, times=1)
        began = time.monotonic()
        assert client.get(LIST).content == whole
        assert 0.45 <= time.monotonic() - began < HUNG
        assert client.get(LIST).content == whole  # the connection goes on after a slow answer


def test_a_stopping_replica_writes_the_rest_of_a_slow_body_at_once(redis_server: RedisServer) -> None:
    """As a fault's delay ends when the server stops: the client gets the whole answer, the server stops soon."""
    with late_replica_server(redis_server) as (target, running):
        target.fault(bytesPerSecond=20, times=1)  # 631 bytes: half a minute
        got: list[bytes] = []
        with target.client() as client, client.stream("GET", LIST) as response:
            assert response.status_code == 200
            iterator = response.iter_raw()
            got.append(next(iterator))
            began = time.monotonic()
            running.should_exit = True
            got.extend(iterator)
            stopped_within = time.monotonic() - began
        assert len(b"".join(got)) == int(response.headers["content-length"])
        assert stopped_within < 10  # not the 30 s the rate would take


@pytest.mark.parametrize(("connection", "error"), [
    ("drop", httpx.RemoteProtocolError), ("reset", httpx.ReadError), ("truncate", httpx.RemoteProtocolError),
    ("garbage", httpx.RemoteProtocolError)])
def test_connection_faults_on_a_request_that_asks_to_close(target: Target, connection: str,
                                                           error: type[Exception]) -> None:
    """``Connection: close``: uvicorn's cycle holds a stand-in transport (http_protocol.py's CloseAfterBody);
    the fault cuts the real one (a drop was answered 500 with a traceback)."""
    target.fault(connection=connection, times=1)
    with target.client() as client, pytest.raises(error):
        client.get(LIST, headers={"Connection": "close"})


@pytest.mark.parametrize("mode", ["serve", "asgi-only", "replicas"])
def test_connection_faults_on_a_pipelined_connection_log_no_error(mode: str, request: pytest.FixtureRequest) -> None:
    """A request pipelined behind the faulted one: the transport's loss marks only the connection's newest
    cycle (the one behind), so the faulted one ended "without starting response": an ERROR, and a traceback
    writing uvicorn's 500 to the closed transport. The client sees the fault; the server logs nothing."""
    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {ALADDIN_BASIC}\r\n\r\n".encode()

    if mode == "replicas":  # the rules added through one, the calls made to the other
        redis: RedisServer = request.getfixturevalue("redis_server")
        args = ["--quiet", "--store", redis.store_url, "--store-prefix", f"test-{uuid.uuid4().hex[:12]}"]
        processes = [ServerProcess.serve(args, None, START_TIMEOUT) for _ in range(2)]
    else:
        processes = [server.start(["--asgi-only"] if mode == "asgi-only" else [])]
    target = Target(mode, processes[0].url, processes[-1].url)
    try:
        port = int(target.calls.rsplit(":", 1)[1])
        for connection in ("drop", "reset", "truncate", "garbage"):
            for calls in ([SEED, LIST], [LIST, SEED, LIST]):  # the faulted call first, then second
                target.fault(connection=connection, path=SEED, times=1)
                with socket.create_connection(("127.0.0.1", port), timeout=HUNG) as sock:
                    sock.sendall(b"".join(get(path) for path in calls))
                    received = b""
                    try:
                        while chunk := sock.recv(65536):
                            received += chunk
                    except ConnectionResetError:
                        assert connection == "reset"
                assert received.count(b"HTTP/1.1 200") <= calls.index(SEED) + (connection == "truncate")
                with target.client() as client:
                    assert client.get(LIST).status_code == 200  # the server goes on
    finally:
        for process in processes:
            process.stop()
    for process in processes:
        assert "ERROR" not in process.output() and "Traceback" not in process.output(), process.output()
