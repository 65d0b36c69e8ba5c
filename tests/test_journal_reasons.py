"""Each journal entry keeps the answer as the client got it and the mock's reason for it (issue 21).

The vendor's bodies do not change: the reason is the mock's, beside them, in ``GET /__admin/requests``.
Every case runs on both stores in process (the ASGI path), and a sample on a real server (the direct path).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni

from . import server
from .admin_helpers import create_account
from .conftest import ALADDIN_BASIC, SEED_KEY

pytestmark = pytest.mark.both_stores

SCENARIO = f"/omni/1/scenarios/{SEED_KEY}"
LIST = "/omni/1/scenarios"


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    app = new_app()
    create_account(app, {"username": "scoped", "seedAccount": "Aladdin",
                         "apiKeys": [{"key": "key-reader", "scopes": ["omni-failover:logs:read"]}]})
    return app


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def last_entry(client: TestClient | httpx.Client) -> dict[str, Any]:
    entries = client.get("/__admin/requests").json()["requests"]
    assert entries, "nothing was journaled"
    entry: dict[str, Any] = entries[-1]
    return entry


def same_as_received(entry: dict[str, Any], response: httpx.Response) -> None:
    """The journal's answer is the one the client received: status, headers it names, body."""
    kept = entry["response"]
    assert kept["status"] == response.status_code == entry["status"]
    assert kept["body"] == response.text
    for name, value in kept["headers"].items():
        assert response.headers.get(name) == value, (name, kept["headers"], response.headers)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# (what the client sends, the status, words the reason must hold)
