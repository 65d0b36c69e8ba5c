"""Replicas as processes on one real Redis: ``mock-omni serve --store redis://...`` twice (or more),
with clients hitting both at once, a replica killed mid-storm and Redis restarted mid-run.

Every request goes to loopback; every loop is bounded in count and time.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from mock_omni.testing.process import ServerProcess

from .conftest import ALADDIN_BASIC, SEED_KEY
from .receiver import receiver
from .redis_server import RedisCluster, RedisServer

pytestmark = pytest.mark.slow

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
AUTH = {"Authorization": ALADDIN_BASIC}
GENERAL_ERROR = {"requestError": {"serviceException": {
    "messageId": "GENERAL_ERROR", "text": "Something went wrong. Please contact support."}}}
START_TIMEOUT = 30.0


def connect(replica: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=replica.url, headers=AUTH, timeout=10)


@pytest.fixture(params=["redis", "cluster"])
def shared_store(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of the session's Redis, or of a node of its 3-master Redis Cluster: the suite runs on both."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        yield server.store_url
        server.client().flushdb()
    else:
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        yield cluster.store_url
        cluster.flushall()


@pytest.fixture
def start(shared_store: str) -> Iterator[Callable[..., list[ServerProcess]]]:
    """``start(n, *args)``: n replicas of one fresh store, started together (through testing/process.py)."""
    yield from starter(shared_store)


@pytest.fixture
def start_on() -> Iterator[Callable[..., list[ServerProcess]]]:
    """``start_on(n, *args, store=URL)``: as ``start``, on a Redis the test brings (and stops) itself."""
    yield from starter("")


def starter(default: str) -> Iterator[Callable[..., list[ServerProcess]]]:
    started: list[ServerProcess] = []
    prefix = f"test-{uuid.uuid4().hex[:12]}"

    def start_replicas(count: int, *args: str, store: str = default) -> list[ServerProcess]:
        assert store, "this test brings its own Redis: give store="
        command = ["--quiet", "--store", store, "--store-prefix", prefix, *args]
        with ThreadPoolExecutor(count) as pool:
            launches = [pool.submit(ServerProcess.serve, command, dict(os.environ), START_TIMEOUT)
                        for _ in range(count)]
        replicas = []
        for launch in launches:
            try:
                replicas.append(launch.result())
            except RuntimeError as failed:
                started.extend(replicas)
                raise failed
        started.extend(replicas)
        return replicas

    yield start_replicas
    for replica in started:
        replica.stop()
        assert "Traceback" not in replica.output(), replica.output()


def run_threads(count: int, work: Callable[[int], None]) -> list[BaseException]:
    """``work(i)`` in ``count`` threads started together; the exceptions they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return errors


def test_replicas_starting_together_seed_the_store_once(start: Callable[..., list[ServerProcess]]) -> None:
    replicas = start(4)
    lines = [next(line for line in replica.output().splitlines() if "state on Redis" in line)
             for replica in replicas]
    assert sum("seeded with 2 fixture accounts" in line for line in lines) == 1, lines
    assert sum("joined, 2 accounts there" in line for line in lines) == 3, lines
    with connect(replicas[0]) as client:
        assert client.put(SEED, json={"name": "kept"}).status_code == 200
    # A replica started later joins the state as it is.
    (late,) = start(1)
    assert "joined" in late.output()
    with connect(late) as client:
        assert client.get(SEED).json()["name"] == "kept"


def test_32_clients_promoting_through_both_replicas_keep_exactly_one_default(
    start: Callable[..., list[ServerProcess]],
) -> None:
    replicas = start(2, "--rate-limit", "off")
    with connect(replicas[0]) as client:
        keys = [client.post(LIST, json={"name": f"c{n}", "flow": [{"channel": "SMS"}]}).json()["key"]
                for n in range(32)]
    rounds = 4
    problems: list[str] = []

    def promote(index: int) -> None:
        with connect(replicas[0]) as first, connect(replicas[1]) as second:
            for turn in range(rounds):
                writer, reader = (first, second) if (index + turn) % 2 else (second, first)
                name = f"c{index}-{turn}"
                response = writer.put(f"{LIST}/{keys[index]}", json={"name": name, "default": True})
                if response.status_code != 200 or response.json()["default"] is not True \
                        or response.json()["name"] != name:
                    problems.append(f"{response.status_code} {response.text}")
                listed = reader.get(LIST).json()["scenarios"]
                if sum(s["default"] for s in listed) != 1:
                    problems.append(f"{sum(s['default'] for s in listed)} defaults in a list")

    assert run_threads(32, promote) == []
    assert problems == []
    for replica in replicas:
        with connect(replica) as client:
            listed = client.get(LIST).json()["scenarios"]
            assert sum(s["default"] for s in listed) == 1
            assert client.get(LIST, params={"isDefault": "true"}).json()["scenarios"][0]["key"] in keys
            # Nothing acknowledged is lost: every scenario has its last acknowledged name.
            names = {s["key"]: s.get("name") for s in listed}
            assert [names[key] for key in keys] == [f"c{n}-{rounds - 1}" for n in range(32)]


