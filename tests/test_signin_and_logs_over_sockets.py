"""Sign-in and logs over real sockets, on a memory server and on two Redis replicas taken in turn.

What the adversarial review found, as a client sees it through uvicorn and the direct fast path (and
``--asgi-only``): one account's clock expires its tokens and sessions alone; an unknown scope is
``invalid_scope`` for a client holding every scope; a token parameter given twice, once empty, is
``invalid_request``; a message's own printed ``sentAt`` as ``sentSince`` or ``sentUntil`` takes it in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from mock_omni.testing.process import ServerProcess

from .conftest import ALADDIN_BASIC, GENIE_BASIC
from .socket_servers import STORES, serving

pytestmark = pytest.mark.slow

LIST = "/omni/1/scenarios"
TOKEN = "/auth/1/oauth2/token"
SEND = {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "x"}, "viber": {"text": "x"}}


class Servers:
    """One memory server, or two replicas of one Redis store: each call goes to the next one."""

    def __init__(self, servers: list[ServerProcess]) -> None:
        self.clients = [httpx.Client(base_url=server.url, timeout=30, trust_env=False) for server in servers]
        self._turn = itertools.cycle(self.clients)

    def __call__(self, method: str, path: str, **options: Any) -> httpx.Response:
        return next(self._turn).request(method, path, **options)

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(scope="module", params=STORES)
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    """Started once per store for the module: no test here depends on another's state (the clock test moves
    only Aladdin's clock, which the others never read back)."""
    with serving(request, Servers) as both:
        yield both


def status(call: Callable[..., httpx.Response], headers: dict[str, str]) -> int:
    return call("GET", LIST, headers=headers).status_code


def test_one_accounts_clock_expires_its_tokens_and_sessions_alone(servers: Servers) -> None:
    def token(username: str, password: str) -> dict[str, str]:
        answer = servers("POST", TOKEN, auth=(username, password), data={"grant_type": "client_credentials"})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def session(username: str, password: str) -> dict[str, str]:
        answer = servers("POST", "/auth/1/session", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"IBSSO {answer.json()['token']}"}

    def advance(seconds: float, account: str) -> None:
        assert servers("POST", "/__admin/clock/advance", json={"seconds": seconds, "account": account}
                       ).status_code == 200

    def listed(account: str) -> list[tuple[str, float]]:
        found = servers("GET", "/__admin/tokens", params={"account": account}).json()["tokens"]
        return [(entry["kind"], entry["expiresInSeconds"]) for entry in found]

    aladdin = [token("Aladdin", "open sesame"), session("Aladdin", "open sesame")]
    genie = [token("Genie", "three wishes"), session("Genie", "three wishes")]
    advance(3000, "Aladdin")
    # Real time passes between calls: bounds, not equalities (generous ones: a slow machine is not a failure).
    assert [(kind, 500 <= left <= 600) for kind, left in listed("Aladdin")] == [("oauth2", True), ("ibsso", True)]
    assert [(kind, 3000 <= left <= 3600) for kind, left in listed("Genie")] == [("oauth2", True), ("ibsso", True)]
    late = token("Aladdin", "open sesame")
    advance(700, "Aladdin")
    assert [status(servers, headers) for headers in aladdin] == [401, 401]
    assert [status(servers, headers) for headers in [late, *genie]] == [200, 200, 200]
    assert [kind for kind, _ in listed("Aladdin")] == ["oauth2"]
    # Basic credentials live on no clock.
    assert status(servers, {"Authorization": ALADDIN_BASIC}) == status(servers, {"Authorization": GENIE_BASIC}) == 200


@pytest.mark.parametrize(("body", "basic", "error"), [
    ("grant_type=client_credentials&scope=made-up", True, "invalid_scope"),
    ("grant_type=client_credentials&scope=omni-failover%3Amanage+made-up", True, "invalid_scope"),
    ("grant_type=&grant_type=client_credentials", True, "invalid_request"),
    ("grant_type=client_credentials&scope=&scope=", True, "invalid_request"),
    ("grant_type=client_credentials&client_id=Genie", True, "invalid_request"),
    ("grant_type=client_credentials&client_id=Aladdin&client_secret=open+sesame", True, "invalid_request"),
    ("grant_type=client_credentials&client_id=Aladdin", True, None),
    ("grant_type=client_credentials&scope=made-up&client_id=Aladdin&client_secret=open+sesame", False,
     "invalid_scope"),
])
def test_token_requests_answer_as_rfc_6749_says(servers: Servers, body: str, basic: bool, error: str | None) -> None:
    answer = servers("POST", TOKEN, content=body, auth=("Aladdin", "open sesame") if basic else None,
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    if error is None:
        assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    else:
        assert (answer.status_code, answer.json()["error"]) == (400, error)


def test_a_messages_own_sent_at_as_either_bound_takes_it_in(servers: Servers) -> None:
    # The real clock puts sends a fraction of a millisecond apart, or a few: no two dates need be alike.
    auth = {"Authorization": ALADDIN_BASIC}
    sent = [servers("POST", "/omni/1/advanced", json=SEND, headers=auth).json()["messages"][0]["messageId"]
            for _ in range(40)]

    def found(**bounds: str) -> set[str]:
        answer = servers("GET", "/omni/1/logs", params={"limit": 1000, **bounds}, headers=auth)
        assert answer.status_code == 200, answer.text
        return {log["messageId"] for log in answer.json()["results"]}

    logs = servers("GET", "/omni/1/logs", params={"limit": 1000}, headers=auth).json()["results"]
    printed = {log["messageId"]: log["sentAt"] for log in logs}
    assert sorted(printed) == sorted(sent)
    for message_id, at in printed.items():
        assert found(sentSince=at) == {other for other, when in printed.items() if when >= at}, message_id
        assert found(sentUntil=at) == {other for other, when in printed.items() if when <= at}, message_id
        assert message_id in found(sentSince=at, sentUntil=at)