CASES: dict[str, tuple[dict[str, Any], int, list[str]]] = {
    "success": ({"method": "GET", "url": SCENARIO, "headers": {"Authorization": ALADDIN_BASIC}}, 200,
                ["answered by GET /omni/1/scenarios/{scenarioKey}", "'get'"]),
    "json broken on line 2": ({"method": "POST", "url": LIST, "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/json"},
        "content": b'{"name": "x",\n  "flow": [}'}, 400, ["not JSON", "line 2 column"]),
    "xml broken": ({"method": "POST", "url": LIST, "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/xml"},
        "content": b"<scenario><name>x</nam></scenario>"}, 400, ["not XML", "line 1 column"]),
    "xml in an unknown encoding": ({"method": "POST", "url": LIST, "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/xml"},
        "content": b'<?xml version="1.0" encoding="nope"?><scenario/>'}, 400, ["encoding", "nope"]),
    "empty body": ({"method": "POST", "url": LIST, "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/json"}, "content": b""}, 400, ["empty"]),
    "field": ({"method": "POST", "url": LIST, "headers": {"Authorization": ALADDIN_BASIC},
               "json": {"name": "x", "flow": [{"channel": "PIGEON"}]}}, 400, ["flow[0].channel"]),
    "send without a step's payload": ({"method": "POST", "url": "/omni/1/advanced", "headers": {
        "Authorization": ALADDIN_BASIC}, "json": {"destinations": [{"to": {"phoneNumber": "41793026727"}}],
                                                  "sms": {"text": "hi"}}}, 400,
        ["viber: is required: step 2 of the scenario's flow is VIBER"]),
    "no credentials": ({"method": "GET", "url": LIST}, 401, ["no Authorization header"]),
    "no such user": ({"method": "GET", "url": LIST, "headers": {"Authorization": basic("Nobody", "x")}}, 401,
                     ["no account named 'Nobody'"]),
    "wrong password": ({"method": "GET", "url": LIST, "headers": {"Authorization": basic("Aladdin", "x")}}, 401,
                       ["password of Aladdin"]),
    "unknown api key": ({"method": "GET", "url": LIST, "headers": {"Authorization": "App nope"}}, 401,
                        ["no account has this API key"]),
    "unknown token": ({"method": "GET", "url": LIST, "headers": {"Authorization": "Bearer nope"}}, 401,
                      ["Bearer", "no live access token"]),
    "unknown scheme": ({"method": "GET", "url": LIST, "headers": {"Authorization": "Digest x"}}, 401,
                       ["'digest' is none of"]),
    "scope missing": ({"method": "GET", "url": LIST, "headers": {"Authorization": "App key-reader"}}, 403,
                      ["scoped", "omni-failover:logs:read", "needs one of"]),
    "typo'd path": ({"method": "GET", "url": "/omni/1/scenarioz", "headers": {"Authorization": ALADDIN_BASIC}},
                    404, ["no vendor operation matches GET /omni/1/scenarioz", "closest is GET /omni/1/scenarios"]),
    "wrong method": ({"method": "DELETE", "url": SCENARIO, "headers": {"Authorization": ALADDIN_BASIC}}, 405,
                     ["DELETE is not a method of /omni/1/scenarios/{scenarioKey}", "GET, PUT"]),
    "unknown key": ({"method": "GET", "url": f"{LIST}/{SEED_KEY.lower()}", "headers": {
        "Authorization": ALADDIN_BASIC}}, 404, ["Aladdin has no scenario with key", "differs only in case"]),
    "accept": ({"method": "GET", "url": SCENARIO, "headers": {"Authorization": ALADDIN_BASIC,
                                                              "Accept": "text/html"}}, 406, ["'text/html'"]),
    "unknown scope": ({"method": "POST", "url": "/auth/1/oauth2/token", "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/x-www-form-urlencoded"},
        "content": b"grant_type=client_credentials&scope=made-up"}, 400, ["'made-up' is none of the API's"]),
    "token parameter twice": ({"method": "POST", "url": "/auth/1/oauth2/token", "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/x-www-form-urlencoded"},
        "content": b"grant_type=&grant_type=client_credentials"}, 400, ["grant_type twice"]),
    "another client by basic": ({"method": "POST", "url": "/auth/1/oauth2/token", "headers": {
        "Authorization": ALADDIN_BASIC, "Content-Type": "application/x-www-form-urlencoded"},
        "content": b"grant_type=client_credentials&client_id=Genie"}, 400, ["'Genie' in the form", "'Aladdin'"]),
    "content type": ({"method": "POST", "url": LIST, "headers": {"Authorization": ALADDIN_BASIC,
                                                                 "Content-Type": "text/plain"},
                      "content": b"{}"}, 415, ["Content-Type 'text/plain'", "application/json or application/xml"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_journal_keeps_the_answer_and_says_why(client: TestClient, case: str) -> None:
    request, status, words = CASES[case]
    response = client.request(**request)
    assert response.status_code == status, response.text
    entry = last_entry(client)
    same_as_received(entry, response)
    for word in words:
        assert word in entry["reason"], (word, entry["reason"])
    # The vendor's body is untouched: the reason is not in what the client got.
    assert entry["reason"] not in response.text


def test_a_rate_limit_names_the_operation_the_rule_and_the_refill(client: TestClient) -> None:
    assert client.put("/__admin/rate-limits", json={"limits": {"update": "1/1m"}}).status_code == 200
    put = {"method": "PUT", "url": SCENARIO, "headers": {"Authorization": ALADDIN_BASIC}, "json": {"name": "x"}}
    assert client.request(**put).status_code == 200
    refused = client.request(**put)
    assert refused.status_code == 429
    entry = last_entry(client)
    same_as_received(entry, refused)
    assert "rate limit of 'update' (1/1m per account)" in entry["reason"] and "s later" in entry["reason"]


def test_a_fault_names_its_rule_and_the_uses_left(client: TestClient) -> None:
    rule = client.post("/__admin/faults", json={"path": SCENARIO, "status": 503, "times": 2}).json()
    faulted = client.get(SCENARIO, headers={"Authorization": ALADDIN_BASIC})
    assert faulted.status_code == 503
    entry = last_entry(client)
    same_as_received(entry, faulted)
    assert entry["reason"] == f"fault rule {rule['id']} (any method {SCENARIO}; 1 of 2 uses left) answered 503"


def test_a_dropped_call_has_no_answer_and_names_its_rule(client: TestClient) -> None:
    rule = client.post("/__admin/faults", json={"path": SCENARIO, "drop": True, "times": 1}).json()
    with pytest.raises(Exception):  # noqa: B017, PT011 - the in-process client's own error for a dropped call
        client.get(SCENARIO, headers={"Authorization": ALADDIN_BASIC})
    entry = last_entry(client)
    assert (entry["status"], entry["response"]) == (0, None)
    assert entry["reason"].startswith(f"fault rule {rule['id']} ") and "no answer was sent" in entry["reason"]


def test_a_token_answer_is_journaled_with_its_secret_masked(client: TestClient) -> None:
    created = client.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"})
    assert created.status_code == 200, created.text
    entry = last_entry(client)
    assert created.json()["token"] not in str(entry)
    assert '"token":"***"' in entry["response"]["body"].replace(" ", "")


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi-only"])
def test_over_a_real_socket_the_journal_holds_what_the_client_read(direct: bool) -> None:
    with server.running([] if direct else ["--asgi-only"]) as running, httpx.Client(base_url=running.url) as http:
        for request, status, words in (CASES["json broken on line 2"], CASES["wrong password"],
                                       CASES["success"]):
            response = http.request(**request)
            assert response.status_code == status
            entry = last_entry(http)
            same_as_received(entry, response)
            assert all(word in entry["reason"] for word in words), entry["reason"]


def test_an_expired_token_says_how_long_ago_on_the_accounts_clock(client: TestClient) -> None:
    session = client.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()["token"]
    assert client.get(LIST, headers={"Authorization": f"IBSSO {session}"}).status_code == 200
    # Sessions end after an hour without a call (the default): 90 s past it on Aladdin's own clock.
    moved = client.post("/__admin/clock/advance", json={"seconds": 3600 + 90, "account": "Aladdin"})
    assert moved.status_code == 200, moved.text
    refused = client.get(LIST, headers={"Authorization": f"IBSSO {session}"})
    assert refused.status_code == 401
    entry = last_entry(client)
    same_as_received(entry, refused)
    assert entry["reason"] == ("IBSSO: this session of Aladdin expired 90.000 s ago on the account's clock "
                               "(POST /__admin/clock/advance moves it)")
    # Asked again, the token is still remembered as expired (it is gone from the live ones).
    client.post("/__admin/clock/advance", json={"seconds": 10, "account": "Aladdin"})
    client.get(LIST, headers={"Authorization": f"IBSSO {session}"})
    assert "expired 100.000 s ago" in last_entry(client)["reason"]


def test_an_ended_session_says_it_was_ended(client: TestClient) -> None:
    session = client.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()["token"]
    assert client.delete("/auth/1/session", headers={"Authorization": f"IBSSO {session}"}).status_code == 204
    refused = client.get(LIST, headers={"Authorization": f"IBSSO {session}"})
    assert refused.status_code == 401
    assert last_entry(client)["reason"].startswith("IBSSO: this session of Aladdin was ended 0.000 s ago")


@pytest.mark.parametrize(("body", "why"), [
    ({"username": "Nobody", "password": "x"}, "no account named 'Nobody'"),
    ({"username": "Aladdin", "password": "x"}, "the password of Aladdin is not the one given"),
])
def test_a_refused_sign_in_says_which_check(client: TestClient, body: dict[str, str], why: str) -> None:
    refused = client.post("/auth/1/session", json=body)
    assert refused.status_code == 401
    entry = last_entry(client)
    same_as_received(entry, refused)
    assert entry["reason"] == why


def test_a_send_that_outgrows_the_message_bound_says_so(new_app: Callable[..., MockOmni],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    """Before, 24,000 destinations past a 10,000 bound were answered 200 and 14,000 vanished silently."""
    app = new_app(message_limit=100)
    destinations = [{"to": {"phoneNumber": f"4179{n:07d}"}} for n in range(240)]
    with TestClient(app) as client, caplog.at_level("WARNING", logger="mock_omni"):
        sent = client.post("/omni/1/advanced", headers={"Authorization": ALADDIN_BASIC},
                           json={"destinations": destinations, "sms": {"text": "hi"}, "viber": {"text": "hi"}})
        assert sent.status_code == 200 and len(sent.json()["messages"]) == 240  # the vendor's answer, whole
        entry = last_entry(client)
        same_as_received(entry, sent)
        assert "140 of its 240 messages were dropped at once" in entry["reason"]
        assert "at most 100 messages" in entry["reason"] and "--message-limit" in entry["reason"]
        kept = client.get("/__admin/messages").json()
        assert (kept["kept"], kept["dropped"], kept["sent"]) == (100, 140, 240)
        assert [r.getMessage() for r in caplog.records if "outgrew" in r.getMessage()], caplog.text
        # A send that fits says nothing of the kind.
        client.post("/__admin/reset")
        client.post("/omni/1/advanced", headers={"Authorization": ALADDIN_BASIC},
                    json={"destinations": destinations[:10], "sms": {"text": "hi"}, "viber": {"text": "hi"}})
        assert last_entry(client)["reason"] == "answered by POST /omni/1/advanced (operation 'send')"


@pytest.mark.parametrize("authorization", [
    "003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9",  # an API key without "App "
    "Zm9vOmJhcg==",  # a Basic credential without "Basic "
])
def test_a_credential_without_its_scheme_is_not_shown_in_the_reason(client: TestClient, authorization: str) -> None:
    """The journal masks a one-word Authorization whole; its reason must not print it (a real key, sent to the
    mock by mistake, would land in a CI log through the plugin's failure report)."""
    assert client.get(LIST, headers={"Authorization": authorization}).status_code == 401
    entry = last_entry(client)
    assert entry["headers"]["authorization"] == "***"
    assert authorization.lower() not in entry["reason"].lower()
    assert "no scheme" in entry["reason"]


def test_an_expired_token_asked_again_and_again_says_how_long_ago_each_time(client: TestClient) -> None:
    """A refusal is not remembered with its "how long ago" frozen: the third call said the second's number."""
    session = client.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()["token"]
    assert client.post("/__admin/clock/advance", json={"seconds": 3600 + 90, "account": "Aladdin"}).status_code == 200
    said = []
    for _ in range(4):
        assert client.get(LIST, headers={"Authorization": f"IBSSO {session}"}).status_code == 401
        said.append(last_entry(client)["reason"].split(" expired ")[1].split(" s ago")[0])
        assert client.post("/__admin/clock/advance", json={"seconds": 10, "account": "Aladdin"}).status_code == 200
    assert said == ["90.000", "100.000", "110.000", "120.000"]


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi-only"])
def test_a_reason_quoting_what_the_caller_sent_is_bounded(direct: bool) -> None:
    """The journal bounds headers (8 KiB) and bodies (64 KiB) so its entries bound its memory; a reason quotes an
    Accept header, a username or a client_id whole: a megabyte each, a gigabyte in a full journal."""
    from mock_omni.testing.journal import MAX_REASON

    big = "a" * 1_000_000
    calls = [
        {"method": "GET", "url": LIST, "headers": {"Authorization": ALADDIN_BASIC, "Accept": big}},
        {"method": "GET", "url": LIST, "headers": {"Authorization": basic(big, "x")}},
        {"method": "POST", "url": LIST, "headers": {"Authorization": ALADDIN_BASIC, "Content-Type": big},
         "content": b"{}"},
        {"method": "POST", "url": "/auth/1/oauth2/token",
         "data": {"grant_type": "client_credentials", "client_id": big[:900_000], "client_secret": "x"}},
    ]
    with server.running([] if direct else ["--asgi-only"]) as running, \
            httpx.Client(base_url=running.url, timeout=30) as http:
        for call in calls:
            assert http.request(**call).status_code in (401, 406, 415)
            reason = last_entry(http)["reason"]
            assert len(reason) <= MAX_REASON and reason.endswith(" more characters)"), reason[:100]


def test_a_credential_sent_with_another_scheme_says_which_it_is(client: TestClient) -> None:
    """A live session sent as Bearer was "no live access token ... (unknown, or ended long ago)": the mock knows
    better, and says which scheme the credential goes with (without printing it)."""
    session = client.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()["token"]
    token = client.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials"},
                        headers={"Authorization": ALADDIN_BASIC}).json()["access_token"]
    account = client.get("/__admin/accounts").json()["accounts"][0]
    key, fixture_token = account["apiKeys"][0], account["tokens"][0]
    for authorization, why in [
        (f"Bearer {session}", "Bearer: this is an IBSSO session of Aladdin: send it as IBSSO <token>"),
        (f"App {session}", "App: this is an IBSSO session of Aladdin: send it as IBSSO <token>"),
        (f"IBSSO {token}", "IBSSO: this is an OAuth2 access token of Aladdin: send it as Bearer <token>"),
        (f"IBSSO {key}", "IBSSO: this is an API key of Aladdin: send it as App <key>"),
        (f"App {fixture_token}", "App: this is a fixture token of Aladdin: send it as IBSSO <token> or Bearer <token>"),
        (basic("aladdin", "open sesame"),
         "Basic: no account named 'aladdin' (usernames are case-sensitive: 'Aladdin' differs only in case)"),
    ]:
        for _ in range(2):  # the second time from the cache, where one is kept
            assert client.get(LIST, headers={"Authorization": authorization}).status_code == 401
            assert last_entry(client)["reason"] == why
    # Once the session has ended, the hint is gone: it says the token ended.
    assert client.delete("/auth/1/session", headers={"Authorization": f"IBSSO {session}"}).status_code == 204
    assert client.get(LIST, headers={"Authorization": f"Bearer {session}"}).status_code == 401
    assert "send it as" not in last_entry(client)["reason"] and "ended" in last_entry(client)["reason"]
