"""What the memos kept from their second coming (domain/memo.py, issue 24) must never serve stale, over real sockets.

A credential's verdict and a send's plan are kept once their input has come twice, so a check that comes only once
before a change no longer tests the cache: each test here repeats its input three times (kept by then), changes what
the kept result depends on, and asks again. On a memory server (direct path and ``--asgi-only``) and on two Redis
replicas: the change goes to one, the repeated calls to the other.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_omni.testing.process import ServerProcess

from ..socket_servers import STORES, serving

pytestmark = pytest.mark.slow

LIST = "/omni/1/scenarios"
SEND = "/omni/1/advanced"
COMINGS = 3  # the first is not kept, the second is, the third is served from the memo


class Servers:
    """``writer`` changes state; ``reader`` takes the repeated calls (the other replica on Redis)."""

    def __init__(self, servers: list[ServerProcess]) -> None:
        self.clients = [httpx.Client(base_url=server.url, timeout=30, trust_env=False) for server in servers]
        self.writer, self.reader = self.clients[0], self.clients[-1]

    def close(self) -> None:
        for client in self.clients:
            client.close()


@pytest.fixture(scope="module", params=STORES)
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    with serving(request, Servers) as both:
        yield both


def account(servers: Servers, **fields: Any) -> dict[str, Any]:
    created = servers.writer.post("/__admin/accounts", json=fields)
    assert created.status_code == 201, created.text
    return dict(created.json())


def statuses(servers: Servers, authorization: str, times: int = COMINGS) -> list[int]:
    return [servers.reader.get(LIST, headers={"Authorization": authorization}).status_code for _ in range(times)]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.mark.parametrize("before", [1, COMINGS], ids=["seen-once", "kept"])
@pytest.mark.parametrize("change", ["removed", "replaced", "reset"])
def test_a_kept_verdict_goes_with_its_credential(servers: Servers, change: str, before: int) -> None:
    """Changed after the first coming (the verdict is kept at the second, after the change) or once kept."""
    username = f"u-{uuid.uuid4().hex[:12]}"
    key = uuid.uuid4().hex
    headers = account(servers, username=username, password="first", apiKeys=[key])["authorization"]
    kept = [headers["basic"], headers["app"]]
    for header in kept:
        assert statuses(servers, header, before) == [200] * before
    if change == "reset":
        assert servers.writer.post("/__admin/reset").status_code == 200
    else:
        assert servers.writer.delete(f"/__admin/accounts/{username}").status_code in (200, 204)
        if change == "replaced":  # the same username again, with another password and key
            account(servers, username=username, password="second", apiKeys=[uuid.uuid4().hex])
    for header in kept:
        assert statuses(servers, header) == [401] * COMINGS, (change, header.split()[0])


@pytest.mark.parametrize("before", [1, COMINGS], ids=["seen-once", "kept"])
def test_a_kept_refusal_goes_when_the_credential_comes(servers: Servers, before: int) -> None:
    username = f"u-{uuid.uuid4().hex[:12]}"
    key = uuid.uuid4().hex
    refused = [basic(username, "pw"), f"App {key}"]
    for header in refused:
        assert statuses(servers, header, before) == [401] * before
    account(servers, username=username, password="pw", apiKeys=[key])
    for header in refused:
        assert statuses(servers, header) == [200] * COMINGS


def test_a_kept_send_plan_follows_the_scenarios_new_flow(servers: Servers) -> None:
    """The plan of a repeated body is kept by the identity of the request and the flow: a flow changed since must
    be planned anew (here it asks for a VIBER payload the body lacks)."""
    authorization = account(servers)["authorization"]["basic"]
    xml = {"Authorization": authorization, "Content-Type": "application/xml", "Accept": "application/json"}
    created = servers.writer.post(LIST, headers=xml, content=(
        b"<scenario><name>plan</name><flow><step><from>InfoSMS</from><channel>SMS</channel></step></flow></scenario>"))
    assert created.status_code == 201, created.text
    scenario = created.json()["key"]
    body = (f"<request><scenarioKey>{scenario}</scenarioKey><destinations><destinations><to><phoneNumber>41793026727"
            "</phoneNumber></to></destinations></destinations><sms><text>a &amp; b</text></sms></request>").encode()
    sent = [servers.reader.post(SEND, headers=xml, content=body) for _ in range(COMINGS)]
    assert [answer.status_code for answer in sent] == [200] * COMINGS, sent[-1].text
    changed = servers.writer.put(f"{LIST}/{scenario}", headers=xml, content=(
        b"<scenario><flow><step><from>V</from><channel>VIBER</channel></step>"
        b"<step><from>InfoSMS</from><channel>SMS</channel></step></flow></scenario>"))
    assert changed.status_code == 200, changed.text
    for _ in range(COMINGS):
        answer = servers.reader.post(SEND, headers=xml, content=body)
        assert answer.status_code == 400 and "VIBER" in answer.text, answer.text


def test_a_kept_token_verdict_ends_with_the_token(servers: Servers) -> None:
    """An issued token's or session's verdict, kept by now, is checked against its account's clock at each use."""
    username = account(servers)["username"]
    issued = [servers.writer.post("/__admin/tokens", json={"account": username, "kind": kind}) for kind in
              ("oauth2", "ibsso")]
    assert [answer.status_code for answer in issued] == [201, 201], [answer.text for answer in issued]
    for answer in issued:
        assert statuses(servers, answer.json()["authorization"]) == [200] * COMINGS
    moved = servers.writer.post("/__admin/clock/advance", json={"seconds": 10**7, "account": username})
    assert moved.status_code == 200, moved.text
    for answer in issued:
        assert statuses(servers, answer.json()["authorization"]) == [401] * COMINGS
