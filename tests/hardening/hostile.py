"""The hostile-body corpus: (id, content type, body, messageIds the vendor API may answer with).

Every body here must get a 4xx in the vendor's envelope, leave the server up and every stored
byte unchanged. Wrong types are generated for every field of the request, so a field added to
the model without a test shows up here as a new case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

JSON = "application/json"
XML = "application/xml"
MIB = 1024 * 1024
BAD = ("BAD_REQUEST",)
INVALID = ("INVALID_ARGUMENT",)
TOO_LARGE = ("PAYLOAD_TOO_LARGE",)


@dataclass(frozen=True)
class Hostile:
    id: str
    content_type: str
    body: bytes
    message_ids: tuple[str, ...]
    #: The field validationErrors must name, as sent, or one inside it (INVALID_ARGUMENT cases).
    field: str | None = None


def _steps(n: int, step: bytes = b'{"from":"InfoSMS","channel":"SMS"}') -> bytes:
    return b"[" + b",".join([step] * n) + b"]"


def _xml_steps(n: int) -> bytes:
    return b"<step><from>InfoSMS</from><channel>SMS</channel></step>" * n


def _entities(depth: int, fanout: int) -> bytes:
    """Billion laughs: each entity expands into `fanout` copies of the previous one."""
    lines = [b'<!ENTITY lol0 "lol">']
    for level in range(1, depth + 1):
        refs = b"".join(b"&lol%d;" % (level - 1) for _ in range(fanout))
        lines.append(b'<!ENTITY lol%d "%s">' % (level, refs))
    return b"<!DOCTYPE scenario [" + b"".join(lines) + b"]><scenario><name>&lol%d;</name></scenario>" % depth


def _structural() -> Iterator[Hostile]:
    yield Hostile("json-empty", JSON, b"", BAD)
    yield Hostile("json-truncated", JSON, b'{"name": "x", "flow": [', BAD)
    yield Hostile("json-trailing-garbage", JSON, b'{"name": "x"} {"name": "y"}', BAD)
    for scalar in (b"[]", b'"x"', b"1", b"null", b"true"):
        yield Hostile(f"json-top-level-{scalar.decode()}", JSON, scalar, BAD)
    yield Hostile("json-deep-array", JSON, b"[" * 200_000 + b"]" * 200_000, BAD)
    yield Hostile("json-deep-in-name", JSON, b'{"name":' + b"[" * 100_000 + b"]" * 100_000 + b"}", BAD)
    yield Hostile("json-deep-in-unknown-field", JSON, b'{"x":' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001, BAD)
    yield Hostile("json-huge-float", JSON, b'{"default": 1e999999}', INVALID, "default")
    yield Hostile("json-huge-int", JSON, b'{"name": ' + b"9" * 100_000 + b"}", BAD)
    yield Hostile("json-nan", JSON, b"{\"default\": NaN}", BAD)
    yield Hostile("json-infinity-in-unknown-field", JSON, b"{\"x\": -Infinity}", BAD)
    yield Hostile("json-invalid-utf8", JSON, b'{"name": "\xff\xfe\xc3"}', BAD)
    yield Hostile("json-overlong-utf8", JSON, b'{"name": "\xc0\xaf"}', BAD)
    yield Hostile("json-lone-surrogate", JSON, b'{"name": "\\ud800"}', BAD)
    yield Hostile("json-raw-nul-in-string", JSON, b'{"name": "a\x00b"}', BAD)
    yield Hostile("json-raw-nul-outside", JSON, b'{"name": "a"}\x00', BAD)
    yield Hostile("json-escaped-nul", JSON, b'{"name": "a\\u0000b"}', INVALID, "name")
    yield Hostile("json-escaped-control-in-from", JSON, b'{"flow": [{"from": "\\u0001", "channel": "SMS"}]}',
                  INVALID, "flow[0].from")
    yield Hostile("json-utf16-bom", JSON, '{"name": "x"}'.encode("utf-16"), BAD)
    yield Hostile("json-10000-steps", JSON, b'{"flow": ' + _steps(10_000) + b"}", INVALID, "flow")
    yield Hostile("json-10000-bad-steps", JSON, b'{"flow": ' + _steps(10_000, b'{"channel": 1}') + b"}",
                  INVALID, "flow")
    yield Hostile("json-over-1mib", JSON, json.dumps({"name": "x" * MIB}).encode(), TOO_LARGE)
    yield Hostile("json-over-1mib-whitespace", JSON, b" " * MIB + b'{"name": "x"}', TOO_LARGE)
    yield Hostile("json-body-sent-as-xml", XML, b'{"name": "x"}', BAD)
    yield Hostile("xml-body-sent-as-json", JSON, b"<scenario><name>x</name></scenario>", BAD)

    yield Hostile("xml-empty", XML, b"", BAD)
    yield Hostile("xml-truncated", XML, b"<scenario><name>x</name>", BAD)
    yield Hostile("xml-root-scalar", XML, b"<scenario>true</scenario>", BAD)
    yield Hostile("xml-two-roots", XML, b"<scenario/><scenario/>", BAD)
    yield Hostile("xml-billion-laughs", XML, _entities(9, 10), BAD)
    yield Hostile("xml-quadratic-blowup", XML, b'<!DOCTYPE s [<!ENTITY a "' + b"a" * 50_000 + b'">]><scenario><name>'
                  + b"&a;" * 20_000 + b"</name></scenario>", BAD)
    yield Hostile("xml-external-entity-file", XML, b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM '
                  b'"file:///etc/passwd">]><scenario><name>&x;</name></scenario>', BAD)
    yield Hostile("xml-external-entity-http", XML, b'<!DOCTYPE s [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'
                  b"<scenario><name>&x;</name></scenario>", BAD)
    yield Hostile("xml-parameter-entity", XML, b'<!DOCTYPE s [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]>'
                  b"<scenario/>", BAD)
    yield Hostile("xml-external-dtd", XML, b'<!DOCTYPE scenario SYSTEM "http://127.0.0.1:9/x.dtd"><scenario/>', BAD)
    yield Hostile("xml-internal-dtd-only", XML, b"<!DOCTYPE scenario []><scenario><name>x</name></scenario>", BAD)
    yield Hostile("xml-xinclude", XML, b'<scenario xmlns:xi="http://www.w3.org/2001/XInclude"><name>'
                  b'<xi:include href="file:///etc/passwd" parse="text"/></name></scenario>', INVALID, "name")
    yield Hostile("xml-deep-root", XML, b"<a>" * 100_000 + b"</a>" * 100_000, BAD)
    yield Hostile("xml-deep-in-name", XML, b"<scenario><name>" + b"<a>" * 100_000 + b"</a>" * 100_000
                  + b"</name></scenario>", BAD)
    yield Hostile("xml-deep-in-step", XML, b"<scenario><flow><step>" + b"<a>" * 100_000 + b"</a>" * 100_000
                  + b"</step></flow></scenario>", BAD)
    yield Hostile("xml-invalid-utf8", XML, b"<scenario><name>\xff\xfe</name></scenario>", BAD)
    yield Hostile("xml-raw-nul", XML, b"<scenario><name>a\x00b</name></scenario>", BAD)
    yield Hostile("xml-char-ref-nul", XML, b"<scenario><name>a&#0;b</name></scenario>", BAD)
    yield Hostile("xml-char-ref-control", XML, b"<scenario><name>a&#1;b</name></scenario>", BAD)
    yield Hostile("xml-10000-steps", XML, b"<scenario><flow>" + _xml_steps(10_000) + b"</flow></scenario>",
                  INVALID, "flow")
    yield Hostile("xml-over-1mib", XML, b"<scenario><name>" + b"x" * MIB + b"</name></scenario>", TOO_LARGE)


# Values of the wrong type for each field; None is left out where the schema allows null.
_WRONG: dict[str, list[object]] = {
    "name": [1, 1.5, True, [], {}, ["x"]],
    "default": [1, 0, 1.5, "true", "false", [], {}],
    "defaultScenario": [1, "true", []],
    "flow": [1, "SMS", True, {}, [], [1], ["SMS"], [None], [[]], {"channel": "SMS"}],
    "flow[0]": [1, "SMS", [], None],
    "flow[0].from": [1, 1.5, True, [], {}],
    "flow[0].channel": [None, 1, True, [], {}, "sms", "FAX", "", "SMS "],
}


def _body_with(field: str, value: object) -> dict[str, object]:
    step: dict[str, object] = {"from": "InfoSMS", "channel": "SMS"}
    body: dict[str, object] = {"name": "n", "flow": [step], "default": True}
    if field.startswith("flow[0]."):
        step[field.split(".", 1)[1]] = value
    elif field == "flow[0]":
        body["flow"] = [value]
    else:
        body.pop("default" if field == "defaultScenario" else "", None)  # `default` would win over the alias
        body[field] = value
    return body


def _wrong_types() -> Iterator[Hostile]:
    for field, values in _WRONG.items():
        for value in values:
            body = json.dumps(_body_with(field, value)).encode()
            yield Hostile(f"json-wrong-type-{field}-{json.dumps(value)}", JSON, body, INVALID, field)


_XML_WRONG: list[tuple[str, bytes, str]] = [
    ("name-with-children", b"<name><b>x</b></name><flow><step><channel>SMS</channel></step></flow>", "name"),
    ("default-yes", b"<default>yes</default><flow><step><channel>SMS</channel></step></flow>", "default"),
    ("default-1", b"<default>1</default><flow><step><channel>SMS</channel></step></flow>", "default"),
    ("default-True", b"<default>True</default><flow><step><channel>SMS</channel></step></flow>", "default"),
    ("default-nested", b"<default><x>true</x></default><flow><step><channel>SMS</channel></step></flow>",
     "default"),
    ("flow-text", b"<flow>SMS</flow>", "flow"),
    ("flow-empty", b"<flow></flow>", "flow"),
    ("step-text", b"<flow><step>SMS</step></flow>", "flow[0]"),
    ("step-without-channel", b"<flow><step><from>x</from></step></flow>", "flow[0].channel"),
    ("channel-unknown", b"<flow><step><channel>FAX</channel></step></flow>", "flow[0].channel"),
    ("channel-nested", b"<flow><step><channel><x>SMS</x></channel></step></flow>", "flow[0].channel"),
    ("from-nested", b"<flow><step><from><x>y</x></from><channel>SMS</channel></step></flow>", "flow[0].from"),
]


def _xml_wrong_types() -> Iterator[Hostile]:
    for name, inner, field in _XML_WRONG:
        yield Hostile(f"xml-wrong-{name}", XML, b"<scenario>" + inner + b"</scenario>", INVALID, field)


CORPUS: list[Hostile] = [*_structural(), *_wrong_types(), *_xml_wrong_types()]
