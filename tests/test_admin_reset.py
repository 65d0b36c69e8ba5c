"""The one reset and what it isolates: requests in flight across it, the baseline it returns to, the clock,
snapshots per account, and the server errors it clears (in-process, through the admin API)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.ratelimit import Rule
from mock_omni.testing.admin_client import AdminClient
from mock_omni.testing.faults import ConnectionDropped

from .conftest import ALADDIN_BASIC, GENIE_BASIC, GENIE_KEY, SEED_KEY

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
NEW = {"name": "held", "flow": [{"channel": "SMS"}]}
HELD_MS = 150


pytestmark = pytest.mark.both_stores


def error_of(response: httpx.Response) -> dict[str, Any]:
    details: dict[str, Any] = response.json()["requestError"]["serviceException"]
    return details


@asynccontextmanager
async def asgi_client(app: MockOmni) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        yield client


async def held_across(app: MockOmni, change: Callable[[httpx.AsyncClient], Awaitable[object]],
                      auth: str = ALADDIN_BASIC, account: str | None = None) -> tuple[object, httpx.AsyncClient]:
    """A create held by a delay fault; ``change`` runs while it waits; returns what became of the create."""
    async with asgi_client(app) as client:
        rule = {"delayMs": HELD_MS, "method": "POST", "times": 1, "account": account}
        assert (await client.post("/__admin/faults", json=rule)).status_code == 201
        held = asyncio.ensure_future(client.post(LIST, json=NEW, headers={"Authorization": auth}))
        while (await client.get("/__admin/faults")).json()["faults"][0]["hits"] == 0:
            await asyncio.sleep(0.002)
        await change(client)
        try:
            outcome: object = await held
        except ConnectionDropped as exc:
            outcome = exc
        return outcome, client


def names(client: TestClient, auth: str = ALADDIN_BASIC) -> list[str | None]:
    return [s.get("name") for s in client.get(LIST, headers={"Authorization": auth}).json()["scenarios"]]


# --- the fence: a request in flight across a reset writes nothing ----------------------------

@pytest.mark.parametrize("change", [
    lambda c: c.post("/__admin/reset"),
    lambda c: c.post("/__admin/reset", params={"account": "Aladdin"}),
    lambda c: c.put("/__admin/state", json={"accounts": [{"username": "Aladdin", "password": "open sesame"}]}),
])
def test_a_request_held_across_a_reset_is_dropped_and_leaves_no_trace(
    change: Any, new_app: Callable[..., MockOmni],
) -> None:
    app = new_app(rate_limits={"create": Rule(1, 600)})
    outcome, _ = asyncio.run(held_across(app, change))
    assert isinstance(outcome, ConnectionDropped)
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.get("/__admin/requests").json()["requests"] == []
        assert client.get("/__admin/rate-limits").json()["buckets"] == []
        assert "held" not in names(client)
        assert client.post(LIST, json=NEW).status_code == 201  # its rate-limit token was never taken


def test_a_reset_of_another_account_lets_the_held_request_through(new_app: Callable[..., MockOmni]) -> None:
    app = new_app()
    outcome, _ = asyncio.run(held_across(app, lambda c: c.post("/__admin/reset", params={"account": "Genie"})))
    assert isinstance(outcome, httpx.Response) and outcome.status_code == 201
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        assert "held" in names(client)


def test_removing_an_account_while_its_request_is_held_writes_nothing_back(new_app: Callable[..., MockOmni]) -> None:
    app = new_app()
    with TestClient(app) as client:
        victim = client.post("/__admin/accounts", json={"username": "victim", "password": "pw"}).json()
    auth = victim["authorization"]["basic"]

    async def remove(client: httpx.AsyncClient) -> None:
        assert (await client.delete("/__admin/accounts/victim")).status_code == 200

    outcome, _ = asyncio.run(held_across(app, remove, auth, account="victim"))
    assert isinstance(outcome, ConnectionDropped)  # not 404 "Account victim not found."
    with TestClient(app) as client:
        again = client.post("/__admin/accounts", json={"username": "victim", "password": "pw"}).json()
        assert client.get("/__admin/requests", params={"account": "victim"}).json()["requests"] == []
        assert client.get(LIST, headers={"Authorization": again["authorization"]["basic"]}).json() == {"scenarios": []}
        assert [b for b in client.get("/__admin/rate-limits").json()["buckets"] if b["account"] == "victim"] == []


def test_a_request_whose_body_arrives_across_a_reset_is_dropped(new_app: Callable[..., MockOmni]) -> None:
    app = new_app()
    released = asyncio.Event()

    async def scenario() -> object:
        async def body() -> AsyncIterator[bytes]:
            yield b'{"name": "slow", '
            await released.wait()
            yield b'"flow": [{"channel": "SMS"}]}'

        async with asgi_client(app) as client:
            slow = asyncio.ensure_future(client.post(LIST, content=body(), headers={
                "Authorization": ALADDIN_BASIC, "Content-Type": "application/json"}))
            await asyncio.sleep(0.01)
            await client.post("/__admin/reset")
            released.set()
            try:
                return await slow
            except ConnectionDropped as exc:
                return exc

    assert isinstance(asyncio.run(scenario()), ConnectionDropped)
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        assert "slow" not in names(client)


# --- one reset ---------------------------------------------------------------------------------

def test_mock_omni_reset_is_the_admin_reset(app: MockOmni, client: TestClient) -> None:
    client.post("/__admin/accounts", json={"username": "temp", "password": "pw"})
    client.post("/__admin/snapshots/s")
    client.post("/__admin/clock/advance", json={"seconds": 60})
    app.reset()
    assert "temp" not in [a["username"] for a in client.get("/__admin/accounts").json()["accounts"]]
    # The admin's record of created accounts went with it: "temp" has nothing to return to.
    assert client.post("/__admin/reset", params={"account": "temp"}).status_code == 404
    assert client.get("/__admin/snapshots").json()["snapshots"] == []
    assert client.get("/__admin/clock").json() == {"offsetSeconds": 0.0}


def test_reset_restores_the_clock_and_clears_snapshots_and_errors(app: MockOmni, client: TestClient) -> None:
    client.post("/__admin/clock/advance", json={"seconds": 3600})
    client.post("/__admin/snapshots/before")
    app.state.errors.record("GET /x", RuntimeError("boom"))
    assert client.post("/__admin/reset").status_code == 200
    assert client.get("/__admin/clock").json() == {"offsetSeconds": 0.0}
    assert client.get("/__admin/snapshots").json()["snapshots"] == []
    assert client.get("/__admin/errors").json() == {"errors": [], "recorded": 0}


TEAM = {"accounts": [{"username": "Alice", "password": "pw", "scenarios": [
    {"key": "0123456789ABCDEF0123456789ABCDEF", "name": "alice's", "flow": [{"channel": "SMS"}], "default": True}]}]}
ALICE = "Basic QWxpY2U6cHc="


def test_a_reset_with_a_body_sets_what_later_resets_return_to(client: TestClient) -> None:
    body = {"fixtures": TEAM, "rateLimits": {"update": "1/1h"}}
    assert client.post("/__admin/reset", json=body).status_code == 200
    key = f"{LIST}/0123456789ABCDEF0123456789ABCDEF"
    assert client.put(key, json={"name": "a"}, headers={"Authorization": ALICE}).status_code == 200
    assert client.put(key, json={"name": "b"}, headers={"Authorization": ALICE}).status_code == 429

    assert client.post("/__admin/reset").status_code == 200  # no body: back to the same baseline
    assert names(client, ALICE) == ["alice's"]
    assert client.get(LIST).status_code == 401  # Aladdin is not in it
    assert client.get("/__admin/rate-limits").json()["rules"]["update"] == "1/1h"

    client.put(key, json={"name": "c"}, headers={"Authorization": ALICE})
    assert client.post("/__admin/reset", params={"account": "Alice"}).status_code == 200
    assert names(client, ALICE) == ["alice's"]
    seeded = client.post("/__admin/accounts", json={"seedAccount": "Alice"})
    assert seeded.status_code == 201
    assert names(client, seeded.json()["authorization"]["basic"]) == ["alice's"]
    assert client.delete("/__admin/rate-limits").json()["rules"]["update"] == "1/1h"

    assert client.post("/__admin/reset", json={}).status_code == 200  # {}: the start-up state again
    assert client.get(LIST).status_code == 200
    assert client.get("/__admin/rate-limits").json()["rules"] == {"create": "20/10m", "update": "40/10m",
                                                                 "logs": "120/1m"}


def test_a_bad_reset_body_changes_nothing(client: TestClient) -> None:
    client.post(LIST, json=NEW)
    before = client.get("/__admin/state").json()
    for body in ({"fixtures": {"accounts": [{"username": "u", "password": "p", "scenarios": [{"flow": []}]}]}},
                 {"rateLimits": {"update": "5/1x"}}, {"fixture": TEAM}):
        assert client.post("/__admin/reset", json=body).status_code == 400
    response = client.post("/__admin/reset", params={"account": "Aladdin"}, json={})
    assert error_of(response)["validationErrors"] == {"account": ["give account or a body, not both"]}
    assert client.get("/__admin/state").json() == before


# --- the clock and snapshots, per account where one is named -------------------------------------

def test_advancing_one_accounts_clock_refills_only_its_buckets(client: TestClient) -> None:
    client.put("/__admin/rate-limits", json={"limits": {"update": "1/1h"}})
    genie_key = f"{LIST}/{GENIE_KEY}"
    assert client.put(SEED, json={"name": "a"}).status_code == 200
    assert client.put(genie_key, json={"name": "a"}, headers={"Authorization": GENIE_BASIC}).status_code == 200

    advanced = client.post("/__admin/clock/advance", json={"seconds": 3600, "account": "Genie"})
    assert advanced.json() == {"offsetSeconds": 3600.0}
    assert client.get("/__admin/clock").json() == {"offsetSeconds": 0.0}
    assert client.get("/__admin/clock", params={"account": "Genie"}).json() == {"offsetSeconds": 3600.0}
    assert client.put(SEED, json={"name": "b"}).status_code == 429  # Aladdin's 429 stays a 429
    assert client.put(genie_key, json={"name": "b"}, headers={"Authorization": GENIE_BASIC}).status_code == 200

    client.post("/__admin/reset", params={"account": "Genie"})
    assert client.get("/__admin/clock", params={"account": "Genie"}).json() == {"offsetSeconds": 0.0}


def test_snapshot_names_are_per_account(client: TestClient) -> None:
    client.post("/__admin/snapshots/before", params={"account": "Aladdin"})
    client.post("/__admin/snapshots/before", params={"account": "Genie"})
    client.post(LIST, json=NEW)
    client.post(LIST, json=NEW, headers={"Authorization": GENIE_BASIC})
    assert client.post("/__admin/snapshots/before/restore", params={"account": "Genie"}).status_code == 200
    assert "held" not in names(client, GENIE_BASIC) and "held" in names(client)
    listed = client.get("/__admin/snapshots").json()["snapshots"]
    assert sorted((s["account"], s["name"]) for s in listed) == [("Aladdin", "before"), ("Genie", "before")]

    assert client.delete("/__admin/snapshots", params={"account": "Genie"}).json() == {"removed": 1}
    client.post("/__admin/snapshots/global")
    assert client.delete("/__admin/snapshots").json() == {"removed": 2}
    assert client.get("/__admin/snapshots").json()["snapshots"] == []


def test_a_created_account_snapshotted_removed_and_restored_can_be_reset_alone(client: TestClient) -> None:
    made = client.post("/__admin/accounts", json={"username": "made", "password": "pw", "scenarios": [
        {"name": "origin", "flow": [{"channel": "SMS"}], "default": True}]}).json()
    auth = made["authorization"]["basic"]
    client.post(LIST, json=NEW, headers={"Authorization": auth})
    client.post("/__admin/snapshots/with-made")
    client.delete("/__admin/accounts/made")
    client.post("/__admin/snapshots/with-made/restore")
    assert names(client, auth) == ["origin", "held"]
    assert client.post("/__admin/reset", params={"account": "made"}).status_code == 200
    assert names(client, auth) == ["origin"]


def test_removing_an_account_forgets_its_snapshots(client: TestClient) -> None:
    client.post("/__admin/accounts", json={"username": "gone", "password": "pw"})
    client.post("/__admin/snapshots/mine", params={"account": "gone"})
    client.delete("/__admin/accounts/gone")
    assert client.get("/__admin/snapshots").json()["snapshots"] == []


# --- server errors --------------------------------------------------------------------------

def test_unexpected_errors_are_recorded_injected_ones_are_not(app: MockOmni, monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(app, headers={"Authorization": ALADDIN_BASIC}, raise_server_exceptions=False)
    client.post("/__admin/faults", json={"status": 500, "times": 1})
    assert client.get(SEED).status_code == 500
    assert client.get("/__admin/errors").json() == {"errors": [], "recorded": 0}

    def broken(*args: object) -> None:
        raise ZeroDivisionError("the store broke")

    monkeypatch.setattr(app.state.accounts, "get", broken)
    monkeypatch.setattr(app.admin, "accounts", broken)
    assert client.get(SEED).status_code == 500
    assert client.get("/__admin/accounts").status_code == 500
    errors = client.get("/__admin/errors").json()
    assert [(e["request"], e["error"]) for e in errors["errors"]] == [
        (f"GET {SEED}", "ZeroDivisionError: the store broke"),
        ("GET /__admin/accounts", "ZeroDivisionError: the store broke")]
    assert "Traceback" in errors["errors"][0]["traceback"]
    assert client.delete("/__admin/errors").status_code == 200
    assert client.get("/__admin/errors").json()["recorded"] == 0


# --- anyio's trio backend -----------------------------------------------------------------------

def test_delay_and_drop_faults_work_under_trio(new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app(), backend="trio", headers={"Authorization": ALADDIN_BASIC}) as client:
        admin = AdminClient(str(client.base_url), http=client)
        admin.fault(delay_ms=1, times=1)
        assert client.get(SEED).status_code == 200
        admin.fault(drop=True, times=1)
        with pytest.raises(ConnectionDropped):
            client.get(SEED)
        assert [e["status"] for e in admin.requests()] == [200, 0]
