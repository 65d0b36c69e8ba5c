"""One regression test per defect the hardening suites found (schemathesis, hostile bodies)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mock_omni.api.codecs import MAX_XML_DEPTH, data_from_xml
from mock_omni.api.openapi import _schemas
from mock_omni.domain.errors import BadRequest, InvalidArgument
from mock_omni.domain.scenarios import ScenarioIn, parse_scenario_json
from mock_omni.domain.validation import XML_TEXT_MESSAGE

from ..conftest import SEED_KEY


def test_xml_root_holding_only_text_is_bad_request_like_a_json_scalar() -> None:
    """schemathesis: `<scenario>true</scenario>` was taken as an empty update (200)."""
    with pytest.raises(BadRequest):
        data_from_xml(b"<scenario>true</scenario>", ScenarioIn)
    assert data_from_xml(b"<scenario>  \n </scenario>", ScenarioIn) == {}  # whitespace is not a value


@pytest.mark.parametrize("where", ["<name>{}</name>", "<flow><step>{}</step></flow>", "<unknown>{}</unknown>"])
def test_xml_nested_beyond_the_bound_is_bad_request_not_a_recursion_error(where: str) -> None:
    """Hostile bodies: 100,000 nested elements in <name> raised RecursionError, a 500."""
    deep = "<a>" * 100_000 + "x" + "</a>" * 100_000
    with pytest.raises(BadRequest):
        data_from_xml(f"<scenario>{where.format(deep)}</scenario>".encode(), ScenarioIn)


def test_xml_nesting_within_the_bound_still_reaches_validation() -> None:
    nested = "<a>" * (MAX_XML_DEPTH - 1) + "x" + "</a>" * (MAX_XML_DEPTH - 1)
    data = data_from_xml(f"<scenario><name>{nested}</name></scenario>".encode(), ScenarioIn)
    assert isinstance(data["name"], dict)  # a wrong shape, left for validation to name


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "a\\u0000b"}', "name"),
        (b'{"name": "\\u001f"}', "name"),
        (b'{"name": "\\uffff"}', "name"),
        (b'{"flow": [{"from": "\\u0008", "channel": "SMS"}]}', "flow[0].from"),
    ],
)
def test_text_xml_cannot_carry_is_invalid_argument(body: bytes, field: str) -> None:
    """Hostile bodies: `"a\\u0000b"` was stored, and every XML answer about it was unparseable."""
    with pytest.raises(InvalidArgument) as caught:
        parse_scenario_json(body)
    assert caught.value.validation_errors == {field: [XML_TEXT_MESSAGE]}


def test_tab_newline_and_non_bmp_text_are_still_accepted() -> None:
    assert parse_scenario_json(b'{"name": "a\\tb\\nc\\r\\u00e9\\ud83d\\ude00"}').name == "a\tb\nc\ré\U0001f600"


def test_escaped_nul_over_http_changes_nothing(client: TestClient) -> None:
    before = client.get(f"/omni/1/scenarios/{SEED_KEY}", headers={"Accept": "application/xml"}).content
    response = client.put(f"/omni/1/scenarios/{SEED_KEY}", content=b'{"name": "a\\u0000"}',
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["requestError"]["serviceException"]["messageId"] == "INVALID_ARGUMENT"
    assert client.get(f"/omni/1/scenarios/{SEED_KEY}", headers={"Accept": "application/xml"}).content == before


def test_published_create_body_requires_a_flow_and_update_does_not() -> None:
    """schemathesis: one request schema for both said flow was optional (and nullable) on create."""
    schemas = _schemas()
    assert schemas["CreateScenarioRequest"]["required"] == ["flow"]
    assert schemas["CreateScenarioRequest"]["properties"]["flow"]["type"] == "array"
    assert "required" not in schemas["CreateOrUpdateScenarioRequest"]


def test_published_xml_bodies_have_the_vendor_element_names_and_no_nulls() -> None:
    """schemathesis: XML bodies were generated from the JSON schema, with `<flow>null</flow>`."""
    xml = _schemas()["CreateOrUpdateScenarioRequestXml"]
    assert xml["xml"] == {"name": "scenario"}
    assert xml["properties"]["flow"]["xml"] == {"wrapped": True}
    assert xml["properties"]["flow"]["items"]["xml"] == {"name": "step"}
    assert "null" not in str(xml)


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("template", [b'{"default": %s}', b'{"unknown": %s, "name": "x"}'])
def test_non_json_number_literals_are_bad_request(template: bytes, literal: bytes) -> None:
    """Hostile bodies: pydantic's parser took `NaN` (written by Python's json.dumps); JSON has no NaN."""
    with pytest.raises(BadRequest):
        parse_scenario_json(template % literal)


def test_nan_inside_a_string_is_just_text() -> None:
    assert parse_scenario_json(b'{"name": "NaN and Infinity"}').name == "NaN and Infinity"


def test_client_leaving_mid_body_is_not_an_unexpected_error(caplog: pytest.LogCaptureFixture) -> None:
    """Hostile wire: a Content-Length longer than the body, then close, logged a traceback as a 500."""
    import asyncio

    from ..conftest import ALADDIN_BASIC, make_app

    app = make_app()
    sent: list[dict[str, object]] = []
    messages = iter([{"type": "http.request", "body": b'{"na', "more_body": True}, {"type": "http.disconnect"}])

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "PUT", "path": f"/omni/1/scenarios/{SEED_KEY}", "query_string": b"",
             "headers": [(b"authorization", ALADDIN_BASIC.encode()), (b"content-type", b"application/json"),
                         (b"content-length", b"500")]}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert app.state.journal.recorded == 0


def test_the_field_name_sender_is_not_read_as_from() -> None:
    """schemathesis/corpus: `populate_by_name` let `{"sender": ...}` set the step's `from`; the vendor reads `from`."""
    step = parse_scenario_json(b'{"flow": [{"sender": "x", "channel": "SMS"}]}').flow[0]  # type: ignore[index]
    assert step.sender is None


