"""Every request and response of the vendor's Scenario: Update page, as data: in-process and against a
real server process started on the embedded default fixtures (what `make run` serves)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from bench.payloads import SEED_JSON, SEED_RESPONSE, SEED_XML  # the page's requests, verbatim

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY, make_app

pytestmark = pytest.mark.both_stores


@pytest.fixture(scope="module")
def real_server() -> Iterator[server.Server]:
    with server.running() as srv:
        yield srv


@pytest.fixture(params=["in-process", "real server"])
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    headers = {"Authorization": ALADDIN_BASIC}
    if request.param == "in-process":
        with TestClient(make_app(), headers=headers) as test_client:
            yield test_client
    else:
        srv = request.getfixturevalue("real_server")
        with httpx.Client(base_url=srv.url, headers=headers) as http_client:
            yield http_client

URL = f"/omni/1/scenarios/{SEED_KEY}"


def xml_to_data(text: str) -> dict[str, object]:
    root = fromstring(text)
    data: dict[str, object] = {}
    for child in root:
        if child.tag == "flow":
            data["flow"] = [{s.tag: s.text for s in step} for step in child]
        elif child.tag == "default":
            data["default"] = child.text == "true"
        else:
            data[child.tag] = child.text
    return data


@pytest.mark.parametrize("url", [URL, f"/sms/1{URL}"], ids=["page request", "page curl example"])
def test_json_update_answers_the_documented_response(client: httpx.Client, url: str) -> None:
    response = client.put(url, content=SEED_JSON, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == SEED_RESPONSE


def test_xml_update_without_accept_answers_xml(client: httpx.Client) -> None:
    response = client.put(URL, content=SEED_XML, headers={"Content-Type": "application/xml", "Accept": ""})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><scenario>')
    assert xml_to_data(response.text) == SEED_RESPONSE


def test_json_update_with_accept_json_like_the_curl_examples(client: httpx.Client) -> None:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    assert client.put(URL, content=SEED_JSON, headers=headers).json() == SEED_RESPONSE


def test_demoting_the_default_is_refused_in_json(client: httpx.Client) -> None:
    before = client.get(URL).json()
    response = client.put(URL, content='{\n  "default": false\n}', headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json() == {
        "requestError": {
            "serviceException": {"messageId": "INVALID_ARGUMENT", "text": "Exactly one scenario must be default."}
        }
    }
    assert client.get(URL).json() == before


def test_demoting_the_default_is_refused_in_xml(client: httpx.Client) -> None:
    body = "<scenario>\n    <default>false</default>\n</scenario>"
    response = client.put(URL, content=body, headers={"Content-Type": "application/xml", "Accept": ""})
    assert response.status_code == 400
    root = fromstring(response.text)
    assert root.tag == "ApiException"
    assert root.findtext("requestError/serviceException/messageId") == "INVALID_ARGUMENT"
    assert root.findtext("requestError/serviceException/text") == "Exactly one scenario must be default."
