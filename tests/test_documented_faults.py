"""Faults can inject every status the vendor documents on each operation, with the vendor's messageId and text."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.routes import OPERATIONS
from mock_omni.api.routing import Operation
from mock_omni.domain.errors import BY_STATUS

from .conftest import SEED_KEY

pytestmark = pytest.mark.both_stores

#: (messageId, text) the vendor's OpenAPI gives for a status (409: it gives none; CONFLICT is ours).
VENDOR_WORDING = {
    400: ("BAD_REQUEST", "Bad request"), 401: ("UNAUTHORIZED", "Invalid login details"),
    403: ("FORBIDDEN", "Forbidden"), 404: ("NOT_FOUND", "Scenario not found."), 409: ("CONFLICT", "Conflict"),
    429: ("TOO_MANY_REQUESTS", "Too many requests"),
    500: ("GENERAL_ERROR", "Something went wrong. Please contact support."),
}
#: The 409 descriptions of the vendor's OpenAPI, per operation.
CONFLICT_TEXTS = {"list": "invalid scenario", "create": "creating scenario is forbidden", "get": "invalid scenario",
                  "update": "invalid scenario"}
#: A request that reaches each operation's fault hook (past 401 and 403).
REQUESTS: dict[str, dict[str, Any]] = {
    "list": {}, "get": {}, "create": {"json": {"flow": [{"channel": "SMS"}]}}, "update": {"json": {"name": "x"}},
    "token": {"data": {"grant_type": "client_credentials"}, "auth": ("Aladdin", "open sesame")},
    "login": {"json": {"username": "Aladdin", "password": "open sesame"}},
    "logout": {"headers": {"Authorization": "IBSSO 2f9b4d31-2d0d-49a8-85f0-9b862bdca394"}},
    "send": {"json": {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "x"},
                      "viber": {"text": "x"}}},
    "text": {"json": {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "text": "x"}},
    "reports": {}, "logs": {},
}


def concrete(path: str) -> str:
    return path.replace("{scenarioKey}", SEED_KEY)


def pattern(path: str) -> str:
    return path.replace("{scenarioKey}", "*")


def test_every_documented_status_can_be_injected() -> None:
    documented = {status for op in OPERATIONS for status in op.errors}
    assert documented <= set(BY_STATUS), documented - set(BY_STATUS)
    assert {403, 409} <= documented


@pytest.mark.parametrize(("operation", "status"), [(op, status) for op in OPERATIONS for status in op.errors],
                         ids=lambda value: value.name if isinstance(value, Operation) else str(value))
def test_an_injected_status_answers_in_the_vendors_envelope(app: MockOmni, client: TestClient, operation: Operation,
                                                            status: int) -> None:
    app.state.faults.add({"status": status, "method": operation.method, "path": pattern(operation.path), "times": 1})
    response = client.request(operation.method, concrete(operation.path), **REQUESTS[operation.name])
    message_id, text = VENDOR_WORDING[status]
    if status == 409:
        text = CONFLICT_TEXTS[operation.name]
    assert response.status_code == status
    assert response.json() == {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
    again = client.request(operation.method, concrete(operation.path), **REQUESTS[operation.name])
    assert again.status_code == operation.status, again.text  # the fault was for one call


@pytest.mark.parametrize("status", [403, 409])
def test_403_and_409_in_xml(app: MockOmni, client: TestClient, status: int) -> None:
    app.state.faults.add({"status": status})
    response = client.post("/omni/1/scenarios", json={"flow": [{"channel": "SMS"}]},
                           headers={"Accept": "application/xml"})
    message_id, text = VENDOR_WORDING[status]
    text = CONFLICT_TEXTS["create"] if status == 409 else text
    assert response.text == ('<?xml version="1.0" encoding="UTF-8"?><ApiException><requestError><serviceException>'
                             f"<messageId>{message_id}</messageId><text>{text}</text></serviceException>"
                             "</requestError></ApiException>")


def test_a_rules_message_wins_over_the_vendors_wording(app: MockOmni, client: TestClient) -> None:
    app.state.faults.add({"status": 409, "message": "Scenario is locked"})
    details = client.get("/omni/1/scenarios").json()["requestError"]["serviceException"]
    assert details == {"messageId": "CONFLICT", "text": "Scenario is locked"}


def test_the_admin_api_takes_403_and_409(client: TestClient) -> None:
    for status in (403, 409):
        assert client.post("/__admin/faults", json={"status": status, "times": 1}).status_code == 201
    assert client.get("/omni/1/scenarios").status_code == 403
    assert client.get("/omni/1/scenarios").status_code == 409
