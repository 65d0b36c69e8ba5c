"""The route table is the one source: routing, 405, rate-limit names, XML names, scopes and the OpenAPI follow it.

The vendor's own OpenAPI (tests/reference/, copied from shared/reference/) is the yardstick
for operationIds, scopes, throttling and documented statuses.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_omni.api.handlers.scenarios import get_scenario
from mock_omni.api.ratelimit import RateLimitSpecError, Rule, parse_rule
from mock_omni.api.routes import OPERATION_NAMES, OPERATIONS, ROUTER, VENDOR_LIMITS
from mock_omni.api.routing import Operation, Router
from mock_omni.domain.errors import MethodNotAllowed, NotFound

from .conftest import SEED_KEY

VENDOR_SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "reference" / "infobip-omni-failover-openapi.json").read_text("utf-8"))


# The sign-in calls are on the vendor's account-management pages (Create OAuth2 token, Create session,
# Destroy session), not in its OMNI OpenAPI: what those pages list (no scopes, no throttling). Their
# "default" success is 200 for a token or session and 204 for a destroyed session (the vendor's
# Session: Logout page).
ACCOUNT_MANAGEMENT: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/auth/1/oauth2/token"): {"operationId": "create-oauth2-token", "responses": ["200", "400", "500"]},
    ("POST", "/auth/1/session"): {"operationId": "create-session", "responses": ["200", "400", "429", "500"]},
    ("DELETE", "/auth/1/session"): {"operationId": "destroy-session",
                                    "responses": ["204", "401", "403", "429", "500"]},
}
#: Operations of the official clients 2.x that the vendor's current OpenAPI no longer lists, and the
#: operation whose contract they share (the legacy simple send is a send).
LEGACY = {("POST", "/omni/1/text"): ("POST", "/omni/1/advanced")}


def vendor_operation(operation: Operation) -> dict[str, Any]:
    if operation.path.startswith("/auth/"):
        return {"x-scopes": [], **ACCOUNT_MANAGEMENT[(operation.method, operation.path)]}
    method, path = LEGACY.get((operation.method, operation.path), (operation.method, operation.path))
    found: dict[str, Any] = VENDOR_SPEC["paths"][path][method.lower()]
    return found


def vendor_rule(info: dict[str, Any]) -> Rule:
    # The vendor writes "120 requests per 0 minutes" for the logs; a rate needs a duration, and the
    # only reading that is one is a single unit: 120 per minute (README, choices).
    return Rule(info["numberOfRequests"], max(1, info["numberOfTimeUnits"]) * 60.0)


def test_only_the_legacy_send_is_outside_the_vendors_openapi() -> None:
    outside = {(op.method, op.path) for op in OPERATIONS
               if op.path not in VENDOR_SPEC["paths"] and (op.method, op.path) not in ACCOUNT_MANAGEMENT}
    assert outside == set(LEGACY)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_each_entry_states_what_the_vendor_documents(operation: Operation) -> None:
    vendor = vendor_operation(operation)
    if (operation.method, operation.path) not in LEGACY:
        assert operation.operation_id == vendor["operationId"]
    assert operation.scopes == tuple(vendor["x-scopes"])
    documented = {int(code) for code in vendor["responses"]} - {operation.status}
    assert set(operation.errors) == documented
    assert str(operation.status) in vendor["responses"]
    throttling = vendor.get("x-throttling-info")
    if throttling is None:
        assert operation.limit is None
    else:
        (info,) = throttling
        assert operation.limit == vendor_rule(info)


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_the_published_openapi_is_the_table(client: TestClient, operation: Operation) -> None:
    published = client.get("/openapi.json").json()["paths"][operation.path][operation.method.lower()]
    assert published["operationId"] == operation.operation_id
    assert published.get("x-scopes", []) == list(operation.scopes)
    assert {str(code) for code in operation.errors} <= set(published["responses"])
    assert str(operation.status) in published["responses"]
    assert ("x-throttling-info" in published) == (operation.limit is not None)
    assert [p["name"] for p in published.get("parameters", []) if p["in"] == "query"] == [
        param.name for param in operation.query]


def test_rate_limit_names_and_vendor_limits_come_from_the_table() -> None:
    assert OPERATION_NAMES == tuple(op.name for op in OPERATIONS)
    assert VENDOR_LIMITS == {"create": Rule(20, 600.0), "update": Rule(40, 600.0), "logs": Rule(120, 60.0)}
    for name in OPERATION_NAMES:
        assert parse_rule(f"{name}=5/1m") == (name, Rule(5, 60.0))
    with pytest.raises(RateLimitSpecError):
        parse_rule("delete=5/1m")


@pytest.mark.parametrize(("method", "path", "name", "params"), [
    ("GET", "/omni/1/scenarios", "list", {}),
    ("POST", "/omni/1/scenarios", "create", {}),
    ("GET", f"/omni/1/scenarios/{SEED_KEY}", "get", {"scenarioKey": SEED_KEY}),
    ("PUT", f"/omni/1/scenarios/{SEED_KEY}", "update", {"scenarioKey": SEED_KEY}),
    ("POST", "/auth/1/oauth2/token", "token", {}),
    ("POST", "/auth/1/session", "login", {}),
    ("DELETE", "/auth/1/session", "logout", {}),
    ("POST", "/omni/1/advanced", "send", {}),
    ("POST", "/omni/1/text", "text", {}),
    ("GET", "/omni/1/reports", "reports", {}),
    ("GET", "/omni/1/logs", "logs", {}),
])
def test_router_matches_every_entry(method: str, path: str, name: str, params: dict[str, str]) -> None:
    operation, found = ROUTER.match(method, path)
    assert (operation.name, found) == (name, params)


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("DELETE", "/omni/1/scenarios", ("GET", "POST")),
    ("PATCH", f"/omni/1/scenarios/{SEED_KEY}", ("GET", "PUT")),
])
def test_405_names_every_method_the_table_has_for_the_path(method: str, path: str, allowed: tuple[str, ...]) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        ROUTER.match(method, path)
    assert caught.value.allowed == allowed


@pytest.mark.parametrize("path", ["/omni/1/scenario", "/omni/1/scenarios/", "/omni/1/scenarios/A/B", "/omni/2/x"])
def test_paths_outside_the_table_are_404(path: str) -> None:
    with pytest.raises(NotFound):
        ROUTER.match("GET", path)


def test_an_added_entry_is_routed_named_and_limited_without_touching_anything_else() -> None:
    extra = Operation("peek", "GET", "/omni/1/peek/{scenarioKey}", get_scenario, "peek", "Peek", "test",
                      limit=Rule(1, 60.0))
    router = Router((*OPERATIONS, extra), {"/sms/1/omni/": "/omni/"})
    operation, params = router.match("GET", "/omni/1/peek/K")
    assert operation is extra and params == {"scenarioKey": "K"}
    with pytest.raises(MethodNotAllowed) as caught:
        router.match("PUT", "/omni/1/peek/K")
    assert caught.value.allowed == ("GET",)
    assert router.by_name["peek"] is extra
    assert router.canonical("/sms/1/omni/1/peek/K") == "/omni/1/peek/K"


def test_two_entries_for_one_method_and_path_are_refused() -> None:
    with pytest.raises(ValueError, match="two operations"):
        Router((OPERATIONS[0], OPERATIONS[0]), {})


def test_the_alias_is_one_canonical_path_for_journal_and_faults(app: Any, client: TestClient) -> None:
    app.state.faults.add({"status": 503, "method": "PUT", "path": "/omni/1/scenarios/*", "times": 1})
    alias = f"/sms/1/omni/1/scenarios/{SEED_KEY}"
    assert client.put(alias, json={"name": "via the alias"}).status_code == 503
    assert client.put(alias, json={"name": "via the alias"}).status_code == 200
    paths = [entry.path for entry in app.state.journal.entries()]
    assert paths == [f"/omni/1/scenarios/{SEED_KEY}"] * 2


def test_xml_items_are_the_operations_and_errors_use_item(client: TestClient) -> None:
    listed = client.get("/omni/1/scenarios", headers={"Accept": "application/xml"}).text
    assert "<scenarios><scenario><key>" in listed and "<flow><step>" in listed
    # A validation error about `flow` is an error document: its lists are <item>s, not the scenario's <step>s.
    refused = client.post("/omni/1/scenarios", content=b"<scenario><flow/></scenario>",
                          headers={"Content-Type": "application/xml"}).text
    assert "<validationErrors><flow><item>" in refused and "<step>" not in refused
