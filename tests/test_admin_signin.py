"""Sign-in in the testing toolkit: the admin API lists and mints tokens, the admin client and pytest plugin use it."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.testing.admin_client import AdminClient, AdminError
from mock_omni.testing.pytest_plugin import MockOmniFixture

LIST = "/omni/1/scenarios"
TOKENS = "/__admin/tokens"
FORBIDDEN = {"requestError": {"serviceException": {"messageId": "FORBIDDEN", "text": "Forbidden"}}}


pytestmark = pytest.mark.both_stores


@pytest.fixture
def bare(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def admin(bare: TestClient) -> AdminClient:
    return AdminClient(str(bare.base_url), http=bare)


def test_the_listing_shows_live_tokens_masked_per_account(app: MockOmni, bare: TestClient) -> None:
    assert bare.get(TOKENS).json() == {"tokens": []}
    token = bare.post("/auth/1/oauth2/token", auth=("Aladdin", "open sesame"),
                      data={"grant_type": "client_credentials"}).json()["access_token"]
    session = bare.post("/auth/1/session", json={"username": "Genie", "password": "three wishes"}).json()["token"]
    listed = bare.get(TOKENS).json()["tokens"]
    assert [(entry["account"], entry["kind"], entry["token"]) for entry in listed] == [
        ("Aladdin", "oauth2", token[:4] + "***"), ("Genie", "ibsso", session[:4] + "***")]
    assert listed[0]["expiresInSeconds"] == 3600 and listed[0]["clientId"] == "Aladdin"
    assert [entry["account"] for entry in bare.get(TOKENS, params={"account": "Genie"}).json()["tokens"]] == ["Genie"]
    app.admin.advance_clock(3600)
    assert bare.get(TOKENS).json() == {"tokens": []}  # both lapsed


def listed(bare: TestClient, account: str) -> list[tuple[str, float]]:
    return [(entry["kind"], entry["expiresInSeconds"])
            for entry in bare.get(TOKENS, params={"account": account}).json()["tokens"]]


def test_one_accounts_clock_expires_its_tokens_and_sessions_and_no_one_elses(bare: TestClient) -> None:
    def token(username: str, password: str) -> dict[str, str]:
        answer = bare.post("/auth/1/oauth2/token", auth=(username, password), data={"grant_type": "client_credentials"})
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def session(username: str, password: str) -> dict[str, str]:
        answer = bare.post("/auth/1/session", json={"username": username, "password": password})
        return {"Authorization": f"IBSSO {answer.json()['token']}"}

    def advance(seconds: float, account: str) -> None:
        answer = bare.post("/__admin/clock/advance", json={"seconds": seconds, "account": account})
        assert answer.status_code == 200, answer.text

    aladdin_token, aladdin_session = token("Aladdin", "open sesame"), session("Aladdin", "open sesame")
    genie_token, genie_session = token("Genie", "three wishes"), session("Genie", "three wishes")
    advance(1800, "Aladdin")
    # The listing reads each account's own clock: Aladdin's are half gone, Genie's untouched.
    assert listed(bare, "Aladdin") == [("oauth2", 1800), ("ibsso", 1800)]
    assert listed(bare, "Genie") == [("oauth2", 3600), ("ibsso", 3600)]
    # Issued after the advance: on Aladdin's clock too, so it has its whole lifetime ahead.
    late = token("Aladdin", "open sesame")
    assert listed(bare, "Aladdin")[-1] == ("oauth2", 3600)
    advance(1800, "Aladdin")
    for headers in (aladdin_token, aladdin_session):
        assert bare.get(LIST, headers=headers).status_code == 401
    for headers in (late, genie_token, genie_session):
        assert bare.get(LIST, headers=headers).status_code == 200
    assert listed(bare, "Aladdin") == [("oauth2", 1800)]
    assert listed(bare, "Genie") == [("oauth2", 3600), ("ibsso", 3600)]  # the use restarted the session: 3600
    # A new login opens a new session on Aladdin's clock; using it restarts its idle period there.
    fresh = session("Aladdin", "open sesame")
    assert fresh != aladdin_session
    advance(3599, "Aladdin")
    assert bare.get(LIST, headers=fresh).status_code == 200
    advance(3599, "Aladdin")
    assert bare.get(LIST, headers=fresh).status_code == 200
    assert bare.get(LIST, headers=late).status_code == 401
    # Minted for a test: on the account's clock as well.
    minted = bare.post(TOKENS, json={"account": "Aladdin"}).json()
    advance(3599, "Aladdin")
    assert bare.get(LIST, headers={"Authorization": minted["authorization"]}).status_code == 200
    advance(1, "Aladdin")
    assert bare.get(LIST, headers={"Authorization": minted["authorization"]}).status_code == 401
    assert bare.get(LIST, headers=genie_token).status_code == 200


def test_minted_tokens_work_and_carry_the_asked_scopes(bare: TestClient) -> None:
    minted = bare.post(TOKENS, json={"account": "Aladdin"})
    assert minted.status_code == 201
    data = minted.json()
    assert (data["kind"], data["authorization"], data["scopes"]) == ("oauth2", f"Bearer {data['token']}", None)
    assert bare.get(LIST, headers={"Authorization": data["authorization"]}).status_code == 200
    narrow = bare.post(TOKENS, json={"account": "Aladdin", "scopes": ["omni-failover:logs:read"]}).json()
    assert bare.get(LIST, headers={"Authorization": narrow["authorization"]}).json() == FORBIDDEN
    session = bare.post(TOKENS, json={"account": "Aladdin", "kind": "ibsso"}).json()
    assert session["authorization"] == f"IBSSO {session['token']}" and session["expiresInSeconds"] == 3600
    assert bare.get(LIST, headers={"Authorization": session["authorization"]}).status_code == 200
    again = bare.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()
    assert again["token"] == session["token"]  # the account's one live session


@pytest.mark.parametrize(("body", "status", "field"), [
    ({}, 400, "account"),
    ({"account": "Aladdin", "kind": "saml"}, 400, "kind"),
    ({"account": "Aladdin", "kind": ["oauth2"]}, 400, "kind"),  # schemathesis: was a 500 (unhashable)
    ({"account": ["Aladdin"]}, 400, "account"),
    ({"account": "Aladdin", "kind": "ibsso", "scopes": ["x"]}, 400, "kind"),
    ({"account": "Aladdin", "scopes": "omni-failover:manage"}, 400, "scopes"),
    ({"account": "Aladdin", "scopes": [""]}, 400, "scopes[0]"),
    ({"account": "Aladdin", "clientId": "nope"}, 400, "clientId"),
    ({"account": "Aladdin", "scopes": ["made-up"]}, 400, "scopes"),  # unknown, though the account holds every scope
    ({"account": "Aladdin", "scopes": ["omni-failover:manage", "made-up"]}, 400, "scopes"),
    ({"account": "Aladdin", "clientId": 3}, 400, "clientId"),
    ({"account": "Aladdin", "extra": 1}, 400, "extra"),
    ({"account": "Nobody"}, 404, None),
])
def test_minting_checks_every_field(bare: TestClient, body: dict[str, object], status: int, field: str | None) -> None:
    response = bare.post(TOKENS, json=body)
    assert response.status_code == status
    if field is not None:
        assert field in response.json()["requestError"]["serviceException"]["validationErrors"]
    assert bare.get(TOKENS).json() == {"tokens": []}


def test_a_new_account_gets_an_oauth2_client_that_signs_in(bare: TestClient) -> None:
    created = bare.post("/__admin/accounts", json={"seedAccount": "Aladdin"}).json()
    (client,) = created["oauth2Clients"]
    assert set(client) == {"clientId", "clientSecret"} and len(client["clientSecret"]) >= 24
    token = bare.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials", "client_id": client["clientId"],
                                                     "client_secret": client["clientSecret"]}).json()["access_token"]
    assert len(bare.get(LIST, headers={"Authorization": f"Bearer {token}"}).json()["scenarios"]) == 3
    listed = {account["username"]: account for account in bare.get("/__admin/accounts").json()["accounts"]}
    assert listed[created["username"]]["oauth2Clients"] == [client]


def test_a_new_account_may_bring_scoped_keys_and_clients(bare: TestClient) -> None:
    created = bare.post("/__admin/accounts", json={
        "apiKeys": [{"key": "reader-key", "scopes": ["omni-failover:logs:read"]}],
        "oauth2Clients": [{"clientId": "reader-app", "clientSecret": "s", "scopes": ["omni-failover:logs:read"]}],
    }).json()
    assert created["apiKeys"] == ["reader-key"]
    assert created["apiKeyScopes"] == {"reader-key": ["omni-failover:logs:read"]}
    assert bare.get(LIST, headers={"Authorization": "App reader-key"}).json() == FORBIDDEN
    refused = bare.post("/__admin/accounts", json={"oauth2Clients": [{"clientId": "reader-app", "clientSecret": "t"}]})
    assert refused.status_code == 400


def test_resets_drop_tokens_and_snapshots_keep_them(app: MockOmni, bare: TestClient) -> None:
    token = bare.post(TOKENS, json={"account": "Aladdin"}).json()["authorization"]
    bare.post("/__admin/snapshots/with-token")
    bare.post("/__admin/reset", params={"account": "Aladdin"})
    assert bare.get(LIST, headers={"Authorization": token}).status_code == 401
    bare.post("/__admin/snapshots/with-token/restore")
    assert bare.get(LIST, headers={"Authorization": token}).status_code == 200
    bare.post("/__admin/reset")
    assert bare.get(TOKENS).json() == {"tokens": []}


def test_the_admin_client_mints_and_lists(admin: AdminClient, bare: TestClient) -> None:
    token = admin.oauth2_token("Aladdin", scopes=["omni-failover:manage"])
    assert (token.kind, token.scopes, token.expires_in) == ("oauth2", ("omni-failover:manage",), 3600)
    session = admin.session("Genie")
    assert session.authorization.startswith("IBSSO ") and session.account == "Genie"
    assert bare.get(LIST, headers={"Authorization": token.authorization}).status_code == 200
    assert [entry["kind"] for entry in admin.tokens()] == ["oauth2", "ibsso"]
    assert [entry["kind"] for entry in admin.tokens("Genie")] == ["ibsso"]
    with pytest.raises(AdminError) as caught:
        admin.oauth2_token("Aladdin", client_id="missing")
    assert caught.value.validation_errors == {"clientId": ["account 'Aladdin' has no such client"]}
    created = admin.new_account(oauth2_clients=[{"clientId": "c-1", "clientSecret": "s-1", "scopes": []}],
                                api_keys=[{"key": "k-1", "scopes": []}])
    assert created.oauth2_clients == ({"clientId": "c-1", "clientSecret": "s-1", "scopes": []},)
    assert bare.get(LIST, headers={"Authorization": admin.oauth2_token(created.username, client_id="c-1")
                                   .authorization}).json() == FORBIDDEN


def test_the_openapi_documents_the_admin_calls(bare: TestClient) -> None:
    paths = bare.get("/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths[TOKENS])
    schema = paths[TOKENS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["account"]


@pytest.mark.slow
def test_the_live_fixture_mints_a_token_and_a_session(mock_omni: MockOmniFixture) -> None:
    for issued in (mock_omni.oauth2_token(), mock_omni.session()):
        response = httpx.get(mock_omni.url + LIST, headers={"Authorization": issued.authorization}, trust_env=False)
        assert response.status_code == 200
    mock_omni.advance_clock(3600)
    token = mock_omni.oauth2_token()
    assert httpx.get(mock_omni.url + LIST, headers={"Authorization": token.authorization},
                     trust_env=False).status_code == 200


@pytest.mark.slow
def test_users_suites_mint_tokens_through_the_plugin(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nfilterwarnings = error\naddopts = --strict-markers -p no:cacheprovider\n")
    pytester.makepyfile(textwrap.dedent('''
        import httpx

        LIST = "/omni/1/scenarios"

        def get(mock_omni, authorization):
            return httpx.get(mock_omni.url + LIST, headers={"Authorization": authorization}, trust_env=False)

        def test_token_until_it_expires(mock_omni):
            token = mock_omni.oauth2_token(scopes=["omni-failover:manage"])
            assert get(mock_omni, token.authorization).status_code == 200
            mock_omni.advance_clock(token.expires_in)
            assert get(mock_omni, token.authorization).status_code == 401

        def test_session_then_the_next_test_starts_without_it(mock_omni):
            session = mock_omni.session("Genie")
            assert get(mock_omni, session.authorization).status_code == 200
            assert [t["kind"] for t in mock_omni.admin.tokens()] == ["ibsso"]

        def test_fresh(mock_omni):
            assert mock_omni.admin.tokens() == []

        def test_in_process(mock_omni_app):
            token = mock_omni_app.oauth2_token()
            assert mock_omni_app.client.get(LIST, headers={"Authorization": token.authorization}).status_code == 200
    '''))
    pytester.runpytest_subprocess().assert_outcomes(passed=4)
