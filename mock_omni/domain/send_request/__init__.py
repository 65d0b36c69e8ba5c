"""What a send request may carry: the vendor's OmniAdvancedRequest and the legacy simple request, as models.

The models follow the vendor's OpenAPI (OmniAdvancedRequest and the per-channel ``*Data``
schemas): field names, types, enums, lengths and ranges, so the published schema and the
validation are one thing. The official client 2.3.0 adds ``facebook`` and ``parseco``
payloads and a few fields (``To.facebookUserKey``, ``Language.singleShift``); they are here too.

Rules a JSON schema cannot state (which fields a Viber message combines, what each LINE
type needs, Kakao buttons per type) are each payload's ``problems()``: checked after the
types, reported per field (``viber.buttonURL``), all in this module.

Where the vendor's ``required`` lists contradict its own examples and field descriptions
(WhatsAppData requires ``mediaTemplateData`` and ``text`` together; every header kind of
MediaTemplateHeaderContent is required at once; KakaoChinguData requires ``imageUrl``, described
as "Optional value"), the examples and descriptions win: those lists are conditional
requirements flattened by the vendor's generator.
"""

from __future__ import annotations

from .base import HOURS_48, Problems
from .requests import (
    PAYLOAD_FIELDS,
    Destination,
    OmniAdvancedRequest,
    OmniSimpleRequest,
    To,
    parse_date,
    parse_instant,
)

__all__ = ["HOURS_48", "PAYLOAD_FIELDS", "Destination", "OmniAdvancedRequest", "OmniSimpleRequest", "Problems", "To",
           "parse_date", "parse_instant"]
