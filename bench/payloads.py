"""The seed PUT of the vendor's Scenario: Update page, and the bytes it answers."""

from __future__ import annotations

from mock_omni.vendor.codecs import JSON, XML, render
from mock_omni.vendor.routes import ROUTER

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
SEED_PATH = f"/omni/1/scenarios/{SEED_KEY}"
ALADDIN_BASIC = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="

SEED_JSON = (
    '{\n  "name":"Test update: SMS or VIBER",\n  "flow": [\n    {\n      "from": "InfoSMS",\n      "channel": "SMS"\n'
    '    },\n    {\n      "from": "0492DF1379D122771652385E4C6743E3",\n      "channel": "VIBER"\n    }\n  ],\n'
    '  "default": true\n}'
)
SEED_XML = """<scenario>
    <name>Test update: SMS or VIBER</name>
    <flow>
        <step>
            <from>InfoSMS</from>
            <channel>SMS</channel>
        </step>
        <step>
            <from>0492DF1379D122771652385E4C6743E3</from>
            <channel>VIBER</channel>
        </step>
    </flow>
    <default>true</default>
</scenario>"""

SEED_RESPONSE: dict[str, object] = {
    "key": SEED_KEY,
    "name": "Test update: SMS or VIBER",
    "flow": [
        {"from": "InfoSMS", "channel": "SMS"},
        {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"},
    ],
    "default": True,
}
#: What the mock answers to the seed PUT, byte for byte, in each format.
_UPDATE = ROUTER.by_name["update"]
RESPONSE_BYTES = {fmt: render(SEED_RESPONSE, fmt, _UPDATE.xml_root, _UPDATE.xml_items) for fmt in (JSON, XML)}

#: (Content-Type, body) of the seed PUT in each format; the XML one carries no Accept, like the page.
REQUESTS = {JSON: ("application/json", SEED_JSON), XML: ("application/xml", SEED_XML)}