def test_41_updates_over_both_replicas_get_exactly_one_429(start: Callable[..., list[ServerProcess]]) -> None:
    replicas = start(2)  # the vendor's limit: update 40 per 10 minutes
    statuses: list[int] = []

    def update(index: int) -> None:
        with connect(replicas[index % 2]) as client:
            statuses.append(client.put(SEED, json={}).status_code)

    assert run_threads(41, update) == []
    assert sorted(statuses) == [200] * 40 + [429]


def test_a_replica_killed_mid_storm_loses_nothing_acknowledged(start: Callable[..., list[ServerProcess]]) -> None:
    survivor, victim = start(2, "--rate-limit", "off", "--journal-limit", "100000")
    with connect(survivor) as client:
        keys = [client.post(LIST, json={"name": f"w{n}-0", "flow": [{"channel": "SMS"}]}).json()["key"]
                for n in range(8)]
    acknowledged = [0] * 8
    attempted = [0] * 8
    done = threading.Event()

    def write(index: int) -> None:
        with connect(survivor) as first, connect(victim) as second:
            for version in range(1, 61):
                attempted[index] = version
                client = second if version % 2 else first
                try:
                    response = client.put(f"{LIST}/{keys[index]}", json={"name": f"w{index}-{version}"})
                except httpx.TransportError:
                    continue  # the victim is gone: not acknowledged
                if response.status_code == 200:
                    acknowledged[index] = version

    def kill_after_a_while() -> None:
        deadline = time.monotonic() + 30
        while sum(acknowledged) < 150 and time.monotonic() < deadline:
            time.sleep(0.005)
        victim.process.kill()
        done.set()

    killer = threading.Thread(target=kill_after_a_while)
    killer.start()
    assert run_threads(8, write) == []
    killer.join(timeout=60)
    assert done.is_set() and victim.process.wait(timeout=10) == -9
    assert sum(acknowledged) > 150
    with connect(survivor) as client:
        names = {s["key"]: s["name"] for s in client.get(LIST).json()["scenarios"]}
        journal = client.get("/__admin/requests", params={"method": "PUT", "status": 200}).json()["requests"]
    for index, key in enumerate(keys):
        version = int(names[key].rsplit("-", 1)[1])
        # The last acknowledged write is there, or the one in flight when the victim died.
        assert acknowledged[index] <= version <= attempted[index], (index, acknowledged[index], version)
    journaled = {entry["body"] for entry in journal}
    for index in range(8):
        assert f'{{"name":"w{index}-{acknowledged[index]}"}}' in journaled


def test_redis_restarted_mid_run_answers_the_envelope_then_recovers(
    start_on: Callable[..., list[ServerProcess]], tmp_path: Path,
) -> None:
    own = RedisServer(tmp_path)
    own.start()
    try:
        (replica,) = start_on(1, store=own.url)
        with connect(replica) as client:
            assert client.put(SEED, json={"name": "before"}).status_code == 200
            own.stop()  # SIGTERM: Redis writes its data and exits
            for _ in range(3):
                began = time.monotonic()
                response = client.put(SEED, json={"name": "during"})
                assert time.monotonic() - began < 2
                assert response.status_code == 500 and response.json() == GENERAL_ERROR
            xml = client.get(SEED, headers={"Accept": "application/xml"})
            assert xml.status_code == 500 and "<messageId>GENERAL_ERROR</messageId>" in xml.text
            admin = client.get("/__admin/requests")
            assert admin.status_code == 500 and admin.json() == GENERAL_ERROR
            own.start()
            deadline = time.monotonic() + 15
            while (response := client.get(SEED)).status_code != 200 and time.monotonic() < deadline:
                assert response.status_code == 500 and response.json() == GENERAL_ERROR  # nothing else meanwhile
                time.sleep(0.05)
            assert response.status_code == 200, (response.text, replica.output())
            assert response.json()["name"] == "before"  # nothing of "during" was applied
            # Back by itself: calls that meet the last moments of the recovery (scripts reloaded, pooled
            # connections reopened) may still get the envelope, never anything else, and not for long.
            while (changed := client.put(SEED, json={"name": "after"})).status_code != 200 and (
                    time.monotonic() < deadline):
                assert changed.status_code == 500 and changed.json() == GENERAL_ERROR, changed.text
                time.sleep(0.05)
            assert changed.status_code == 200 and changed.json()["name"] == "after", (changed.text, replica.output())
        # A line when Redis went, one when it came back: not a line per request, no traceback. (A hiccup while
        # it comes back, as above, is an outage of its own: a pair more at most.)
        lines = replica.output().splitlines()
        went = [line.endswith("answering 500 until it is back") for line in lines].count(True)
        assert 1 <= went == lines.count(f"mock-omni: Redis at {own.url} is back") <= 2, lines
        assert not any("Traceback" in line for line in lines), lines
    finally:
        own.stop()


