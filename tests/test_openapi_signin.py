"""/openapi.json: the vendor's security schemes (OAuth2's token URL on the mock), the sign-in paths, 403 and 409."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

VENDOR_SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "reference" / "infobip-omni-failover-openapi.json").read_text("utf-8"))


@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    published: dict[str, Any] = client.get("/openapi.json").json()
    return published


def test_the_security_schemes_are_the_vendors_with_the_token_url_on_the_mock(spec: dict[str, Any]) -> None:
    ours, vendors = spec["components"]["securitySchemes"], VENDOR_SPEC["components"]["securitySchemes"]
    assert set(ours) == set(vendors)
    for name, scheme in vendors.items():
        kept = {key: value for key, value in scheme.items() if key not in ("description", "flows")}
        assert {key: ours[name][key] for key in kept} == kept, name
    flow = ours["OAuth2"]["flows"]["clientCredentials"]
    assert set(ours["OAuth2"]["flows"]) == set(vendors["OAuth2"]["flows"])
    assert flow["tokenUrl"] == "/auth/1/oauth2/token"  # relative: the server that serves the document
    assert set(flow["scopes"]) == {"omni-failover:manage", "message:send", "omni-failover:message:send",
                                   "omni-failover:logs:read"}


def test_the_token_url_answers_what_the_document_says(client: TestClient, spec: dict[str, Any]) -> None:
    url = spec["components"]["securitySchemes"]["OAuth2"]["flows"]["clientCredentials"]["tokenUrl"]
    response = client.post(url, data={"grant_type": "client_credentials"}, auth=("Aladdin", "open sesame"))
    assert response.status_code == 200 and set(response.json()) == set(
        spec["components"]["schemas"]["CreateOAuth2TokenResponse"]["properties"])


def test_the_token_call_is_a_form_answered_in_json(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/auth/1/oauth2/token"]["post"]
    assert operation["operationId"] == "create-oauth2-token" and operation["security"] == []
    assert list(operation["requestBody"]["content"]) == ["application/x-www-form-urlencoded"]
    form = spec["components"]["schemas"]["CreateOAuth2TokenRequest"]
    assert form["required"] == ["grant_type"]
    assert set(form["properties"]) == {"grant_type", "client_id", "client_secret", "scope"}
    responses = operation["responses"]
    assert list(responses["200"]["content"]) == ["application/json"]
    for status in ("400", "401"):
        assert responses[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/OAuth2Error"}
    assert {"413", "415", "500"} <= set(responses)


def test_the_session_calls(spec: dict[str, Any]) -> None:
    create = spec["paths"]["/auth/1/session"]["post"]
    assert create["operationId"] == "create-session" and create["security"] == []
    assert set(create["requestBody"]["content"]) == {"application/json", "application/xml"}
    assert spec["components"]["schemas"]["CreateSessionRequest"]["required"] == ["username", "password"]
    assert set(create["responses"]["200"]["content"]) == {"application/json", "application/xml"}
    destroy = spec["paths"]["/auth/1/session"]["delete"]
    assert destroy["operationId"] == "destroy-session" and destroy["security"] == [{"IBSSOTokenHeader": []}]
    assert destroy["responses"]["204"] == {"description": "no content"}
    assert {"401", "403", "429", "500"} <= set(destroy["responses"])


@pytest.mark.parametrize(("path", "method"), [(path, method) for path, item in VENDOR_SPEC["paths"].items()
                                              for method in item if path.startswith("/omni/1/scenarios")])
def test_403_and_409_where_the_vendor_documents_them(spec: dict[str, Any], path: str, method: str) -> None:
    responses = spec["paths"][path][method]["responses"]
    assert responses["403"]["content"]["application/json"]["example"] == {
        "requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}}
    conflict = VENDOR_SPEC["paths"][path][method]["responses"]["409"]["description"]
    assert responses["409"]["content"]["application/json"]["example"] == {
        "requestError": {"serviceException": {"messageId": "CONFLICT", "text": conflict}}}
    assert spec["paths"][path][method]["security"] == VENDOR_SPEC["paths"][path][method]["security"]
