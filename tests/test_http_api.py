"""Every row of omni-api.md through HTTP, against an app built by the factory."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.ratelimit import Rule

from .conftest import (
    ALADDIN_API_KEY,
    ALADDIN_BASIC,
    ALADDIN_TOKEN,
    GENIE_BASIC,
    GENIE_KEY,
    OTHER_KEY,
    SEED_KEY,
    THIRD_KEY,
)

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
JSON_HEADERS = {"Content-Type": "application/json"}
NEW = {"name": "New", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}


pytestmark = pytest.mark.both_stores


def envelope(message_id: str, text: str, **extra: object) -> dict[str, object]:
    return {"requestError": {"serviceException": {"messageId": message_id, "text": text, **extra}}}


def xml_error(body: str) -> tuple[str | None, str | None]:
    root = fromstring(body)
    assert root.tag == "ApiException"
    return (root.findtext("requestError/serviceException/messageId"),
            root.findtext("requestError/serviceException/text"))


def default_keys(client: TestClient) -> list[str]:
    return [s["key"] for s in client.get(LIST).json()["scenarios"] if s["default"]]


# --- list ------------------------------------------------------------------------------

def test_list_in_creation_order(client: TestClient) -> None:
    response = client.get(LIST)
    assert response.status_code == 200
    assert [s["key"] for s in response.json()["scenarios"]] == [SEED_KEY, OTHER_KEY, THIRD_KEY]
    created = client.post(LIST, json=NEW).json()
    assert [s["key"] for s in client.get(LIST).json()["scenarios"]][-1] == created["key"]


@pytest.mark.parametrize(
    ("query", "keys"),
    [
        ("isDefault=true", [SEED_KEY]),
        ("isDefault=false", [OTHER_KEY, THIRD_KEY]),
        ("isDefault=TRUE", [SEED_KEY]),
        ("limit=1", [SEED_KEY]),
        ("limit=2&page=1", [THIRD_KEY]),
        ("limit=1&page=5", []),
        ("limit=0", []),
        ("isDefault=false&limit=1&page=1", [THIRD_KEY]),
        ("unknown=1", [SEED_KEY, OTHER_KEY, THIRD_KEY]),
    ],
)
def test_list_filters(client: TestClient, query: str, keys: list[str]) -> None:
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 200
    assert [s["key"] for s in response.json()["scenarios"]] == keys


@pytest.mark.parametrize(
    ("query", "field"),
    [("isDefault=maybe", "isDefault"), ("limit=-1", "limit"), ("limit=abc", "limit"), ("page=1.5", "page"),
     ("page=99999999999", "page"), ("limit=", "limit")],
)
def test_list_rejects_bad_query_values(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"{LIST}?{query}")
    assert response.status_code == 400
    error = response.json()["requestError"]["serviceException"]
    assert error["messageId"] == "INVALID_ARGUMENT" and field in error["validationErrors"]


def test_list_in_xml(client: TestClient) -> None:
    response = client.get(LIST, headers={"Accept": "application/xml"})
    assert response.headers["content-type"] == "application/xml"
    root = fromstring(response.text)
    assert root.tag == "scenariosResponse"
    scenarios = root.findall("scenarios/scenario")
    assert [s.findtext("key") for s in scenarios] == [SEED_KEY, OTHER_KEY, THIRD_KEY]
    assert [s.findtext("default") for s in scenarios] == ["true", "false", "false"]
    assert scenarios[0].findall("flow/step")[1].findtext("channel") == "VIBER"


# --- create ----------------------------------------------------------------------------

def test_create_answers_201_with_the_full_scenario_and_a_new_key(client: TestClient) -> None:
    response = client.post(LIST, json=NEW)
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[0-9A-F]{32}", body["key"])
    assert body == {"key": body["key"], **NEW, "default": False}
    assert client.get(f"{LIST}/{body['key']}").json() == body


def test_create_with_default_takes_the_flag(client: TestClient) -> None:
    body = client.post(LIST, json={**NEW, "default": True}).json()
    assert body["default"] is True
    assert default_keys(client) == [body["key"]]


def test_create_accepts_the_official_clients_defaultscenario_and_ignores_unknown_fields(client: TestClient) -> None:
    body = client.post(LIST, json={**NEW, "defaultScenario": True, "colour": "red"}).json()
    assert body["default"] is True and "colour" not in body and "defaultScenario" not in body


def test_create_in_xml(client: TestClient) -> None:
    xml = "<scenario><name>X</name><flow><step><from>a</from><channel>EMAIL</channel></step></flow></scenario>"
    response = client.post(LIST, content=xml, headers={"Content-Type": "application/xml", "Accept": ""})
    assert response.status_code == 201
    root = fromstring(response.text)
    assert root.tag == "scenario" and root.findtext("name") == "X" and root.findtext("default") == "false"
    assert root.findtext("flow/step/channel") == "EMAIL"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "no flow"}, "flow"),
        ({"flow": []}, "flow"),
        ({"flow": None}, "flow"),
        ({"flow": [{"from": "x"}]}, "flow[0].channel"),
        ({"flow": [{"channel": "PIGEON"}]}, "flow[0].channel"),
        ({"flow": [{"channel": "sms"}]}, "flow[0].channel"),
        ({"flow": [{"channel": "SMS", "from": 5}]}, "flow[0].from"),
        ({"flow": "SMS"}, "flow"),
        ({"flow": [{"channel": "SMS"}], "name": 5}, "name"),
        ({"flow": [{"channel": "SMS"}], "default": "true"}, "default"),
        ({"flow": [{"channel": "SMS"}] * 101}, "flow"),
    ],
)
def test_create_rejects_invalid_values_with_validation_errors(client: TestClient, body: object, field: str) -> None:
    before = client.get(LIST).json()
    response = client.post(LIST, json=body)
    assert response.status_code == 400
    error = response.json()["requestError"]["serviceException"]
    assert error["messageId"] == "INVALID_ARGUMENT" and error["text"] == "Invalid argument"
    assert field in error["validationErrors"]
    assert client.get(LIST).json() == before


@pytest.mark.parametrize("channel", ["SMS", "VOICE", "VIBER", "FACEBOOK", "EMAIL", "PUSH", "LINE", "VKONTAKTE",
                                     "KAKAO_CHINGU", "KAKAO_ALIM", "WHATSAPP"])
def test_every_channel_of_the_seed_and_the_openapi_is_accepted(client: TestClient, channel: str) -> None:
    assert client.post(LIST, json={"flow": [{"channel": channel}]}).status_code == 201


# --- get and update --------------------------------------------------------------------

def test_get_one(client: TestClient) -> None:
    assert client.get(SEED).json() == {
        "key": SEED_KEY, "name": "Test SMS or VIBER",
        "flow": [{"from": "InfoSMS", "channel": "SMS"},
                 {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"}],
        "default": True,
    }


@pytest.mark.parametrize("method", ["GET", "PUT"])
@pytest.mark.parametrize("key", ["F" * 32, SEED_KEY.lower(), "x", GENIE_KEY])
def test_unknown_key_or_another_accounts_key_is_404(client: TestClient, method: str, key: str) -> None:
    response = client.request(method, f"{LIST}/{key}", json={"name": "x"})
    assert response.status_code == 404
    assert response.json() == envelope("NOT_FOUND", "Scenario not found.")


def test_update_is_partial(client: TestClient) -> None:
    response = client.put(f"{LIST}/{OTHER_KEY}", json={"name": "Renamed"})
    assert response.status_code == 200
    assert response.json()["name"] == "Renamed"
    assert response.json()["flow"] == [{"from": "Travel agency", "channel": "SMS"},
                                       {"from": "info@travelagency.com", "channel": "EMAIL"}]
    flow = [{"channel": "VOICE"}]
    assert client.put(f"{LIST}/{OTHER_KEY}", json={"flow": flow}).json()["name"] == "Renamed"


def test_promotion_replaces_the_previous_default(client: TestClient) -> None:
    response = client.put(f"{LIST}/{OTHER_KEY}", json={"default": True})
    assert response.json()["default"] is True
    assert default_keys(client) == [OTHER_KEY]
    assert client.get(SEED).json()["default"] is False


def test_demoting_the_default_is_refused_and_changes_nothing(client: TestClient) -> None:
    before = client.get(LIST).json()
    response = client.put(SEED, json={"name": "changed", "default": False})
    assert response.status_code == 400
    assert response.json() == envelope("INVALID_ARGUMENT", "Exactly one scenario must be default.")
    assert client.get(LIST).json() == before


def test_default_false_on_a_non_default_changes_nothing(client: TestClient) -> None:
    assert client.put(f"{LIST}/{OTHER_KEY}", json={"default": False}).json()["default"] is False
    assert default_keys(client) == [SEED_KEY]


def test_update_with_empty_object_keeps_everything(client: TestClient) -> None:
    before = client.get(SEED).json()
    assert client.put(SEED, json={}).json() == before


# --- errors ----------------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"{", b"not json", b"", b"[]", b'"text"', b"null", b"{\"flow\": [}"])
def test_json_that_does_not_parse_is_bad_request(client: TestClient, body: bytes) -> None:
    response = client.put(SEED, content=body, headers=JSON_HEADERS)
    assert response.status_code == 400
    assert response.json() == envelope("BAD_REQUEST", "Bad request")


def test_xml_that_does_not_parse_is_bad_request_in_xml(client: TestClient) -> None:
    response = client.put(SEED, content=b"<scenario>", headers={"Content-Type": "application/xml", "Accept": ""})
    assert response.status_code == 400
    assert xml_error(response.text) == ("BAD_REQUEST", "Bad request")


def test_invalid_xml_values_name_the_field(client: TestClient) -> None:
    xml = "<scenario><default>maybe</default><flow><step><channel>X</channel></step></flow></scenario>"
    response = client.put(SEED, content=xml, headers={"Content-Type": "application/xml", "Accept": "application/json"})
    error = response.json()["requestError"]["serviceException"]
    assert response.status_code == 400 and set(error["validationErrors"]) == {"default", "flow[0].channel"}


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic QWxhZGRpbjp3cm9uZw==", "App nope", "IBSSO nope", "Bearer nope", "Negotiate x", "Basic"],
)
def test_unauthorized(authorization: str | None, new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app()) as client:
        headers = {"Authorization": authorization} if authorization else {}
        response = client.get(LIST, headers=headers)
        assert response.status_code == 401
        assert response.json() == envelope("UNAUTHORIZED", "Invalid login details")
        response = client.put(SEED, headers={**headers, "Accept": "application/xml"}, json={})
        assert response.status_code == 401 and xml_error(response.text) == ("UNAUTHORIZED", "Invalid login details")


@pytest.mark.parametrize(
    "authorization", [ALADDIN_BASIC, f"App {ALADDIN_API_KEY}", f"IBSSO {ALADDIN_TOKEN}", f"Bearer {ALADDIN_TOKEN}"]
)
def test_every_scheme_reaches_the_same_account(authorization: str, new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app()) as client:
        response = client.get(SEED, headers={"Authorization": authorization})
        assert response.status_code == 200 and response.json()["key"] == SEED_KEY


def test_accounts_are_isolated(new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app()) as client:
        genie = {"Authorization": GENIE_BASIC}
        assert [s["key"] for s in client.get(LIST, headers=genie).json()["scenarios"]] == [GENIE_KEY]
        created = client.post(LIST, json=NEW, headers=genie).json()
        aladdin = {"Authorization": ALADDIN_BASIC}
        assert client.get(f"{LIST}/{created['key']}", headers=aladdin).status_code == 404
        assert created["default"] is False


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", SEED, "GET, PUT"), ("POST", SEED, "GET, PUT"), ("PATCH", SEED, "GET, PUT"),
    ("PUT", LIST, "GET, POST"), ("DELETE", LIST, "GET, POST"),
])
def test_method_not_allowed(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert response.json()["requestError"]["serviceException"]["messageId"] == "METHOD_NOT_ALLOWED"


@pytest.mark.parametrize("path", ["/omni/1/scenario", "/omni/1/scenarios/a/b", "/omni/2/scenarios", "/sms/1/text",
                                  f"{LIST}/"])
def test_unknown_paths_are_404_in_the_envelope(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"


def test_not_acceptable(client: TestClient) -> None:
    response = client.get(SEED, headers={"Accept": "text/html"})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/json"
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_ACCEPTABLE"


@pytest.mark.parametrize(("method", "path", "headers", "body", "status"), [
    # Each row fails two checks; the earlier one in the documented order (docs/api.md) answers.
    ("GET", "/omni/1/nothing", {"Accept": "text/html"}, None, 406),
    ("DELETE", SEED, {"Authorization": "Basic bm9ib2R5Om5vdGhpbmc="}, None, 405),
    ("PUT", SEED, {"Authorization": "Basic bm9ib2R5Om5vdGhpbmc=", "Content-Type": "application/json"},
     b" " * (1024 * 1024 + 1), 413),
    ("PUT", SEED, {"Authorization": "Basic bm9ib2R5Om5vdGhpbmc=", "Content-Type": "text/plain"}, b"{}", 401),
])
def test_checks_answer_in_the_documented_order(
    client: TestClient, method: str, path: str, headers: dict[str, str], body: bytes | None, status: int,
) -> None:
    response = client.request(method, path, headers=headers, content=body)
    assert response.status_code == status


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
def test_unsupported_media_type(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in (("PUT", SEED), ("POST", LIST)):
        response = client.request(method, path, content=json.dumps(NEW), headers=headers)
        assert response.status_code == 415
        assert response.json()["requestError"]["serviceException"]["messageId"] == "UNSUPPORTED_MEDIA_TYPE"


def test_body_over_one_mebibyte_is_413_and_changes_nothing(client: TestClient) -> None:
    before = client.get(LIST).json()
    body = json.dumps({"name": "x" * (1024 * 1024), "flow": [{"channel": "SMS"}]})
    response = client.put(SEED, content=body, headers=JSON_HEADERS)
    assert response.status_code == 413
    assert response.json()["requestError"]["serviceException"]["messageId"] == "PAYLOAD_TOO_LARGE"
    assert client.get(LIST).json() == before


def test_body_just_under_the_bound_is_accepted(client: TestClient) -> None:
    body = json.dumps({"name": "x" * (1024 * 1024 - 100)})
    assert client.put(SEED, content=body, headers=JSON_HEADERS).status_code == 200


def test_unexpected_errors_are_500_general_error_without_a_traceback(app: MockOmni) -> None:
    def boom(*args: object) -> None:
        raise RuntimeError("secret internals")

    app.state.accounts.get = boom  # type: ignore[method-assign]
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        response = client.get(SEED)
    assert response.status_code == 500
    assert response.json() == envelope("GENERAL_ERROR", "Something went wrong. Please contact support.")
    assert "secret" not in response.text and "Traceback" not in response.text


# --- rate limits -----------------------------------------------------------------------

def test_create_is_limited_to_20_per_10_minutes_and_recovers(new_app: Callable[..., MockOmni]) -> None:
    app = new_app()
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        statuses = [client.post(LIST, json=NEW).status_code for _ in range(21)]
        assert statuses == [201] * 20 + [429]
        response = client.post(LIST, json=NEW, headers={"Accept": "application/xml"})
        assert response.status_code == 429 and xml_error(response.text) == ("TOO_MANY_REQUESTS", "Too many requests")
        assert "retry-after" not in response.headers
        assert not [h for h in response.headers if h.startswith("x-ratelimit")]
        app.state.clock.advance(30)  # one token per 30 s
        assert client.post(LIST, json=NEW).status_code == 201
        assert client.post(LIST, json=NEW).status_code == 429
        assert client.get(LIST).status_code == 200  # reads are not limited


def test_update_is_limited_to_40_per_10_minutes_per_account(new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app()) as client:
        aladdin = {"Authorization": ALADDIN_BASIC}
        statuses = [client.put(SEED, json={}, headers=aladdin).status_code for _ in range(41)]
        assert statuses == [200] * 40 + [429]
        assert client.put(f"{LIST}/{GENIE_KEY}", json={}, headers={"Authorization": GENIE_BASIC}).status_code == 200


def test_rate_limit_off_and_custom_profiles(new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app(rate_limits={}), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert {client.post(LIST, json=NEW).status_code for _ in range(50)} == {201}
    with TestClient(new_app(rate_limits={"update": Rule(2, 60)}), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert [client.put(SEED, json={}).status_code for _ in range(3)] == [200, 200, 429]


def test_vendor_responses_carry_only_the_vendors_headers(client: TestClient) -> None:
    response = client.put(SEED, json={})
    assert set(response.headers) == {"content-type", "content-length"}
