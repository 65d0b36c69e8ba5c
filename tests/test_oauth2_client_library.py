"""A third-party OAuth2 client (Authlib's httpx client) against a real server: token, the seed PUT, expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from authlib.integrations.httpx_client import OAuth2Client

from mock_omni.api.examples import SEED_RESPONSE, SEED_UPDATE
from mock_omni.testing.admin_client import AdminClient

from . import server
from .conftest import SEED_KEY

pytestmark = pytest.mark.slow
SEED = f"/omni/1/scenarios/{SEED_KEY}"


@pytest.fixture(scope="module")
def live() -> Iterator[server.Server]:
    with server.running() as running:
        yield running


@pytest.fixture
def admin(live: server.Server) -> Iterator[AdminClient]:
    with AdminClient(live.url) as client:
        client.reset()
        yield client


@pytest.mark.parametrize("auth_method", ["client_secret_basic", "client_secret_post"])
def test_authlib_gets_a_token_does_the_seed_put_and_the_token_expires_on_the_clock(
        live: server.Server, admin: AdminClient, auth_method: str) -> None:
    token_url = live.url + "/auth/1/oauth2/token"
    # trust_env=False: a proxy from the environment must never see loopback test traffic.
    with OAuth2Client("Aladdin", "open sesame", token_endpoint_auth_method=auth_method, trust_env=False) as oauth:
        token = oauth.fetch_token(token_url, grant_type="client_credentials")
        assert (token["token_type"], token["expires_in"]) == ("Bearer", 3600)
        updated = oauth.put(live.url + SEED, json=SEED_UPDATE)
        assert (updated.status_code, updated.json()) == (200, SEED_RESPONSE)
        assert updated.request.headers["authorization"] == f"Bearer {token['access_token']}"

        admin.advance_clock(3600)  # the mock's clock: the client still believes its token fresh
        expired = oauth.get(live.url + SEED)
        assert expired.status_code == 401
        assert expired.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"

        fresh = oauth.fetch_token(token_url, grant_type="client_credentials")
        assert fresh["access_token"] != token["access_token"]
        assert oauth.get(live.url + SEED).json()["name"] == SEED_UPDATE["name"]
    assert [(entry["method"], entry["status"]) for entry in admin.requests()] == [
        ("POST", 200), ("PUT", 200), ("GET", 401), ("POST", 200), ("GET", 200)]


def test_authlib_sees_a_wrong_secret_as_an_oauth_error(live: server.Server, admin: AdminClient) -> None:
    from authlib.integrations.base_client.errors import OAuthError

    with OAuth2Client("Aladdin", "wrong", trust_env=False) as oauth, pytest.raises(OAuthError) as caught:
        oauth.fetch_token(live.url + "/auth/1/oauth2/token", grant_type="client_credentials")
    assert caught.value.error == "invalid_client"


def test_authlib_with_a_fixture_client_and_a_narrower_scope(live: server.Server, admin: AdminClient) -> None:
    created = admin.new_account(seed_account="Aladdin")
    (client,) = created.oauth2_clients
    with OAuth2Client(client["clientId"], client["clientSecret"], scope="omni-failover:logs:read",
                      trust_env=False) as oauth:
        oauth.fetch_token(live.url + "/auth/1/oauth2/token", grant_type="client_credentials")
        forbidden = oauth.get(live.url + SEED)
    assert forbidden.status_code == 403
    assert forbidden.json()["requestError"]["serviceException"] == {"messageId": "FORBIDDEN", "text": "Forbidden"}
