"""The differential test (tests/differential.py): one memory app and two Redis replicas taken in turn answer
the same seeded random sequence of vendor and admin calls alike, ids, keys, tokens and dates masked."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from .differential import VOLATILE_TEXT, Call, Masker, run, sequence
from .redis_server import RedisCluster, RedisServer

SEEDS = range(20)
CALLS = 60


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    yield redis_server.store_url
    redis_server.client().flushdb()


@pytest.fixture
def cluster_url(redis_cluster: RedisCluster) -> Iterator[str]:
    yield redis_cluster.store_url
    redis_cluster.flushall()


# On the store before issue 19, 7 of these 20 seeds disagreed (an account hash written by a read of a missing
# account; `sent` grown by snapshot restores): `python -m tests.differential` prints any disagreement in full.
@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_memory_and_two_redis_replicas_answer_alike(seed: int, redis_url: str) -> None:
    found = run(seed, CALLS, redis_url)
    assert not found, str(found[0])


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS[:3])
def test_memory_and_two_replicas_on_a_redis_cluster_answer_alike(seed: int, cluster_url: str) -> None:
    found = run(seed, CALLS, cluster_url)
    assert not found, str(found[0])


# The harness itself: no disagreement of its own making, and a real one is shown with what it takes to replay it.


@pytest.mark.parametrize("seed", SEEDS[:5])
def test_two_memory_apps_answer_alike(seed: int) -> None:
    assert run(seed, CALLS, None) == []


def test_a_disagreement_shows_the_seed_the_call_and_both_answers() -> None:
    # The other side keeps one message: /__admin/messages says "limit": 1 where memory says 10000.
    found = next(found for seed in range(50) if (found := run(seed, CALLS, None, other={"message_limit": 1})))
    first = found[0]
    shown = str(first)
    assert first.call.path == "/__admin/messages" or first.call.path.startswith("/omni/1/")
    assert f"seed {first.seed}, call {first.index} (to memory): {first.call}" in shown
    assert f"memory: {first.memory.status}" in shown and "masked memory:" in shown
    assert first.masked_memory != first.masked_other
    assert sequence(first.seed, CALLS)[first.index] == first.call


def test_sequences_are_the_seeds() -> None:
    assert sequence(3, CALLS) == sequence(3, CALLS)
    assert sequence(3, CALLS) != sequence(4, CALLS)
    assert {call.path.split("/")[1] for call in sequence(0, 200)} == {"omni", "auth", "__admin"}


def test_masking_numbers_volatile_values_in_order_of_first_appearance() -> None:
    masker = Masker()
    key, message = "0000000000000000000000000000000A", "6e3c3b6a-9f65-4bb6-b0b7-8f1f2b1d8b3c"
    answer = {"messages": [{"messageId": message, "scenarioKey": key, "sentAt": "2015-02-23T16:41:11.000+0000"},
                           {"messageId": message, "password": "s6KDQT741L96Nb20", "to": "41790000001"}],
              "body": json.dumps({"scenarioKey": key.lower()}), "timestamp": 1796576212.8}
    assert masker.mask(answer) == {
        "messages": [{"messageId": "<0>", "scenarioKey": "<1>", "sentAt": "<2>"},
                     {"messageId": "<0>", "password": "<3>", "to": "41790000001"}],
        "body": '{"scenarioKey": "<1>"}', "timestamp": "<timestamp>"}
    # Another side whose ids differ, in the same pattern, masks alike.
    other = json.loads(json.dumps(answer).replace(message, "11111111-2222-3333-4444-555555555555")
                       .replace(key, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").replace(key.lower(), "f" * 32))
    assert Masker().mask(other) == masker.mask(answer) == Masker().mask(answer)
    assert VOLATILE_TEXT.search("user-c5832a0aa18d") and not VOLATILE_TEXT.search("41790000001")


def test_calls_show_what_they_send() -> None:
    call = Call("PUT", "/omni/1/scenarios/{scenario:3}", "aladdin", {"a": "1"}, json={"name": "n"})
    assert str(call) == 'PUT /omni/1/scenarios/{scenario:3}?a=1 [auth aladdin] json={"name": "n"}'
