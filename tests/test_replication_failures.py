"""Redis failures, each proved on a real Redis: data lost behind the mock's back, a stalled Redis, an evicting
Redis, a full Redis, long-polls that must not poll Redis, and replicas started with other settings.

Real servers (``mock-omni serve``) where the behaviour is a server's; in-process replicas elsewhere. Every
loop and wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni.replication.entries import SEED as SEED_KIND
from mock_omni.replication.entries import Entry
from mock_omni.replication.log import RedisLog, StoreUnavailable
from mock_omni.testing.process import ServerProcess

from . import test_replicas
from .conftest import ALADDIN_API_KEY
from .receiver import receiver
from .redis_server import RedisServer
from .sending import WALL_START, send
from .test_callbacks import pushed_to
from .test_replicas import GENERAL_ERROR, SEED, connect

pytestmark = pytest.mark.slow
#: ``start(n, *args, store=URL)``: n ``mock-omni serve`` replicas of one fresh store (test_replicas.py).
start = test_replicas.start_on

FIXTURE_NAME = "Test SMS or VIBER"
API_KEY = {"Authorization": f"App {ALADDIN_API_KEY}"}
#: Every call of the vendor API: a fault rule that matches whatever comes.
EVERY_CALL = {"status": 503}


@contextmanager
def own_redis(folder: Path, *options: str) -> Iterator[RedisServer]:
    """A Redis of the test's own (it is stopped, filled or reconfigured), with ``options``."""
    server = RedisServer(folder, options=options)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def until(call: Callable[[], httpx.Response], ok: Callable[[httpx.Response], bool], seconds: float = 15,
          ) -> httpx.Response:
    """``call()`` again until ``ok`` says yes (at most ``seconds``); meanwhile only the vendor's 500 envelope."""
    deadline = time.monotonic() + seconds
    while not ok(response := call()) and time.monotonic() < deadline:
        assert response.status_code == 500 and response.json() == GENERAL_ERROR, response.text
        time.sleep(0.05)
    return response


