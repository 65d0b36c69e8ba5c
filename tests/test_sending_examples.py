"""Every request and response example of the vendor's OpenAPI for sending, reports and logs, JSON and XML,
held against a running server (``mock-omni serve``) as data.

The vendor's examples name scenarios it does not define: each request example gets a scenario with its key
and a flow of the channels it has payloads for, in the order they appear (the validity-period example
says its own order: Viber, then SMS, then email). Response examples are reproduced: their IDs are sent
as the request's, their outcomes set by delivery rules, their dates' spacing by rule delays on the clock.
The server's clock runs on the wall clock, so dates are compared by format and spacing, everything else
as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import httpx
import pytest
from defusedxml.ElementTree import fromstring

from mock_omni.domain.send_request import PAYLOAD_FIELDS, parse_date

from . import server
from .conftest import ALADDIN_BASIC

pytestmark = pytest.mark.both_stores

SPEC: dict[str, Any] = json.loads(
    (Path(__file__).parent / "reference" / "infobip-omni-failover-openapi.json").read_text("utf-8"))
SEND = SPEC["paths"]["/omni/1/advanced"]["post"]
REQUESTS = SEND["requestBody"]["content"]
SEND_RESPONSES = SEND["responses"]["200"]["content"]
REPORTS = SPEC["paths"]["/omni/1/reports"]["get"]["responses"]["200"]["content"]
LOGS = SPEC["paths"]["/omni/1/logs"]["get"]["responses"]["200"]["content"]
CHANNEL_OF = {field: channel for channel, field in PAYLOAD_FIELDS.items()}
#: The example whose text spells out its flow ("Viber message is going first", then SMS, then email).
VALIDITY_EXAMPLE = "Send a scheduled OMNI message with a custom Validity period"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
#: XML elements that hold lists, and the fields holding dates.
LISTS = {"messages", "results", "destinations"}
DATES = ("sentAt", "doneAt")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with server.running() as running:
        yield running.url


@pytest.fixture
def http(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, headers={"Authorization": ALADDIN_BASIC}, trust_env=False) as client:
        assert client.post("/__admin/reset").status_code == 200
        yield client


def load(http: httpx.Client, *scenarios: tuple[str, list[dict[str, str]]]) -> None:
    """Aladdin with exactly these scenarios (key, flow); the first is the default."""
    document = {"accounts": [{"username": "Aladdin", "password": "open sesame", "scenarios": [
        {"key": key, "flow": flow, "default": index == 0} for index, (key, flow) in enumerate(scenarios)]}]}
    assert http.put("/__admin/state", json=document).status_code == 200


def rule(http: httpx.Client, **data: Any) -> None:
    assert http.post("/__admin/delivery-rules", json=data).status_code == 201, data


def advance(http: httpx.Client, seconds: float) -> None:
    assert http.post("/__admin/clock/advance", json={"seconds": seconds}).status_code == 200


def xml_data(element: Element) -> Any:
    """An XML document as the JSON shape it stands for (every leaf as text)."""
    children = list(element)
    if element.tag in LISTS:
        return [xml_data(child) for child in children]
    if not children:
        return (element.text or "").strip()
    return {child.tag: xml_data(child) for child in children}


def as_text(data: Any) -> Any:
    """JSON data with every leaf as XML writes it, to compare with ``xml_data``."""
    if isinstance(data, dict):
        return {key: as_text(value) for key, value in data.items()}
    if isinstance(data, list):
        return [as_text(value) for value in data]
    return {True: "true", False: "false"}.get(data, str(data)) if isinstance(data, bool) else str(data)


def flow_of(name: str, example: dict[str, Any]) -> list[dict[str, str]]:
    channels = [CHANNEL_OF[field] for field in example if field in CHANNEL_OF]
    if name == VALIDITY_EXAMPLE:
        channels = ["VIBER", "SMS", "EMAIL"]
    return [{"from": f"Sender {channel}", "channel": channel} for channel in channels]


def checked_answer(answer: dict[str, Any], example: dict[str, Any]) -> None:
    """The send answer has the shape of the vendor's answer examples, given IDs kept, others generated."""
    destinations = example["destinations"]
    shape = SEND_RESPONSES["application/json"]["examples"][
        "Response example for multiple destinations" if len(destinations) > 1 else
        "Response example for one destination"]["value"]
    assert ("bulkId" in answer) == ("bulkId" in shape or "bulkId" in example)
    if "bulkId" in example:
        assert answer["bulkId"] == example["bulkId"]
    assert len(answer["messages"]) == len(destinations)
    for message, destination, sample in zip(answer["messages"], destinations, shape["messages"] * 2, strict=False):
        assert list(message) == list(sample) and message["status"] == sample["status"]
        assert message["to"] == destination["to"]
        assert message["messageId"] == destination.get("messageId", message["messageId"])
        assert re.match(r"^[0-9a-f-]{36}$", message["messageId"]) or "messageId" in destination


