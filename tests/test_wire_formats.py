"""Edge cases of the two wire formats that once lost data (issue 11): XML namespaces, carriage returns,
Accept lists, huge numbers in the query, a UTF-8 byte order mark."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring
from pydantic import BaseModel, ConfigDict
from starlette.testclient import TestClient

from mock_omni.api.codecs import XML, Negotiator, data_from_xml
from mock_omni.api.routing import QueryParam
from mock_omni.domain.errors import InvalidArgument
from mock_omni.domain.validation import validate_data

from .conftest import SEED_KEY

pytestmark = pytest.mark.both_stores

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
XML_IN = {"Content-Type": "application/xml"}


@pytest.mark.parametrize("body", [
    b'<scenario xmlns="urn:infobip:omni"><name>renamed</name><default>true</default></scenario>',
    b'<o:scenario xmlns:o="urn:infobip:omni"><o:name>renamed</o:name></o:scenario>',
    b'<scenario xmlns:o="urn:x"><o:name>renamed</o:name></scenario>',
])
def test_namespaced_xml_is_read_by_local_name(client: TestClient, body: bytes) -> None:
    response = client.put(SEED, content=body, headers=XML_IN)
    assert response.status_code == 200
    assert client.get(SEED).json()["name"] == "renamed"


def test_a_namespaced_create_keeps_its_flow(client: TestClient) -> None:
    body = (b'<scenario xmlns="urn:infobip:omni"><name>ns</name><flow><step><from>A</from>'
            b"<channel>SMS</channel></step></flow></scenario>")
    response = client.post(LIST, content=body, headers={**XML_IN, "Accept": "application/json"})
    assert response.status_code == 201
    assert response.json()["flow"] == [{"from": "A", "channel": "SMS"}]


def test_an_undeclared_prefix_does_not_parse(client: TestClient) -> None:
    before = client.get(SEED).json()
    response = client.put(SEED, content=b"<scenario><o:name>x</o:name></scenario>", headers=XML_IN)
    assert response.status_code == 400
    assert client.get(SEED).json() == before


@pytest.mark.parametrize("text", ["line one\r\nline two", "\r", "a\rb"])
def test_a_carriage_return_survives_xml_both_ways(client: TestClient, text: str) -> None:
    assert client.put(SEED, json={"name": text, "flow": [{"from": text, "channel": "SMS"}]}).status_code == 200
    answer = client.get(SEED, headers={"Accept": "application/xml"})
    assert "&#13;" in answer.text
    root = fromstring(answer.content)
    assert root.findtext("name") == text and root.findtext("flow/step/from") == text
    # XML GET then PUT of the same document changes nothing.
    assert client.put(SEED, content=answer.content, headers=XML_IN).status_code == 200
    assert client.get(SEED).json()["name"] == text


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/xml;q=0, application/xml", XML),
    ("text/xml;q=0, application/xml, application/json;q=0.1", XML),
    ("application/xml;q=0, text/xml", XML),
    ("application/json;q=0.1, application/xml;q=1", XML),
])
def test_accept_takes_the_most_specific_range_of_each_type(accept: str, expected: str) -> None:
    assert Negotiator().response_format(accept, None) == expected


def test_accept_over_two_header_lines_is_one_list(client: TestClient) -> None:
    response = client.get(SEED, headers=[("Accept", "application/json;q=0.1"), ("Accept", "application/xml")])
    assert response.headers["content-type"] == "application/xml"
    response = client.get(SEED, headers=[("Accept", "text/html"), ("Accept", "application/json")])
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize("name", ["limit", "page"])
@pytest.mark.parametrize("digits", [11, 4301, 5000])
def test_huge_numbers_in_the_query_are_invalid_arguments(client: TestClient, name: str, digits: int) -> None:
    response = client.get(f"{LIST}?{name}={'9' * digits}")
    assert response.status_code == 400
    details = response.json()["requestError"]["serviceException"]
    assert details["messageId"] == "INVALID_ARGUMENT" and list(details["validationErrors"]) == [name]


def test_json_with_a_utf8_bom_is_read_like_xml_with_one(client: TestClient) -> None:
    assert client.put(SEED, content=b'\xef\xbb\xbf{"name": "bom"}',
                      headers={"Content-Type": "application/json"}).status_code == 200
    assert client.get(SEED).json()["name"] == "bom"
    assert client.put(SEED, content=b"\xef\xbb\xbf<scenario><name>bom2</name></scenario>",
                      headers=XML_IN).status_code == 200
    assert client.get(SEED).json()["name"] == "bom2"


class Numbered(BaseModel):
    model_config = ConfigDict(strict=True)
    count: int


def test_xml_numbers_with_thousands_of_digits_are_left_for_validation() -> None:
    # An int field fed 5,000 digits stays text, so validation names it instead of int() raising.
    data = data_from_xml(f"<r><count>{'9' * 5000}</count></r>".encode(), Numbered)
    assert data == {"count": "9" * 5000}
    with pytest.raises(InvalidArgument) as caught:
        validate_data(Numbered, data)
    assert list(caught.value.validation_errors or {}) == ["count"]
    assert validate_data(Numbered, data_from_xml(b"<r><count>42</count></r>", Numbered)).count == 42
    with pytest.raises(ValueError, match="integer from 0"):
        QueryParam("limit", "int32", "").read("9" * 5000)
