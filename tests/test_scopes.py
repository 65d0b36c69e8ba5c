"""API-key scopes and 403 FORBIDDEN over HTTP, as a table built from the route table; where 403 sits in the order."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.ratelimit import Rule
from mock_omni.api.routes import OPERATIONS
from mock_omni.api.routing import Operation

from .admin_helpers import create_account
from .conftest import ALADDIN_API_KEY, SEED_KEY

VENDOR_SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "reference" / "infobip-omni-failover-openapi.json").read_text("utf-8"))
#: Every scope the vendor's OMNI OpenAPI names (on calls the mock serves or not).
VENDOR_SCOPES = sorted({scope for item in VENDOR_SPEC["paths"].values() for op in item.values()
                        for scope in op.get("x-scopes", ())})
FORBIDDEN = {"requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}}
FORBIDDEN_XML = ('<?xml version="1.0" encoding="UTF-8"?><ApiException><requestError><serviceException>'
                 "<messageId>FORBIDDEN</messageId><text>Forbidden</text></serviceException></requestError>"
                 "</ApiException>")
SCENARIO = {"name": "scoped", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}
#: A request each operation succeeds with (a new operation with scopes needs an entry: see the test below).
REQUESTS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "list": ("GET", "/omni/1/scenarios", None),
    "create": ("POST", "/omni/1/scenarios", SCENARIO),
    "get": ("GET", f"/omni/1/scenarios/{SEED_KEY}", None),
    "update": ("PUT", f"/omni/1/scenarios/{SEED_KEY}", {"name": "renamed"}),
    "send": ("POST", "/omni/1/advanced", {"destinations": [{"to": {"phoneNumber": "41793026727"}}],
                                          "sms": {"text": "x"}, "viber": {"text": "x"}}),
    "text": ("POST", "/omni/1/text", {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "text": "x"}),
    "reports": ("GET", "/omni/1/reports", None),
    "logs": ("GET", "/omni/1/logs", None),
}
SCOPED = [op for op in OPERATIONS if op.scopes]


pytestmark = pytest.mark.both_stores


def key_for(scopes: list[str]) -> str:
    return "key-" + ("+".join(scopes) or "none")


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    app = new_app()
    keys = [{"key": key_for([scope]), "scopes": [scope]} for scope in VENDOR_SCOPES]
    create_account(app, {"username": "scoped", "seedAccount": "Aladdin",
                              "apiKeys": [*keys, {"key": key_for([]), "scopes": []}, "key-every"]})
    return app


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def call(client: TestClient, operation: Operation, key: str, accept: str = "application/json") -> Any:
    method, path, body = REQUESTS[operation.name]
    return client.request(method, path, json=body, headers={"Authorization": f"App {key}", "Accept": accept})


def test_every_operation_with_scopes_has_a_request_in_the_table() -> None:
    assert {op.name for op in SCOPED} <= set(REQUESTS)
    assert SCOPED, "the route table has no scoped operation"


@pytest.mark.parametrize(("operation", "scope"), [(op, scope) for op in SCOPED for scope in op.scopes],
                         ids=lambda value: value.name if isinstance(value, Operation) else value)
def test_a_key_with_one_of_the_operations_scopes_is_let_through(client: TestClient, operation: Operation,
                                                               scope: str) -> None:
    response = call(client, operation, key_for([scope]))
    assert response.status_code == operation.status, response.text


@pytest.mark.parametrize(("operation", "scope"),
                         [(op, scope) for op in SCOPED for scope in [*VENDOR_SCOPES, None] if scope not in op.scopes],
                         ids=lambda value: value.name if isinstance(value, Operation) else str(value))
def test_a_key_without_the_operations_scopes_is_forbidden(client: TestClient, app: MockOmni, operation: Operation,
                                                         scope: str | None) -> None:
    key = key_for([] if scope is None else [scope])
    before = app.state.accounts.export("scoped")
    response = call(client, operation, key)
    assert (response.status_code, response.json()) == (403, FORBIDDEN)
    assert call(client, operation, key, "application/xml").text == FORBIDDEN_XML
    assert app.state.accounts.export("scoped") == before  # nothing done
    assert [entry.status for entry in app.state.journal.entries()][-2:] == [403, 403]


@pytest.mark.parametrize("operation", SCOPED, ids=lambda op: op.name)
def test_plain_keys_basic_and_tokens_have_every_scope(client: TestClient, operation: Operation) -> None:
    assert call(client, operation, "key-every").status_code == operation.status
    assert call(client, operation, ALADDIN_API_KEY).status_code == operation.status


# --- where 403 sits: after 401, before faults, 415, 429 and body/query/handler errors ---------------------


def test_wrong_credentials_are_401_not_403(client: TestClient) -> None:
    response = client.get("/omni/1/scenarios", headers={"Authorization": "App key-none-typo"})
    assert response.status_code == 401


def test_403_comes_before_the_content_type_the_body_and_the_key(client: TestClient) -> None:
    headers = {"Authorization": f"App {key_for([])}"}
    assert client.post("/omni/1/scenarios", content=b"x", headers={**headers, "Content-Type": "text/plain"}
                       ).status_code == 403
    assert client.post("/omni/1/scenarios", content=b"{", headers={**headers, "Content-Type": "application/json"}
                       ).status_code == 403
    assert client.get(f"/omni/1/scenarios/{'F' * 32}", headers=headers).status_code == 403
    assert client.get("/omni/1/scenarios?limit=-1", headers=headers).status_code == 403


def test_403_does_not_spend_the_rate_limit(client: TestClient, app: MockOmni) -> None:
    app.admin.set_rate_limits({"create": Rule(1, 3600.0)})
    forbidden = {"Authorization": f"App {key_for([])}"}
    for _ in range(3):
        assert client.post("/omni/1/scenarios", json=SCENARIO, headers=forbidden).status_code == 403
    allowed = {"Authorization": "App key-every"}
    assert client.post("/omni/1/scenarios", json=SCENARIO, headers=allowed).status_code == 201
    assert client.post("/omni/1/scenarios", json=SCENARIO, headers=allowed).status_code == 429
    assert client.post("/omni/1/scenarios", json=SCENARIO, headers=forbidden).status_code == 403  # not 429


def test_a_forbidden_call_does_not_use_up_a_fault(client: TestClient, app: MockOmni) -> None:
    fault = app.state.faults.add({"status": 500, "account": "scoped", "times": 1})
    assert client.get("/omni/1/scenarios", headers={"Authorization": f"App {key_for([])}"}).status_code == 403
    assert fault.hits == 0
    assert client.get("/omni/1/scenarios", headers={"Authorization": "App key-every"}).status_code == 500


def test_an_oauth2_token_carries_its_clients_scopes(app: MockOmni, client: TestClient) -> None:
    create_account(app, {"username": "apps", "seedAccount": "Aladdin", "oauth2Clients": [
        {"clientId": "reader", "clientSecret": "r", "scopes": ["omni-failover:logs:read"]},
        {"clientId": "manager", "clientSecret": "m", "scopes": ["omni-failover:manage"]}]})
    for client_id, secret, status in (("reader", "r", 403), ("manager", "m", 200), ("apps", None, 200)):
        password = secret or app.state.accounts.account("apps").password  # type: ignore[union-attr]
        token = client.post("/auth/1/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": password}).json()
        response = client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert response.status_code == status, client_id


def test_asking_a_token_for_fewer_scopes_limits_it(client: TestClient) -> None:
    token = client.post("/auth/1/oauth2/token", auth=("Aladdin", "open sesame"), data={
        "grant_type": "client_credentials", "scope": "omni-failover:logs:read"}).json()["access_token"]
    assert client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token}"}).json() == FORBIDDEN


def test_sessions_and_basic_carry_every_scope_of_their_account(client: TestClient, app: MockOmni) -> None:
    password = app.state.accounts.account("scoped").password  # type: ignore[union-attr]
    token = client.post("/auth/1/session", json={"username": "scoped", "password": password}).json()["token"]
    assert client.get("/omni/1/scenarios", headers={"Authorization": f"IBSSO {token}"}).status_code == 200
    assert client.get("/omni/1/scenarios", auth=("scoped", password)).status_code == 200
