"""``POST /auth/1/oauth2/token`` over HTTP: RFC 6749's client credentials grant, its errors, hostile requests."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_omni import MockOmni

from .admin_helpers import create_account
from .conftest import ALADDIN_TOKEN

TOKEN = "/auth/1/oauth2/token"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
GRANT = "grant_type=client_credentials"
ALADDIN = "client_id=Aladdin&client_secret=open+sesame"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


pytestmark = pytest.mark.both_stores


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    app = new_app()
    create_account(app, {"username": "shop", "password": "shop-pw", "oauth2Clients": [
        {"clientId": "shop-app", "clientSecret": "s3cr:t/+%&=", "scopes": ["omni-failover:manage"]}]})
    return app


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def basic(client_id: str, secret: str) -> str:
    # RFC 6749 2.3.1: each part form-encoded, then Basic.
    pair = f"{quote(client_id, safe='')}:{quote(secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def token_request(client: TestClient, body: bytes | str, headers: dict[str, str] | None = None) -> Any:
    return client.post(TOKEN, content=body if isinstance(body, bytes) else body.encode(),
                       headers={**FORM, **(headers or {})})


def error_of(response: Any) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert set(data) == {"error", "error_description"} and data["error_description"]
    return response.status_code, data["error"]


# --- success -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "headers"), [
    (f"{GRANT}&{ALADDIN}", {}),
    (GRANT, {"Authorization": basic("Aladdin", "open sesame")}),
    (f"{GRANT}&client_id=shop-app&client_secret={quote('s3cr:t/+%&=', safe='')}", {}),
    (GRANT, {"Authorization": basic("shop-app", "s3cr:t/+%&=")}),
    (f"{ALADDIN}&{GRANT}&unknown=ignored&other=", {}),  # unknown parameters are ignored (RFC 6749 3.2)
    (f"{GRANT}&{ALADDIN}&scope=", {}),  # an empty parameter is an absent one (3.1)
    # client_id alone identifies (3.2.1): with Basic for the same client, one authentication method (2.3.1).
    (f"{GRANT}&client_id=Aladdin", {"Authorization": basic("Aladdin", "open sesame")}),
    (f"{GRANT}&client_id={quote('shop-app')}", {"Authorization": basic("shop-app", "s3cr:t/+%&=")}),
    (f"{GRANT}&client_id=&client_secret=", {"Authorization": basic("Aladdin", "open sesame")}),  # empty: absent
    (f"{GRANT}&{ALADDIN}&scope=omni-failover%3Amanage+message%3Asend", {}),
])
def test_a_client_gets_a_bearer_token(client: TestClient, body: str, headers: dict[str, str]) -> None:
    response = token_request(client, body, headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert set(data) == {"access_token", "token_type", "expires_in"}
    assert (data["token_type"], data["expires_in"]) == ("Bearer", 3600)
    assert len(data["access_token"]) >= 32
    assert {name: response.headers[name] for name in NO_STORE} == NO_STORE
    listed = client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {data['access_token']}"})
    assert listed.status_code == 200


def test_each_request_gets_a_new_token_and_each_works(client: TestClient) -> None:
    tokens = {token_request(client, f"{GRANT}&{ALADDIN}").json()["access_token"] for _ in range(3)}
    assert len(tokens) == 3
    for token in tokens:
        assert client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_token_expires_on_the_mocks_clock(client: TestClient, app: MockOmni) -> None:
    token = token_request(client, f"{GRANT}&{ALADDIN}").json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    app.admin.advance_clock(3599)
    assert client.get("/omni/1/scenarios", headers=headers).status_code == 200
    app.admin.advance_clock(1)
    expired = client.get("/omni/1/scenarios", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"


def test_the_lifetime_is_a_setting(new_app: Callable[..., MockOmni]) -> None:
    app = new_app(token_lifetime=60)
    with TestClient(app) as client:
        data = token_request(client, f"{GRANT}&{ALADDIN}").json()
        assert data["expires_in"] == 60
        app.state.clock.advance(60)
        assert client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {data['access_token']}"}
                          ).status_code == 401


def test_fixture_tokens_still_work_as_bearer_tokens(client: TestClient) -> None:
    assert client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {ALADDIN_TOKEN}"}).status_code == 200


def test_the_answer_is_json_whatever_accept_says(client: TestClient) -> None:
    response = token_request(client, f"{GRANT}&{ALADDIN}", {"Accept": "application/xml"})
    assert response.status_code == 200 and response.json()["token_type"] == "Bearer"
    assert error_of(token_request(client, GRANT, {"Accept": "application/xml"}))[0] == 401


def test_the_journal_records_the_account_that_signed_in(client: TestClient, app: MockOmni) -> None:
    token_request(client, GRANT, {"Authorization": basic("shop-app", "s3cr:t/+%&=")})
    token_request(client, GRANT, {"Authorization": basic("shop-app", "wrong")})
    assert [(entry.status, entry.account) for entry in app.state.journal.entries()] == [(200, "shop"), (401, None)]


# --- RFC 6749 5.2 errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "headers", "status", "error"), [
    (GRANT, {}, 401, "invalid_client"),                                             # no client at all
    (f"{GRANT}&client_id=Aladdin", {}, 401, "invalid_client"),                      # no secret
    (f"{GRANT}&client_id=Aladdin&client_secret=wrong", {}, 401, "invalid_client"),
    (f"{GRANT}&client_id=nobody&client_secret=open+sesame", {}, 401, "invalid_client"),
    (f"{GRANT}&client_id=Genie&client_secret=open+sesame", {}, 401, "invalid_client"),  # another's secret
    (GRANT, {"Authorization": basic("Aladdin", "wrong")}, 401, "invalid_client"),
    (GRANT, {"Authorization": "Basic !!!"}, 401, "invalid_client"),
    (GRANT, {"Authorization": f"Bearer {ALADDIN_TOKEN}"}, 401, "invalid_client"),
    (f"{GRANT}&client_secret=open+sesame", {"Authorization": basic("Aladdin", "open sesame")}, 400,
     "invalid_request"),                                                            # two ways at once (2.3)
    (ALADDIN, {}, 400, "invalid_request"),                                          # no grant_type
    (f"grant_type=password&{ALADDIN}&username=Aladdin&password=x", {}, 400, "unsupported_grant_type"),
    (f"grant_type=authorization_code&{ALADDIN}&code=x", {}, 400, "unsupported_grant_type"),
    (f"grant_type=CLIENT_CREDENTIALS&{ALADDIN}", {}, 400, "unsupported_grant_type"),
    (f"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&{ALADDIN}", {}, 400, "unsupported_grant_type"),
    (f"{GRANT}&{GRANT}&{ALADDIN}", {}, 400, "invalid_request"),                     # repeated (3.1)
    (f"{GRANT}&{ALADDIN}&client_id=Aladdin", {}, 400, "invalid_request"),
    (f"{GRANT}&{ALADDIN}&scope=a&scope=b", {}, 400, "invalid_request"),
    # Repeated, once empty: still twice (3.1), whatever the order.
    (f"grant_type=&{GRANT}&{ALADDIN}", {}, 400, "invalid_request"),
    (f"{GRANT}&grant_type=&{ALADDIN}", {}, 400, "invalid_request"),
    (f"{GRANT}&client_id=&{ALADDIN}", {}, 400, "invalid_request"),
    (f"{GRANT}&client_secret=&{ALADDIN}", {}, 400, "invalid_request"),
    (f"{GRANT}&scope=&{ALADDIN}&scope=omni-failover%3Amanage", {}, 400, "invalid_request"),
    (f"{GRANT}&scope=&scope=&{ALADDIN}", {}, 400, "invalid_request"),
    (f"grant_type=&grant_type=&{ALADDIN}", {}, 400, "invalid_request"),
    (f"{GRANT}&client_id=&client_id=", {"Authorization": basic("Aladdin", "open sesame")}, 400, "invalid_request"),
    # Basic and a client_id naming another client: which client asks is ambiguous.
    (f"{GRANT}&client_id=Genie", {"Authorization": basic("Aladdin", "open sesame")}, 400, "invalid_request"),
    (f"{GRANT}&client_id=shop-app", {"Authorization": basic("Aladdin", "open sesame")}, 400, "invalid_request"),
    (f"{GRANT}&client_id=aladdin", {"Authorization": basic("Aladdin", "open sesame")}, 400, "invalid_request"),
    (f"{GRANT}&client_id=Aladdin&client_secret=open+sesame", {"Authorization": basic("Aladdin", "open sesame")},
     400, "invalid_request"),                                                       # two methods, same client
    (f"{GRANT}&client_id=shop-app&client_secret={quote('s3cr:t/+%&=', safe='')}&scope=omni-failover%3Alogs%3Aread",
     {}, 400, "invalid_scope"),
])
def test_errors_are_rfc_6749s(client: TestClient, body: str, headers: dict[str, str], status: int,
                              error: str) -> None:
    response = token_request(client, body, headers)
    assert error_of(response) == (status, error)
    assert {name: response.headers[name] for name in NO_STORE} == NO_STORE


@pytest.mark.parametrize("scope", ["made-up", "omni-failover:manage made-up", "OMNI-FAILOVER:MANAGE",
                                   "omni-failover:manage ", "sms:send"])
@pytest.mark.parametrize("how", ["body", "basic"])
def test_an_unknown_scope_is_invalid_scope_for_every_client_alike(client: TestClient, scope: str, how: str) -> None:
    # The account's own username and password hold every scope: every scope the API has, not any name.
    every = (f"{GRANT}&{ALADDIN}", {}) if how == "body" else (GRANT, {"Authorization": basic("Aladdin", "open sesame")})
    scoped = (f"{GRANT}&client_id=shop-app&client_secret={quote('s3cr:t/+%&=', safe='')}", {}) if how == "body" \
        else (GRANT, {"Authorization": basic("shop-app", "s3cr:t/+%&=")})
    answers = [token_request(client, f"{body}&scope={quote(scope)}", headers) for body, headers in (every, scoped)]
    assert [error_of(answer) for answer in answers] == [(400, "invalid_scope")] * 2
    assert answers[0].json() == answers[1].json()
    assert answers[0].headers.get("www-authenticate") is None


def test_a_client_that_tried_basic_gets_a_basic_challenge(client: TestClient) -> None:
    with_basic = token_request(client, GRANT, {"Authorization": basic("Aladdin", "wrong")})
    assert with_basic.headers["www-authenticate"] == 'Basic realm="mock-omni"'
    in_body = token_request(client, f"{GRANT}&client_id=Aladdin&client_secret=wrong")
    assert "www-authenticate" not in in_body.headers


def test_a_wrong_client_is_refused_before_the_grant_type_is_looked_at(client: TestClient) -> None:
    assert error_of(token_request(client, "grant_type=password&client_id=Aladdin&client_secret=x")) == (
        401, "invalid_client")


# --- hostile requests: 4xx, never 5xx ---------------------------------------------------------------


@pytest.mark.parametrize("content_type", [
    None, "application/json", "application/xml", "text/plain", "multipart/form-data; boundary=x",
    "application/x-www-form-urlencodedx", "", "application/x-www-form-urlencoded-but-not",
])
def test_a_body_that_is_not_a_form_is_415_in_the_vendors_envelope(client: TestClient,
                                                                   content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(TOKEN, content=f"{GRANT}&{ALADDIN}".encode(), headers=headers)
    assert response.status_code == 415
    assert response.json()["requestError"]["serviceException"]["messageId"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "x-www-form-urlencoded" in response.json()["requestError"]["serviceException"]["text"]


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded; charset=UTF-8",
                                          "Application/X-WWW-Form-Urlencoded"])
def test_the_form_type_may_carry_a_charset_and_any_case(client: TestClient, content_type: str) -> None:
    response = client.post(TOKEN, content=f"{GRANT}&{ALADDIN}".encode(), headers={"Content-Type": content_type})
    assert response.status_code == 200


@pytest.mark.parametrize("body", [
    b"", b"&&&", b"=", b"grant_type", b"%", b"%zz=1", b"grant_type=client_credentials&client_id=%ff&client_secret=x",
    "grant_type=client_credentials&client_id=Al\u00e4ddin&client_secret=x".encode(), b"\x00\x01\x02",
    b"a=1&" * 200, b"{\"grant_type\": \"client_credentials\"}", b"grant_type=client_credentials&" + b"x" * 500_000,
    b"grant_type=client_credentials&client_id=" + b"A" * 900_000 + b"&client_secret=x",
])
def test_malformed_forms_are_4xx(client: TestClient, body: bytes) -> None:
    status, _ = error_of(token_request(client, body))
    assert 400 <= status < 500


def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    response = token_request(client, b"grant_type=client_credentials&x=" + b"y" * (1024 * 1024))
    assert response.status_code == 413
    assert response.json()["requestError"]["serviceException"]["messageId"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize(("method", "status"), [("GET", 405), ("PUT", 405), ("DELETE", 405)])
def test_other_methods_are_405(client: TestClient, method: str, status: int) -> None:
    response = client.request(method, TOKEN)
    assert response.status_code == status and response.headers["allow"] == "POST"


_PARAMETER = st.sampled_from(["grant_type", "client_id", "client_secret", "scope", "x", "GRANT_TYPE", ""])
_VALUE = st.one_of(st.sampled_from(["client_credentials", "Aladdin", "open sesame", "shop-app", "password", ""]),
                   st.text(max_size=20))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=st.lists(st.tuples(_PARAMETER, _VALUE), max_size=8), raw=st.binary(max_size=40),
       authorization=st.one_of(st.none(), st.just(basic("Aladdin", "open sesame")), st.builds(
           "{}{}".format, st.sampled_from(["", "Basic ", "basic ", "Bearer "]),
           st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))))
def test_any_token_request_is_answered_below_500(client: TestClient, pairs: list[tuple[str, str]], raw: bytes,
                                                 authorization: str | None) -> None:
    body = "&".join(f"{quote(name)}={quote(value)}" for name, value in pairs).encode() + raw
    headers = {} if authorization is None else {"Authorization": authorization}
    response = token_request(client, body, headers)
    assert response.status_code in (200, 400, 401), response.text
    if response.status_code == 200:
        assert response.json()["token_type"] == "Bearer"
    else:
        error_of(response)
