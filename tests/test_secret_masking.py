"""Nothing about a token or secret shows unmasked: not in the journal (admin API, dashboard), not in the logs."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator

import httpx
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.testing.process import ServerProcess
from mock_omni.testing.redaction import MASK, redact_body, redact_query

from .admin_helpers import create_account

pytestmark = pytest.mark.both_stores

SECRET = "Sup3r-Secret-Value-42"
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("body", "content_type", "kept"), [
    (f"grant_type=client_credentials&client_id=app&client_secret={SECRET}", FORM, "client_id=app"),
    (f"client_%73ecret={SECRET}&grant_type=client_credentials", FORM, "grant_type=client_credentials"),
    (f'{{"username": "u", "password": "{SECRET}"}}', "application/json", '"username":"u"'),
    (f'{{"username": "u", "pass\\u0077ord": "{SECRET}"}}', "application/json", '"username":"u"'),
    (f'{{"outer": {{"Password": "{SECRET}"}}, "list": [{{"token": "{SECRET}"}}]}}', "application/json", "outer"),
    (f'\ufeff{{"password": "{SECRET}"}}', "application/json", "password"),
    (f"<session><username>u</username><password>{SECRET}</password></session>", "application/xml",
     "<username>u</username>"),
    (f'<s xmlns:x="urn:x"><x:password><a>{SECRET}</a></x:password></s>', "text/xml", "urn:x"),
    (f'{{"password": "{SECRET}"}}', None, "password"),                   # JSON without a type
    (f'{{"password": "{SECRET}"}}', FORM, ""),                           # JSON sent as a form: all of it
    (f'{{"password": "{SECRET}"', "application/json", ""),              # unreadable: all of it
    (f"<session><password>{SECRET}</password>", "application/xml", ""),
    (f"password: {SECRET}", "text/plain", ""),
    (f"p%61ssword: {SECRET}", "text/plain", ""),
])
def test_secret_fields_are_masked_in_every_format(body: str, content_type: str | None, kept: str) -> None:
    masked = redact_body(body.encode(), content_type)
    assert SECRET not in masked
    assert MASK in masked and kept in masked


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"name": "n", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}', "application/json"),
    ('{"name": "n",  "flow": []}', "application/json"),
    ("<scenario><name>n</name></scenario>", "application/xml"),
    ("grant_type=client_credentials&client_id=app", FORM),
    ('{"name": ', "application/json"),
    ("", "application/json"),
])
def test_bodies_without_secrets_are_shown_as_received(body: str, content_type: str) -> None:
    assert redact_body(body.encode(), content_type) == body


def test_queries_are_masked() -> None:
    assert redact_query(f"client_secret={SECRET}&a=1") == "client_secret=***&a=1"
    assert redact_query("limit=5&page=1") == "limit=5&page=1"


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with TestClient(app) as bare:  # no default Authorization header: sign-in calls bring their own
        yield bare


def test_the_journal_masks_every_sign_in_secret(app: MockOmni, client: TestClient) -> None:
    account = create_account(app, {"username": "shop", "password": SECRET, "oauth2Clients": [
        {"clientId": "shop-app", "clientSecret": SECRET + "-client"}]})
    assert account["username"] == "shop"
    issued = [
        client.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials", "client_id": "shop-app",
                                                  "client_secret": SECRET + "-client"}).json()["access_token"],
        client.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials"},
                    auth=("shop", SECRET)).json()["access_token"],
        client.post(f"/auth/1/oauth2/token?client_secret={SECRET}", data={"grant_type": "client_credentials"},
                    auth=("shop", SECRET)).json()["access_token"],
        client.post("/auth/1/session", json={"username": "shop", "password": SECRET}).json()["token"],
    ]
    xml_login = client.post("/auth/1/session", headers={"Content-Type": "application/xml"},
                            content=f"<session><username>shop</username><password>{SECRET}</password></session>")
    assert xml_login.status_code == 200
    client.post("/auth/1/session", json={"username": "shop", "password": SECRET + "-wrong"})
    for token in issued:
        client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token}"})
        client.get("/omni/1/scenarios", headers={"Authorization": f"IBSSO {token}"})
    client.delete("/auth/1/session", headers={"Authorization": f"IBSSO {issued[-1]}"})
    journal = client.get("/__admin/requests").text
    # The dashboard's recent requests (its account list shows the accounts' own credentials on purpose).
    dashboard = json.dumps(client.get("/", headers={"Accept": "application/json"}).json()["requests"])
    assert len(json.loads(journal)["requests"]) == 15 and "/auth/1/session" in dashboard
    for text in (journal, dashboard):
        assert SECRET not in text
        for token in issued:
            assert token not in text
    listed = client.get("/__admin/tokens").json()["tokens"]
    assert len(listed) == 3 and all(token not in str(listed) for token in issued)  # the session was ended


def test_no_log_record_carries_a_secret(app: MockOmni, client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = client.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials", "client_id": "Aladdin",
                                                      "client_secret": "open sesame"}).json()["access_token"]
    client.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token}"})
    client.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials", "client_id": "Aladdin",
                                              "client_secret": SECRET})
    client.post("/auth/1/session", json={"username": "Aladdin", "password": SECRET})
    text = "\n".join(record.getMessage() + str(record.exc_info) for record in caplog.records)
    assert SECRET not in text and token not in text


@pytest.mark.slow
def test_a_served_process_prints_no_secret() -> None:
    """The access log and everything else a real ``mock-omni serve`` writes, with sign-in traffic through it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("MOCK_OMNI_")}
    server = ServerProcess.serve(env=env)
    try:
        with httpx.Client(base_url=server.url, trust_env=False) as http:
            token = http.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials"},
                              auth=("Aladdin", "open sesame")).json()["access_token"]
            session = http.post("/auth/1/session", json={"username": "Aladdin", "password": "open sesame"}).json()
            http.post("/auth/1/session", json={"username": "Aladdin", "password": SECRET})
            http.post("/auth/1/oauth2/token", data={"grant_type": "client_credentials", "client_secret": SECRET,
                                                    "client_id": "Aladdin"})
            assert http.get("/omni/1/scenarios", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            assert http.delete("/auth/1/session",
                               headers={"Authorization": f"IBSSO {session['token']}"}).status_code == 204
    finally:
        server.stop()  # SIGTERM: the access log is flushed before the process ends
    printed = server.output()
    assert "POST /auth/1/oauth2/token" in printed  # the access log is on: the check below means something
    for secret in (SECRET, token, session["token"], "open sesame", "open+sesame"):
        assert secret not in printed


URL_SECRET = "hunter2-Url"


@pytest.mark.parametrize(("body", "content_type"), [
    (f'{{"notifyUrl": "http://hook:{URL_SECRET}@example.test/r", "sms": {{"text": "x"}}}}', "application/json"),
    (f'{{"notifyUrl": "http:\\/\\/hook:{URL_SECRET}@example.test\\/r"}}', "application/json"),  # escaped slashes
    (f"<request><notifyUrl>http://hook:{URL_SECRET}@example.test/r</notifyUrl></request>", "application/xml"),
    (f"<r><password>p</password><notifyUrl>https://hook:{URL_SECRET}@h/r</notifyUrl></r>", "application/xml"),
    (f"notifyUrl=http%3A%2F%2Fhook%3A{URL_SECRET}%40h%2Fr&x=1", FORM),
    (f"notifyUrl=http://hook:{URL_SECRET}@h/r", FORM),
    (f'{{"notifyUrl": "http://hook:{URL_SECRET}@h/r"', "application/json"),  # unreadable JSON
])
def test_credentials_of_a_url_in_a_body_are_masked(body: str, content_type: str) -> None:
    masked = redact_body(body.encode(), content_type)
    assert URL_SECRET not in masked, masked


def test_a_notify_urls_secret_query_parameters_are_masked_in_every_record(client: TestClient) -> None:
    """The journal masks ``?access_token=`` in a request's own query; a receiver's secret in a notifyUrl's query
    (``?token=``, ``&api_key=``: how many webhook receivers authenticate) showed in the journal, the callbacks,
    the messages and the dashboard, and so in a failing test's report. The push still carries it."""
    from .conftest import ALADDIN_BASIC

    url = f"http://127.0.0.1:9/r?token={SECRET}-t&api_key={SECRET}-k&client_secret={SECRET}-c&page=2"
    sent = client.post("/omni/1/advanced", headers={"Authorization": ALADDIN_BASIC}, json={
        "destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "x"}, "viber": {"text": "x"},
        "notifyUrl": url})
    assert sent.status_code == 200, sent.text
    deadline = time.monotonic() + 20
    while not client.get("/__admin/callbacks").json()["callbacks"] and time.monotonic() < deadline:
        time.sleep(0.05)
    shown = {path: client.get(path).text for path in ("/__admin/requests", "/__admin/callbacks", "/__admin/messages")}
    shown["dashboard"] = client.get("/", headers={"Accept": "application/json"}).text
    assert "token=***&api_key=***&client_secret=***&page=2" in shown["/__admin/callbacks"]
    for where, text in shown.items():
        assert SECRET not in text, where
