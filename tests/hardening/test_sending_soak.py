"""Soak sending: a real server takes many messages (single and bulk sends, failovers, reports and logs
fetched along the way) and its memory stays flat once the message bound is reached.

`make test` sends 20,000 messages with a bound of 5,000; `make soak` 100,000 with the default bound
(MOCK_OMNI_SEND_SOAK_MESSAGES, MOCK_OMNI_SEND_SOAK_LIMIT).
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter

import httpx
import pytest

from .. import server
from ..conftest import ALADDIN_BASIC
from .soak import Connection
from .test_soak import rss_kib

MESSAGES = int(os.environ.get("MOCK_OMNI_SEND_SOAK_MESSAGES", "20000"))
LIMIT = int(os.environ.get("MOCK_OMNI_SEND_SOAK_LIMIT", "5000"))
CONNECTIONS = 16
#: RSS growth allowed once the bound is reached (allocator noise, caches that fill up once).
RSS_SLACK_KIB = 16 * 1024
HEADERS = {"Authorization": ALADDIN_BASIC}
# Some destinations fail over at once (test destinations), some wait out a validity period that is never
# reached: those are still pending when the bound drops them.
PHONES = ("41793026727", "38591000000", "447700900002", "447700900004", "41793019999")


def _send(rng: random.Random, destinations: int) -> dict[str, object]:
    return {"destinations": [{"to": {"phoneNumber": rng.choice(PHONES)}} for _ in range(destinations)],
            "sms": {"text": "soak " * rng.randint(1, 40), "validityPeriod": 5}, "viber": {"text": "soak"},
            "callbackData": "soak", "notifyUrl": "http://127.0.0.1:9/hook", "intermediateReport": rng.random() < .5}


async def _sender(url: str, seed: int, quota: int, statuses: Counter[int]) -> None:
    rng = random.Random(seed)
    conn = await Connection.open(url)
    sent = requests = 0
    try:
        while sent < quota:
            size = min(quota - sent, 1 if rng.random() < 0.75 else 10)
            answer = await conn.request("POST", "/omni/1/advanced", HEADERS, _send(rng, size))
            statuses[answer.status_code] += 1
            sent += size
            requests += 1
            if requests % 40 == 0:
                statuses[(await conn.request("GET", "/omni/1/reports?limit=1000", HEADERS)).status_code] += 1
                statuses[(await conn.request("GET", "/omni/1/logs?limit=100", HEADERS)).status_code] += 1
    finally:
        await conn.close()


async def _send_all(url: str, total: int, seed: int) -> Counter[int]:
    statuses: Counter[int] = Counter()
    share = total // CONNECTIONS
    await asyncio.gather(*(_sender(url, seed * 1000 + n, share + (n < total % CONNECTIONS), statuses)
                           for n in range(CONNECTIONS)))
    return statuses


@pytest.mark.slow
def test_sending_soak_keeps_memory_flat_past_the_bound() -> None:
    assert MESSAGES >= 3 * LIMIT, "the soak must go well past the bound"
    args = ["--rate-limit", "off", "--message-limit", str(LIMIT), "--journal-limit", "100"]
    with server.running(args) as srv, httpx.Client(base_url=srv.url, headers=HEADERS, trust_env=False) as http:
        assert http.post("/__admin/delivery-rules", json={
            "destination": "41793019999", "channel": "SMS", "outcome": "EXPIRED"}).status_code == 201
        warm = 2 * LIMIT
        statuses = asyncio.run(_send_all(srv.url, warm, 1))
        rss_warm = rss_kib(srv.process.pid)
        statuses += asyncio.run(_send_all(srv.url, MESSAGES - warm, 2))
        rss_end = rss_kib(srv.process.pid)
        listed = http.get("/__admin/messages", params={"limit": 1}).json()
        logs = http.get("/omni/1/logs", params={"limit": 1000}).json()["results"]
        assert srv.process.poll() is None, "the server died during the soak"
    print(f"\nsending soak: {MESSAGES} messages (bound {LIMIT}), statuses {dict(statuses)}, "
          f"rss {rss_warm} -> {rss_end} KiB")
    assert set(statuses) == {200}, statuses
    assert (listed["sent"], listed["kept"]) == (MESSAGES, LIMIT)
    assert len(logs) == 1000 and {log["channel"] for log in logs} <= {"SMS", "VIBER"}
    assert rss_end - rss_warm < RSS_SLACK_KIB, (rss_warm, rss_end)
