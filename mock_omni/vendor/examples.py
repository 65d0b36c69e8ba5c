"""The vendor's own examples (scenario-update.txt), published in /openapi.json and used by tests."""

from __future__ import annotations

SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"
SEED_UPDATE: dict[str, object] = {
    "name": "Test update: SMS or VIBER",
    "flow": [
        {"from": "InfoSMS", "channel": "SMS"},
        {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"},
    ],
    "default": True,
}
SEED_UPDATE_XML = (
    "<scenario><name>Test update: SMS or VIBER</name><flow>"
    "<step><from>InfoSMS</from><channel>SMS</channel></step>"
    "<step><from>0492DF1379D122771652385E4C6743E3</from><channel>VIBER</channel></step>"
    "</flow><default>true</default></scenario>"
)
SEED_RESPONSE: dict[str, object] = {"key": SEED_KEY, **SEED_UPDATE}
SEED_RESPONSE_XML = f"<scenario><key>{SEED_KEY}</key>" + SEED_UPDATE_XML.removeprefix("<scenario>")

SCENARIO = {"request": SEED_UPDATE, "request_xml": SEED_UPDATE_XML,
            "response": SEED_RESPONSE, "response_xml": SEED_RESPONSE_XML}
SCENARIO_LIST = {"response": {"scenarios": [SEED_RESPONSE]}}
