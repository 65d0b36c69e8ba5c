"""Negotiation with q-values, and the XML shapes in both directions."""

from __future__ import annotations

import pytest

from mock_omni.api.codecs import JSON, XML, Negotiator, body_format, data_from_xml, to_json, to_xml
from mock_omni.domain.errors import BadRequest, NotAcceptable
from mock_omni.domain.scenarios import ScenarioIn


def scenario_from_xml(body: bytes) -> dict[str, object]:
    return data_from_xml(body, ScenarioIn)


@pytest.mark.parametrize(
    ("accept", "content_type", "expected"),
    [
        (None, None, JSON),
        (None, "application/json", JSON),
        (None, "application/xml", XML),
        (None, "text/xml; charset=utf-8", XML),
        ("*/*", "application/xml", XML),
        ("*/*", "application/json", JSON),
        ("*/*", None, JSON),
        ("*/*;q=0.8", "application/xml", XML),
        ("application/json", "application/xml", JSON),
        ("application/xml", "application/json", XML),
        ("application/xml", None, XML),
        ("text/xml", None, XML),
        ("APPLICATION/XML", None, XML),
        ("application/json;q=0.5, application/xml", None, XML),
        ("application/json, application/xml;q=0.9", None, JSON),
        ("application/xml;q=0.1, application/json;q=0.2", None, JSON),
        ("text/html, application/xml;q=0.9, */*;q=0.8", None, XML),
        ("text/html, */*;q=0.1", "application/xml", XML),
        ("application/xml;q=0, */*", "application/xml", JSON),
        ("application/json;q=0, */*", None, XML),
        ("application/*", None, JSON),
        ("application/*, application/xml", None, XML),
    ],
)
def test_response_format(accept: str | None, content_type: str | None, expected: str) -> None:
    assert Negotiator().response_format(accept, content_type) == expected


@pytest.mark.parametrize("accept", ["text/html", "application/json;q=0, application/xml;q=0", "image/*", "*/*;q=0"])
def test_unacceptable(accept: str) -> None:
    with pytest.raises(NotAcceptable):
        Negotiator().response_format(accept, "application/json")


def test_negotiation_cache_gives_the_same_answer_twice() -> None:
    negotiator = Negotiator()
    for _ in range(2):
        assert negotiator.response_format("application/xml", None) == XML
        with pytest.raises(NotAcceptable):
            negotiator.response_format("text/plain", None)


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [("application/json", JSON), ("application/json; charset=UTF-8", JSON), ("application/xml", XML),
     ("text/plain", None), ("", None), (None, None), ("application/jsonx", None)],
)
def test_body_format(content_type: str | None, expected: str | None) -> None:
    assert body_format(content_type) == expected


def test_scenario_xml_has_the_vendor_shape() -> None:
    data = {"key": "K", "name": "n", "flow": [{"from": "a", "channel": "SMS"}], "default": True}
    assert to_xml(data, "scenario", {"flow": "step"}) == (
        b'<?xml version="1.0" encoding="UTF-8"?><scenario><key>K</key><name>n</name>'
        b"<flow><step><from>a</from><channel>SMS</channel></step></flow><default>true</default></scenario>"
    )


def test_list_xml_has_the_vendor_shape() -> None:
    data = {"scenarios": [{"key": "K", "flow": [{"channel": "SMS"}], "default": False}]}
    assert to_xml(data, "scenariosResponse", {"flow": "step", "scenarios": "scenario"}) == (
        b'<?xml version="1.0" encoding="UTF-8"?><scenariosResponse><scenarios><scenario><key>K</key>'
        b"<flow><step><channel>SMS</channel></step></flow><default>false</default></scenario></scenarios>"
        b"</scenariosResponse>"
    )


def test_xml_escapes_text() -> None:
    assert b"<name>a &lt;b&gt; &amp; c</name>" in to_xml({"name": "a <b> & c"}, "scenario")


def test_json_is_compact_utf8() -> None:
    assert to_json({"name": "Zoë", "default": True}) == '{"name":"Zoë","default":true}'.encode()


def test_xml_body_decodes_like_json() -> None:
    body = (b"<scenario><name>n</name><flow><step><from>a</from><channel>SMS</channel></step>"
            b"<step><channel>VIBER</channel></step></flow><default>true</default><other>x</other></scenario>")
    assert scenario_from_xml(body) == {
        "name": "n", "flow": [{"from": "a", "channel": "SMS"}, {"channel": "VIBER"}], "default": True,
    }


def test_xml_defaultscenario_alias_and_bad_boolean_left_for_validation() -> None:
    assert scenario_from_xml(b"<s><defaultScenario>false</defaultScenario></s>") == {"defaultScenario": False}
    assert scenario_from_xml(b"<s><default>yes</default></s>") == {"default": "yes"}


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"<scenario>",
        b"not xml",
        b'<!DOCTYPE s [<!ENTITY a "aaaa">]><s><name>&a;</name></s>',
        b'<!DOCTYPE s SYSTEM "http://127.0.0.1:9/x.dtd"><s/>',
        b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s><name>&x;</name></s>',
    ],
)
def test_xml_that_does_not_parse_or_is_hostile_is_bad_request(body: bytes) -> None:
    with pytest.raises(BadRequest):
        scenario_from_xml(body)
