"""Sending's requests: a one-destination send, a 1,000-destination one, and report and log queries by
bulkId and messageId spread over a store preloaded with N messages."""

from __future__ import annotations

import json
import urllib.request

from .load import Request
from .payloads import ALADDIN_BASIC, SEED_KEY
from .scale import SPREAD

ADVANCED = "/omni/1/advanced"
#: Destinations per preload request, and per bulk.
BULK = 1000
_HEADERS = (("Content-Type", "application/json"), ("Authorization", ALADDIN_BASIC))
_PAYLOADS = {"sms": {"text": "Your parcel arrives today between 10:00 and 12:00."},
             "viber": {"text": "Your parcel arrives today between 10:00 and 12:00."}}


def send_body(destinations: int, offset: int = 0, bulk: str | None = None) -> dict[str, object]:
    """A send through the seed scenario (SMS, then Viber) to ``destinations`` numbers, IDs ``M<n>``."""
    body: dict[str, object] = {
        "scenarioKey": SEED_KEY, **_PAYLOADS,
        "destinations": [{"messageId": f"M{offset + n}", "to": {"phoneNumber": f"4179{offset + n:07d}"}}
                         for n in range(destinations)],
    }
    if bulk is not None:
        body["bulkId"] = bulk
    return body


def send_request(destinations: int) -> Request:
    """The same send over and over (a load test's way); the server generates the message IDs then."""
    body = {"scenarioKey": SEED_KEY, **_PAYLOADS,
            "destinations": [{"to": {"phoneNumber": f"4179{n:07d}"}} for n in range(destinations)]}
    return Request("POST", (ADVANCED,), _HEADERS, json.dumps(body))


def preload(url: str, count: int) -> None:
    """``count`` messages, in bulks ``B<k>`` of BULK, with IDs ``M<n>``."""
    for start in range(0, count, BULK):
        size = min(BULK, count - start)
        data = json.dumps(send_body(size, start, f"B{start // BULK}")).encode()
        request = urllib.request.Request(url + ADVANCED, data, dict(_HEADERS), method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200


def queries(count: int) -> dict[str, Request]:
    """Logs and reports by messageId and by bulkId, rotating over IDs spread across all ``count`` messages."""
    picks = sorted({round(j * (count - 1) / max(1, SPREAD - 1)) for j in range(min(count, SPREAD))})
    bulks = sorted({pick // BULK for pick in picks})
    auth = (("Authorization", ALADDIN_BASIC),)
    by_id = tuple(f"?messageId=M{pick}" for pick in picks)
    by_bulk = tuple(f"?bulkId=B{bulk}&limit=50" for bulk in bulks)
    return {
        "GET logs by messageId": Request("GET", tuple("/omni/1/logs" + q for q in by_id), auth),
        "GET logs by bulkId": Request("GET", tuple("/omni/1/logs" + q for q in by_bulk), auth),
        "GET reports by messageId": Request("GET", tuple("/omni/1/reports" + q for q in by_id), auth),
        "GET reports by bulkId": Request("GET", tuple("/omni/1/reports" + q for q in by_bulk), auth),
    }
