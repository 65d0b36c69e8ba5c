"""Fault rules as units (matching, counting, delays without sleeping) and the dropped connection on a real socket."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.domain.errors import GeneralError, OmniError, ServiceUnavailable
from mock_omni.testing.faults import ConnectionDropped, Faults, Hit, fault_error
from mock_omni.testing.process import ServerProcess

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY

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


# --- the chaos kinds: draws, checks and the in-process view (tests/test_chaos.py has the sockets) -----------


def draws(seed: int | None, calls: int = 200, **rule: object) -> list[tuple[float, bytes] | None]:
    faults = Faults()
    faults.add({"probability": 0.5, "jitterMs": 1000, "connection": "garbage", "seed": seed, **rule})
    hits = [faults.take("GET", LIST, "Aladdin") for _ in range(calls)]
    return [None if hit is None else (hit.delay, hit.garbage) for hit in hits]


def test_a_seed_fixes_every_draw_of_a_rule() -> None:
    first = draws(7)
    assert draws(7) == first
    assert draws(8) != first
    assert draws(None) != draws(None)  # without a seed, a seed of its own
    applied = [drawn for drawn in first if drawn is not None]
    assert 60 <= len(applied) <= 140  # half of 200, far inside chance
    delays = [delay for delay, _ in applied]
    assert all(0 <= delay <= 1.0 for delay in delays) and len(set(delays)) == len(delays)
    assert all(16 <= len(garbage) <= 256 for _, garbage in applied)


def test_jitter_is_added_to_the_delay() -> None:
    faults = Faults()
    faults.add({"delayMs": 500, "jitterMs": 100, "seed": 1})
    delays = [hit.delay for hit in (faults.take("GET", LIST, "Aladdin") for _ in range(50)) if hit is not None]
    assert len(delays) == 50 and all(0.5 <= delay <= 0.6 for delay in delays) and len(set(delays)) > 1


def test_probability_zero_never_applies_and_a_skipped_request_uses_no_times() -> None:
    faults = Faults()
    faults.add({"status": 503, "probability": 0, "times": 1})
    faults.add({"status": 500, "times": 1})
    hit = faults.take("GET", LIST, "Aladdin")
    assert hit is not None and hit.fault.status == 500  # the next rule with uses left
    assert [rule.hits for rule in faults.rules()] == [0, 1]


@pytest.mark.parametrize(("rule", "field", "problem"), [
    ({"drop": True, "connection": "reset"}, "drop", 'cannot be combined with connection "reset"'),
    ({"connection": "reset", "status": 503}, "connection", "cannot be combined with status"),
    ({"connection": "garbage", "malformed": True}, "connection", "cannot be combined with malformed"),
    ({"connection": "truncate", "bytesPerSecond": 10}, "connection", "cannot be combined with bytesPerSecond"),
    ({"connection": "explode"}, "connection", "drop"),
    ({"probability": 1.5, "status": 503}, "probability", "1"),
    ({"bytesPerSecond": 0}, "bytesPerSecond", "1"),
    ({"jitterMs": -1}, "jitterMs", "0"),
    ({"probability": 0.5}, "status", "give a status, delayMs, jitterMs, connection, malformed or bytesPerSecond"),
])
def test_a_rule_that_cannot_be_is_a_400_naming_its_field(client: TestClient, rule: dict[str, object], field: str,
                                                         problem: str) -> None:
    response = client.post("/__admin/faults", json=rule)
    assert response.status_code == 400, response.text
    problems = response.json()["requestError"]["serviceException"]["validationErrors"]
    assert list(problems) == [field] and problem in " ".join(problems[field]), problems


def test_a_rule_lists_every_field(client: TestClient) -> None:
    added = client.post("/__admin/faults", json={"connection": "truncate", "status": 503, "probability": 0.25,
                                                 "seed": 3, "jitterMs": 10}).json()
    assert client.get("/__admin/faults").json()["faults"] == [added]
    assert {key: added[key] for key in ("connection", "drop", "malformed", "bytesPerSecond", "probability", "seed",
                                        "jitterMs", "delayMs", "status")} == {
        "connection": "truncate", "drop": False, "malformed": False, "bytesPerSecond": None, "probability": 0.25,
        "seed": 3, "jitterMs": 10, "delayMs": 0, "status": 503}
    assert client.post("/__admin/faults", json={"drop": True}).json()["connection"] == "drop"


@pytest.mark.parametrize("connection", ["reset", "garbage", "truncate"])
def test_in_process_a_cut_connection_raises_in_the_client(app: MockOmni, client: TestClient, connection: str) -> None:
    app.state.faults.add({"connection": connection, "times": 1})
    said = {"reset": "reset the connection", "garbage": "sent garbage", "truncate": "truncated the answer"}
    rule = r"^fault rule 1 \(any method \*; 0 of 1 uses left\) "
    with pytest.raises(ConnectionDropped, match=rule + said[connection]):
        client.get(LIST, headers={"Authorization": ALADDIN_BASIC})
    assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    first = client.get("/__admin/requests").json()["requests"][0]
    assert first["status"] == (200 if connection == "truncate" else 0)


def test_in_process_malformed_and_slow_bodies_come_as_on_a_socket(app: MockOmni, client: TestClient) -> None:
    whole = client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).content
    app.state.faults.add({"malformed": True, "times": 1})
    malformed = client.get(LIST, headers={"Authorization": ALADDIN_BASIC})
    assert malformed.status_code == 200 and malformed.content == whole[:len(whole) // 2]
    app.state.faults.add({"bytesPerSecond": 100_000, "times": 1})
    assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).content == whole
    reasons = [entry["reason"] for entry in client.get("/__admin/requests").json()["requests"]]
    assert "malformed the body" in reasons[1] and "100000 bytes per second" in reasons[2]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_in_process_slow_bodies_and_cuts_under_asyncio_and_trio(app: MockOmni, backend: str) -> None:
    async def calls() -> tuple[bytes, bytes, str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock",
                                     headers={"Authorization": ALADDIN_BASIC}) as client:
            whole = (await client.get(LIST)).content
            app.state.faults.add({"bytesPerSecond": 20_000, "jitterMs": 20, "times": 1})
            slow = (await client.get(LIST)).content
            app.state.faults.add({"connection": "reset", "times": 1})
            with pytest.raises(ConnectionDropped) as cut:
                await client.get(LIST)
            return whole, slow, str(cut.value)

    whole, slow, cut = anyio.run(calls, backend=backend)
    assert slow == whole and "reset the connection (TCP RST)" in cut


# --- fault rules in fixture documents and the state document ----------------------------------------------

RULES = [{"status": 503, "path": LIST, "times": 1}, {"status": 500, "probability": 0.5, "seed": 4, "times": None,
                                                     "path": "/omni/1/scenarios/*"}]


def with_faults(client: TestClient, faults: list[dict[str, object]]) -> dict[str, object]:
    document: dict[str, object] = client.get("/__admin/state").json()
    return {**document, "faults": faults}


def seed_statuses(client: TestClient) -> list[int]:
    return [client.get(f"{LIST}/{SEED_KEY}", headers={"Authorization": ALADDIN_BASIC}).status_code
            for _ in range(30)]


def test_a_state_document_arms_its_faults_and_a_reset_to_it_arms_them_afresh(client: TestClient) -> None:
    document = with_faults(client, RULES)
    assert client.put("/__admin/state", json=document).status_code == 200
    assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 503
    sequence = seed_statuses(client)
    assert set(sequence) == {200, 500}
    exported = client.get("/__admin/state").json()["faults"]
    assert [(rule["status"], rule["seed"], rule["probability"]) for rule in exported] == [(503, None, 1.0),
                                                                                          (500, 4, 0.5)]
    # A reset to the document: its rules from the start (uses and draws), the same sequence again.
    assert client.post("/__admin/reset", json={"fixtures": document}).status_code == 200
    assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 503
    assert seed_statuses(client) == sequence
    assert client.post("/__admin/reset").status_code == 200  # and again, without a body
    assert client.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 503


def test_a_bad_rule_in_a_document_is_a_400_naming_it(client: TestClient) -> None:
    response = client.put("/__admin/state", json=with_faults(client, [{"connection": "explode"}]))
    assert response.status_code == 400
    assert list(response.json()["requestError"]["serviceException"]["validationErrors"]) == ["faults[0].connection"]
    assert client.get("/__admin/faults").json()["faults"] == []  # nothing changed


def test_a_fixture_file_with_faults_arms_them_at_start(tmp_path: Path, client: TestClient) -> None:
    fixture = tmp_path / "faulty.json"
    fixture.write_text(json.dumps(with_faults(client, RULES[:1])))
    with server.running(["--fixtures", str(fixture)]) as live:
        assert httpx.get(live.url + LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 503
        assert httpx.get(live.url + LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    fixture.write_text(json.dumps(with_faults(client, [{"probability": 2, "status": 503}])))
    failed = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--fixtures", str(fixture)],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert "faults[0].probability" in failed.stderr, failed.stderr


@pytest.mark.slow
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_network_faults_behind_a_middleware_on_either_loop(loop: str) -> None:
    """The connection found through the running task (``send`` wrapped), on uvloop's and asyncio's transports."""
    with wrapped_server(loop) as live:
        with httpx.Client(base_url=live.url, trust_env=False, timeout=10, headers={"Authorization": ALADDIN_BASIC}) \
                as client:
            for rule, error in [({"connection": "reset"}, httpx.ReadError),
                                ({"connection": "truncate"}, httpx.RemoteProtocolError),
                                ({"connection": "garbage"}, httpx.RemoteProtocolError)]:
                assert client.post("/__admin/faults", json={**rule, "times": 1}).status_code == 201
                with pytest.raises(error):
                    client.get(LIST)
            whole = client.get(LIST).content
            assert client.post("/__admin/faults", json={"bytesPerSecond": len(whole) * 4, "times": 1}).status_code \
                == 201
            assert client.get(LIST).content == whole
            statuses = [e["status"] for e in client.get("/__admin/requests").json()["requests"]]
        assert statuses == [0, 200, 0, 200, 200]
        live.stop()
        errors = live.output()
    assert "ASGI callable" not in errors and "Exception" not in errors, errors


def test_a_reason_names_the_rule_and_all_it_did(app: MockOmni, client: TestClient) -> None:
    app.state.faults.add({"delayMs": 5, "malformed": True, "times": 1})
    app.state.faults.add({"delayMs": 5, "status": 503, "connection": "truncate", "times": 1})
    app.state.faults.add({"delayMs": 5, "times": 1})
    for _ in range(3):
        try:
            client.get(LIST, headers={"Authorization": ALADDIN_BASIC})
        except ConnectionDropped:
            pass
    reasons = [entry["reason"] for entry in client.get("/__admin/requests").json()["requests"]]
    rule = "fault rule {} (any method *; 0 of 1 uses left) waited 5 ms"
    listed = "the call itself: answered by GET /omni/1/scenarios (operation 'list')"
    assert reasons[0] == rule.format(1) + " and malformed the body (its first 315 of 631 bytes: JSON that does not " \
        f"parse); {listed}"
    assert reasons[1] == rule.format(2) + ", answered 503 and truncated the answer: sent the head and 51 of 102 " \
        "body bytes, then closed the connection"
    assert reasons[2] == rule.format(3) + f"; {listed}"


def test_a_bad_fault_in_the_second_fixture_file_is_named_by_its_file_and_index(tmp_path: Path) -> None:
    """Faults of several files are gathered: the error names the file and the rule's index in it, as every
    other fixture error does (it said "fixtures: faults[1]" for the second file's first rule)."""
    first, second = tmp_path / "first.json", tmp_path / "second.yaml"
    first.write_text(json.dumps({"accounts": [], "faults": [{"status": 503}]}))
    second.write_text("accounts: []\nfaults:\n  - connection: RESET\n")
    failed = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--fixtures", str(first),
                             str(second)], capture_output=True, text=True, timeout=60)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert f"{second}: faults[0].connection: Input should be 'drop'" in failed.stderr, failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1
