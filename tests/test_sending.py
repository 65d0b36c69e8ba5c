"""Sending through scenarios over HTTP: answers, one-time reports, logs and the failover walk on the clock."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.domain.fixtures import FixtureError, load_files
from mock_omni.domain.plans import new_ids

from .conftest import GENIE_BASIC, SEED_KEY
from .sending import (
    DELIVERED,
    EXPIRED,
    NO_ERROR,
    PENDING,
    REJECTED,
    UNDELIVERABLE,
    advance,
    body,
    date,
    ids,
    logs,
    reports,
    rule,
    scenario,
    send,
    sending_app,
    sending_client,
    walk,
)

pytestmark = pytest.mark.both_stores


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    return sending_app(new_app)


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with sending_client(app) as test_client:
        yield test_client


# --- the send answer -------------------------------------------------------------------------


def is_uuid4(text: str) -> bool:
    """A random UUID in its canonical text (lower case, 8-4-4-4-12), version 4, RFC variant."""
    parsed = uuid.UUID(text)
    return str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_generated_ids_are_distinct_version_4_uuids_in_canonical_text() -> None:
    generated = new_ids(20_000)
    assert all(is_uuid4(text) for text in generated) and len(set(generated)) == len(generated)
    # Every hex digit outside the version and variant positions varies (the bits are random, not a counter).
    for position in (*range(8), *range(9, 13), *range(15, 18), *range(20, 23), *range(24, 36)):
        assert len({text[position] for text in generated}) == 16, position
    assert {text[14] for text in generated} == {"4"} and {text[19] for text in generated} == set("89ab")


def test_one_destination_no_bulk_id_the_default_scenario_and_a_pending_status(client: TestClient) -> None:
    answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    assert list(answer) == ["messages"]
    (message,) = answer["messages"]
    assert message["to"] == {"phoneNumber": "41793026727"} and message["status"] == PENDING
    assert is_uuid4(message["messageId"])  # a UUID, like the vendor's example
    again = {send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))["messages"][0]["messageId"]
             for _ in range(200)}
    assert len(again | {message["messageId"]}) == 201  # every send its own ID
    given = send(client, {**body(None, "41793026727", channels=["SMS", "VIBER"]), "bulkId": "B"})
    assert given["bulkId"] == "B" and is_uuid4(given["messages"][0]["messageId"])
    assert client.get("/__admin/messages").json()["messages"][0]["scenarioKey"] == SEED_KEY


def test_many_destinations_get_a_generated_bulk_id_given_ids_are_kept(client: TestClient) -> None:
    data = body(None, "41793026727", "41793026731", channels=["SMS", "VIBER"])
    data["destinations"][0]["messageId"] = "MESSAGE-ID-123-xyz"
    answer = send(client, data)
    assert len(answer["bulkId"]) == 36
    assert ids(answer)[0] == "MESSAGE-ID-123-xyz" and ids(answer)[1] != ids(answer)[0]
    kept = send(client, {**data, "bulkId": "BULK-ID-123-xyz"})
    assert kept["bulkId"] == "BULK-ID-123-xyz"
    single = send(client, {**body(None, "41793026727", channels=["SMS", "VIBER"]), "bulkId": "MINE"})
    assert single["bulkId"] == "MINE"


def test_xml_in_and_out(client: TestClient) -> None:
    xml = (b"<OmniAdvancedRequest><destinations><destinations><messageId>M1</messageId><to>"
           b"<phoneNumber>41793026727</phoneNumber></to></destinations><destinations><to><phoneNumber>41793026731"
           b"</phoneNumber></to></destinations></destinations><bulkId>B1</bulkId><sms><text>Hi</text>"
           b"<validityPeriod>2</validityPeriod></sms><viber><text>Hi</text></viber></OmniAdvancedRequest>")
    response = client.post("/omni/1/advanced", content=xml, headers={"Content-Type": "application/xml"})
    assert response.status_code == 200, response.text
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><omniResponse><bulkId>B1</bulkId>'
                                     "<messages><message><to><phoneNumber>41793026727</phoneNumber></to><status>")
    assert response.text.count("<message>") == 2 and "<messageId>M1</messageId>" in response.text
    report = client.get("/omni/1/reports", headers={"Accept": "application/xml"}).text
    assert report.startswith('<?xml version="1.0" encoding="UTF-8"?><omniReportsResponse><results><result>')
    assert report.count("<result>") == 2 and "<permanent>false</permanent>" in report


@pytest.mark.parametrize(("data", "field"), [
    (body(None, "41793026727", channels=["SMS"]), "viber"),
    (body(None, {"emailAddress": "a@example.com"}, channels=["SMS", "VIBER"]), "destinations[0].to.phoneNumber"),
    (body(None, "41793026727", {}, channels=["SMS", "VIBER"]), "destinations[1].to.phoneNumber"),
    (body("F" * 32, "41793026727"), "scenarioKey"),
    ({"destinations": [], "sms": {"text": "x"}, "viber": {"text": "x"}}, "destinations"),
    ({"sms": {"text": "x"}, "viber": {"text": "x"}}, "destinations"),
    (body(None, "41793026727", channels=["VIBER"], sms={"text": ""}), "sms.text"),
    (body(None, "41793026727", channels=["VIBER"], sms={"text": "x", "validityPeriod": 30,
                                                        "validityPeriodTimeUnit": "SECONDS"}), "sms.validityPeriod"),
    (body(None, "41793026727", channels=["SMS"], viber={"text": "x", "validityPeriod": 15, "validityPeriodTimeUnit":
                                                        "DAYS"}), "viber.validityPeriod"),
    (body(None, "41793026727", channels=["SMS"], viber={"buttonText": "Go", "buttonURL": "http://x"}), "viber.text"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], sendAt="tomorrow"), "sendAt"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], sendAt="2015-08-23T16:41:11.833+0000"), "sendAt"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], callbackData="x" * 4001), "callbackData"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], notifyContentType="text/plain"), "notifyContentType"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl="not a url"), "notifyUrl"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], sms={"text": "x", "transliteration": "KLINGON"}),
     "sms.transliteration"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], whatsApp={"templateName": "t"}), "whatsApp.language"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], line={"type": "STICKER", "packageId": "1"}),
     "line.stickerId"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], kakaoAlim={"text": "x"}), "kakaoAlim.templateCode"),
    (body(None, "41793026727", channels=["SMS", "VIBER"], kakaoChingu={
        "text": "x", "buttons": [{"buttonText": "b", "type": "URL"}]}), "kakaoChingu.buttons[0].buttonUrl"),
])
def test_a_bad_send_is_400_naming_the_field_and_sends_nothing(client: TestClient, data: dict[str, Any],
                                                              field: str) -> None:
    response = client.post("/omni/1/advanced", json=data)
    assert response.status_code == 400, response.text
    error = response.json()["requestError"]["serviceException"]
    assert error["messageId"] == "INVALID_ARGUMENT" and field in error["validationErrors"], error
    assert client.get("/__admin/messages").json()["messages"] == []


def test_a_body_that_does_not_parse_is_bad_request(client: TestClient) -> None:
    response = client.post("/omni/1/advanced", content=b"{", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["requestError"]["serviceException"]["messageId"] == (
        "BAD_REQUEST")


def test_sending_needs_credentials(client: TestClient) -> None:
    for method, path in (("POST", "/omni/1/advanced"), ("GET", "/omni/1/reports"), ("GET", "/omni/1/logs")):
        response = client.request(method, path, headers={"Authorization": "Basic bm9ib2R5Om5vcGU="})
        assert response.status_code == 401, path


# --- default delivery, reports once, logs repeatedly ------------------------------------------


def test_delivered_at_once_by_default_and_each_report_is_given_once(client: TestClient) -> None:
    answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"], callbackData="ctx"))
    (report,) = reports(client)
    assert report == {
        "messageId": ids(answer)[0], "to": "41793026727", "sentAt": date(0), "doneAt": date(0), "messageCount": 1,
        "mccMnc": "22801", "price": {"pricePerMessage": 0.01, "currency": "EUR"}, "status": DELIVERED,
        "error": NO_ERROR, "channel": "SMS", "callbackData": "ctx",
    }
    assert date(0) == "2015-02-23T16:41:11.833+0000"
    assert reports(client) == []
    first = logs(client)
    assert first == logs(client) and len(first) == 1
    assert first[0]["from"] == "InfoSMS" and first[0]["text"] == "SMS text" and first[0]["status"] == DELIVERED


def test_reports_filters_and_limit(client: TestClient) -> None:
    bulk = send(client, body(None, "41793026727", "41793026731", "41793026732", channels=["SMS", "VIBER"]))
    other = send(client, body(None, "38591000000", channels=["SMS", "VIBER"]))
    assert [r["messageId"] for r in reports(client, messageId=ids(other)[0])] == ids(other)
    newest_two = reports(client, bulkId=bulk["bulkId"], limit=2)
    assert [r["messageId"] for r in newest_two] == ids(bulk)[:0:-1]
    assert reports(client, channel="VIBER") == []
    assert [r["messageId"] for r in reports(client, channel="SMS")] == ids(bulk)[:1]
    assert reports(client) == []


@pytest.mark.parametrize("query", ["limit=1001", "limit=-1", "limit=x", "channel=PIGEON", "sentSince=yesterday"])
def test_bad_report_and_log_queries_are_400(client: TestClient, query: str) -> None:
    path = "/omni/1/logs" if query.startswith("sent") else "/omni/1/reports"
    response = client.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json()["requestError"]["serviceException"]["validationErrors"]


def test_logs_filters_newest_first(client: TestClient, app: MockOmni) -> None:
    sms_viber = send(client, body(None, "41793026727", "38591000000", channels=["SMS", "VIBER"]))
    advance(client, 60)
    email_key = scenario(client, "EMAIL")
    mail = send(client, body(email_key, {"emailAddress": "a@example.com"}, channels=["EMAIL"]))
    assert [log["messageId"] for log in logs(client)] == ids(mail) + ids(sms_viber)[::-1]
    assert [log["messageId"] for log in logs(client, limit=1)] == ids(mail)
    assert [log["to"] for log in logs(client, channel="EMAIL")] == ["a@example.com"]
    assert [log["to"] for log in logs(client, to="38591000000")] == ["38591000000"]
    assert [log["to"] for log in logs(client, **{"from": "S-EMAIL"})] == ["a@example.com"]
    assert [log["to"] for log in logs(client, mcc="219", mnc="01")] == ["38591000000"]
    assert [log["to"] for log in logs(client, mcc="228")] == ["41793026727"]
    both = client.get(f"/omni/1/logs?messageId={ids(mail)[0]},{ids(sms_viber)[1]}").json()["results"]
    assert [log["messageId"] for log in both] == ids(mail) + ids(sms_viber)[1:]
    repeated = client.get(f"/omni/1/logs?bulkId={sms_viber['bulkId']}&bulkId=other").json()["results"]
    assert len(repeated) == 2
    assert logs(client, generalStatus="PENDING") == [] and len(logs(client, generalStatus="DELIVERED")) == 3
    assert [log["to"] for log in logs(client, sentSince="2015-02-23T16:41:50.000+0000")] == ["a@example.com"]
    assert len(logs(client, sentUntil="2015-02-23T17:41:11.833+01:00")) == 2  # the first two, at 16:41:11.833Z
    assert "mccMnc" not in logs(client, channel="EMAIL")[0]
    advance(client, 48 * 3600 + 1)
    assert logs(client) == []  # the default window is the last 48 hours
    assert len(logs(client, sentSince="2015-01-01T00:00:00Z")) == 3


@pytest.mark.parametrize(("step", "whose"), [(0.0003, None), (0.00049, "Aladdin"), (0.0011, None)])
def test_a_messages_own_sent_at_as_either_bound_takes_it_in(new_app: Callable[..., MockOmni], step: float,
                                                             whose: str | None) -> None:
    # Sends a fraction of a millisecond apart (on everyone's clock, or the account's own): each message's
    # printed sentAt, given back as sentSince, sentUntil or both, selects exactly the messages printed at or
    # after it, at or before it, at it; before the fix about half of them missed their own sentAt.
    with sending_client(sending_app(new_app, rate_limits={})) as client:
        sent: list[str] = []
        for _ in range(60):
            sent += ids(send(client, body(None, "41793026727", channels=["SMS", "VIBER"])))
            moved = client.post("/__admin/clock/advance", json={"seconds": step, "account": whose})
            assert moved.status_code == 200, moved.text
        printed = {log["messageId"]: log["sentAt"] for log in logs(client, limit=1000)}
        assert sorted(printed) == sorted(sent) and len(set(printed.values())) > 10

        def found(**bounds: str) -> set[str]:
            return {log["messageId"] for log in logs(client, limit=1000, **bounds)}

        for message_id, at in printed.items():
            since, until, both = found(sentSince=at), found(sentUntil=at), found(sentSince=at, sentUntil=at)
            assert message_id in since and message_id in until and message_id in both, (message_id, at)
            # Same format, same year: the texts order as the instants.
            assert since == {other for other, when in printed.items() if when >= at}
            assert until == {other for other, when in printed.items() if when <= at}
            assert both == {other for other, when in printed.items() if when == at}
        # A bound finer than a millisecond lies between two printed dates: exact, not rounded onto either.
        first = min(printed.values())
        finer = first[:23] + "5" + first[23:]  # 2015-02-23T16:41:11.8335+0000
        assert found(sentSince=finer) == {other for other, when in printed.items() if when > first}
        assert found(sentUntil=finer) == {other for other, when in printed.items() if when == first}
        # The same instant in another zone and in RFC 3339's form.
        shifted = f"{first[:11]}{int(first[11:13]) + 1:02d}{first[13:23]}+01:00"
        assert found(sentSince=shifted, sentUntil=first.replace("+0000", "Z")) == found(sentSince=first,
                                                                                        sentUntil=first)


def test_logs_are_limited_to_120_a_minute(client: TestClient) -> None:
    assert all(client.get("/omni/1/logs").status_code == 200 for _ in range(120))
    refused = client.get("/omni/1/logs")
    assert refused.status_code == 429 and "retry-after" not in refused.headers
    advance(client, 1)
    assert client.get("/omni/1/logs").status_code == 200  # two tokens refill per second


def test_accounts_see_only_their_own_messages(client: TestClient) -> None:
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    genie = {"Authorization": GENIE_BASIC}
    assert client.get("/omni/1/logs", headers=genie).json()["results"] == []
    assert client.get("/omni/1/reports", headers=genie).json()["results"] == []
    assert len(reports(client)) == 1


# --- failover on the clock ------------------------------------------------------------------------


def test_delivery_delay_keeps_the_message_pending_until_the_clock_gets_there(new_app: Callable[..., MockOmni]) -> None:
    with sending_client(sending_app(new_app, delivery_delay=2.0)) as client:
        answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
        assert reports(client) == []
        assert logs(client)[0]["status"] == PENDING and "doneAt" not in logs(client)[0]
        advance(client, 1.5)
        assert reports(client) == []
        advance(client, 10)  # looked at late: the report still says when it happened
        (report,) = reports(client)
        assert report["messageId"] == ids(answer)[0] and (report["sentAt"], report["doneAt"]) == (date(0), date(2))


def test_undeliverable_fails_over_at_once_and_the_walk_shows_it(client: TestClient) -> None:
    rule(client, destination="41793026727", channel="SMS", outcome="UNDELIVERABLE")
    answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    (report,) = reports(client)
    assert report["channel"] == "VIBER" and report["status"] == DELIVERED
    assert report["price"] == {"pricePerMessage": 0.0104, "currency": "EUR"}
    assert walk(client, ids(answer)[0]) == [("SMS", "UNDELIVERABLE", date(0), date(0)),
                                            ("VIBER", "DELIVERED", date(0), date(0))]


def test_a_failure_rule_with_a_delay_fails_over_after_it(client: TestClient) -> None:
    rule(client, channel="SMS", outcome="UNDELIVERABLE", delaySeconds=30)
    answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    advance(client, 29)
    assert walk(client, ids(answer)[0]) == [("SMS", "PENDING", date(0), None)]
    advance(client, 1)
    assert walk(client, ids(answer)[0]) == [("SMS", "UNDELIVERABLE", date(0), date(30)),
                                            ("VIBER", "DELIVERED", date(30), date(30))]


def test_the_last_steps_failure_is_the_final_status(client: TestClient) -> None:
    rule(client, destination="4179*", outcome="REJECTED")
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    (report,) = reports(client)
    assert report["status"] == REJECTED and report["channel"] == "VIBER"
    assert report["price"]["pricePerMessage"] == 0


def test_expired_steps_follow_the_validity_periods_of_the_vendors_example(client: TestClient) -> None:
    # "Send a scheduled OMNI message with a custom Validity period": Viber for a minute, then SMS for 90
    # seconds, then email "two and a half minutes (1 minute + 90 seconds) after the initial message".
    key = scenario(client, "VIBER", "SMS", "EMAIL")
    rule(client, outcome="EXPIRED")
    answer = send(client, body(key, {"phoneNumber": "41793026727", "emailAddress": "email@example.com"},
                               channels=[], viber={"text": "v", "validityPeriod": 1},
                               sms={"text": "s", "validityPeriod": 90, "validityPeriodTimeUnit": "SECONDS"},
                               email={"text": "e", "validityPeriod": 2, "validityPeriodTimeUnit": "HOURS"}))
    message_id = ids(answer)[0]
    advance(client, 149.9)
    assert [step[:2] for step in walk(client, message_id)] == [("VIBER", "EXPIRED"), ("SMS", "PENDING")]
    advance(client, 0.1)
    assert walk(client, message_id) == [("VIBER", "EXPIRED", date(0), date(60)),
                                        ("SMS", "EXPIRED", date(60), date(150)), ("EMAIL", "PENDING", date(150), None)]
    assert logs(client)[0]["channel"] == "EMAIL" and logs(client)[0]["to"] == "email@example.com"
    advance(client, 7200)
    (report,) = reports(client)
    assert (report["status"], report["channel"], report["doneAt"]) == (EXPIRED, "EMAIL", date(7350))
    assert report["to"] == "email@example.com" and "mccMnc" not in report


def test_a_validity_period_over_48_hours_is_48_hours(client: TestClient) -> None:
    rule(client, channel="SMS", outcome="EXPIRED")
    send(client, body(None, "41793026727", channels=["VIBER"], sms={"text": "s", "validityPeriod": 3,
                                                                     "validityPeriodTimeUnit": "DAYS"}))
    advance(client, 48 * 3600 - 1)
    assert reports(client) == []
    advance(client, 1)
    assert reports(client)[0]["channel"] == "VIBER"


def test_a_step_without_an_address_is_rejected_as_missing_to(client: TestClient) -> None:
    key = scenario(client, "SMS", "EMAIL")
    rule(client, channel="SMS", outcome="UNDELIVERABLE")
    answer = send(client, body(key, "41793026727", channels=["SMS", "EMAIL"]))
    (report,) = reports(client)
    assert report["status"] == {"groupId": 5, "groupName": "REJECTED", "id": 51, "name": "MISSING_TO",
                                "description": "Missing destination"}
    assert walk(client, ids(answer)[0])[1][:2] == ("EMAIL", "MISSING_TO")


def test_send_at_schedules_the_first_step(client: TestClient) -> None:
    answer = send(client, body(None, "41793026727", channels=["SMS", "VIBER"],
                               sendAt="2015-02-23T17:41:11.833+0000"))
    assert answer["messages"][0]["status"] == PENDING
    (log,) = logs(client)
    assert log["status"]["name"] == "PENDING_ACCEPTED" and log["sentAt"] == date(3600)
    advance(client, 3599)
    assert reports(client) == []
    advance(client, 1)
    (report,) = reports(client)
    assert (report["sentAt"], report["doneAt"]) == (date(3600), date(3600))
    past = send(client, body(None, "41793026727", channels=["SMS", "VIBER"], sendAt="2015-01-01T00:00:00.000+0000"))
    assert reports(client)[0]["messageId"] == ids(past)[0]  # a past sendAt sends at once


# --- rules ----------------------------------------------------------------------------------------


def test_first_matching_rule_wins_and_times_uses_it_up(client: TestClient) -> None:
    rule(client, destination="41793026727", channel="SMS", outcome="UNDELIVERABLE", times=2)
    rule(client, destination="4179*", outcome="REJECTED", account="Genie")
    rule(client, destination="4179*", outcome="DELIVERED", delaySeconds=5)
    for _ in range(3):
        send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    assert [r["channel"] for r in reports(client)] == []  # all wait for their 5 seconds
    advance(client, 5)
    assert sorted(r["channel"] for r in reports(client)) == ["SMS", "VIBER", "VIBER"]
    listed = client.get("/__admin/delivery-rules").json()
    assert [r["outcome"] for r in listed["rules"]] == ["REJECTED", "DELIVERED"]  # the first is used up
    assert listed["testDestinations"][0]["destination"] == "447700900000"


@pytest.mark.parametrize(("data", "field"), [
    ({"outcome": "LOST"}, "outcome"), ({"outcome": "EXPIRED", "delaySeconds": 3}, "delaySeconds"),
    ({"outcome": "DELIVERED", "channel": "PIGEON"}, "channel"), ({"outcome": "DELIVERED", "times": 0}, "times"),
    ({"outcome": "DELIVERED", "destination": ""}, "destination"), ({"outcome": "DELIVERED", "to": "x"}, "to"),
])
def test_bad_rules_are_400_naming_the_field(client: TestClient, data: dict[str, Any], field: str) -> None:
    response = client.post("/__admin/delivery-rules", json=data)
    assert response.status_code == 400 and field in response.json()["requestError"]["serviceException"][
        "validationErrors"]


def test_rules_are_removed_one_by_one_per_account_or_by_reset(client: TestClient) -> None:
    first = rule(client, outcome="REJECTED", account="Aladdin")
    rule(client, outcome="REJECTED", account="Genie")
    rule(client, outcome="EXPIRED")
    assert client.delete(f"/__admin/delivery-rules/{first['id']}").json() == {"removed": first["id"]}
    assert client.delete(f"/__admin/delivery-rules/{first['id']}").status_code == 404
    assert client.delete("/__admin/delivery-rules", params={"account": "Genie"}).json() == {"removed": 1}
    assert client.post("/__admin/reset").status_code == 200
    assert client.get("/__admin/delivery-rules").json()["rules"] == []


@pytest.mark.parametrize(("to", "channels", "final"), [
    ("447700900000", ["SMS", "VIBER"], ("SMS", DELIVERED)),
    ("447700900002", ["VIBER", "SMS"], ("SMS", DELIVERED)),
    ("447700900004", ["SMS", "VIBER"], ("VIBER", UNDELIVERABLE)),
    ("447700900005", ["SMS", "VIBER"], ("VIBER", REJECTED)),
    ("447700900008", ["SMS", "VIBER"], ("VIBER", DELIVERED)),
])
def test_ready_made_test_destinations(client: TestClient, to: str, channels: list[str],
                                      final: tuple[str, dict[str, Any]]) -> None:
    send(client, body(scenario(client, *channels), to, channels=channels))
    (report,) = reports(client)
    assert (report["channel"], report["status"]) == final


@pytest.mark.parametrize("written", ["+447700900004", "00447700900004", "+44 7700 900004", "+44-7700-900004",
                                     "0044 (7700) 900.004"])
def test_a_test_destination_behaves_alike_however_it_is_written(client: TestClient, written: str) -> None:
    """Before, every form but 447700900004 was silently delivered."""
    answer = send(client, body(scenario(client, "SMS", "VIBER"), written, channels=["SMS", "VIBER"]))
    (report,) = reports(client)
    assert (report["channel"], report["status"]) == ("VIBER", UNDELIVERABLE)
    # What the vendor echoes is what was sent.
    assert answer["messages"][0]["to"]["phoneNumber"] == written == report["to"]


@pytest.mark.parametrize(("destination", "written"), [
    ("+41793026727", "41793026727"), ("0041 79 302 67 27", "+41793026727"), ("4179*", "+41 79 302 67 27"),
    ("+4179*", "0041793026727"), ("004179*", "41793026727"),
])
def test_a_rule_matches_a_number_in_any_form(client: TestClient, destination: str, written: str) -> None:
    rule(client, destination=destination, outcome="REJECTED")
    send(client, body(scenario(client, "SMS"), written, channels=["SMS"]))
    (report,) = reports(client)
    assert report["status"] == REJECTED


@pytest.mark.parametrize(("sent", "asked"), [("+41793026727", "41793026727"), ("41793026727", "+41793026727"),
                                             ("0041 79 302 67 27", "0041793026727")])
def test_the_logs_to_filter_reads_a_number_in_any_form(client: TestClient, sent: str, asked: str) -> None:
    answer = send(client, body(scenario(client, "SMS"), sent, "41000000000", channels=["SMS"]))
    found = logs(client, to=asked)
    assert [entry["messageId"] for entry in found] == [answer["messages"][0]["messageId"]]
    assert found[0]["to"] == sent and found[0]["mccMnc"] == "22801"


def test_the_test_destination_that_never_answers_on_viber_fails_over_when_viber_expires(client: TestClient) -> None:
    send(client, body(scenario(client, "VIBER", "SMS"), "447700900001", channels=["VIBER", "SMS"]))
    advance(client, 48 * 3600 - 1)
    assert reports(client) == []
    advance(client, 1)
    assert reports(client)[0]["channel"] == "SMS"


def test_the_legacy_simple_send_puts_the_text_on_every_step(client: TestClient) -> None:
    key = scenario(client, "SMS", "EMAIL")
    rule(client, channel="SMS", outcome="UNDELIVERABLE")
    response = client.post("/omni/1/text", json={
        "scenarioKey": key, "text": "Same everywhere", "mailSubject": "Hi",
        "destinations": [{"to": {"phoneNumber": "41793026727", "emailAddress": "a@example.com"}}]})
    assert response.status_code == 200, response.text
    assert logs(client)[0]["text"] == "Same everywhere" and logs(client)[0]["channel"] == "EMAIL"
    bad = client.post("/omni/1/text", json={"destinations": [{"to": {"phoneNumber": "1"}}]})
    assert bad.status_code == 400 and "text" in bad.json()["requestError"]["serviceException"]["validationErrors"]


# --- memory, reset, snapshots, state --------------------------------------------------------------


def test_the_oldest_messages_are_dropped_past_the_limit(new_app: Callable[..., MockOmni]) -> None:
    with sending_client(sending_app(new_app, message_limit=3)) as client:
        sent = [ids(send(client, body(None, f"4179302672{n}", channels=["SMS", "VIBER"])))[0] for n in range(5)]
        assert [log["messageId"] for log in logs(client)] == sent[:1:-1]
        assert sorted(r["messageId"] for r in reports(client)) == sorted(sent[2:])
        listed = client.get("/__admin/messages").json()
        assert (listed["sent"], listed["kept"], listed["limit"]) == (5, 3, 3)


#: A text of about 900 KB: five sends of it are over 4 MiB (the smallest --message-bytes), four are not.
BIG = "x" * 900_000


def kept(client: TestClient) -> dict[str, Any]:
    listed: dict[str, Any] = client.get("/__admin/messages", params={"limit": 0}).json()
    return {name: listed[name] for name in ("sent", "kept", "dropped", "bytes", "byteLimit")}


def test_the_oldest_messages_are_dropped_past_the_byte_bound(new_app: Callable[..., MockOmni]) -> None:
    with sending_client(sending_app(new_app, message_bytes="4MiB")) as client:
        sent = [ids(send(client, body(None, f"4179302672{n}", channels=["SMS", "VIBER"],
                                      sms={"text": BIG + str(n)})))[0] for n in range(6)]
        # Each message: its text (900,001 bytes), "Viber text", senders, scenario key, ID and address.
        assert [log["messageId"] for log in logs(client)] == sent[:1:-1]
        assert sorted(r["messageId"] for r in reports(client)) == sorted(sent[2:])
        found = kept(client)
        assert found["byteLimit"] == 4 * 1024 * 1024 and 4 * 900_000 < found["bytes"] <= found["byteLimit"]
        assert (found["sent"], found["kept"], found["dropped"]) == (6, 4, 2)
        assert logs(client, messageId=sent[0]) == [] and logs(client, messageId=sent[2])[0]["text"] == BIG + "2"
        client.post("/__admin/reset")
        assert (kept(client)["bytes"], kept(client)["dropped"]) == (0, 0)


def test_the_messages_of_one_send_count_its_text_once(new_app: Callable[..., MockOmni]) -> None:
    with sending_client(sending_app(new_app, message_bytes="4MiB")) as client:
        rule(client, outcome="DELIVERED", delaySeconds=10)
        bulk = ids(send(client, body(None, *(f"417930267{n:02d}" for n in range(40)), channels=["SMS", "VIBER"],
                                     sms={"text": BIG})))
        one = kept(client)
        assert one["kept"] == 40 and 900_000 < one["bytes"] < 900_000 + 40 * 100
        assert client.post("/__admin/snapshots/bulk").status_code == 201
        send(client, body(None, "41793026700", channels=["SMS", "VIBER"], sms={"text": BIG}))
        assert kept(client)["bytes"] > one["bytes"] + 900_000
        assert client.post("/__admin/snapshots/bulk/restore").status_code == 200
        assert kept(client)["bytes"] == one["bytes"]  # restored, they share their text again
        state = client.get("/__admin/state").json()
        assert client.put("/__admin/state", json=state).status_code == 200
        assert kept(client)["bytes"] == one["bytes"]  # loaded one by one, they share it again too
        advance(client, 10)
        assert sorted(r["messageId"] for r in reports(client, limit=100)) == sorted(bulk)


def test_reset_and_per_account_reset_forget_messages(client: TestClient) -> None:
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    client.post("/__admin/reset", params={"account": "Aladdin"})
    assert logs(client) == [] and reports(client) == []
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    client.post("/__admin/reset")
    assert logs(client) == [] and reports(client) == []


def test_a_snapshot_brings_messages_and_unread_reports_back(client: TestClient) -> None:
    rule(client, outcome="DELIVERED", delaySeconds=10)
    first = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    assert client.post("/__admin/snapshots/one").status_code == 201
    send(client, body(None, "41793026728", channels=["SMS", "VIBER"]))
    advance(client, 10)
    assert len(reports(client)) == 2
    client.post("/__admin/snapshots/one/restore")
    assert [log["messageId"] for log in logs(client)] == ids(first)
    (report,) = reports(client)  # the restored message was still pending: it went on from there
    assert report["messageId"] == ids(first)[0] and report["doneAt"] == date(10)


def test_the_state_document_carries_messages_and_rules_and_loads_back(client: TestClient) -> None:
    rule(client, destination="41793026728", outcome="EXPIRED")
    send(client, body(None, "41793026727", "41793026728", channels=["SMS", "VIBER"], callbackData="c",
                      notifyUrl="http://127.0.0.1:9/hook", intermediateReport=True))
    reports(client)  # fetches the delivered one; the other is pending
    state = client.get("/__admin/state").json()
    aladdin = state["accounts"][0]
    assert [m["status"] for m in aladdin["messages"]] == ["DELIVERED_TO_HANDSET", "PENDING_ENROUTE"]
    assert [m["report"] for m in aladdin["messages"]] == ["fetched", "pending"]
    assert state["deliveryRules"] == [{"destination": "41793026728", "outcome": "EXPIRED"}]
    before = client.get("/__admin/messages").json()["messages"]
    client.post("/__admin/reset")
    assert client.put("/__admin/state", json=state).status_code == 200
    assert client.get("/__admin/messages").json()["messages"] == before
    again = client.get("/__admin/state").json()
    # The callbacks come back as records (tests/test_callbacks.py); those still being pushed, dropped.
    pushed, pushed_again = aladdin.pop("callbacks"), again["accounts"][0].pop("callbacks")
    assert [c["id"] for c in pushed_again] == [c["id"] for c in pushed] and pushed
    assert "pending" not in {c["state"] for c in pushed_again}
    assert again == state
    advance(client, 2 * 48 * 3600)  # SMS, then Viber, each expires after the default 48 hours
    assert [r["status"] for r in reports(client)] == [EXPIRED]


@pytest.mark.parametrize(("change", "field"), [
    ({"status": "LOST"}, "status"), ({"flow": []}, "flow"), ({"sentAt": "soon"}, "sentAt"),
    ({"to": "41793026727"}, "to"), ({"report": "maybe"}, "report"), ({"doneAt": None}, "status"),
    # Dates that parse but cannot be written back (every later read of messages would fail).
    ({"sentAt": "0000-06-01T00:00:00.000+0000"}, "sentAt"), ({"doneAt": "9999-12-31T23:59:59.9999+0000"}, "doneAt"),
])
def test_a_bad_message_in_a_state_document_is_400_naming_it(client: TestClient, change: dict[str, Any],
                                                              field: str) -> None:
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    state = client.get("/__admin/state").json()
    state["accounts"][0]["messages"][0].update(change)
    response = client.put("/__admin/state", json=state)
    assert response.status_code == 400, response.text
    assert f"messages[0].{field}" in response.json()["requestError"]["serviceException"]["text"]
    assert len(logs(client)) == 1  # nothing changed


def test_a_message_id_given_twice_names_both_messages(client: TestClient) -> None:
    data = body(None, "41793026727", channels=["SMS", "VIBER"])
    data["destinations"][0]["messageId"] = "SAME"
    send(client, data)
    send(client, {**data, "callbackData": "second"})
    assert [log["messageId"] for log in logs(client, messageId="SAME")] == ["SAME", "SAME"]
    (newest,) = reports(client, messageId="SAME", limit=1)
    assert newest["callbackData"] == "second"
    assert len(reports(client, messageId="SAME")) == 1 and reports(client, messageId="SAME") == []


def test_an_integral_json_number_is_an_integer(client: TestClient) -> None:
    # Found by schemathesis: JSON Schema's "integer" admits 6513.0, and so does the vendor's Java binding.
    send(client, body(None, "41793026727", channels=["VIBER"], sms={"text": "s", "validityPeriod": 2.0}))
    refused = client.post("/omni/1/advanced", json=body(None, "41793026727", channels=["VIBER"],
                                                        sms={"text": "s", "validityPeriod": 2.5}))
    assert refused.status_code == 400 and "sms.validityPeriod" in refused.json()["requestError"][
        "serviceException"]["validationErrors"]


def test_fixture_files_bring_delivery_rules_and_reset_returns_to_them(
    tmp_path: Any, new_app: Callable[..., MockOmni],
) -> None:
    document = {"accounts": [{"username": "Aladdin", "password": "open sesame", "scenarios": [
        {"key": "A" * 32, "flow": [{"channel": "VIBER"}, {"channel": "SMS"}], "default": True}]}],
        "deliveryRules": [{"destination": "4179*", "channel": "VIBER", "outcome": "UNDELIVERABLE"}]}
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    with sending_client(sending_app(new_app, fixtures=[str(path)])) as client:
        send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
        assert reports(client)[0]["channel"] == "SMS"
        client.delete("/__admin/delivery-rules")
        client.post("/__admin/reset")
        assert [r["destination"] for r in client.get("/__admin/delivery-rules").json()["rules"]] == ["4179*"]


@pytest.mark.parametrize(("rules", "message"), [
    ([{"outcome": "LOST"}], "deliveryRules[0].outcome: Input should be 'DELIVERED'"),
    (["EXPIRED"], "deliveryRules[0]: must be an object"),
    ({"outcome": "DELIVERED"}, "deliveryRules: must be a list"),
])
def test_a_bad_delivery_rule_in_a_fixture_is_one_line_naming_it(tmp_path: Any, rules: object, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"accounts": [], "deliveryRules": rules}))
    with pytest.raises(FixtureError) as caught:
        load_files([path])
    assert str(caught.value).startswith(f"{path}: {message}") and "\n" not in str(caught.value)


def test_one_accounts_clock_moves_only_its_own_messages(client: TestClient) -> None:
    rule(client, outcome="DELIVERED", delaySeconds=60)
    genie = {"Authorization": GENIE_BASIC}
    mine = send(client, body(None, "41793026727", channels=["SMS", "VIBER"]))
    theirs = client.post("/omni/1/advanced", headers=genie, json=body(None, "41793026727", channels=["SMS", "VIBER"]))
    assert theirs.status_code == 200, theirs.text
    assert client.post("/__admin/clock/advance", json={"seconds": 60, "account": "Genie"}).status_code == 200
    assert reports(client) == []
    (report,) = client.get("/omni/1/reports", headers=genie).json()["results"]
    assert report["doneAt"] == date(60)  # on Genie's clock: its dates moved with it
    advance(client, 60)
    assert [r["messageId"] for r in reports(client)] == ids(mine)


@pytest.mark.parametrize(("written", "compared"), [
    ("+447700900004", "447700900004"), ("00447700900004", "447700900004"), ("+44 7700 900004", "447700900004"),
    ("447700900004", "447700900004"), ("bounce@example.com", "bounce@example.com"), ("+", "+"), ("", ""),
    ("user.key-1", "user.key-1"), ("+44 77OO", "+44 77OO"), ("0700", "0700"), ("0044", "44"), ("00", "00"),
    ("4\u00b2", "4\u00b2"), ("\u0664\u0664", "\u0664\u0664"),
])
def test_the_form_addresses_are_compared_in(written: str, compared: str) -> None:
    from mock_omni.domain.addresses import matching_form

    assert matching_form(written) == compared


@given(st.text(alphabet="0123456789+ -()\u00b2\u0664a@", max_size=16))
def test_the_shortcut_for_plain_digits_gives_what_the_whole_rule_gives(written: str) -> None:
    from mock_omni.domain import addresses

    compact = written.translate(addresses._SEPARATORS)
    digits = compact[1:] if compact.startswith("+") else compact[2:] if compact.startswith("00") else compact
    assert addresses.matching_form(written) == (digits if digits and set(digits) <= set("0123456789") else written)


@pytest.mark.parametrize(("pattern", "compared"), [
    ("+4179*", "4179*"), ("004179*", "4179*"), ("+44 7700 90000?", "44770090000?"), ("+4477[0-5]*", "4477[0-5]*"),
    ("*", "*"), ("*@example.com", "*@example.com"), ("4179*", "4179*"),
])
def test_the_form_rule_destinations_are_compared_in(pattern: str, compared: str) -> None:
    from mock_omni.domain.addresses import matching_pattern

    assert matching_pattern(pattern) == compared
