"""CORS: local browser origins by default, configurable, preflights answered, non-browser requests untouched."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from mock_omni.server.cli import main
from mock_omni.settings import Settings
from mock_omni.web.cors import (
    ALLOW_HEADERS,
    MAX_REQUESTED_HEADERS,
    MAX_REQUESTED_LENGTH,
    CorsMiddleware,
    OriginPolicy,
    allowed_headers,
)

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY, make_app

pytestmark = pytest.mark.both_stores

SEED_PATH = f"/omni/1/scenarios/{SEED_KEY}"
PREFLIGHT = {"Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "authorization, content-type, accept"}
CORS_HEADERS = {"access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers",
                "access-control-max-age", "vary"}


def client_for(**settings: object) -> TestClient:
    return TestClient(make_app(**settings), headers={"Authorization": ALADDIN_BASIC})


@pytest.mark.parametrize("origin", [
    "http://localhost:3000", "http://127.0.0.1:5173", "https://localhost", "http://[::1]:8000", "http://localhost",
])
def test_local_origins_are_allowed_by_default(origin: str) -> None:
    with client_for() as client:
        response = client.get(SEED_PATH, headers={"Origin": origin})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["vary"] == "Origin"


@pytest.mark.parametrize("origin", [
    "http://example.com", "http://localhost.evil.test", "http://127.0.0.1.evil.test:80", "null", "file://",
])
def test_other_origins_get_no_cors_headers(origin: str) -> None:
    with client_for() as client:
        response = client.get(SEED_PATH, headers={"Origin": origin})
        preflight = client.options(SEED_PATH, headers={"Origin": origin, **PREFLIGHT})
    assert response.status_code == 200
    assert not CORS_HEADERS & set(response.headers)
    # The preflight goes on to the vendor API, which knows no OPTIONS: the browser then refuses the call.
    assert preflight.status_code == 405
    assert not CORS_HEADERS & set(preflight.headers)


def test_preflight_names_the_vendor_methods_and_headers() -> None:
    with client_for() as client:
        response = client.options(SEED_PATH, headers={"Origin": "http://localhost:3000", **PREFLIGHT})
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    assert response.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"  # DELETE /auth/1/session
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert allowed == {"authorization", "content-type", "accept"}


def test_the_admin_api_preflight_also_allows_delete_and_the_admin_token() -> None:
    with client_for() as client:
        response = client.options("/__admin/requests", headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "DELETE",
            "Access-Control-Request-Headers": "x-admin-token"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-methods"] == "GET, POST, PUT, DELETE"
    assert "X-Admin-Token" in response.headers["access-control-allow-headers"]


# What Chromium sends for a fetch() that sets the headers of Sentry's and OpenTelemetry's browser SDKs and a
# request id: the non-safelisted names, lowercased, sorted, joined by commas without spaces.
BROWSER_REQUEST_HEADERS = "authorization,baggage,content-type,sentry-trace,traceparent,tracestate,x-request-id"


def allowed_set(value: str) -> set[str]:
    return {name.strip().lower() for name in value.split(",")}


@pytest.mark.parametrize("path", [SEED_PATH, "/omni/1/scenarios", "/__admin/requests"])
def test_the_preflight_allows_the_headers_a_browser_app_asks_for(path: str) -> None:
    with client_for() as client:
        response = client.options(path, headers={
            "Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": BROWSER_REQUEST_HEADERS})
    assert response.status_code == 204
    assert allowed_set(BROWSER_REQUEST_HEADERS) <= allowed_set(response.headers["access-control-allow-headers"])
    # The answer depends on what was asked: caches must keep preflights for other header sets apart.
    assert response.headers["vary"] == "Origin, Access-Control-Request-Headers"


def test_the_actual_request_with_those_headers_is_answered_with_cors() -> None:
    headers = {"Origin": "http://localhost:5173", "X-Request-Id": "4bf92f35", "baggage": "sentry-environment=dev",
               "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
               "sentry-trace": "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"}
    with client_for() as client:
        response = client.put(SEED_PATH, json={"name": "traced"}, headers=headers)
    assert response.status_code == 200 and response.json()["name"] == "traced"
    assert response.headers["access-control-allow-origin"] == "http://localhost:5173"


def test_a_disallowed_origin_gets_nothing_whatever_it_asks_for() -> None:
    with client_for() as client:
        response = client.options(SEED_PATH, headers={
            "Origin": "http://example.com", "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": BROWSER_REQUEST_HEADERS})
    assert response.status_code == 405
    assert not CORS_HEADERS & set(response.headers)


@pytest.mark.parametrize(("requested", "allowed"), [
    (b"", ALLOW_HEADERS),
    (b"  ", ALLOW_HEADERS),
    (b"x-request-id", ALLOW_HEADERS + b", x-request-id"),
    # Names already in the list are not repeated, whatever their case; list syntax allows spaces and empties.
    (b"Authorization, ,X-Request-Id,\tx-request-id", ALLOW_HEADERS + b", X-Request-Id"),
    (b"traceparent,tracestate", ALLOW_HEADERS + b", traceparent, tracestate"),
    # Not header names (RFC 9110 tokens): only the API's own headers are allowed.
    (b"x-ok,bad name", ALLOW_HEADERS),
    (b"x-ok,bad:name", ALLOW_HEADERS),
    (b"x-ok,b\xc3\xa4d", ALLOW_HEADERS),
    (b"x-ok,\"quoted\"", ALLOW_HEADERS),
    (b",".join(b"x-h%d" % n for n in range(MAX_REQUESTED_HEADERS + 1)), ALLOW_HEADERS),
    (b"x-" + b"a" * MAX_REQUESTED_LENGTH, ALLOW_HEADERS),
])
def test_allowed_headers(requested: bytes, allowed: bytes) -> None:
    assert allowed_headers(ALLOW_HEADERS, requested) == allowed


def test_the_bounds_are_inclusive() -> None:
    many = b",".join(b"x-h%d" % n for n in range(MAX_REQUESTED_HEADERS))
    assert allowed_headers(ALLOW_HEADERS, many).count(b"x-h") == MAX_REQUESTED_HEADERS
    long = b"x-" + b"a" * (MAX_REQUESTED_LENGTH - 2)
    assert allowed_headers(ALLOW_HEADERS, long).endswith(b", " + long)


def test_two_request_headers_lines_combine() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("a preflight from an allowed origin is answered by the middleware")

    client = TestClient(CorsMiddleware(app, OriginPolicy(None)))
    response = client.options("/omni/1/scenarios", headers=[
        ("Origin", "http://localhost:3000"), ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Headers", "traceparent"), ("Access-Control-Request-Headers", "baggage")])
    assert {"traceparent", "baggage"} <= allowed_set(response.headers["access-control-allow-headers"])


@pytest.mark.parametrize("path", [SEED_PATH, "/omni/1/scenarios", "/omni/1/nowhere", "/openapi.json", "/"])
def test_requests_without_origin_get_exactly_the_same_headers_as_with_cors_off(path: str) -> None:
    with client_for() as on, client_for(cors_origins=["off"]) as off:
        with_cors = on.get(path, headers={"Accept": "application/json"})
        without = off.get(path, headers={"Accept": "application/json"})
    assert with_cors.status_code == without.status_code
    assert dict(with_cors.headers) == dict(without.headers)


def test_errors_carry_cors_headers_so_the_browser_can_read_the_envelope() -> None:
    with client_for() as client:
        response = client.get(SEED_PATH, headers={"Origin": "http://localhost:3000", "Authorization": "Basic eA=="})
    assert response.status_code == 401
    assert response.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_an_existing_vary_header_is_merged_not_replaced() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"vary", b"Accept")]})
        await send({"type": "http.response.body", "body": b"ok"})

    client = TestClient(CorsMiddleware(app, OriginPolicy(None)))  # no lifespan: a bare app
    response = client.get("/", headers={"Origin": "http://localhost:3000"})
    plain = client.get("/")
    assert response.headers["vary"] == "Accept, Origin"
    assert plain.headers["vary"] == "Accept"


def test_configured_origins_replace_the_default() -> None:
    with client_for(cors_origins=["https://app.example.test"]) as client:
        listed = client.get(SEED_PATH, headers={"Origin": "https://app.example.test"})
        local = client.get(SEED_PATH, headers={"Origin": "http://localhost:3000"})
    assert listed.headers["access-control-allow-origin"] == "https://app.example.test"
    assert "access-control-allow-origin" not in local.headers


def test_local_can_be_kept_next_to_others_and_star_allows_any() -> None:
    assert OriginPolicy(["local", "https://app.example.test"]).allows("http://localhost:9")
    assert OriginPolicy(["*"]).allows("https://anything.example.test")
    assert not OriginPolicy(["off"]).enabled and not OriginPolicy([]).enabled


def test_off_turns_cors_off_even_for_local_origins() -> None:
    with client_for(cors_origins=["off"]) as client:
        response = client.get(SEED_PATH, headers={"Origin": "http://localhost:3000"})
        preflight = client.options(SEED_PATH, headers={"Origin": "http://localhost:3000", **PREFLIGHT})
    assert "access-control-allow-origin" not in response.headers
    assert preflight.status_code == 405


def test_env_var_and_flag() -> None:
    env = {"MOCK_OMNI_CORS_ORIGINS": "http://localhost:3000, https://app.example.test"}
    assert Settings.from_env(env).cors_origins == ["http://localhost:3000", "https://app.example.test"]
    assert Settings.from_env(env, cors_origins=["off"]).cors_origins == ["off"]
    assert Settings.from_env({}).cors_origins is None


def test_a_bad_origin_is_a_one_line_start_up_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--cors-origin", "app.example.test/path", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--cors-origin" in err and "app.example.test/path" in err


@pytest.mark.parametrize(("specs", "expected"), [
    (None, "frame-ancestors 'self' http://localhost:* https://localhost:* http://127.0.0.1:* https://127.0.0.1:*"),
    (["http://app.example:3000", "https://b.example"],
     "frame-ancestors 'self' http://app.example:3000 https://b.example"),
    (["off"], "frame-ancestors 'self'"),
    (["*"], None),
    # Not a CSP source: left out rather than let a ';' start a directive of the operator's typing.
    (["http://a.example;script-src", "http://b.example"], "frame-ancestors 'self' http://b.example"),
])
def test_only_pages_that_may_call_the_admin_api_may_frame_the_mocks_pages(
    specs: list[str] | None, expected: str | None,
) -> None:
    assert OriginPolicy(specs).frame_ancestors() == expected


def test_every_page_of_the_dashboard_says_who_may_frame_it_over_http() -> None:
    """/static/dashboard.html is the dashboard itself (its Reset button works there): served without the
    frame-ancestors of / and /docs, any site could frame it (clickjacking)."""
    with server.running(["--cors-origin", "http://app.example:3000"]) as running:
        policies = {path: httpx.get(running.url + path, headers={"Accept": "text/html"}, timeout=10)
                    .headers.get("content-security-policy")
                    for path in ("/", "/docs", "/static/dashboard.html", "/static/dashboard.js")}
    assert set(policies.values()) == {"frame-ancestors 'self' http://app.example:3000"}, policies
