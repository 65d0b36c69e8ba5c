"""Dozens of concurrent clients against a real uvicorn process: no 5xx, one default always, nothing lost."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from . import server
from .conftest import ALADDIN_BASIC

pytestmark = pytest.mark.both_stores

LIST = "/omni/1/scenarios"
CLIENTS = 32
ROUNDS = 15


async def hammer(url: str) -> None:
    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": ALADDIN_BASIC}, limits=limits,
                                 timeout=30) as client:
        keys = []
        for i in range(CLIENTS):
            response = await client.post(LIST, json={"name": f"c{i}-0", "flow": [{"channel": "SMS"}]})
            assert response.status_code == 201
            keys.append(response.json()["key"])
        acknowledged: dict[str, str] = {}
        statuses: list[int] = []

        async def worker(i: int) -> None:
            rng = random.Random(i)
            own = keys[i]
            for round_ in range(ROUNDS):
                action = rng.choice(("promote", "rename", "list", "demote"))
                if action == "promote":
                    response = await client.put(f"{LIST}/{rng.choice(keys)}", json={"default": True})
                    statuses.append(response.status_code)
                    assert response.json()["default"] is True
                elif action == "rename":
                    name = f"c{i}-{round_}"
                    response = await client.put(f"{LIST}/{own}", json={"name": name})
                    statuses.append(response.status_code)
                    assert response.json()["name"] == name
                    acknowledged[own] = name
                elif action == "demote":
                    response = await client.put(f"{LIST}/{rng.choice(keys)}", json={"default": False})
                    statuses.append(response.status_code)
                    assert response.status_code in (200, 400)
                else:
                    response = await client.get(LIST)
                    statuses.append(response.status_code)
                    assert sum(s["default"] for s in response.json()["scenarios"]) == 1

        await asyncio.gather(*(worker(i) for i in range(CLIENTS)))
        assert statuses and all(status < 500 for status in statuses)
        final = {s["key"]: s for s in (await client.get(LIST)).json()["scenarios"]}
        assert sum(s["default"] for s in final.values()) == 1
        for key, name in acknowledged.items():  # every acknowledged rename of a client's own scenario is there
            assert final[key]["name"] == name
        assert len(final) == 3 + CLIENTS


def test_concurrent_promotions_keep_exactly_one_default() -> None:
    with server.running(["--rate-limit", "off"]) as srv:
        asyncio.run(hammer(srv.url))
        assert srv.process.poll() is None  # still up
