"""IBSSO sessions over HTTP: ``POST /auth/1/session`` (JSON and XML), use, ``DELETE``, inactivity on the clock."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.domain.accounts import Accounts
from mock_omni.domain.clock import ManualClock
from mock_omni.domain.signin import SignIn

from . import server
from .conftest import ALADDIN_API_KEY, ALADDIN_BASIC, ALADDIN_TOKEN

SESSION = "/auth/1/session"
LIST = "/omni/1/scenarios"
LOGIN = {"username": "Aladdin", "password": "open sesame"}
LOGIN_XML = b"<session><username>Aladdin</username><password>open sesame</password></session>"
UNAUTHORIZED = {"requestError": {"serviceException": {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}}}


pytestmark = pytest.mark.both_stores


def login(client: TestClient, body: Any = None) -> str:
    response = client.post(SESSION, json=LOGIN if body is None else body)
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def ibsso(token: str) -> dict[str, str]:
    return {"Authorization": f"IBSSO {token}"}


def test_a_session_token_authorizes_calls_until_it_is_ended(client: TestClient) -> None:
    token = login(client)
    assert uuid.UUID(token).version == 4  # the vendor's tokens are UUIDs
    assert client.get(LIST, headers=ibsso(token)).status_code == 200
    ended = client.delete(SESSION, headers=ibsso(token))
    assert (ended.status_code, ended.content) == (204, b"")
    assert "content-length" not in ended.headers and "content-type" not in ended.headers
    refused = client.get(LIST, headers=ibsso(token))
    assert (refused.status_code, refused.json()) == (401, UNAUTHORIZED)
    assert client.delete(SESSION, headers=ibsso(token)).status_code == 401  # already ended


def test_xml_in_and_out(client: TestClient) -> None:
    response = client.post(SESSION, content=LOGIN_XML, headers={"Content-Type": "application/xml"})
    assert response.status_code == 200
    match = re.fullmatch(r'<\?xml version="1.0" encoding="UTF-8"\?><session><token>([0-9a-f-]{36})</token></session>',
                         response.text)
    assert match is not None
    assert client.get(LIST, headers=ibsso(match.group(1))).status_code == 200
    wrong = client.post(SESSION, content=LOGIN_XML.replace(b"open sesame", b"nope"),
                        headers={"Content-Type": "application/xml"})
    assert wrong.status_code == 401 and "<messageId>UNAUTHORIZED</messageId>" in wrong.text


def test_logging_in_while_the_session_lives_gives_the_same_token(client: TestClient, app: MockOmni) -> None:
    token = login(client)
    assert login(client, {**LOGIN, "unsafe": False}) == token  # the vendor's sample field is ignored
    client.delete(SESSION, headers=ibsso(token))
    assert login(client) != token


def test_a_session_ends_after_an_hour_without_calls(client: TestClient, app: MockOmni) -> None:
    token = login(client)
    for _ in range(3):
        app.admin.advance_clock(3599)
        assert client.get(LIST, headers=ibsso(token)).status_code == 200
    app.admin.advance_clock(3600)
    assert client.get(LIST, headers=ibsso(token)).status_code == 401
    assert login(client) != token


def test_the_idle_period_is_a_setting(new_app: Callable[..., MockOmni]) -> None:
    app = new_app(session_idle=30)
    with TestClient(app) as client:
        token = login(client)
        app.state.clock.advance(29)
        assert client.get(LIST, headers=ibsso(token)).status_code == 200
        app.state.clock.advance(30)
        assert client.get(LIST, headers=ibsso(token)).status_code == 401


def test_a_session_token_is_not_a_bearer_or_app_credential(client: TestClient) -> None:
    token = login(client)
    for header in (f"Bearer {token}", f"App {token}"):
        assert client.get(LIST, headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize("body", [
    {"username": "Aladdin", "password": "wrong"}, {"username": "Nobody", "password": "open sesame"},
    {"username": "Genie", "password": "open sesame"},
])
def test_wrong_login_is_401_in_the_vendors_envelope(client: TestClient, body: dict[str, str]) -> None:
    response = client.post(SESSION, json=body)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


@pytest.mark.parametrize(("body", "message_id", "fields"), [
    ({"username": "Aladdin"}, "INVALID_ARGUMENT", {"password"}),
    ({"password": "x"}, "INVALID_ARGUMENT", {"username"}),
    ({"username": "", "password": ""}, "INVALID_ARGUMENT", {"username", "password"}),
    ({"username": 1, "password": "x"}, "INVALID_ARGUMENT", {"username"}),
    ("Aladdin", "BAD_REQUEST", None),
])
def test_malformed_logins_are_400(client: TestClient, body: object, message_id: str, fields: set[str] | None) -> None:
    response = client.post(SESSION, json=body)
    details = response.json()["requestError"]["serviceException"]
    assert (response.status_code, details["messageId"]) == (400, message_id)
    if fields is not None:
        assert set(details["validationErrors"]) == fields


def test_a_login_without_a_json_or_xml_body_is_415(client: TestClient) -> None:
    response = client.post(SESSION, content=b"username=Aladdin&password=open+sesame",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415


@pytest.mark.parametrize("header", [ALADDIN_BASIC, f"App {ALADDIN_API_KEY}", None, "IBSSO", "IBSSO nope"])
def test_only_a_session_can_be_ended(app: MockOmni, header: str | None) -> None:
    with TestClient(app) as bare:  # no default Authorization header
        response = bare.delete(SESSION, headers={} if header is None else {"Authorization": header})
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)


def test_a_bearer_token_is_not_a_session_to_end(client: TestClient) -> None:
    token = client.post("/auth/1/oauth2/token", auth=("Aladdin", "open sesame"),
                        data={"grant_type": "client_credentials"}).json()["access_token"]
    assert client.delete(SESSION, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert client.delete(SESSION, headers=ibsso(token)).status_code == 401
    assert client.get(LIST, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_ending_a_fixture_token_lasts_until_reset(client: TestClient, app: MockOmni) -> None:
    assert client.delete(SESSION, headers=ibsso(ALADDIN_TOKEN)).status_code == 204
    assert client.get(LIST, headers=ibsso(ALADDIN_TOKEN)).status_code == 401
    assert client.get(LIST, headers={"Authorization": f"Bearer {ALADDIN_TOKEN}"}).status_code == 401
    app.admin.reset("Aladdin")
    assert client.get(LIST, headers=ibsso(ALADDIN_TOKEN)).status_code == 200


def test_sessions_are_per_account_and_a_reset_of_one_keeps_the_others(client: TestClient, app: MockOmni) -> None:
    aladdin = login(client)
    genie = login(client, {"username": "Genie", "password": "three wishes"})
    app.admin.reset("Aladdin")
    assert client.get(LIST, headers=ibsso(aladdin)).status_code == 401
    genie_list = client.get(LIST, headers=ibsso(genie))
    assert genie_list.status_code == 200 and genie_list.json() == client.get(
        LIST, headers={"Authorization": "Basic " + "R2VuaWU6dGhyZWUgd2lzaGVz"}).json()
    app.admin.reset()
    assert client.get(LIST, headers=ibsso(genie)).status_code == 401


def get_token(client: TestClient) -> str:
    return str(client.post("/auth/1/oauth2/token", auth=("Aladdin", "open sesame"),
                           data={"grant_type": "client_credentials"}).json()["access_token"])


def test_snapshots_cover_sessions_and_tokens(client: TestClient, app: MockOmni) -> None:
    session, token = login(client), get_token(client)
    app.admin.save_snapshot("signed-in")
    client.delete(SESSION, headers=ibsso(session))
    later = get_token(client)
    assert client.get(LIST, headers=ibsso(session)).status_code == 401
    assert client.get(LIST, headers={"Authorization": f"Bearer {later}"}).status_code == 200
    app.admin.restore_snapshot("signed-in")
    assert client.get(LIST, headers=ibsso(session)).status_code == 200
    assert client.get(LIST, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert client.get(LIST, headers={"Authorization": f"Bearer {later}"}).status_code == 401  # after the snapshot


def test_a_one_account_snapshot_covers_its_sessions(client: TestClient, app: MockOmni) -> None:
    session = login(client)
    app.admin.save_snapshot("aladdin", "Aladdin")
    client.delete(SESSION, headers=ibsso(session))
    app.admin.restore_snapshot("aladdin", "Aladdin")
    assert client.get(LIST, headers=ibsso(session)).status_code == 200


def test_tokens_are_not_part_of_the_exported_state(client: TestClient, app: MockOmni) -> None:
    session = login(client)
    assert session not in str(app.state.accounts.export())


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--asgi-only"]], ids=["direct", "asgi"])
def test_a_204_keeps_the_connection_usable_over_a_real_socket(args: list[str]) -> None:
    with server.running(args) as live, httpx.Client(base_url=live.url, trust_env=False) as http:
        token = http.post(SESSION, json=LOGIN).json()["token"]
        ended = http.delete(SESSION, headers=ibsso(token))
        assert (ended.status_code, ended.content, ended.headers.get("content-length")) == (204, b"", None)
        # The same keep-alive connection: the 204 had no body, so the next answer is read whole.
        assert http.get(LIST, headers=ibsso(token)).status_code == 401
        assert http.post(SESSION, json=LOGIN).status_code == 200
        assert http.get(LIST, headers={"Authorization": ALADDIN_BASIC}).status_code == 200


class SlowClock(ManualClock):
    """Each read yields the GIL for a moment, so racing logins interleave where a race could hide."""

    def __call__(self) -> float:
        time.sleep(0.001)
        return super().__call__()


def test_concurrent_logins_share_one_session(app: MockOmni) -> None:
    # In memory, a slow clock widens the race; on Redis the logins race on the connections of their threads.
    signin = SignIn(app.state.accounts, SlowClock()) if isinstance(app.state.accounts, Accounts) else app.backend.signin
    with ThreadPoolExecutor(8) as pool:
        tokens = set(pool.map(lambda _: signin.open_session("Aladdin", "open sesame").token, range(32)))
    assert len(tokens) == 1
    assert [grant.kind for _, grant in app.state.accounts.grants("Aladdin")] == ["ibsso"]
