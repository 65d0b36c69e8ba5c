"""The seed PUT of the vendor's Scenario: Update page, and the bytes it answers."""

from __future__ import annotations

from mock_omni.api.codecs import JSON, XML, render
from mock_omni.api.routes import ROUTER

from .seed import ALADDIN_BASIC, REQUESTS, SEED_JSON, SEED_KEY, SEED_PATH, SEED_XML

__all__ = ["ALADDIN_BASIC", "REQUESTS", "RESPONSE_BYTES", "SEED_JSON", "SEED_KEY", "SEED_PATH", "SEED_RESPONSE",
           "SEED_XML"]

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
