"""Pushed reports of replicas on one Redis: each push is made once, by one replica, and every replica's
admin API sees it; a reset or a restore on one replica stops what another still has queued."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from .receiver import Receiver, receiver
from .sending import WALL_START, send
from .test_callbacks import callbacks, pushed_to, wait_for


@pytest.fixture
def replicas(replicas: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """Replicas whose callbacks are retried quickly, their dates from WALL_START."""
    return functools.partial(replicas, webhook_backoff=0.05, wall_clock=lambda: WALL_START)


@pytest.fixture
def target() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def test_a_push_made_by_one_replica_is_seen_by_the_other(
        replicas: Callable[..., TestClient], target: Receiver) -> None:
    one, two = replicas(), replicas()
    send(one, pushed_to(target.url, "R1"))
    send(two, pushed_to(target.url, "R2"))
    on_two = wait_for(two, 2)
    assert [c["messageId"] for c in on_two] == ["R1", "R2"]
    assert wait_for(one, 2) == on_two  # the same records, attempts and ids on both
    assert len({c["id"] for c in on_two}) == 2
    assert sorted(r["messageId"] for r in target.reports()) == ["R1", "R2"]  # each pushed once
    listed = callbacks(one)
    assert (listed["recorded"], listed["pending"]) == (2, 0)


def test_a_reset_on_one_replica_stops_the_pushes_queued_on_the_other(replicas: Callable[..., TestClient]) -> None:
    one, two = replicas(), replicas()
    with receiver(held=True) as slow:
        for n in range(3):
            send(one, pushed_to(slow.url, f"Q{n}"))
        assert callbacks(two)["pending"] == 3
        assert two.post("/__admin/reset").status_code == 200
        slow.release()
        assert callbacks(one)["callbacks"] == [] and callbacks(two)["pending"] == 0
        send(one, pushed_to(slow.url, "AFTER"))
        wait_for(two, 1)
        # One FIFO per URL on replica one: had Q1 or Q2 gone out, they would have come before AFTER.
        assert [report["messageId"] for report in slow.reports()][-1] == "AFTER"
        assert len(slow.received) <= 2 and "Q1" not in str(slow.reports())
        assert [c["messageId"] for c in callbacks(one)["callbacks"]] == ["AFTER"]


def test_a_snapshot_taken_on_one_replica_is_restored_on_the_other(
        replicas: Callable[..., TestClient], target: Receiver) -> None:
    one, two = replicas(), replicas()
    send(one, pushed_to(target.url, "S1"))
    (kept,) = wait_for(two, 1)
    assert one.post("/__admin/snapshots/one").status_code == 201
    send(two, pushed_to(target.url, "S2"))
    wait_for(one, 2)
    assert two.post("/__admin/snapshots/one/restore").status_code == 200
    assert callbacks(one)["callbacks"] == [kept] == callbacks(two)["callbacks"]
    send(two, pushed_to(target.url, "S3"))
    later = wait_for(one, 2)
    assert later[-1]["id"] > kept["id"] and later[-1]["messageId"] == "S3"  # ids never repeat after a restore
    assert len(target.received) == 3


def test_a_replica_that_stops_records_its_queued_pushes_as_dropped_for_all(
        replicas: Callable[..., TestClient]) -> None:
    one, two = replicas(), replicas()
    with receiver(held=True) as slow:
        for n in range(3):
            send(one, pushed_to(slow.url, f"D{n}"))
        one.__exit__(None, None, None)  # its lifespan ends: nothing more goes out from it
        found = callbacks(two)["callbacks"]
    assert [c["state"] for c in found] == ["dropped"] * 3
    assert {c["reason"] for c in found} == {"the server is shutting down"}


def test_a_reset_on_one_replica_abandons_the_stalled_attempt_of_the_other(replicas: Callable[..., TestClient]) -> None:
    one, two = replicas(webhook_timeout=120), replicas(webhook_timeout=120)
    with receiver(stall_first=1) as stalled:
        send(one, pushed_to(f"{stalled.url}/hook", "STALLED"))
        assert stalled.wait_arrived(1)
        assert two.post("/__admin/reset").status_code == 200
        send(one, pushed_to(f"{stalled.url}/hook", "NEXT"))
        # At once, not after the 120 s the stalled attempt had (wait_for gives up after 10 s).
        (callback,) = wait_for(two, 1)
        assert callback["messageId"] == "NEXT"
        stalled.release()
        assert [c["messageId"] for c in callbacks(one)["callbacks"]] == ["NEXT"]


def test_a_push_refused_on_one_replica_is_failed_on_every_replica(replicas: Callable[..., TestClient]) -> None:
    from mock_omni.api.webhook_targets import ADMIN_REFUSED

    one, two = replicas(), replicas()
    send(one, pushed_to("http://127.0.0.1:8080/x/../__admin/reset", "R"))
    (callback,) = wait_for(two, 1, state="failed")
    assert (callback["reason"], callback["attempts"]) == (ADMIN_REFUSED, [])
    assert callbacks(one)["callbacks"] == [callback]
