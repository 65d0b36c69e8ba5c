"""Hostile headers and credentials: 401 or 404 as the contract says, never 500, never another's data."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni

from .. import server
from ..conftest import ALADDIN_API_KEY, ALADDIN_BASIC, ALADDIN_TOKEN, GENIE_BASIC, GENIE_KEY, SEED_KEY, make_app
from .wire import exchange, request, responses

GENIE_API_KEY = "7c1f5e2a9b8d4e6f0a3b5c7d9e1f2a4b-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
BODY = b'{"name": "stolen", "flow": [{"channel": "SMS"}], "default": true}'
JSON = {"Content-Type": "application/json"}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


MEGA = "a" * (1024 * 1024)
MALFORMED: list[str | bytes] = [
    # Basic
    "Basic", "Basic ", "Basic  ", "Basic !!!!", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ",
    "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ===",
    f"Basic {b64(b'Aladdin')}", f"Basic {b64(b':')}", f"Basic {b64(b'Aladdin:')}", f"Basic {b64(b':open sesame')}",
    f"Basic {b64(b'Aladdin:open sesame ')}", f"Basic {b64(b'aladdin:open sesame')}",
    f"Basic {b64(b'Aladdin:OPEN SESAME')}", f"Basic {b64(b'Genie:open sesame')}",
    f"Basic {b64(b'Aladdin:three wishes')}",
    f"Basic {b64(b'Aladdin:open sesame:extra')}", "Basic " + b64(b"Aladdin:open\x00sesame"),
    "Basic " + b64(b"\xff\xfe:\xff"), "Basic " + b64("Aladdin:öffne dich".encode()),
    f"Basic {b64('Aladdin:open sesame'.encode('utf-16'))}", "Basic " + b64(b"Aladdin:open sesame") + " extra",
    "BasicQWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Basic\tQWxhZGRpbjpvcGVuIHNlc2FtZQ==x", "Basic " + MEGA,
    # App
    "App", "App ", f"App {ALADDIN_API_KEY[:-1]}", f"App {ALADDIN_API_KEY}x", f"App {ALADDIN_API_KEY.upper()}",
    f"App {ALADDIN_TOKEN}", "App open sesame", f"App {ALADDIN_API_KEY} {ALADDIN_API_KEY}", "App " + MEGA,
    # IBSSO and Bearer
    "IBSSO", "IBSSO ", f"IBSSO {ALADDIN_API_KEY}", f"IBSSO {ALADDIN_TOKEN[:-1]}", "Bearer", "Bearer ",
    f"Bearer {ALADDIN_API_KEY}", f"Bearer {ALADDIN_TOKEN}0", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJBbGFkZGluIn0.",
    "Bearer " + MEGA,
    # other schemes and shapes
    "Digest username=\"Aladdin\", realm=\"x\"", "Negotiate YIIB", "OAuth oauth_token=x", "AWS4-HMAC-SHA256 x",
    ALADDIN_API_KEY, ALADDIN_TOKEN, "QWxhZGRpbjpvcGVuIHNlc2FtZQ==", f"{ALADDIN_BASIC}, Bearer {ALADDIN_TOKEN}",
    " ", "\t", ",", "null", "undefined",
    # non-ASCII and binary, sent as raw bytes
    "Bearer ‮" + ALADDIN_TOKEN, "App ａｐｉ", b"Basic \xff\xfe\xfd", b"Bearer \xe9\xe9",
    b"App \x80" + ALADDIN_API_KEY.encode(),
]
TARGETS = [("GET", "/omni/1/scenarios"), ("GET", f"/omni/1/scenarios/{SEED_KEY}"),
           ("PUT", f"/omni/1/scenarios/{SEED_KEY}"), ("POST", "/omni/1/scenarios")]


@pytest.fixture(scope="module")
def shared() -> MockOmni:
    return make_app(rate_limits={})


def exported(app: MockOmni) -> bytes:
    return orjson.dumps(app.state.accounts.export())


def service_exception(content: bytes) -> dict[str, object]:
    details: dict[str, object] = orjson.loads(content)["requestError"]["serviceException"]
    return details


@pytest.mark.parametrize("authorization", MALFORMED, ids=lambda v: repr(v)[:60])
def test_malformed_or_wrong_credentials_are_401_and_change_nothing(
    shared: MockOmni, authorization: str | bytes
) -> None:
    before = exported(shared)
    with TestClient(shared) as client:
        for method, path in TARGETS:
            raw = authorization if isinstance(authorization, bytes) else authorization.encode()  # UTF-8 on the wire
            headers: dict[str, str | bytes] = {**JSON, "Authorization": raw}
            response = client.request(method, path, content=BODY, headers=headers)  # type: ignore[arg-type]
            assert response.status_code == 401, (method, path, response.content[:200])
            expected = {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
            assert service_exception(response.content) == expected
    assert exported(shared) == before


def test_long_credentials_are_not_kept_in_the_auth_cache(shared: MockOmni) -> None:
    with TestClient(shared) as client:
        for n in range(40):  # each twice: a verdict is kept from its second coming (domain/memo.py)
            client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {n // 2}{MEGA}"})
    assert all(len(key) <= 1024 for key in shared.vendor.auth._cache)


@pytest.mark.parametrize("header", ["Accept", "Content-Type", "User-Agent", "X-Anything"])
def test_megabyte_headers_are_answered_and_not_cached(shared: MockOmni, header: str) -> None:
    with TestClient(shared, headers={"Authorization": ALADDIN_BASIC}) as client:
        for n in range(10):  # each twice: a parse is kept from its second coming (domain/memo.py)
            response = client.get(f"/omni/1/scenarios/{SEED_KEY}", headers={header: f"{n // 2}{MEGA}"})
            assert response.status_code in (200, 406), response.content[:200]
    assert all(len(key) <= 1024 for key in shared.vendor.negotiator._choices)
    assert all(len(value) <= 8192 for entry in shared.state.journal.entries() for _, value in entry.headers)


def test_ten_thousand_headers_are_answered(shared: MockOmni) -> None:
    headers = {f"X-Header-{n}": "v" * 10 for n in range(10_000)}
    with TestClient(shared, headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.get(f"/omni/1/scenarios/{SEED_KEY}", headers=headers).status_code == 200


@pytest.mark.parametrize("second", [GENIE_BASIC, ALADDIN_BASIC, "Bearer nothing"])
def test_two_authorization_headers_are_ambiguous_and_401(shared: MockOmni, second: str) -> None:
    with TestClient(shared) as client:
        twice = [("Authorization", ALADDIN_BASIC), ("Authorization", second)]
        response = client.get("/omni/1/scenarios", headers=twice)
    assert response.status_code == 401


# --- one account's credentials against another's keys ------------------------------------------------

ALADDIN = [ALADDIN_BASIC, f"App {ALADDIN_API_KEY}", f"IBSSO {ALADDIN_TOKEN}", f"Bearer {ALADDIN_TOKEN}"]
GENIE = [GENIE_BASIC, f"App {GENIE_API_KEY}"]


def _cross_cases() -> Iterator[tuple[str, str, str]]:
    aladdin_keys = [SEED_KEY, "AD9E01A5DC7BEE2C2B828D208182A611", "F9E67B67F89D2FD78611C910D7D40696"]
    for credentials in GENIE:
        for key in aladdin_keys:
            yield credentials, key, "Aladdin"
    for credentials in ALADDIN:
        yield credentials, GENIE_KEY, "Genie"


@pytest.mark.parametrize(("credentials", "key", "owner"), list(_cross_cases()))
@pytest.mark.parametrize("variant", ["", "lower", "xml"])
def test_another_accounts_key_is_404_and_never_its_data(
    shared: MockOmni, credentials: str, key: str, owner: str, variant: str
) -> None:
    owners_view = orjson.dumps(shared.state.accounts.export(owner))
    names = [s["name"].encode() for a in shared.state.accounts.export(owner)["accounts"] for s in a["scenarios"]]  # type: ignore[index, union-attr, attr-defined]
    path_key = key.lower() if variant == "lower" else key
    accept = {"Accept": "application/xml"} if variant == "xml" else {}
    with TestClient(shared, headers={"Authorization": credentials, **accept}) as client:
        for method in ("GET", "PUT"):
            response = client.request(method, f"/omni/1/scenarios/{path_key}", content=BODY, headers=JSON)
            assert response.status_code == 404, response.content[:200]
            assert key.encode() not in response.content and key.lower().encode() not in response.content
            assert not any(name in response.content for name in names)
        listed = client.get("/omni/1/scenarios", params={"limit": "1000"}).content
        assert key.encode() not in listed
    assert orjson.dumps(shared.state.accounts.export(owner)) == owners_view


# --- the same against a real uvicorn process ------------------------------------------------------

@pytest.fixture(scope="module")
def srv() -> Iterator[server.Server]:
    with server.running(["--rate-limit", "off"]) as running:
        yield running
        assert running.process.poll() is None


@pytest.mark.parametrize(
    "header_lines",
    [
        [b"Authorization: Basic \xff\xfe"],
        [b"Authorization: Bearer " + b"\xe9" * 100],
        [b"Authorization: " + b"A" * (4 * 1024 * 1024)],
        [b"Accept: " + b"application/json;q=0.5," * 100_000],
        [b"X-Many-%d: v" % n for n in range(20_000)],
        [b"Authorization: " + ALADDIN_BASIC.encode(), b"Authorization: " + GENIE_BASIC.encode()],
    ],
    ids=["latin1-basic", "latin1-bearer", "4mib-authorization", "2mib-accept", "20000-headers", "two-accounts"],
)
def test_real_server_answers_hostile_headers_with_401(srv: server.Server, header_lines: list[bytes]) -> None:
    head = b"GET /omni/1/scenarios HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + b"\r\n".join(header_lines)
    [(status, headers, body)] = responses(exchange(srv.port, head + b"\r\n\r\n"))
    assert status == 401 and service_exception(body)["messageId"] == "UNAUTHORIZED"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "line", [b"Authorization: Basic x\r\n folded", b"Authorization: Basic\x00x", b"Authori zation: x", b"\x00: x"]
)
def test_real_server_refuses_header_framing_it_cannot_parse(srv: server.Server, line: bytes) -> None:
    data = b"GET /omni/1/scenarios HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" + line + b"\r\n\r\n"
    found = responses(exchange(srv.port, data))
    assert found and found[0][0] in (400, 401)
    ok = request("GET", f"/omni/1/scenarios/{SEED_KEY}", srv.port, {"Authorization": ALADDIN_BASIC,
                                                                     "Connection": "close"})
    assert responses(exchange(srv.port, ok))[0][0] == 200
