"""/openapi.json tells the truth about the vendor routes, which FastAPI does not serve itself."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mock_omni.api.schemas import ApiException, ScenarioOut, ScenariosResponse

OPERATIONS = {
    ("/omni/1/scenarios", "get"): "200",
    ("/omni/1/scenarios", "post"): "201",
    ("/omni/1/scenarios/{scenarioKey}", "get"): "200",
    ("/omni/1/scenarios/{scenarioKey}", "put"): "200",
}


@pytest.fixture
def spec(client: TestClient) -> dict[str, object]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


Spec = dict[str, dict[str, dict[str, dict[str, object]]]]


def test_the_four_operations_with_schemas_and_the_envelope(spec: Spec) -> None:
    paths = spec["paths"]
    for (path, method), success in OPERATIONS.items():
        operation = paths[path][method]
        responses = operation["responses"]
        assert isinstance(responses, dict) and success in responses
        for status in ("401", "500"):
            assert responses[status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ApiException"}
        assert {"Basic": []} in operation["security"]  # type: ignore[operator]
        if method in ("post", "put"):
            body = operation["requestBody"]["content"]  # type: ignore[index]
            assert set(body) == {"application/json", "application/xml"}
            assert "429" in responses and "415" in responses
    assert set(paths["/omni/1/scenarios"]) == {"get", "post"}
    assert set(paths["/omni/1/scenarios/{scenarioKey}"]) == {"get", "put"}


def test_security_schemes_are_the_four_vendor_schemes(spec: Spec) -> None:
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"Basic", "APIKeyHeader", "IBSSOTokenHeader", "OAuth2"}


def test_request_schema_matches_the_validation(spec: Spec) -> None:
    schemas = spec["components"]["schemas"]
    request = schemas["CreateOrUpdateScenarioRequest"]
    assert set(request["properties"]) == {"name", "flow", "default", "defaultScenario"}  # type: ignore[arg-type]
    step = schemas["StepIn"]
    assert set(step["properties"]) == {"from", "channel"}  # type: ignore[arg-type]
    assert step["required"] == ["channel"]


def test_live_responses_validate_against_the_published_models(client: TestClient) -> None:
    ScenariosResponse.model_validate(client.get("/omni/1/scenarios").json())
    created = client.post("/omni/1/scenarios", json={"flow": [{"channel": "SMS"}]}).json()
    ScenarioOut.model_validate(created)
    ApiException.model_validate(client.get("/omni/1/scenarios/nope").json())
    ApiException.model_validate(client.post("/omni/1/scenarios", json={"flow": []}).json())


def test_fastapi_own_404s_use_the_vendor_envelope(client: TestClient) -> None:
    response = client.get("/no/such/page", headers={"Accept": "application/xml"})
    assert response.status_code == 404
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><ApiException>')


def test_every_published_constraint_is_a_json_schema_keyword(spec: Spec) -> None:
    # A constraint pydantic cannot place (a range after a validator) ends up as its raw name ("ge"): a
    # schema that says nothing, so fuzzers sent flex: -1 and got a 400 for "valid" data.
    found: list[str] = []

    def walk(node: object, path: str) -> None:
        if isinstance(node, dict):
            found.extend(f"{path}.{key}" for key in ("ge", "le", "gt", "lt") if key in node)
            for key, value in node.items():
                walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}[{index}]")

    walk(spec["components"]["schemas"], "schemas")
    assert found == []