@pytest.mark.parametrize("name", list(REQUESTS["application/json"]["examples"]))
def test_each_json_request_example_sends(http: httpx.Client, name: str) -> None:
    example = REQUESTS["application/json"]["examples"][name]["value"]
    load(http, (example["scenarioKey"], flow_of(name, example)))
    response = http.post("/omni/1/advanced", json=example)
    assert response.status_code == 200, response.text
    checked_answer(response.json(), example)
    reports = http.get("/omni/1/reports").json()["results"]
    assert len(reports) == len(example["destinations"])
    assert {report["channel"] for report in reports} == {flow_of(name, example)[0]["channel"]}


@pytest.mark.parametrize("name", list(REQUESTS["application/xml"]["examples"]))
def test_each_xml_request_example_sends_and_is_answered_in_xml(http: httpx.Client, name: str) -> None:
    example = REQUESTS["application/json"]["examples"][name]["value"]  # the same request, as JSON
    load(http, (example["scenarioKey"], flow_of(name, example)))
    xml = REQUESTS["application/xml"]["examples"][name]["value"]
    response = http.post("/omni/1/advanced", content=xml.encode(), headers={"Content-Type": "application/xml"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml"
    answer = xml_data(fromstring(response.content))
    sample = xml_data(fromstring(SEND_RESPONSES["application/xml"]["examples"][
        "Response example for one destination"]["value"].encode()))
    assert list(answer["messages"][0]) == list(sample["messages"][0])
    assert answer["messages"][0]["status"] == sample["messages"][0]["status"]
    # What the XML request said arrived as the JSON one would have: same destinations, same payloads.
    logs = http.get("/omni/1/logs").json()["results"]
    assert [log["to"] for log in logs][::-1] == [
        d["to"].get("phoneNumber") or d["to"]["emailAddress"] for d in example["destinations"]]
    first = PAYLOAD_FIELDS[flow_of(name, example)[0]["channel"]]
    assert {log.get("text") for log in logs} == {example[first].get("text")}


def test_the_validity_period_example_fails_over_as_its_text_says(http: httpx.Client) -> None:
    example = REQUESTS["application/json"]["examples"][VALIDITY_EXAMPLE]["value"]
    load(http, (example["scenarioKey"], flow_of(VALIDITY_EXAMPLE, example)))
    rule(http, outcome="EXPIRED")
    assert http.post("/omni/1/advanced", json=example).status_code == 200
    advance(http, 150)  # "Two and a half minutes (1 minute + 90 seconds) after the initial message"
    (message,) = http.get("/__admin/messages").json()["messages"]
    steps = [(step["channel"], step["outcome"]) for step in message["steps"]]
    assert steps == [("VIBER", "EXPIRED"), ("SMS", "EXPIRED"), ("EMAIL", "PENDING")]
    started = [parse_date(step["startedAt"]) for step in message["steps"]]
    assert [round(b - a, 3) for a, b in zip(started, started[1:], strict=False)] == [60, 90]


# --- the answer examples, reproduced exactly (but for the dates) -----------------------------------


def test_the_send_answer_examples_hold(http: httpx.Client) -> None:
    for name, sample in SEND_RESPONSES["application/json"]["examples"].items():
        answer = sample["value"]
        request = {"destinations": [{"messageId": m["messageId"], "to": m["to"]} for m in answer["messages"]],
                   "sms": {"text": "x"}, "viber": {"text": "x"}}
        if "bulkId" in answer:
            request["bulkId"] = answer["bulkId"]
        response = http.post("/omni/1/advanced", json=request)
        assert response.json() == answer, name
        in_xml = http.post("/omni/1/advanced", json=request, headers={"Accept": "application/xml"})
        expected = SEND_RESPONSES["application/xml"]["examples"][name]["value"]
        assert xml_data(fromstring(in_xml.content)) == xml_data(fromstring(expected.encode())), name


def send_as(http: httpx.Client, key: str, result: dict[str, Any], delay: float, outcome: str = "DELIVERED",
            payload: dict[str, Any] | None = None) -> None:
    """Send the message behind ``result`` (its IDs, address) through scenario ``key``, done after ``delay``."""
    rule(http, destination=result["to"], outcome=outcome, delaySeconds=delay, times=1)
    channel = result["channel"]
    data = {"scenarioKey": key, "bulkId": result["bulkId"],
            "destinations": [{"messageId": result["messageId"], "to": {"phoneNumber": result["to"]}}],
            PAYLOAD_FIELDS[channel]: payload or {"text": result.get("text", "x")}}
    assert http.post("/omni/1/advanced", json=data).status_code == 200
    advance(http, delay)


def without_dates(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{key: value for key, value in result.items() if key not in DATES} for result in results]


def check_dates(found: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    for ours, theirs in zip(found, expected, strict=True):
        assert DATE.match(ours["sentAt"]) and DATE.match(ours["doneAt"])
        spacing = parse_date(theirs["doneAt"]) - parse_date(theirs["sentAt"])
        assert abs(parse_date(ours["doneAt"]) - parse_date(ours["sentAt"]) - spacing) < 0.0015


def reproduce(http: httpx.Client, results: list[dict[str, Any]], senders: dict[str, str] | None = None) -> None:
    """Send the messages behind ``results`` (newest first) oldest first, each on a scenario of its channel."""
    keys = {"SMS": "A" * 32, "VIBER": "B" * 32, "PUSH": "C" * 32}
    load(http, *((key, [{"from": (senders or {}).get(channel, "InfoSMS"), "channel": channel}])
                 for channel, key in keys.items()))
    for result in reversed(results):
        spacing = parse_date(result["doneAt"]) - parse_date(result["sentAt"])
        send_as(http, keys[result["channel"]], result, spacing, result["status"]["groupName"])


def check_results(http: httpx.Client, path: str, query: dict[str, str], fmt: str, examples: dict[str, Any],
                  name: str) -> None:
    """GET ``path`` answers the example ``name`` (JSON or XML), dates by format and spacing."""
    expected = examples["application/json"]["examples"][name]["value"]["results"]
    if fmt == "json":
        found = http.get(path, params=query).json()["results"]
    else:
        response = http.get(path, params=query, headers={"Accept": "application/xml"})
        found = xml_data(fromstring(response.content))["results"]
        expected = xml_data(fromstring(examples["application/xml"]["examples"][name]["value"].encode()))["results"]
    assert without_dates(found) == without_dates(expected)
    check_dates(found, expected)


@pytest.mark.parametrize(("name", "query"), [
    ("Getting reports without any query parameter", {}),
    ("Getting reports with PUSH channel as filter", {"channel": "PUSH"}),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_report_examples_hold(http: httpx.Client, name: str, query: dict[str, str], fmt: str) -> None:
    expected = REPORTS["application/json"]["examples"][name]["value"]["results"]
    reproduce(http, expected)
    if query:  # something the filter leaves out
        send_as(http, "A" * 32, {**expected[0], "channel": "SMS", "messageId": "other"}, 0.001)
    check_results(http, "/omni/1/reports", query, fmt, REPORTS, name)
    assert http.get("/omni/1/reports", params=query).json()["results"] == []  # once


@pytest.mark.parametrize(("name", "query"), [
    ("Getting logs without any query parameter", {}),
    # The example's description filters by `from`, but its two results have different senders: no single
    # `from` returns both. The `to` and `limit` it names do.
    ("Getting logs with from, to and limit as filters", {"to": "41793026727", "limit": "2"}),
])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_log_examples_hold(http: httpx.Client, name: str, query: dict[str, str], fmt: str) -> None:
    expected = LOGS["application/json"]["examples"][name]["value"]["results"]
    reproduce(http, expected, {result["channel"]: result["from"] for result in expected})
    for _ in range(2):  # logs are repeatable
        check_results(http, "/omni/1/logs", query, fmt, LOGS, name)


def test_the_error_examples_hold(http: httpx.Client) -> None:
    for path, method in (("/omni/1/advanced", "post"), ("/omni/1/reports", "get"), ("/omni/1/logs", "get")):
        responses = SPEC["paths"][path][method]["responses"]
        bad = responses["400"]["content"]
        request = {"content": b"{", "headers": {"Content-Type": "application/json"}} if method == "post" else {
            "params": {"limit": "many"}}
        response = http.request(method.upper(), path, **request)  # type: ignore[arg-type]
        error = response.json()["requestError"]["serviceException"]
        expected = bad["application/json"]["examples"]["Bad request"]["value"]["requestError"]["serviceException"]
        assert response.status_code == 400 and set(expected) <= set(error)
        # The vendor's example is BAD_REQUEST, a body that does not parse; a bad query value is INVALID_ARGUMENT.
        assert error["messageId"] == ("BAD_REQUEST" if method == "post" else "INVALID_ARGUMENT")
        unauthorized = http.request(method.upper(), path, headers={"Authorization": "Basic eDp5"})
        assert unauthorized.status_code == 401
        assert set(unauthorized.json()["requestError"]["serviceException"]) == {"messageId", "text"}