def test_a_fault_added_on_one_replica_delays_and_drops_on_the_other(start: Callable[..., list[ServerProcess]]) -> None:
    one, two = start(2)
    with connect(one) as first, connect(two) as second:
        assert second.get(SEED).status_code == 200  # answered in the protocol, configuration cached
        first.post("/__admin/faults", json={"status": 503, "delayMs": 300, "times": 1, "path": SEED})
        began = time.monotonic()
        response = second.get(SEED)
        assert response.status_code == 503 and time.monotonic() - began >= 0.3
        assert second.get(SEED).status_code == 200
        first.post("/__admin/faults", json={"drop": True, "times": 1, "path": SEED})
        with pytest.raises(httpx.RemoteProtocolError):
            second.get(SEED)
        assert second.get(SEED).status_code == 200


def test_pipelined_requests_on_one_connection_are_answered_in_order(start: Callable[..., list[ServerProcess]]) -> None:
    """The first answer waits for Redis; the requests behind it (vendor or not) wait for it."""
    (replica,) = start(1)
    port = replica.port
    body = b'{"name":"first"}'
    requests = (
        f"PUT {SEED} HTTP/1.1\r\nHost: [::1]\r\nAuthorization: {ALADDIN_BASIC}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode() + body
        + f"GET {SEED} HTTP/1.1\r\nHost: [::1]\r\nAuthorization: {ALADDIN_BASIC}\r\n\r\n".encode()
        + b"GET /__admin/health HTTP/1.1\r\nHost: [::1]\r\n\r\n"
        + f"GET {SEED} HTTP/1.1\r\nHost: [::1]\r\nAuthorization: {ALADDIN_BASIC}\r\nConnection: close\r\n\r\n".encode()
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(requests)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = received.split(b"HTTP/1.1 ")[1:]
    assert [answer[:3] for answer in answers] == [b"200"] * 4
    assert b'"name":"first"' in answers[0] and b'"name":"first"' in answers[1]
    assert b'"status":"ok"' in answers[2] and b'"name":"first"' in answers[3]


def test_a_redis_that_hangs_costs_a_bounded_wait_then_recovers(
    start_on: Callable[..., list[ServerProcess]], tmp_path: Path,
) -> None:
    own = RedisServer(tmp_path)
    own.start()
    assert own.process is not None
    try:
        (replica,) = start_on(1, store=own.url)
        with connect(replica) as client:
            assert client.get(SEED).status_code == 200
            own.process.send_signal(signal.SIGSTOP)  # Redis accepts bytes but answers nothing
            try:
                began = time.monotonic()
                statuses = [client.get(SEED).status_code for _ in range(5)]
                # One timeout (1 s) for the first call; the next ones are answered at once meanwhile.
                assert statuses == [500] * 5 and time.monotonic() - began < 4
                assert client.get("/__admin/health").status_code == 500
            finally:
                own.process.send_signal(signal.SIGCONT)
            deadline = time.monotonic() + 10
            while (response := client.get(SEED)).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert response.status_code == 200
            assert client.get("/__admin/health").status_code == 200
    finally:
        own.stop()


def test_pushes_queued_on_a_replica_killed_outright_are_shown_dropped_by_the_survivor(
        start: Callable[..., list[ServerProcess]]) -> None:
    survivor, victim = start(2, "--rate-limit", "off")
    advanced = {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "hi"},
                "viber": {"text": "hi"}}
    with receiver(delay=30) as stalled, connect(survivor) as watcher:
        with connect(victim) as client:
            for _ in range(3):
                assert client.post("/omni/1/advanced", json=advanced | {"notifyUrl": stalled.url}).status_code == 200
        seen = watcher.get("/__admin/callbacks", params={"state": "pending", "count": 3, "wait": 10}).json()
        assert seen["reached"] and seen["pending"] == 3  # the victim is alive: its pushes are its own
        victim.process.kill()
        assert victim.process.wait(timeout=10) == -9
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listed = watcher.get("/__admin/callbacks").json()
            if listed["pending"] == 0:
                break
            time.sleep(0.25)
        assert listed["pending"] == 0, listed
        assert {(c["state"], c["reason"]) for c in listed["callbacks"]} == {
            ("dropped", "its replica stopped before sending it")}


def test_replicas_refuse_pages_on_other_sites_before_the_log_and_answer_head(
        start: Callable[..., list[ServerProcess]]) -> None:
    """A rebound Host, a cross-origin admin call and a text/plain admin body are refused by the replica that gets
    them (nothing reaches the log: the other replica sees no change); HEAD on a page answers as GET."""
    one, two = start(2)
    with connect(one) as first, connect(two) as second:
        assert first.put(SEED, json={"name": "kept"}).status_code == 200
        assert first.post("/__admin/reset", headers={"Origin": "http://evil.example"}).status_code == 403
        assert first.post("/__admin/reset", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
        rebound = first.put(SEED, json={"name": "rebound"}, headers={"Host": f"evil.example:{one.port}"})
        assert rebound.status_code == 403 and "MOCK_OMNI_ALLOWED_HOSTS=evil.example" in rebound.text
        assert second.get(SEED).json()["name"] == "kept"
        assert second.get("/__admin/faults").json()["faults"] == []
        head, got = second.head("/__admin/health"), second.get("/__admin/health")
        assert (head.status_code, head.content, head.headers["content-length"]) == (
            200, b"", got.headers["content-length"])
