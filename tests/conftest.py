"""Shared fixtures: apps built through the factory, with a manual clock and predictable keys."""

from __future__ import annotations

import base64
import itertools
import uuid
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app
from mock_omni.domain.clock import ManualClock

from .redis_server import REDIS_CLI, REDIS_SERVER, RedisCluster, RedisServer, running, running_cluster

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
OTHER_KEY = "AD9E01A5DC7BEE2C2B828D208182A611"
THIRD_KEY = "F9E67B67F89D2FD78611C910D7D40696"
GENIE_KEY = "E6829A141B902776020F736D3FBE16A5"
ALADDIN_BASIC = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
ALADDIN_API_KEY = "003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9"
ALADDIN_TOKEN = "2f9b4d31-2d0d-49a8-85f0-9b862bdca394"
GENIE_BASIC = "Basic " + base64.b64encode(b"Genie:three wishes").decode()


def counting_keys() -> Iterator[str]:
    return (f"{n:032X}" for n in itertools.count(1))


def make_app(wall_clock: Callable[[], float] | None = None, **settings: object) -> MockOmni:
    """An app on a manual clock with counting scenario keys (and ``wall_clock`` for the dates of messages)."""
    keys = counting_keys()
    options = {} if wall_clock is None else {"wall_clock": wall_clock}
    return create_app(Settings(**settings), clock=ManualClock(), key_factory=lambda: next(keys),  # type: ignore[arg-type]
                      **options)


def store_settings(store: str) -> dict[str, object]:
    """The settings of an app on ``store`` (``memory`` or a Redis URL): on Redis, a store of its own (a key prefix)."""
    if store == "memory":
        return {}
    return {"store": store, "store_prefix": f"test-{uuid.uuid4().hex[:12]}"}


#: The stores the suites marked ``both_stores`` run against (each test once per store).
STORES = ("memory", "redis")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.get_closest_marker("both_stores") and "store" in metafunc.fixturenames:
        metafunc.parametrize("store", STORES, indirect=True)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis per test session (per xdist worker)."""
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh installs it as root)")
    with running(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One real 3-master Redis Cluster per test session (per xdist worker); emptying it is the tests' job."""
    if REDIS_SERVER is None or REDIS_CLI is None:
        pytest.skip("redis-server or redis-cli is not installed (scripts/system-deps.sh installs them as root)")
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture
def store(request: pytest.FixtureRequest) -> str:
    """``memory``, or the URL of the session's Redis (emptied after the test)."""
    kind = getattr(request, "param", "memory")
    if kind == "memory":
        return "memory"
    server: RedisServer = request.getfixturevalue("redis_server")
    request.addfinalizer(lambda: server.client().flushdb())
    return server.store_url


@pytest.fixture
def new_app(store: str) -> Iterator[Callable[..., MockOmni]]:
    """Builds apps like ``make_app`` on the test's store, closed after the test. On Redis each app
    gets a store of its own (a key prefix) unless ``store_prefix`` names another app's."""
    apps: list[MockOmni] = []

    def build(**settings: object) -> MockOmni:
        if store != "memory":
            settings = {"store": store, "store_prefix": f"test-{uuid.uuid4().hex[:12]}", **settings}
        apps.append(make_app(**settings))
        return apps[-1]

    yield build
    for app in apps:
        app.close()


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    return new_app()


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as test_client:
        yield test_client


@pytest.fixture
def replicas(redis_server: RedisServer) -> Iterator[Callable[..., TestClient]]:
    """Clients of replicas of one store (one key prefix), each replica an app of its own, serving (its
    lifespan runs), with counting scenario keys; ``replica(**settings)`` adds one."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    apps: list[MockOmni] = []
    clients: list[TestClient] = []

    def replica(wall_clock: Callable[[], float] | None = None, **settings: object) -> TestClient:
        keys = counting_keys()
        options = {} if wall_clock is None else {"wall_clock": wall_clock}
        apps.append(create_app(Settings(store=redis_server.store_url, store_prefix=prefix, **settings),  # type: ignore[arg-type]
                               key_factory=lambda: next(keys), **options))
        clients.append(TestClient(apps[-1], headers={"Authorization": ALADDIN_BASIC}).__enter__())
        return clients[-1]

    yield replica
    for client in clients:
        client.__exit__(None, None, None)
    for app in apps:
        app.close()
    redis_server.client().flushdb()
