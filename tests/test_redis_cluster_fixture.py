"""The test cluster (redis_server.running_cluster) is a real Redis Cluster: three masters sharing the slots,
keys placed by their hash tag, and scripts refused across slots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
import redis.cluster

from .redis_server import RedisCluster, cluster_info, keyslot

pytestmark = pytest.mark.slow

TWO_KEYS = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('SET', KEYS[2], ARGV[1]); return redis.call('GET', KEYS[2])"


@pytest.fixture
def cluster(redis_cluster: RedisCluster) -> Iterator[RedisCluster]:
    yield redis_cluster
    redis_cluster.flushall()


@pytest.fixture
def client(cluster: RedisCluster) -> Iterator[redis.cluster.RedisCluster]:
    client = cluster.client()
    yield client
    client.close()


def test_three_masters_are_ok_and_share_every_slot(cluster: RedisCluster) -> None:
    assert len(cluster.urls) == 3 and len(set(cluster.urls)) == 3
    assert all(url.startswith("redis://127.0.0.1:") and url.endswith("/0") for url in cluster.urls)
    for node in cluster.nodes:
        info = node.cluster_info()
        assert info["cluster_state"] == "ok", info
        assert info["cluster_known_nodes"] == "3" and info["cluster_size"] == "3", info
        assert info["cluster_slots_assigned"] == "16384", info


def test_keys_with_different_hash_tags_land_on_different_masters(
    cluster: RedisCluster, client: redis.cluster.RedisCluster,
) -> None:
    # Tags whose slots the three masters split between them (redis-cli gives each a third of the slots).
    tags = [f"account-{n}" for n in range(30)]
    where = {tag: cluster.node_of(f"{{{tag}}}:scenarios").port for tag in tags}
    assert set(where.values()) == {node.port for node in cluster.nodes}
    for tag in tags:
        client.set(f"{{{tag}}}:scenarios", tag)
    for node in cluster.nodes:
        direct = node.client()
        held = {key.decode() if isinstance(key, bytes) else key for key in direct.keys("*")}
        assert held == {f"{{{tag}}}:scenarios" for tag, port in where.items() if port == node.port}
        direct.close()


def test_a_tagged_key_lands_where_cluster_keyslot_says(
    cluster: RedisCluster, client: redis.cluster.RedisCluster,
) -> None:
    key = "{Aladdin}:scenario:CD265875E3A6EA43478D5F37A635BE4A"
    client.set(key, "here")
    slot = keyslot(cluster.nodes[0].client(), key)
    assert slot == client.keyslot(key) == keyslot(cluster.nodes[0].client(), "Aladdin")  # type: ignore[no-untyped-call]
    owner = cluster.node_of(key)
    for node in cluster.nodes:
        direct = node.client()
        # KEYS answers for the node's own keys (a read of a key it does not serve would be a MOVED).
        assert (key.encode() in direct.keys("*")) == (node is owner)
        direct.close()
    assert owner.client().get(key) == b"here"


def test_a_script_may_touch_two_keys_of_one_tag_and_not_two_slots(
    cluster: RedisCluster, client: redis.cluster.RedisCluster,
) -> None:
    same = ["{Aladdin}:a", "{Aladdin}:b"]
    assert client.eval(TWO_KEYS, 2, *same, "v") == b"v"
    assert client.mget(same) == [b"v", b"v"]
    apart = ["{Aladdin}:a", "{Genie}:a"]
    assert keyslot(cluster.nodes[0].client(), apart[0]) != keyslot(cluster.nodes[0].client(), apart[1])
    # The client library refuses before sending; the node itself refuses too (asked directly).
    with pytest.raises(redis.RedisClusterException, match="same key slot"):
        client.eval(TWO_KEYS, 2, *apart, "v")
    direct = cluster.node_of(apart[0]).client()
    # redis-py turns the reply "CROSSSLOT Keys in request don't hash to the same slot" into this class.
    with pytest.raises(redis.exceptions.ClusterCrossSlotError, match="same slot"):
        direct.eval(TWO_KEYS, 2, *apart, "v")
    direct.close()


def test_cluster_info_parses(cluster: RedisCluster) -> None:
    direct = cluster.nodes[0].client()
    assert cluster_info(direct)["cluster_state"] == "ok"
    direct.close()
