"""GET /: the dashboard page and its JSON summary; /docs and the static files it needs, all local."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from mock_omni.web.dashboard import RECENT_MESSAGES, RECENT_REQUESTS, wants_json

from .conftest import ALADDIN_BASIC, GENIE_KEY, OTHER_KEY, SEED_KEY, make_app

pytestmark = pytest.mark.both_stores

JSON = {"Accept": "application/json"}
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_browsers_get_the_page_and_every_asset_it_names_is_served_locally(client: TestClient) -> None:
    page = client.get("/", headers=BROWSER)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert "/static/dashboard.js" in assets and "/static/dashboard.css" in assets
    for asset in assets:
        assert asset.startswith("/"), f"{asset} is not served by the mock"
        assert client.get(asset).status_code == 200, asset


def test_the_json_summary_shows_accounts_scenarios_defaults_and_credentials(client: TestClient) -> None:
    summary = client.get("/", headers=JSON).json()
    accounts = {a["username"]: a for a in summary["accounts"]}
    assert set(accounts) == {"Aladdin", "Genie"}
    aladdin = accounts["Aladdin"]
    assert aladdin["authorization"] == ALADDIN_BASIC
    assert aladdin["defaultKey"] == SEED_KEY
    assert [s["key"] for s in aladdin["scenarios"]][:2] == [SEED_KEY, OTHER_KEY]
    assert [s["key"] for s in aladdin["scenarios"] if s["default"]] == [SEED_KEY]
    assert accounts["Genie"]["defaultKey"] == GENIE_KEY
    # The summary's credentials work on the vendor API: what the page does is what a client does.
    listed = client.get("/omni/1/scenarios", headers={"Authorization": accounts["Genie"]["authorization"]})
    assert [s["key"] for s in listed.json()["scenarios"]] == [s["key"] for s in accounts["Genie"]["scenarios"]]


def test_the_summary_follows_changes_rate_limits_and_the_journal(client: TestClient) -> None:
    before = client.get("/", headers=JSON).json()
    assert before["requests"] == [] and before["rateLimits"] == []
    assert client.put(f"/omni/1/scenarios/{OTHER_KEY}", json={"default": True, "name": "promoted"}).status_code == 200
    after = client.get("/", headers=JSON).json()
    assert after["revision"] > before["revision"]
    aladdin = next(a for a in after["accounts"] if a["username"] == "Aladdin")
    assert aladdin["defaultKey"] == OTHER_KEY
    assert [s["name"] for s in aladdin["scenarios"] if s["default"]] == ["promoted"]
    assert after["rateLimits"] == [{"account": "Aladdin", "operation": "update", "tokens": 39.0, "capacity": 40,
                                    "per": "40/10m"}]
    [entry] = after["requests"]
    assert (entry["method"], entry["path"], entry["status"], entry["account"]) == (
        "PUT", f"/omni/1/scenarios/{OTHER_KEY}", 200, "Aladdin")
    assert entry["headers"]["authorization"] == "Basic ***"


def test_only_the_newest_requests_are_listed(client: TestClient) -> None:
    for _ in range(RECENT_REQUESTS + 5):
        client.get(f"/omni/1/scenarios/{SEED_KEY}")
    client.get("/omni/1/scenarios")
    summary = client.get("/", headers=JSON).json()
    assert len(summary["requests"]) == RECENT_REQUESTS
    assert summary["requests"][-1]["path"] == "/omni/1/scenarios"
    assert summary["requestsRecorded"] == RECENT_REQUESTS + 6


def test_with_an_admin_token_the_summary_needs_it() -> None:
    with TestClient(make_app(admin_token="s3cret")) as client:
        refused = client.get("/", headers=JSON)
        wrong = client.get("/", headers={**JSON, "X-Admin-Token": "guess"})
        allowed = client.get("/", headers={**JSON, "X-Admin-Token": "s3cret"})
        page = client.get("/", headers=BROWSER)
    assert refused.status_code == wrong.status_code == 401
    assert refused.json()["requestError"]["serviceException"]["messageId"] == "UNAUTHORIZED"
    assert "Basic " not in refused.text
    assert allowed.status_code == 200 and allowed.json()["accounts"]
    assert page.status_code == 200  # the page holds no data; it asks for the token


@pytest.mark.parametrize(("accept", "expected"), [
    ("application/json", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    ("application/json, text/html", True),
    ("text/html, application/json", False),
    ("*/*", False),
    ("", False),
])
def test_json_only_when_asked_for(accept: str, expected: bool) -> None:
    from starlette.requests import Request

    request = Request({"type": "http", "headers": [(b"accept", accept.encode())] if accept else []})
    assert wants_json(request) is expected


def test_health(client: TestClient) -> None:
    response = client.get("/__admin/health")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_docs_page_loads_only_packaged_assets(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert len(assets) == 3
    for asset in assets:
        assert asset.startswith("/static/swagger-ui/"), asset
        response = client.get(asset)
        assert response.status_code == 200 and len(response.content) > 500, asset
    assert "https://" not in page.text and "http://" not in page.text
    assert "'/openapi.json'" in page.text and '"validatorUrl": null' in page.text


def test_the_vendored_swagger_ui_keeps_its_license(client: TestClient) -> None:
    license_text = client.get("/static/swagger-ui/LICENSE").text
    assert "Apache License" in license_text
    assert "swagger" in client.get("/static/swagger-ui/NOTICE").text.lower()


def test_unknown_static_files_are_a_vendor_style_404(client: TestClient) -> None:
    response = client.get("/static/nope.js")
    assert response.status_code == 404
    assert response.json()["requestError"]["serviceException"]["messageId"] == "NOT_FOUND"


def test_the_docs_show_the_update_page_examples(client: TestClient) -> None:
    from defusedxml.ElementTree import fromstring

    put = client.get("/openapi.json").json()["paths"]["/omni/1/scenarios/{scenarioKey}"]["put"]
    body = put["requestBody"]["content"]
    assert body["application/json"]["example"] == {
        "name": "Test update: SMS or VIBER",
        "flow": [{"from": "InfoSMS", "channel": "SMS"},
                 {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"}],
        "default": True}
    ok = put["responses"]["200"]["content"]
    assert ok["application/json"]["example"] == {"key": SEED_KEY, **body["application/json"]["example"]}
    xml = fromstring(ok["application/xml"]["example"])
    assert (xml.tag, xml.findtext("key"), xml.findtext("default")) == ("scenario", SEED_KEY, "true")
    assert [step.findtext("channel") for step in xml.iter("step")] == ["SMS", "VIBER"]
    assert put["responses"]["400"]["content"]["application/json"]["example"] == {
        "requestError": {"serviceException": {"messageId": "INVALID_ARGUMENT", "text": "Invalid argument"}}}


def test_the_docs_name_each_schema_once(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    titles = [schema.get("title") for schema in schemas.values()]
    assert len(titles) == len(set(titles)), titles
    listed = schemas["ScenariosResponse"]["properties"]["scenarios"]["items"]
    assert listed == {"$ref": "#/components/schemas/Scenario"}


def test_the_summary_shows_the_newest_messages_with_their_walks_and_callbacks(client: TestClient) -> None:
    from .receiver import receiver

    rule = {"destination": "41793026727", "channel": "SMS", "outcome": "UNDELIVERABLE"}
    assert client.post("/__admin/delivery-rules", json=rule).status_code == 201
    payloads = {"sms": {"text": "SMS"}, "viber": {"text": "Viber"}}
    for n in range(RECENT_MESSAGES + 2):
        plain = {"destinations": [{"messageId": f"P{n}", "to": {"phoneNumber": "447700900000"}}], **payloads}
        assert client.post("/omni/1/advanced", json=plain).status_code == 200
    with receiver() as target:
        pushed = {"destinations": [{"messageId": "W1", "to": {"phoneNumber": "41793026727"}}], **payloads,
                  "notifyUrl": target.url, "intermediateReport": True}
        assert client.post("/omni/1/advanced", json=pushed).status_code == 200
        waited = client.get("/__admin/callbacks", params={"wait": 10, "count": 2, "state": "delivered"}).json()
        assert waited["reached"], waited
    summary = client.get("/", headers=JSON).json()
    assert summary["messagesSent"] == RECENT_MESSAGES + 3 and summary["callbacksRecorded"] == 2
    shown = summary["messages"]
    assert [m["messageId"] for m in shown] == ["W1", *(f"P{n}" for n in range(RECENT_MESSAGES + 1, 2, -1))]
    newest = shown[0]
    assert [(s["channel"], s["outcome"]) for s in newest["steps"]] == [("SMS", "UNDELIVERABLE"), ("VIBER", "DELIVERED")]
    assert newest["status"]["name"] == "DELIVERED_TO_HANDSET" and newest["notifyUrl"] == target.url
    assert [(c["channel"], c["reportStatus"], c["state"], [a["status"] for a in c["attempts"]])
            for c in newest["callbacks"]] == [("SMS", "UNDELIVERABLE", "delivered", [200]),
                                              ("VIBER", "DELIVERED", "delivered", [200])]
    assert all("body" not in c for c in newest["callbacks"])  # the admin API has them; the page does not need them
    assert shown[1]["callbacks"] == [] and shown[1]["notifyUrl"] is None
