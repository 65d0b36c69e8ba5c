"""Servers over real sockets for a test module: one memory server (the direct path, or ``--asgi-only``) or two
replicas of one Redis store, started once per store: a module's ``servers`` fixture takes ``STORES`` as params
and has ``serving`` wrap what it starts in clients of the module's own."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, TypeVar

import pytest

from mock_omni.testing.process import ServerProcess

from .redis_server import RedisServer

STORES = ["memory", "memory-asgi", "redis"]


class Clients(Protocol):
    def close(self) -> None: ...


C = TypeVar("C", bound=Clients)
START_TIMEOUT = 30.0


@contextmanager
def serving(request: pytest.FixtureRequest, clients: Callable[[list[ServerProcess]], C]) -> Iterator[C]:
    """``clients`` of the servers of the store ``request.param`` names; closed, and the servers stopped, after
    (none having written a traceback)."""
    args = ["--quiet", "--rate-limit", "off"]
    count = 1
    if request.param == "memory-asgi":
        args.append("--asgi-only")
    if request.param == "redis":
        redis: RedisServer = request.getfixturevalue("redis_server")
        args += ["--store", redis.store_url, "--store-prefix", f"test-{uuid.uuid4().hex[:12]}"]
        count = 2
    started = [ServerProcess.serve(args, dict(os.environ), START_TIMEOUT) for _ in range(count)]
    try:
        wrapped = clients(started)
        try:
            yield wrapped
        finally:
            wrapped.close()
    finally:
        for server in started:
            server.stop()
            assert "Traceback" not in server.output(), server.output()
        if request.param == "redis":
            request.getfixturevalue("redis_server").client().flushdb()
