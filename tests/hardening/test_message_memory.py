"""Big texts sent to a real server: what it keeps stays within --message-bytes, and so does its memory.

Before the byte bound, 150 sends of a 900 KB text grew the server by about 139 MB (every text kept, up to
--message-limit of them, and the plan cache held 64 more requests whole); with --message-bytes 8MiB it grows by
about 7 MB (the journal's 64 KiB of each body, and the bound itself).
"""

from __future__ import annotations

import httpx

from .. import server
from ..conftest import ALADDIN_BASIC
from .test_soak import rss_kib

WARM_UP = 20
SENDS = 150
TEXT_BYTES = 900_000
#: A generous bound: without --message-bytes the same run grows by over 130 MB.
GROWTH_KIB = 40 * 1024


def test_rss_stays_flat_under_the_byte_bound_whatever_the_texts() -> None:
    with server.running(["--message-bytes", "8MiB", "--rate-limit", "off"]) as srv, httpx.Client(
            base_url=srv.url, headers={"Authorization": ALADDIN_BASIC}, timeout=60) as client:

        def send(n: int) -> None:
            # A new text every time (nothing to share between sends), every fourth one to eight destinations.
            tos = [{"to": {"phoneNumber": f"4179302{n % 1000:03d}{d}"}} for d in range(8 if n % 4 == 0 else 1)]
            text = f"{n:08d}" + chr(0x41 + n % 26) * (TEXT_BYTES - 8)
            response = client.post("/omni/1/advanced", json={"destinations": tos, "sms": {"text": text},
                                                              "viber": {"text": "v"}})
            assert response.status_code == 200, response.text[:300]

        for n in range(WARM_UP):
            send(n)
        warm = rss_kib(srv.process.pid)
        for n in range(WARM_UP, WARM_UP + SENDS):
            send(n)
        end = rss_kib(srv.process.pid)
        listed = client.get("/__admin/messages", params={"limit": 0}).json()
        print(f"rss {warm} -> {end} KiB; kept {listed['kept']} messages, {listed['bytes']} bytes")  # noqa: T201
        assert listed["bytes"] <= 8 * 1024 * 1024 and listed["dropped"] > 0
        assert end - warm < GROWTH_KIB, (warm, end)
        newest = client.get("/omni/1/logs", params={"limit": 1}).json()["results"][0]
        assert newest["text"].startswith(f"{WARM_UP + SENDS - 1:08d}") and len(newest["text"]) == TEXT_BYTES
