"""Fault rules as units (matching, counting, delays without sleeping) and the dropped connection on a real socket."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.domain.errors import GeneralError, OmniError, ServiceUnavailable
from mock_omni.testing.faults import ConnectionDropped, Faults, Hit, fault_error
from mock_omni.testing.process import ServerProcess

from . import server
from .conftest import ALADDIN_BASIC

pytestmark = pytest.mark.both_stores

LIST = "/omni/1/scenarios"


class RecordingSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def run_hook(faults: Faults, method: str = "GET", path: str = LIST, account: str = "Aladdin") -> Hit | None:
    return asyncio.run(faults.hook(method, path, account))


def raised(hit: Hit | None) -> OmniError | None:
    """The error the rule taken answers with."""
    return None if hit is None else fault_error(hit.fault)


def test_delay_waits_then_lets_the_request_through() -> None:
    sleep = RecordingSleep()
    faults = Faults(sleep=sleep)
    faults.add({"delayMs": 250, "times": 2})
    run_hook(faults)
    run_hook(faults)
    run_hook(faults)
    assert sleep.calls == [0.25, 0.25]


def test_delay_then_status() -> None:
    sleep = RecordingSleep()
    faults = Faults(sleep=sleep)
    faults.add({"delayMs": 10, "status": 503})
    assert isinstance(raised(run_hook(faults)), ServiceUnavailable)
    assert sleep.calls == [0.01]


def test_first_rule_with_uses_left_wins() -> None:
    faults = Faults()
    faults.add({"status": 503, "times": 1})
    faults.add({"status": 500, "times": 1})
    assert isinstance(raised(run_hook(faults)), ServiceUnavailable)
    assert isinstance(raised(run_hook(faults)), GeneralError)
    assert run_hook(faults) is None  # both used up
    assert [rule.hits for rule in faults.rules()] == [1, 1]


@pytest.mark.parametrize(
    ("pattern", "path", "hit"),
    [
        ("/omni/1/scenarios", "/omni/1/scenarios", True),
        ("/omni/1/scenarios", "/omni/1/scenarios/ABC", False),
        ("/omni/1/scenarios/*", "/omni/1/scenarios/ABC", True),
        ("*/scenarios/*", "/sms/1/omni/1/scenarios/ABC", True),
        ("/omni/1/scenarios/?BC", "/omni/1/scenarios/ABC", True),
    ],
)
def test_path_is_exact_or_an_fnmatch_pattern(pattern: str, path: str, hit: bool) -> None:
    faults = Faults()
    faults.add({"path": pattern, "status": 500, "times": None})
    assert (faults.take("GET", path, "Aladdin") is not None) is hit


def test_drop_raises_where_there_is_no_socket(app: MockOmni, client: TestClient) -> None:
    app.state.faults.add({"drop": True})
    with pytest.raises(ConnectionDropped, match="dropped the connection"):
        client.get(LIST, headers={"Authorization": ALADDIN_BASIC})


def test_clear_one_account_keeps_the_others() -> None:
    faults = Faults()
    faults.add({"status": 500, "account": "Genie"})
    faults.add({"status": 500, "account": "Aladdin"})
    assert faults.clear("Genie") == 1
    assert [rule.account for rule in faults.rules()] == ["Aladdin"]


# mock-omni behind a middleware that wraps ``send`` (as CORS or the state file do), on either event loop.
WRAPPED_SERVER = """
import socket, sys, uvicorn
from mock_omni import create_app

app = create_app()

async def wrapped(scope, receive, send):
    async def relay(message):
        await send(message)
    await app(scope, receive, relay)

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
sock.listen(64)
print(f"serving on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
uvicorn.Server(uvicorn.Config(wrapped, loop=sys.argv[1], lifespan="off", log_level="warning")).run(sockets=[sock])
"""


@contextmanager
def wrapped_server(loop: str) -> Iterator[server.Server]:
    live = ServerProcess([sys.executable, "-c", WRAPPED_SERVER, loop])
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cli", "wrapped-uvloop", "wrapped-asyncio"])
def test_drop_closes_a_real_connection_without_any_response(kind: str) -> None:
    running = server.running() if kind == "cli" else wrapped_server(kind.split("-")[1])
    with running as live:
        with httpx.Client(base_url=live.url, trust_env=False, timeout=10) as client:
            assert client.post("/__admin/faults", json={"drop": True, "method": "GET", "times": 1}).status_code == 201
            with pytest.raises(httpx.RemoteProtocolError, match="without sending"):
                client.get(LIST, headers={"Authorization": ALADDIN_BASIC})
            assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 200
            statuses = [e["status"] for e in client.get("/__admin/requests").json()["requests"]]
        assert statuses == [0, 200]
        live.stop()
        errors = live.output()
    # uvicorn neither answered with a 500 of its own nor logged the request as an error.
    assert "ASGI callable" not in errors
    assert "Exception" not in errors
