"""A real Redis for the tests: Debian's ``redis-server`` on a free loopback port, in a temporary
folder, with its log in a file (no pipe to leave unread). scripts/system-deps.sh installs it.

``running_cluster`` starts a real Redis Cluster the same way: three masters, joined by ``redis-cli``."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import redis.cluster

REDIS_SERVER = shutil.which("redis-server")
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not installed (scripts/system-deps.sh installs it as root)")
START_TIMEOUT = 10.0
#: Seconds a mock under test waits for a reply of Redis (``store_url``).
TEST_TIMEOUT = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    folder: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    #: More ``redis-server`` options, after the defaults (so they win): ``("--appendonly", "no")``.
    options: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def store_url(self) -> str:
        """The URL a mock under test gets: a reply may take longer than the default second on a loaded test
        machine without Redis being away (the outage tests use ``url`` and its one second)."""
        return f"{self.url}?socket_timeout={TEST_TIMEOUT}"

    def start(self) -> None:
        assert REDIS_SERVER is not None
        # Appendonly: a restart (SHUTDOWN, start) keeps the data, as a production Redis would.
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "yes", "--logfile", str(self.folder / "redis.log"),
             "--daemonize", "no", *self.options],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"redis-server did not start: {self.log()}") from None
                    time.sleep(0.02)
        finally:
            client.close()

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM: Redis writes its data and exits; SIGKILL: it is gone at once."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        path = self.folder / "redis.log"
        return path.read_text()[-2000:] if path.exists() else "(no log)"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)


@contextmanager
def running(folder: Path) -> Iterator[RedisServer]:
    server = RedisServer(folder)
    server.start()
    try:
        yield server
    finally:
        server.stop()


#: How long a cluster may take to say ``cluster_state:ok`` on every node after ``redis-cli --cluster create``.
CLUSTER_TIMEOUT = 30.0
REDIS_CLI = shutil.which("redis-cli")


@dataclass
class ClusterNode(RedisServer):
    """One master of a test cluster: like ``RedisServer``, with ``--cluster-enabled`` and no persistence."""

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--cluster-enabled", "yes", "--cluster-config-file", str(self.folder / "nodes.conf"),
             "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "no", "--logfile", str(self.folder / "redis.log"), "--daemonize", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self._wait_for(lambda client: bool(client.ping()), "redis-server (cluster node) did not start")

    def _wait_for(self, ready: Callable[[redis.Redis], bool], failure: str, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=2)
        try:
            while True:
                try:
                    if ready(client):
                        return
                except redis.RedisError:
                    pass
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{failure} (port {self.port}): {self.log()}")
                time.sleep(0.05)
        finally:
            client.close()

    def cluster_info(self) -> dict[str, str]:
        client = redis.Redis(port=self.port, socket_timeout=2)
        try:
            return cluster_info(client)
        finally:
            client.close()


def cluster_info(client: redis.Redis) -> dict[str, str]:
    """``CLUSTER INFO`` as a dict of strings (whatever the client library makes of the reply)."""
    reply = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    if isinstance(reply, bytes):
        reply = reply.decode()
    if isinstance(reply, str):
        pairs = (line.split(":", 1) for line in reply.splitlines() if ":" in line)
        return {name.strip(): value.strip() for name, value in pairs}
    return {str(name): str(value) for name, value in dict(reply).items()}


def cluster_port(taken: set[int]) -> int:
    """A free port P whose cluster bus port (P + 10000) is free too, so below 55536, and not in ``taken``."""
    for _ in range(200):
        with socket.socket() as sock, socket.socket() as bus:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
            if port in taken or port + 10000 > 65535:
                continue
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port pair for a cluster node")


def keyslot(client: redis.Redis, key: str | bytes) -> int:
    """The slot of ``key`` as the node behind ``client`` computes it (``CLUSTER KEYSLOT``); closes ``client``."""
    try:
        return int(client.execute_command("CLUSTER KEYSLOT", key))  # type: ignore[no-untyped-call]
    finally:
        client.close()


@dataclass
class RedisCluster:
    """Three masters on loopback, every slot assigned, no replicas."""

    nodes: list[ClusterNode]
    create_output: str = ""

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """The first node's URL: what a cluster-aware client starts from (it discovers the others)."""
        return self.nodes[0].url

    @property
    def store_url(self) -> str:
        """As ``RedisServer.store_url``, for the first node."""
        return self.nodes[0].store_url

    def client(self) -> redis.cluster.RedisCluster:
        return redis.cluster.RedisCluster(host="127.0.0.1", port=self.nodes[0].port, socket_timeout=5)

    def node_of(self, key: str | bytes) -> ClusterNode:
        """The master serving ``key``'s slot, as that node's own ``CLUSTER KEYSLOT`` and ``CLUSTER SLOTS`` say."""
        slot = keyslot(self.nodes[0].client(), key)
        client = self.nodes[0].client()
        try:
            for start, end, master, *_ in client.execute_command("CLUSTER SLOTS"):  # type: ignore[no-untyped-call]
                if int(start) <= slot <= int(end):
                    port = int(master[1])
                    return next(node for node in self.nodes if node.port == port)
        finally:
            client.close()
        raise LookupError(f"no node serves slot {slot}")

    def flushall(self) -> None:
        for node in self.nodes:
            node.client().flushall()

    def log(self) -> str:
        return "\n".join(f"--- node {node.port}\n{node.log()}" for node in self.nodes) + \
            f"\n--- redis-cli --cluster create\n{self.create_output[-2000:]}"


@contextmanager
def running_cluster(folder: Path, masters: int = 3) -> Iterator[RedisCluster]:
    """A Redis Cluster of ``masters`` masters (no replicas), each in a folder of its own under ``folder``,
    joined by ``redis-cli --cluster create`` and ready (``cluster_state:ok`` on every node); stopped on exit.
    Emptying it between tests is the users' job."""
    if REDIS_CLI is None:
        raise RuntimeError("redis-cli is not installed (scripts/system-deps.sh installs it as root)")
    cluster = RedisCluster([])
    try:
        ports: set[int] = set()
        for index in range(masters):
            node_folder = folder / f"node{index}"
            node_folder.mkdir(parents=True, exist_ok=True)
            port = cluster_port(ports)
            ports.add(port)
            cluster.nodes.append(ClusterNode(node_folder, port))
            cluster.nodes[-1].start()
        created = subprocess.run(
            [REDIS_CLI, "--cluster", "create", *(f"127.0.0.1:{node.port}" for node in cluster.nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=CLUSTER_TIMEOUT, check=False)
        cluster.create_output = created.stdout + created.stderr
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed ({created.returncode}): {cluster.log()}")
        for node in cluster.nodes:
            node._wait_for(lambda client: cluster_info(client).get("cluster_state") == "ok",
                           "the cluster is not ok", CLUSTER_TIMEOUT)
        yield cluster
    finally:
        for node in cluster.nodes:
            node.stop()
