"""Fixture files of one account with N scenarios, and the requests that walk across all of them."""

from __future__ import annotations

import json
from pathlib import Path

from mock_omni.domain.scenarios import CHANNELS

from .load import Request
from .payloads import ALADDIN_BASIC, SEED_KEY

PREFIX = "/omni/1/scenarios"
PAGE_SIZE = 5
#: How many distinct keys (or pages) a run rotates through: spread over the whole range.
SPREAD = 100


def scenario_key(index: int) -> str:
    """The seed's key first (the readiness probe PUTs it), then 1, 2, ... as 32 uppercase hex digits."""
    return SEED_KEY if index == 0 else f"{index:032X}"


def write_fixture(path: Path, count: int) -> Path:
    scenarios = [
        {
            "key": scenario_key(i),
            "name": f"Scenario {i}",
            "flow": [
                {"from": "InfoSMS", "channel": CHANNELS[i % len(CHANNELS)]},
                {"from": f"sender-{i % 97}", "channel": "SMS"},
            ],
            "default": i == 0,
        }
        for i in range(count)
    ]
    document = {"accounts": [{"username": "Aladdin", "password": "open sesame", "scenarios": scenarios}]}
    path.write_text(json.dumps(document))
    return path


def spread(count: int) -> list[int]:
    """Up to SPREAD indexes evenly across range(count), first and last included."""
    picks = min(count, SPREAD)
    if picks == 1:
        return [0]
    return sorted({round(j * (count - 1) / (picks - 1)) for j in range(picks)})


def requests(count: int) -> dict[str, Request]:
    """PUT promoting a scenario to default, GET one, and a page of the list; each spread over all."""
    auth = ("Authorization", ALADDIN_BASIC)
    keys = tuple(f"{PREFIX}/{scenario_key(i)}" for i in spread(count))
    pages = tuple(f"{PREFIX}?limit={PAGE_SIZE}&page={p}" for p in spread(count // PAGE_SIZE))
    return {
        "PUT promote": Request("PUT", keys, (("Content-Type", "application/json"), auth), '{"default": true}'),
        "GET one": Request("GET", keys, (auth,)),
        "GET page": Request("GET", pages, (auth,)),
    }
