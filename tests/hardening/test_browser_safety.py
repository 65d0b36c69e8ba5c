"""No web page can touch the mock: the Host check (DNS rebinding), the admin API's guard (cross-site requests,
JSON bodies only) and HEAD on the web pages, over real sockets to real servers, direct answers and ASGI-only.

The attack in a real browser is in test_browser.py; here the requests a browser would send are written out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import create_app
from mock_omni.settings import Settings
from mock_omni.testing.admin_client import AdminClient
from mock_omni.web.hosts import HostPolicy

from .. import server
from ..conftest import ALADDIN_BASIC, SEED_KEY
from .wire import exchange, responses

SEED = f"/omni/1/scenarios/{SEED_KEY}"
EVIL = "http://evil.example"
#: A fixture document that would give Aladdin a password of the attacker's choosing.
TAKEOVER = json.dumps({"fixtures": {"accounts": [{"username": "Aladdin", "password": "pwned", "scenarios": [
    {"key": SEED_KEY, "name": "x", "flow": [{"from": "InfoSMS", "channel": "SMS"}], "default": True}]}]}}).encode()


@pytest.fixture(scope="module", params=["direct", "asgi-only"])
def live(request: pytest.FixtureRequest) -> Iterator[server.Server]:
    """One real server per way in: vendor calls answered in the protocol, or all through the ASGI app."""
    with server.running(["--asgi-only"] if request.param == "asgi-only" else []) as running:
        yield running


@pytest.fixture
def http(live: server.Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, trust_env=False, timeout=10) as client:
        assert client.post("/__admin/reset").status_code == 200
        yield client


def raw(port: int, method: str, path: str, host: str | None, *headers: str, body: bytes = b"",
        version: str = "1.1") -> tuple[int, dict[str, str], bytes]:
    """One request as written (Host as given, none for None) on its own connection, and its answer."""
    lines = [f"{method} {path} HTTP/{version}", *([f"Host: {host}"] if host is not None else []), *headers,
             "Connection: close"]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    [answer] = responses(exchange(port, ("\r\n".join(lines) + "\r\n\r\n").encode() + body))
    return answer


def envelope_text(body: bytes, message_id: str) -> str:
    details = json.loads(body)["requestError"]["serviceException"]
    assert details["messageId"] == message_id
    return details["text"]  # type: ignore[no-any-return]


def aladdin_password_works(http: httpx.Client) -> bool:
    return http.get("/omni/1/scenarios", headers={"Authorization": ALADDIN_BASIC}).status_code == 200


# --- DNS rebinding: the Host header -------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "headers"), [
    ("GET", "/__admin/accounts", ()),
    ("GET", "/__admin/requests", ()),
    ("GET", "/__admin/state", ()),
    ("GET", "/", ("Accept: application/json",)),
    ("GET", "/omni/1/scenarios", (f"Authorization: {ALADDIN_BASIC}",)),  # the direct path's
    ("GET", "/docs", ()),
])
def test_a_page_rebound_to_the_mock_reads_nothing(live: server.Server, http: httpx.Client, method: str, path: str,
                                                  headers: tuple[str, ...]) -> None:
    status, answered, body = raw(live.port, method, path, f"evil.example:{live.port}", *headers)
    assert status == 403 and answered["content-type"] == "application/json"
    text = envelope_text(body, "FORBIDDEN")
    assert f"evil.example:{live.port}" in text and "--allowed-host evil.example" in text
    assert "MOCK_OMNI_ALLOWED_HOSTS=evil.example" in text and "\n" not in text
    assert "Aladdin" not in body.decode()


def test_a_rebound_page_changes_nothing_through_the_vendor_api(live: server.Server, http: httpx.Client) -> None:
    body = json.dumps({"name": "renamed by evil"}).encode()
    for host in (f"evil.example:{live.port}", "EVIL.example.", "localhost.evil.example", "127.0.0.1.nip.io"):
        status, _, _ = raw(live.port, "PUT", SEED, host, f"Authorization: {ALADDIN_BASIC}",
                           "Content-Type: application/json", body=body)
        assert status == 403, host
    # A refused request never reached the vendor API: the journal has none of them.
    assert http.get("/__admin/requests").json()["requests"] == []
    assert http.get(SEED, headers={"Authorization": ALADDIN_BASIC}).json()["name"] != "renamed by evil"


@pytest.mark.parametrize("host", [
    "127.0.0.1:{port}", "localhost:{port}", "LOCALHOST", "app.localhost:{port}", "[::1]:{port}", "10.1.2.3:{port}",
    "127.0.0.1", "localhost.",
])
def test_loopback_names_and_ip_addresses_are_always_answered(live: server.Server, http: httpx.Client,
                                                             host: str) -> None:
    status, _, _ = raw(live.port, "GET", SEED, host.format(port=live.port), f"Authorization: {ALADDIN_BASIC}")
    assert status == 200
    assert raw(live.port, "GET", "/__admin/health", host.format(port=live.port))[0] == 200


def test_a_request_without_host_is_answered(live: server.Server, http: httpx.Client) -> None:
    assert raw(live.port, "GET", SEED, None, f"Authorization: {ALADDIN_BASIC}", version="1.0")[0] == 200
    assert raw(live.port, "GET", "/__admin/health", None, version="1.0")[0] == 200


@pytest.mark.parametrize(("args", "env", "allowed", "refused"), [
    (["--allowed-host", "mock"], {}, ["mock:{port}", "MOCK"], ["mock.evil.example", "evil.example"]),
    ([], {"MOCK_OMNI_ALLOWED_HOSTS": "mock, .example.test"}, ["mock", "example.test:{port}", "api.example.test"],
     ["example.test.evil.example", "notexample.test"]),
    (["--allowed-host", "all"], {}, ["evil.example:{port}", "anything"], []),
    (["--allowed-host", "*"], {}, ["evil.example"], []),
])
def test_allowed_hosts_come_from_the_flag_or_the_variable(args: list[str], env: dict[str, str], allowed: list[str],
                                                          refused: list[str]) -> None:
    for way in ([], ["--asgi-only"]):
        with server.running([*args, *way], env) as running:
            for host in allowed:
                answer = raw(running.port, "GET", SEED, host.format(port=running.port),
                             f"Authorization: {ALADDIN_BASIC}")
                assert answer[0] == 200, (host, way)
            for host in refused:
                answer = raw(running.port, "GET", SEED, host.format(port=running.port),
                             f"Authorization: {ALADDIN_BASIC}")
                assert answer[0] == 403, (host, way)


def test_the_host_policy_in_code_and_the_name_given_to_host() -> None:
    policy = HostPolicy(["mock", ".example.test"], bound="staging.internal")
    assert all(policy.allows(host) for host in (
        None, b"", b"staging.internal:8080", b"mock", b"a.b.example.test", b"[::ffff:127.0.0.1]:1", b"0.0.0.0"))
    assert not any(policy.allows(host) for host in (
        b"evil.example", b"mock.evil", b"[::1", b"[::1]x", b"mock:port", b"x" * 400, b"\x00two Host headers",
        b"staging.internal.evil.example"))
    assert HostPolicy(bound="0.0.0.0").exact == frozenset()
    # Decisions are cached, within a bound.
    for n in range(5000):
        policy.allows(b"host-%d.evil" % n)
    assert len(policy._decided) <= 1024


def test_only_a_listening_app_checks_the_host() -> None:
    """In-process clients (TestClient's http://testserver) are not reachable from a browser."""
    with TestClient(create_app(Settings())) as client:
        assert client.get("/__admin/health").status_code == 200
    with TestClient(create_app(Settings(host="staging.internal"), listening=True),
                    base_url="http://staging.internal") as client:
        assert client.get("/__admin/health").status_code == 200
        assert client.get("/__admin/health", headers={"Host": "testserver"}).status_code == 403


# --- cross-site requests to the admin API --------------------------------------------------------------------

def test_a_simple_cross_origin_post_adds_no_fault(live: server.Server, http: httpx.Client) -> None:
    status, _, body = raw(live.port, "POST", "/__admin/faults", f"127.0.0.1:{live.port}", f"Origin: {EVIL}",
                          "Content-Type: text/plain", body=b'{"path":"*","status":503}')
    assert status == 403
    text = envelope_text(body, "FORBIDDEN")
    assert EVIL in text and "--cors-origin" in text and "MOCK_OMNI_CORS_ORIGINS" in text
    assert http.get("/__admin/faults").json()["faults"] == []
    assert http.get(SEED, headers={"Authorization": ALADDIN_BASIC}).status_code == 200


def test_a_cross_origin_reset_neither_resets_nor_replaces_a_password(live: server.Server, http: httpx.Client) -> None:
    assert http.put(SEED, json={"name": "kept"}, headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    host = f"127.0.0.1:{live.port}"
    for headers, body in [
        ((f"Origin: {EVIL}", "Content-Type: text/plain"), TAKEOVER),
        ((f"Origin: {EVIL}", "Content-Type: application/x-www-form-urlencoded"), b""),  # a form, no fields
        ((f"Origin: {EVIL}",), b""),
        (("Origin: null", "Content-Type: text/plain"), b""),  # a sandboxed frame or a file:// page
        (("Sec-Fetch-Site: cross-site",), b""),  # no Origin, but the browser says where it came from
    ]:
        status, _, _ = raw(live.port, "POST", "/__admin/reset", host, *headers, body=body)
        assert status == 403, headers
    assert http.get(SEED, headers={"Authorization": ALADDIN_BASIC}).json()["name"] == "kept"
    assert aladdin_password_works(http)


@pytest.mark.parametrize("content_type", [
    "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None,
    "application/jsonx", "text/json",
])
def test_an_admin_body_must_be_json(live: server.Server, http: httpx.Client, content_type: str | None) -> None:
    """Even without Origin (curl -d sends a form's type): a page can send these types without a preflight."""
    headers = (f"Content-Type: {content_type}",) if content_type else ()
    status, _, body = raw(live.port, "POST", "/__admin/reset", f"127.0.0.1:{live.port}", *headers, body=TAKEOVER)
    assert status == 415
    text = envelope_text(body, "UNSUPPORTED_MEDIA_TYPE")
    assert "application/json" in text and (content_type or "no Content-Type") in text
    assert aladdin_password_works(http)
    status, _, _ = raw(live.port, "POST", "/__admin/faults", f"127.0.0.1:{live.port}", *headers,
                       body=b'{"path":"*","status":503}')
    assert status == 415 and http.get("/__admin/faults").json()["faults"] == []


def test_json_bodies_from_allowed_and_same_origins_and_from_programs_work(live: server.Server,
                                                                          http: httpx.Client) -> None:
    host = f"127.0.0.1:{live.port}"
    fault = b'{"path":"/nowhere","status":503}'
    for headers in [
        ("Content-Type: application/json",),
        ("Content-Type: Application/JSON; charset=utf-8",),
        ("Origin: http://localhost:3000", "Content-Type: application/json", "Sec-Fetch-Site: cross-site"),
        (f"Origin: http://{host}", "Content-Type: application/json", "Sec-Fetch-Site: same-origin"),
    ]:
        assert raw(live.port, "POST", "/__admin/faults", host, *headers, body=fault)[0] == 201, headers
    assert len(http.get("/__admin/faults").json()["faults"]) == 4
    # No body needs no type; an allowed origin's 415 carries CORS headers, so its page can read it.
    assert raw(live.port, "DELETE", "/__admin/faults", host, "Origin: http://localhost:3000")[0] == 200
    status, answered, _ = raw(live.port, "POST", "/__admin/reset", host, "Origin: http://localhost:3000",
                              "Content-Type: text/plain", body=b"{}")
    assert status == 415 and answered["access-control-allow-origin"] == "http://localhost:3000"


def test_the_admin_client_works_and_the_vendor_api_is_untouched(live: server.Server, http: httpx.Client) -> None:
    with AdminClient(live.url) as admin:
        admin.fault(503, path="/omni/1/scenarios", times=1)
        assert http.get("/omni/1/scenarios", headers={"Authorization": ALADDIN_BASIC}).status_code == 503
        admin.reset(baseline={})
    # The vendor's paths take what the vendor takes: a text/plain body from another origin is the vendor's 415.
    status, _, body = raw(live.port, "PUT", SEED, f"127.0.0.1:{live.port}", f"Origin: {EVIL}",
                          f"Authorization: {ALADDIN_BASIC}", "Content-Type: text/plain", body=b'{"name":"x"}')
    assert status == 415 and "admin API" not in body.decode()


def test_with_cors_off_or_another_origin_the_dashboards_own_origin_still_may() -> None:
    for policy in ("off", "http://localhost:1"):
        with server.running(["--cors-origin", policy]) as running:
            host = f"127.0.0.1:{running.port}"
            same = raw(running.port, "POST", "/__admin/reset", host, f"Origin: http://{host}")
            other = raw(running.port, "POST", "/__admin/reset", host, f"Origin: http://localhost:{running.port}")
            assert (same[0], other[0]) == (200, 403), policy


# --- HEAD on the web pages -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/__admin/health", "/", "/docs", "/openapi.json", "/__admin/faults"])
def test_head_answers_as_get_without_the_body(live: server.Server, http: httpx.Client, path: str) -> None:
    host = f"127.0.0.1:{live.port}"
    got = raw(live.port, "GET", path, host)
    # HEAD then GET on one connection: had HEAD sent a body, it would be read as the GET's answer.
    request = (f"HEAD {path} HTTP/1.1\r\nHost: {host}\r\n\r\n"
               f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    data = exchange(live.port, request.encode())
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ") and rest.startswith(b"HTTP/1.1 200 "), data[:300]
    headers = dict(line.lower().split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:])
    assert got[0] == 200
    assert headers["content-type"] == got[1]["content-type"]
    assert int(headers["content-length"]) == len(got[2])


def test_head_on_the_vendor_api_is_answered_as_before(live: server.Server, http: httpx.Client) -> None:
    status, headers, _ = raw(live.port, "HEAD", "/omni/1/scenarios", f"127.0.0.1:{live.port}",
                             f"Authorization: {ALADDIN_BASIC}")
    assert status == 405 and headers["allow"] == "GET, POST"


def test_the_allow_of_a_405_on_the_web_side_lists_head_with_get(live: server.Server, http: httpx.Client) -> None:
    response = http.put("/__admin/health")
    assert response.status_code == 405 and response.headers["allow"] == "GET, HEAD"