def seeded_again(client: httpx.Client | TestClient) -> None:
    """The fixture state, served: valid credentials work, the accounts are there, no fault is left."""
    for headers in ({}, API_KEY):
        response = client.get(SEED, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["name"] == FIXTURE_NAME
    assert [a["username"] for a in client.get("/__admin/accounts").json()["accounts"]] == ["Aladdin", "Genie"]
    assert client.get("/__admin/faults").json()["faults"] == []
    assert client.get("/__admin/health").status_code == 200


# --- 1. data lost behind the mock's back ---------------------------------------------------------

def test_data_flushed_while_a_fault_rule_matches_is_noticed_and_seeded_again_on_every_replica(
        replicas: Callable[..., TestClient], redis_server: RedisServer) -> None:
    one, two = replicas(), replicas()
    assert one.put(SEED, json={"name": "changed"}).status_code == 200
    assert one.post("/__admin/faults", json=EVERY_CALL).status_code == 201
    assert [two.get(SEED).status_code, two.get(SEED, headers=API_KEY).status_code] == [503, 503]
    redis_server.client().flushall()
    for client in (two, one):
        seeded_again(client)
    # And it serves on: a change on one is the other's next answer.
    assert one.put(SEED, json={"name": "after"}).status_code == 200
    assert two.get(SEED).json()["name"] == "after"


def test_a_redis_restarted_without_persistence_while_a_fault_matches_is_seeded_again_on_every_replica(
        start: Callable[..., list[ServerProcess]], tmp_path: Path) -> None:
    with own_redis(tmp_path, "--appendonly", "no") as own:
        one, two = start(2, store=own.url)
        with connect(one) as first, connect(two) as second:
            assert first.put(SEED, json={"name": "changed"}).status_code == 200
            assert first.post("/__admin/faults", json=EVERY_CALL).status_code == 201
            assert second.get(SEED).status_code == 503
            own.stop(signal.SIGKILL)  # gone with everything it held
            own.start()
            assert own.client().dbsize() == 0
            for client in (second, first):
                response = until(lambda c=client: c.get(SEED), lambda r: r.status_code != 500)  # type: ignore[misc]
                assert response.status_code == 200, (response.text, one.output(), two.output())
                seeded_again(client)


def test_connections_redis_closed_while_idle_are_opened_again_not_answered_500(
        start: Callable[..., list[ServerProcess]], tmp_path: Path) -> None:
    """CLIENT KILL (or a proxy in front of Redis, or Redis's own `timeout`, ending idle clients) closed the
    replicas' connections between two calls: the next call was sent on a dead connection and answered 500, and
    so were the calls after it for a pause, though Redis was there all along. Nothing was sent on such a
    connection: connecting again is safe."""
    with own_redis(tmp_path) as own:
        one, two = start(2, store=own.store_url)
        with connect(one) as first, connect(two) as second:
            for round_ in range(3):
                assert first.put(SEED, json={"name": f"before {round_}"}).status_code == 200
                assert second.get(SEED).json()["name"] == f"before {round_}"
                assert own.client().client_kill_filter(_type="normal", skipme=True) >= 2
                for client in (first, second):
                    changed = client.put(SEED, json={"name": f"after {round_}"})
                    assert changed.status_code == 200, (changed.text, one.output(), two.output())
                assert first.get(SEED).json() == second.get(SEED).json()
        for replica in (one, two):
            assert "unreachable" not in replica.output(), replica.output()


# --- 2. a stalled Redis: a call answered 500 changes nothing afterwards --------------------------

def test_an_append_that_reaches_a_stalled_redis_after_its_deadline_is_refused_there(tmp_path: Path) -> None:
    with own_redis(tmp_path) as own:
        assert own.process is not None
        link = RedisLog(own.url, f"test-{uuid.uuid4().hex[:12]}")
        link.check()
        seed = Entry(SEED_KIND, "test", 0.0, 0.0).encode()
        first = link.append("", 0, [], "epoch-1", seed)
        assert len(first.entries) == 1
        own.process.send_signal(signal.SIGSTOP)
        try:
            began = time.monotonic()
            with pytest.raises(StoreUnavailable):
                link.append(first.epoch, 1, [b"late entry"], "epoch-2", seed)
            assert time.monotonic() - began < 2
            time.sleep(1.0)  # Redis reads the append once it resumes, after its deadline
        finally:
            own.process.send_signal(signal.SIGCONT)
        client = own.client()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the append is read and run (or refused) by now
            if client.ping() and "cmdstat_evalsha" in str(client.info("commandstats")):
                break
        time.sleep(0.2)
        assert client.lrange(link.keys[0], 0, -1) == [seed]
        link.close()


def test_a_put_answered_500_while_redis_stalls_changes_nothing_and_is_journaled_as_500(
        start: Callable[..., list[ServerProcess]], tmp_path: Path) -> None:
    with own_redis(tmp_path) as own:
        assert own.process is not None
        (replica,) = start(1, store=own.url)
        with connect(replica) as client:
            assert client.put(SEED, json={"name": "before"}).status_code == 200
            for attempt in range(5):
                name = f"during-{attempt}"
                own.process.send_signal(signal.SIGSTOP)  # longer than the 1 s timeout
                try:
                    began = time.monotonic()
                    response = client.put(SEED, json={"name": name})
                    assert response.status_code == 500 and response.json() == GENERAL_ERROR, response.text
                    time.sleep(max(0.0, 2.0 - (time.monotonic() - began)))
                finally:
                    own.process.send_signal(signal.SIGCONT)
                response = until(lambda: client.get(SEED), lambda r: r.status_code == 200)
                assert response.status_code == 200, replica.output()
                assert response.json()["name"] == "before", (attempt, response.json()["name"])
                time.sleep(0.5)  # anything Redis still held from the stall has run by now
                assert client.get(SEED).json()["name"] == "before", attempt
                journal = client.get("/__admin/requests", params={"method": "PUT"}).json()["requests"]
                said = [entry["status"] for entry in journal if entry["body"] == f'{{"name":"{name}"}}']
                assert said == [500], (attempt, journal)


# --- 3. a Redis that may evict is refused at start -----------------------------------------------

@pytest.mark.parametrize("policy", ["allkeys-lru", "volatile-ttl"])
def test_a_redis_that_may_evict_is_refused_at_start_in_one_line(policy: str, tmp_path: Path) -> None:
    with own_redis(tmp_path, "--maxmemory-policy", policy) as own:
        done = subprocess.run(
            [sys.executable, "-m", "mock_omni", "serve", "--store", own.url, "--port", "0", "--quiet"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    line = done.stderr.strip()
    assert line.startswith("mock-omni: ") and f"maxmemory-policy {policy}" in line, line
    assert "CONFIG SET maxmemory-policy noeviction" in line, line


def test_a_redis_that_may_evict_since_the_start_fails_health(tmp_path: Path) -> None:
    from mock_omni import Settings, create_app

    with own_redis(tmp_path) as own:
        app = create_app(Settings(store=own.url, store_prefix=f"test-{uuid.uuid4().hex[:12]}"))
        try:
            with TestClient(app) as client:
                assert client.get("/__admin/health").status_code == 200
                own.client().config_set("maxmemory-policy", "allkeys-lru")
                assert client.get("/__admin/health").status_code == 500
                own.client().config_set("maxmemory-policy", "noeviction")
                assert client.get("/__admin/health").status_code == 200
        finally:
            app.close()


# --- 4. a full Redis ---------------------------------------------------------------------------

def test_a_full_redis_answers_the_envelope_fails_health_and_a_reset_frees_it(
        start: Callable[..., list[ServerProcess]], tmp_path: Path) -> None:
    with own_redis(tmp_path, "--appendonly", "no") as own:
        (replica,) = start(1, "--rate-limit", "off", store=own.url)
        redis_client = own.client()
        with connect(replica) as client:
            assert client.put(SEED, json={"name": "before"}).status_code == 200
            used = int(redis_client.info("memory")["used_memory"])
            limit = used + 2 * 1024 * 1024
            redis_client.config_set("maxmemory", limit)  # noeviction: the default
            # Bodies of 256 KiB (each is an entry of the log, whatever its answer) until Redis is full. A 500 on
            # a loaded machine may be an append past its deadline: full is when Redis says it is over its limit.
            big = b'{"name": "' + b"x" * (256 * 1024) + b'"}'
            statuses = []
            for _ in range(40):
                response = client.put(SEED, content=big, headers={"Content-Type": "application/json"})
                statuses.append(response.status_code)
                if response.status_code == 500 and int(redis_client.info("memory")["used_memory"]) > limit:
                    break
            assert statuses[-1] == 500 and set(statuses) <= {200, 400, 500}, statuses
            for call in (lambda: client.put(SEED, json={"name": "full"}), lambda: client.get(SEED),
                         lambda: client.get(SEED, headers={"Accept": "application/xml"})):
                response = call()
                assert response.status_code == 500, response.text
                assert "GENERAL_ERROR" in response.text and "Traceback" not in response.text
            assert client.get("/__admin/health").status_code != 200
            reset = client.post("/__admin/reset")
            assert reset.status_code == 200, (reset.text, replica.output())
            assert client.put(SEED, json={"name": "after"}).status_code == 200
            assert client.get(SEED).json()["name"] == "after"
            assert client.get("/__admin/health").status_code == 200
            # The calls answered 500 before the reset are not journaled after it (a reset empties the journal).
            journal = client.get("/__admin/requests", params={"method": "PUT"}).json()["requests"]
            assert [entry["body"] for entry in journal] == ['{"name":"after"}']
        redis_client.close()


# --- 5. waiting for callbacks does not poll Redis ---------------------------------------------

def redis_commands(server: RedisServer) -> int:
    """Commands Redis has run, but for the INFO calls that count them."""
    client = server.client()
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return sum(int(value["calls"]) for name, value in stats.items() if name != "cmdstat_info")


def rate(server: RedisServer, seconds: float) -> float:
    before = redis_commands(server)
    time.sleep(seconds)
    return (redis_commands(server) - before) / seconds


def test_150_long_polls_on_one_replica_do_not_poll_redis(
        start: Callable[..., list[ServerProcess]], tmp_path: Path) -> None:
    with own_redis(tmp_path) as own:
        (replica,) = start(1, store=own.url)
        time.sleep(1.0)
        idle = rate(own, 2.0)
        answers: list[int] = []

        async def poll_all() -> None:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=replica.url, timeout=60, limits=limits) as client:
                polls = [client.get("/__admin/callbacks", params={"wait": 15, "count": 1}) for _ in range(150)]
                answers.extend(response.status_code for response in await asyncio.gather(*polls))

        polling = threading.Thread(target=asyncio.run, args=(poll_all(),))
        polling.start()
        windows: list[float] = []
        try:
            # Each poll begins its wait with one append (its look at the log); on a loaded machine the last ones
            # begin seconds after the first. Once they all wait, a window is as quiet as when nobody waits.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not answers:
                windows.append(rate(own, 1.0))
                if len(windows) >= 2 and max(windows[-2:]) <= idle * 1.5 + 5:
                    break
            still_waiting = not answers
        finally:
            polling.join(timeout=60)
        assert not polling.is_alive()
        assert answers == [200] * 150
        # Per replica, not per waiter: while all 150 wait, the same few commands a second as when nobody waits.
        assert still_waiting, (idle, windows)
        assert len(windows) >= 2 and max(windows[-2:]) <= min(idle * 1.5 + 5, 20), (idle, windows)


def test_a_callback_pushed_by_one_replica_is_seen_promptly_by_a_long_poll_on_the_other(
        replicas: Callable[..., TestClient]) -> None:
    one, two = (replicas(webhook_backoff=0.05, wall_clock=lambda: WALL_START) for _ in range(2))
    with receiver() as target:
        for round_ in range(5):
            seen: list[float] = []

            def poll(count: int = round_ + 1, seen: list[float] = seen) -> None:
                answer = two.get("/__admin/callbacks", params={"wait": 5, "count": count}).json()
                assert answer["reached"], answer
                seen.append(time.monotonic())

            waiter = threading.Thread(target=poll)
            waiter.start()
            time.sleep(0.3)  # the long-poll waits
            send(one, pushed_to(target.url, f"P{round_}"))
            sent = time.monotonic()
            waiter.join(timeout=10)
            assert not waiter.is_alive() and seen, "the long-poll did not see the callback"
            # Told by Redis (pub/sub), not found by the once-a-second look of an idle replica.
            assert seen[0] - sent < 0.3, (round_, seen[0] - sent)


# --- 6. replicas with other settings ---------------------------------------------------------

def differing_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "mock_omni" and "began the state on Redis" in record.getMessage()]


def test_a_replica_joining_with_other_settings_says_so_once_per_setting(
        replicas: Callable[..., TestClient], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "mock_omni")
    replicas()
    replicas()  # the same settings: nothing to say
    assert differing_lines(caplog) == []
    fixtures = str(Path(__file__).parents[1] / "fixtures" / "team-example.yaml")
    replicas(fixtures=[fixtures], rate_limits={}, message_limit=50, journal_limit=1000, message_bytes="8MiB")
    lines = differing_lines(caplog)
    assert len(lines) == 4, lines
    by_flag = {line.split()[1]: line for line in lines}
    assert set(by_flag) == {"--fixtures", "--rate-limit", "--message-limit", "--message-bytes"}, lines
    assert "here 8MiB" in by_flag["--message-bytes"] and "there 64MiB" in by_flag["--message-bytes"]
    assert f"here {fixtures}" in by_flag["--fixtures"] and "there the embedded set" in by_flag["--fixtures"]
    assert "here off" in by_flag["--rate-limit"] and "update=40/10m" in by_flag["--rate-limit"]
    assert "here 50" in by_flag["--message-limit"] and "there 10000" in by_flag["--message-limit"]
    assert all(line.count("\n") == 0 for line in lines)


def test_replicas_drop_the_same_messages_past_the_byte_bound(replicas: Callable[..., TestClient]) -> None:
    one, two = replicas(message_bytes="4MiB"), replicas(message_bytes="4MiB")
    text = "é" * 450_000  # 900,000 bytes in UTF-8: the bound counts bytes, not characters
    for n in range(6):
        body = {"destinations": [{"to": {"phoneNumber": f"4179302672{n}"}}], "sms": {"text": text},
                "viber": {"text": "v"}}
        assert (one if n % 2 else two).post("/omni/1/advanced", json=body).status_code == 200
    seen = [client.get("/__admin/messages").json() for client in (one, two)]
    for listed in seen:
        assert (listed["kept"], listed["dropped"]) == (4, 2) and 4 * 900_000 < listed["bytes"] <= 4 * 1024 * 1024
    assert seen[0]["bytes"] == seen[1]["bytes"]
    assert [m["messageId"] for m in seen[0]["messages"]] == [m["messageId"] for m in seen[1]["messages"]]
