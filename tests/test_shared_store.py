"""Replicas on one Redis, in one process: what one does, the other sees on its next call.

Two apps built on the same store (key prefix) stand for two replicas behind a load
balancer; every admin change on one must hold on the other at once, with no waiting.
The process-level tests (real servers, kills, Redis restarts) are in test_replicas.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from redis.crc import key_slot
from starlette.testclient import TestClient

from mock_omni import Settings, create_app
from mock_omni.server.cli import main

from .conftest import ALADDIN_API_KEY, ALADDIN_BASIC, GENIE_BASIC, OTHER_KEY, SEED_KEY
from .redis_server import RedisServer, free_port

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
NEW = {"name": "New", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}


def keys_of(client: TestClient, query: str = "") -> list[str]:
    return [s["key"] for s in client.get(f"{LIST}{query}").json()["scenarios"]]


def defaults(client: TestClient) -> list[str]:
    return [s["key"] for s in client.get(LIST).json()["scenarios"] if s["default"]]


def test_a_change_on_one_replica_is_the_next_answer_of_the_other(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    created = one.post(LIST, json={**NEW, "default": True}).json()
    assert two.get(f"{LIST}/{created['key']}").json() == created
    assert defaults(two) == [created["key"]]
    assert two.put(SEED, json={"default": True}).status_code == 200
    assert defaults(one) == [SEED_KEY]
    # Keys drawn by both replicas' factories (both count from 1) never overwrite each other.
    second = two.post(LIST, json=NEW).json()
    assert second["key"] != created["key"] and keys_of(one)[-2:] == [created["key"], second["key"]]


def test_a_replica_joining_a_store_keeps_its_state(replicas: Callable[[], TestClient]) -> None:
    one = replicas()
    one.put(SEED, json={"name": "changed"})
    late = replicas()
    assert late.get(SEED).json()["name"] == "changed"


def test_the_rate_limit_counts_calls_on_every_replica(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    statuses = [(one if n % 2 else two).put(SEED, json={}).status_code for n in range(41)]
    assert statuses == [200] * 40 + [429]
    # Limits changed on one replica apply on the other at once, and advancing the clock refills.
    one.put("/__admin/rate-limits", json={"limits": {"update": "1/10m"}})
    assert [two.put(SEED, json={}).status_code for _ in range(2)] == [200, 429]
    one.post("/__admin/clock/advance", json={"seconds": 600})
    assert two.get("/__admin/clock").json() == {"offsetSeconds": 600.0}
    assert [two.put(SEED, json={}).status_code for _ in range(2)] == [200, 429]
    one.delete("/__admin/rate-limits")
    assert two.put(SEED, json={}).status_code == 200


def test_a_fault_added_on_one_replica_fails_the_next_call_on_the_other(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    two.get(LIST)  # the second replica has its configuration cached
    one.post("/__admin/faults", json={"status": 503, "times": 2, "path": SEED})
    assert [two.get(SEED).status_code, one.get(SEED).status_code, two.get(SEED).status_code] == [503, 503, 200]
    assert [rule["hits"] for rule in two.get("/__admin/faults").json()["faults"]] == [2]
    one.post("/__admin/faults", json={"status": 500, "account": "Genie"})
    assert two.get(SEED).status_code == 200
    assert two.get(LIST, headers={"Authorization": GENIE_BASIC}).status_code == 500
    assert one.delete("/__admin/faults").json() == {"removed": 2}
    assert two.get(LIST, headers={"Authorization": GENIE_BASIC}).status_code == 200


def test_a_fault_does_not_answer_wrong_credentials_on_any_replica(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    one.post("/__admin/faults", json={"status": 503})
    response = two.get(LIST, headers={"Authorization": "Basic QWxhZGRpbjp3cm9uZw=="})
    assert response.status_code == 401
    journal = one.get("/__admin/requests").json()["requests"]
    assert [(e["status"], e["account"]) for e in journal] == [(401, None)]
    assert two.get(LIST).status_code == 503


def test_reset_and_state_import_on_one_replica_hold_for_all(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    created = one.post(LIST, json=NEW).json()["key"]
    two.post("/__admin/faults", json={"status": 500, "path": "/nowhere"})
    two.post("/__admin/reset")
    assert created not in keys_of(one)
    assert one.get("/__admin/faults").json()["faults"] == []
    assert one.get("/__admin/requests").json()["requests"] == [] or all(
        e["path"] == LIST for e in one.get("/__admin/requests").json()["requests"])
    state = one.get("/__admin/state").json()
    state["accounts"][0]["scenarios"] = state["accounts"][0]["scenarios"][:1]
    assert two.put("/__admin/state", json=state).status_code == 200
    assert keys_of(one) == [SEED_KEY]


def test_accounts_credentials_and_snapshots_are_shared(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    made = one.post("/__admin/accounts", json={"username": "temp", "seedAccount": "Aladdin"}).json()
    basic = made["authorization"]["basic"]
    app_key = made["authorization"]["app"]
    assert two.get(SEED, headers={"Authorization": basic}).status_code == 200
    assert two.get(SEED, headers={"Authorization": app_key}).status_code == 200
    assert one.post("/__admin/snapshots/before", params={"account": "temp"}).status_code == 201
    two.put(SEED, json={"name": "changed"}, headers={"Authorization": basic})
    assert two.post("/__admin/snapshots/before/restore", params={"account": "temp"}).status_code == 200
    assert one.get(SEED, headers={"Authorization": basic}).json()["name"] == "Test SMS or VIBER"
    # Removed on one replica: the other, which has the API key's account remembered, refuses it.
    assert one.delete("/__admin/accounts/temp").status_code == 200
    assert two.get(SEED, headers={"Authorization": app_key}).status_code == 401
    assert two.get(SEED, headers={"Authorization": basic}).status_code == 401
    assert [a["username"] for a in two.get("/__admin/accounts").json()["accounts"]] == ["Aladdin", "Genie"]
    assert two.post("/__admin/reset", params={"account": "temp"}).status_code == 404


def test_an_api_key_moved_to_another_account_follows_it(replicas: Callable[[], TestClient]) -> None:
    one, two = replicas(), replicas()
    header = {"Authorization": f"App {ALADDIN_API_KEY}"}
    assert two.get(SEED, headers=header).status_code == 200  # remembered: the key is Aladdin's
    state = one.get("/__admin/state").json()
    aladdin, genie = state["accounts"]
    genie["apiKeys"], aladdin["apiKeys"] = aladdin["apiKeys"], []
    assert one.put("/__admin/state", json=state).status_code == 200
    assert two.get(SEED, headers=header).status_code == 404  # Genie's now: no such scenario of Genie's
    assert two.get(LIST, headers=header).json()["scenarios"][0]["key"] != SEED_KEY


def test_a_wiped_store_is_seeded_again_and_serves(replicas: Callable[[], TestClient],
                                                  redis_server: RedisServer) -> None:
    one, two = replicas(), replicas()
    one.put(SEED, json={"name": "changed"})
    redis_server.client().flushdb()
    assert two.get(SEED).json()["name"] == "Test SMS or VIBER"
    assert one.put(f"{LIST}/{OTHER_KEY}", json={"default": True}).status_code == 200
    assert defaults(two) == [OTHER_KEY]


def test_the_journal_merges_every_account_in_order_and_is_bounded(redis_server: RedisServer) -> None:
    app = create_app(Settings(store=redis_server.store_url, store_prefix=f"test-{uuid.uuid4().hex}", journal_limit=4))
    try:
        with TestClient(app) as client:
            for n in range(3):
                client.get(LIST, params={"n": n}, headers={"Authorization": ALADDIN_BASIC})
                client.get(LIST, params={"n": n}, headers={"Authorization": GENIE_BASIC})
                client.get(LIST, params={"n": n})  # 401: no account
            journal = client.get("/__admin/requests").json()
        assert [(e["query"], e["account"]) for e in journal["requests"]] == [
            ("n=1", None), ("n=2", "Aladdin"), ("n=2", "Genie"), ("n=2", None)]
        assert journal["recorded"] == 9
    finally:
        app.close()
        redis_server.client().flushdb()


# --- start-up --------------------------------------------------------------------------------

def test_an_unreachable_redis_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["serve", "--store", url, "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mock-omni: cannot reach Redis at {url}: ") and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--store", "mysql://x"], "mock-omni: --store: expected 'memory' or a Redis URL"),
        (["--store", "redis://127.0.0.1:1/0", "--state-file", "s.json"], "mock-omni: --state-file: keeps one"),
        (["--store-prefix", "a{b}"], "mock-omni: --store-prefix: expected a non-empty name"),
    ],
)
def test_bad_store_settings_are_one_line_and_exit_2(argv: list[str], message: str,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_the_password_of_a_redis_url_is_not_shown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--store", f"redis://user:hunter2@127.0.0.1:{free_port()}/0"]) == 1
    err = capsys.readouterr().err
    assert "hunter2" not in err and "user:***@127.0.0.1" in err


def test_replicas_with_other_prefixes_do_not_meet(redis_server: RedisServer) -> None:
    url = redis_server.store_url
    apps = [create_app(Settings(store=url, store_prefix=f"test-{uuid.uuid4().hex}")) for _ in range(2)]
    try:
        with TestClient(apps[0], headers={"Authorization": ALADDIN_BASIC}) as one, \
                TestClient(apps[1], headers={"Authorization": ALADDIN_BASIC}) as two:
            one.put(SEED, json={"name": "only here"})
            assert two.get(SEED).json()["name"] == "Test SMS or VIBER"
    finally:
        for app in apps:
            app.close()
        redis_server.client().flushdb()


def test_every_key_of_a_store_is_in_one_hash_slot(replicas: Callable[[], TestClient],
                                                   redis_server: RedisServer) -> None:
    one = replicas()
    made = one.post("/__admin/accounts", json={"username": "we{ird}*name", "seedAccount": "Aladdin"}).json()
    for authorization in (ALADDIN_BASIC, made["authorization"]["basic"]):
        assert one.put(SEED, json={}, headers={"Authorization": authorization}).status_code == 200
    one.get("/__admin/health")
    names = [key.decode() for key in redis_server.client().scan_iter(count=1000)]
    # The log, its meta, the health probe and the replica's heartbeat: one Redis Cluster slot, whatever the names.
    assert len(names) >= 3, names
    assert len({key_slot(name.encode()) for name in names}) == 1, names


def test_an_outage_noticed_by_many_threads_at_once_is_one_line_and_so_is_its_end(
        caplog: pytest.LogCaptureFixture) -> None:
    """The loop's pipe and the admin threads notice a lost Redis together (CI once saw two 'unreachable' lines)."""
    import sys
    import threading

    from redis.exceptions import ConnectionError as RedisConnectionError

    from mock_omni.replication.log import RedisLog

    link = RedisLog(f"redis://127.0.0.1:{free_port()}/0", "test")
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: the race, if any, shows
    try:
        for _ in range(20):
            caplog.clear()
            for action in (lambda: link.failed(RedisConnectionError("gone")), link.recovered):
                barrier = threading.Barrier(16)

                def together(act: Callable[[], object] = action, gate: threading.Barrier = barrier) -> None:
                    gate.wait()
                    act()

                threads = [threading.Thread(target=together) for _ in range(16)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            messages = [record.getMessage() for record in caplog.records]
            assert sum(m.endswith("answering 500 until it is back") for m in messages) == 1, messages
            assert sum(m.endswith("is back") and "unreachable" not in m for m in messages) == 1, messages
    finally:
        sys.setswitchinterval(interval)


def test_an_entry_no_replica_can_apply_is_passed_over_by_every_replica(
        replicas: Callable[[], TestClient], redis_server: RedisServer) -> None:
    one, two = replicas(), replicas()
    assert one.put(SEED, json={"name": "before"}).status_code == 200
    client = redis_server.client()
    (log,) = [key for key in client.scan_iter(match="*:log") if key.startswith(b"{test-")]
    client.rpush(log, b"not an entry of any version")
    # The replica that meets it first, and every other, goes on past it: nothing is stuck behind it.
    assert two.put(SEED, json={"name": "after"}).status_code == 200
    assert one.get(SEED).json()["name"] == "after"
    for replica in (one, two):
        recorded = replica.get("/__admin/errors").json()["errors"]
        assert [e for e in recorded if "of the log" in e["request"]], recorded


def test_replicas_given_different_admin_tokens_each_let_in_their_own_and_all_apply_it(
        replicas: Callable[..., TestClient], redis_server: RedisServer) -> None:
    one, two = replicas(admin_token="token-one"), replicas(admin_token="token-two")
    made = one.post("/__admin/accounts", json={"username": "shared", "password": "pw"},
                    headers={"X-Admin-Token": "token-one"})
    assert made.status_code == 201
    listed = two.get("/__admin/accounts", headers={"X-Admin-Token": "token-two"}).json()
    assert "shared" in [a["username"] for a in listed["accounts"]]
    # A change refused by its replica's token is answered 401 there and never reaches the log.
    (log,) = [key for key in redis_server.client().scan_iter(match="*:log") if key.startswith(b"{test-")]
    length = redis_server.client().llen(log)
    refused = two.post("/__admin/accounts", json={"username": "x", "password": "pw"},
                       headers={"X-Admin-Token": "token-one"})
    assert refused.status_code == 401 and redis_server.client().llen(log) == length


def test_a_reset_through_the_app_object_of_one_replica_resets_every_replica(
        replicas: Callable[..., TestClient]) -> None:
    one, two = replicas(), replicas()
    assert two.put(SEED, json={"name": "changed"}).status_code == 200
    one.app.reset()  # type: ignore[attr-defined]
    assert two.get(SEED).json()["name"] != "changed" and one.get(SEED).json()["name"] != "changed"


def test_a_call_held_by_a_delay_fault_across_a_reset_on_another_replica_leaves_no_trace(
        replicas: Callable[..., TestClient]) -> None:
    import threading

    from mock_omni.testing.faults import ConnectionDropped

    one, two = replicas(), replicas()
    assert one.post("/__admin/faults", json={"path": LIST, "method": "POST", "delayMs": 600, "times": 1}
                    ).status_code == 201
    outcome: list[object] = []

    def held() -> None:
        try:
            outcome.append(one.post(LIST, json={**NEW, "name": "held"}))
        except ConnectionDropped as dropped:
            outcome.append(dropped)

    thread = threading.Thread(target=held)
    thread.start()
    time.sleep(0.2)
    assert two.post("/__admin/reset").status_code == 200
    thread.join(timeout=10)
    assert isinstance(outcome[0], ConnectionDropped), outcome
    for replica in (one, two):
        assert "held" not in [s.get("name") for s in replica.get(LIST).json()["scenarios"]]
        assert replica.get("/__admin/requests", params={"method": "POST"}).json()["requests"] == []


def test_a_replica_whose_state_shaping_settings_differ_says_which(redis_server: RedisServer,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Replicas must agree on what shapes the state (message bytes, where pushes may go...): one that does not
    is told at start, one line per setting."""
    prefix = f"test-{uuid.uuid4().hex}"
    first = create_app(Settings(store=redis_server.store_url, store_prefix=prefix, webhook_allow=["10.0.0.0/8"]))
    try:
        with caplog.at_level("WARNING", logger="mock_omni"):
            second = create_app(Settings(store=redis_server.store_url, store_prefix=prefix,
                                         webhook_allow=["192.168.0.0/16"], message_bytes="8MiB"))
            second.close()
    finally:
        first.close()
    lines = [record.getMessage() for record in caplog.records if "differs from the replica" in record.getMessage()]
    assert any(line.startswith("mock-omni: --webhook-allow differs") and "here 192.168.0.0/16, there 10.0.0.0/8" in line
               for line in lines), lines
    assert any(line.startswith("mock-omni: --message-bytes differs") and "here 8MiB, there 64MiB" in line
               for line in lines), lines