@pytest.mark.parametrize(
    ("body", "default"),
    [(b'{"defaultScenario": true}', True), (b'{"default": false, "defaultScenario": true}', False),
     (b'{"default": null, "defaultScenario": false}', False), (b"{}", None)],
)
def test_defaultscenario_is_an_alias_and_default_wins(body: bytes, default: bool | None) -> None:
    assert parse_scenario_json(body).default is default


def test_defaultscenario_of_the_wrong_type_is_refused_even_beside_default() -> None:
    """schemathesis: `{"default": false, "defaultScenario": ""}` was accepted though the schema says boolean."""
    with pytest.raises(InvalidArgument) as caught:
        parse_scenario_json(b'{"default": false, "defaultScenario": ""}')
    assert list(caught.value.validation_errors or {}) == ["defaultScenario"]
    assert _schemas()["CreateOrUpdateScenarioRequest"]["properties"]["defaultScenario"]["anyOf"][0] == {
        "type": "boolean"}


def test_journal_entries_are_bounded_in_bytes_not_only_in_count() -> None:
    """Hostile headers: megabyte header values and 1 MiB bodies were kept whole, 1000 entries deep."""
    from mock_omni.api.answers import Answer
    from mock_omni.api.codecs import JSON
    from mock_omni.testing.journal import MAX_BODY_KEPT, MAX_HEADER_VALUE, Journal

    journal = Journal(limit=3)
    for _ in range(5):
        # A big answer (a page of logs) is kept bounded too, with its headers as sent.
        answer = Answer(200, b"z" * 1_000_000, JSON, reason="answered")
        journal.record("PUT", "/omni/1/scenarios/K", b"", [(b"authorization", b"Bearer " + b"x" * 2_000_000),
                                                         (b"accept", b"application/json")],
                       b"y" * 1_000_000, answer, None)
    entries = journal.entries()
    assert len(entries) == 3 and journal.recorded == 5
    for entry in entries:
        assert len(entry.body) == MAX_BODY_KEPT
        assert entry.response is not None and len(entry.response.content) == MAX_BODY_KEPT
        assert dict(entry.response.headers)[b"content-length"] == b"1000000" and entry.reason == "answered"
        assert dict(entry.headers) == {b"authorization": (b"Bearer " + b"x" * 2_000_000)[:MAX_HEADER_VALUE],
                                       b"accept": b"application/json"}


def test_405_on_the_web_side_allows_every_method_of_the_path() -> None:
    """schemathesis on the admin API: `Allow: GET` on a path that also takes POST and DELETE."""
    from ..conftest import make_app

    app = make_app()
    for method in ("GET", "POST", "DELETE"):
        app.web.add_api_route("/__test/multi", lambda: {}, methods=[method])
    with TestClient(app) as client:
        response = client.put("/__test/multi")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, HEAD, POST"  # HEAD wherever GET (web/head.py)
    assert response.json()["requestError"]["serviceException"]["messageId"] == "METHOD_NOT_ALLOWED"


def test_own_routes_publish_the_errors_they_answer_and_not_fastapis_422() -> None:
    """schemathesis on the admin API: 400, 401, 404, 405 answered but undocumented; 422 documented, never sent."""
    from fastapi import Body

    from ..conftest import make_app

    app = make_app()

    def change(name: str, data: dict[str, object] = Body(...)) -> dict[str, object]:  # noqa: B008
        return data

    app.web.add_api_route("/__admin/things/{name}", change, methods=["PUT"])
    app.web.add_api_route("/__admin/health2", lambda: {}, methods=["GET"])
    spec = app.web.openapi()
    put = spec["paths"]["/__admin/things/{name}"]["put"]["responses"]
    assert "422" not in put
    assert {"400", "401", "404", "405", "413", "500"} <= set(put)
    assert put["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ApiException"}
    assert set(spec["paths"]["/__admin/health2"]["get"]["responses"]) == {"200", "401", "403", "405", "500"}
    assert {"403", "415"} <= set(put)  # a cross-origin browser request, a body that is not JSON (web/csrf.py)
    vendor = spec["paths"]["/omni/1/scenarios/{scenarioKey}"]["get"]["responses"]
    assert vendor["404"]["content"]["application/json"]["example"]["requestError"]["serviceException"]["text"] == (
        "Scenario not found.")  # the vendor's own documentation is untouched


def test_405_allow_covers_routes_of_included_routers() -> None:
    """schemathesis: FastAPI wraps included routers, so walking app.routes found none of their methods."""
    from fastapi import APIRouter

    from ..conftest import make_app

    app = make_app()
    router = APIRouter(prefix="/__test")
    router.add_api_route("/inner", lambda: {}, methods=["GET"])
    router.add_api_route("/inner", lambda: {}, methods=["DELETE"])
    app.web.include_router(router)
    with TestClient(app) as client:
        response = client.request("TRACE", "/__test/inner")
    assert response.status_code == 405 and response.headers["allow"] == "DELETE, GET, HEAD"
