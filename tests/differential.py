"""A differential harness: the same seeded random sequence of vendor and admin calls, sent to one app on
the memory store and to two replicas of one Redis store (same ``store_prefix``, taken in turn: call 1 to
replica A, call 2 to replica B, ...), answers compared after masking what is volatile.

A call names what it works on by reference (``{scenario:7}``, ``{message:2}``, ``{oauth:0}``): each side
resolves it from what its own answers showed so far (``Side.learn``), so the sequence is the same whatever
the sides answered. Every app runs on a manual clock standing still (moved only by ``/__admin/clock/advance``),
one fixed wall clock and counting scenario keys (the two replicas share one counter, so a replica never
makes a key the other made).

Masking (``Masker``): values of volatile fields (passwords, secrets, tokens, the journal's timestamps, dates) and
every UUID-looking or long hexadecimal string (keys, message ids, tokens, API keys, generated names) are
replaced by placeholders numbered in order of first appearance, per side, for the whole sequence: the
same id twice is the same placeholder, so a side answering another message's id than the one it sent
still differs. Lists no document orders (``UNORDERED_FIELDS``: rate-limit buckets) are compared sorted.

``python -m tests.differential [--seeds 20] [--calls 60] [--store URL] [--cluster]`` prints every seed's
first disagreement (the sides differ afterwards, so later ones mostly follow from it).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app
from mock_omni.domain.clock import ManualClock
from mock_omni.domain.scenarios import CHANNELS

from .conftest import (
    ALADDIN_API_KEY,
    ALADDIN_BASIC,
    ALADDIN_TOKEN,
    GENIE_BASIC,
    GENIE_KEY,
    OTHER_KEY,
    SEED_KEY,
    THIRD_KEY,
    counting_keys,
)
from .sending import PAYLOADS

#: The instant the apps' wall clock says (a whole second, so every date is the same on both sides).
WALL = 1424709671.0
FIXTURE_KEYS = (SEED_KEY, OTHER_KEY, THIRD_KEY, GENIE_KEY)
UNKNOWN_KEY = "FEDCBA9876543210FEDCBA9876543210"
PHONES = ("41790000001", "41790000002", "41790000003")
JINN_BASIC = "Basic " + base64.b64encode(b"Jinn:lamp").decode()
WRONG_BASIC = "Basic " + base64.b64encode(b"Aladdin:open sesame!").decode()
CREDENTIALS = {
    "aladdin": ALADDIN_BASIC, "genie": GENIE_BASIC, "jinn": JINN_BASIC, "wrong": WRONG_BASIC,
    "aladdin-key": f"App {ALADDIN_API_KEY}", "aladdin-token": f"IBSSO {ALADDIN_TOKEN}",
}
NAMES = ("", "n", "Ünïcode ✓", "x" * 40, "<&>")
ACCOUNTS = (None, "Aladdin", "Genie", "Jinn")
REFERENCE = re.compile(r"\{(scenario|message|bulk|oauth|session|rule):(\d+)\}")

#: Fields whose value is volatile whatever it looks like.
VOLATILE_FIELDS = frozenset({
    "password", "clientSecret", "client_secret", "basic", "timestamp", "createdAt", "sentAt", "doneAt",
    "startedAt", "endedAt", "sendAt", "at", "time", "traceback", "access_token", "token",
})
#: Lists whose order no document promises: compared as sorted (by their text with volatile values blanked).
UNORDERED_FIELDS = frozenset({"buckets"})
#: UUIDs, and hexadecimal runs of 12 characters or more (keys, ids, tokens, API keys, generated names).
VOLATILE_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|(?<![0-9A-Za-z])[0-9a-fA-F]{12,}(?![0-9A-Za-z])")
#: The vendor's dates (2015-02-23T16:41:11.000+0000) and ISO ones.
DATE_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:?\d\d|Z)?")


class Masker:
    """Placeholders for volatile values, numbered in order of first appearance (one masker per side)."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    def placeholder(self, value: object) -> str:
        text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
        if text not in self.seen:
            self.seen[text] = f"<{len(self.seen)}>"
        return self.seen[text]

    def mask(self, value: Any, name: str | None = None) -> Any:
        if name in VOLATILE_FIELDS and value is not None:
            return self.placeholder(value) if name != "timestamp" else "<timestamp>"
        if isinstance(value, dict):
            return {key: self.mask(item, key) for key, item in value.items()}
        if isinstance(value, list):
            if name in UNORDERED_FIELDS:
                value = sorted(value, key=lambda item: VOLATILE_TEXT.sub("", json.dumps(item, sort_keys=True)))
            return [self.mask(item) for item in value]
        if isinstance(value, str):
            value = DATE_TEXT.sub("<date>", value)
            return VOLATILE_TEXT.sub(lambda match: self.placeholder(match.group(0).upper()), value)
        return value


@dataclass(frozen=True)
class Call:
    """One HTTP call; strings may hold references (``{scenario:3}``) that each side resolves."""

    method: str
    path: str
    auth: str | None = None  # a CREDENTIALS name, "bearer:N", "ibsso:N", or None (no header)
    query: dict[str, str] = field(default_factory=dict)
    json: Any = None
    form: dict[str, str] | None = None
    content: str | None = None
    content_type: str | None = None

    def __str__(self) -> str:
        shown = f"{self.method} {self.path}"
        if self.query:
            shown += "?" + "&".join(f"{k}={v}" for k, v in self.query.items())
        if self.auth:
            shown += f" [auth {self.auth}]"
        for label, body in (("json", self.json), ("form", self.form), ("content", self.content)):
            if body is not None:
                shown += f" {label}={json.dumps(body, ensure_ascii=False)}"
        return shown


@dataclass
class Answer:
    status: int
    body: Any  # parsed JSON, else the text

    def __str__(self) -> str:
        text = self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False, sort_keys=True)
        return f"{self.status} {text[:3000]}{' ...' if len(text) > 3000 else ''}"


class Side:
    """One side of the comparison: its clients (called in turn), what its answers showed, its masker."""

    def __init__(self, name: str, clients: list[TestClient]) -> None:
        self.name = name
        self.clients = clients
        self.turn = 0
        self.masker = Masker()
        self.known: dict[str, list[str]] = {kind: [] for kind in ("scenario", "message", "bulk", "oauth", "session",
                                                                   "rule")}
        self.known["scenario"].extend(FIXTURE_KEYS)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE.sub(self._reference, value)
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        return value

    def _reference(self, match: re.Match[str]) -> str:
        kind, index = match.group(1), int(match.group(2))
        found = self.known[kind]
        if not found:
            return UNKNOWN_KEY if kind == "scenario" else f"no-{kind}"
        return found[index % len(found)]

    def headers(self, call: Call) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if call.content_type:
            headers["Content-Type"] = call.content_type
        if call.auth is None:
            return headers
        kind, _, index = call.auth.partition(":")
        if kind in ("bearer", "ibsso"):
            token = self.resolve(f"{{{'oauth' if kind == 'bearer' else 'session'}:{index}}}")
            headers["Authorization"] = f"{'Bearer' if kind == 'bearer' else 'IBSSO'} {token}"
        else:
            headers["Authorization"] = CREDENTIALS[call.auth]
        return headers

    def send(self, call: Call) -> Answer:
        client = self.clients[self.turn % len(self.clients)]
        self.turn += 1
        response = client.request(
            call.method, self.resolve(call.path), params=self.resolve(call.query), headers=self.headers(call),
            json=self.resolve(call.json), data=self.resolve(call.form),
            content=None if call.content is None else self.resolve(call.content))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text
        answer = Answer(response.status_code, body)
        self.learn(call, answer)
        return answer

    def learn(self, call: Call, answer: Answer) -> None:
        def note(kind: str, value: object) -> None:
            if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value) not in self.known[kind]:
                self.known[kind].append(str(value))

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                if isinstance(value.get("key"), str) and len(value["key"]) == 32:
                    note("scenario", value["key"])
                for name, kind in (("messageId", "message"), ("bulkId", "bulk"), ("access_token", "oauth")):
                    if name in value:
                        note(kind, value[name])
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        if answer.status >= 300:
            return
        walk(answer.body)
        if isinstance(answer.body, dict):
            if call.path == "/auth/1/session" and call.method == "POST":
                note("session", answer.body.get("token"))
            if call.path == "/__admin/delivery-rules" and call.method == "POST":
                note("rule", answer.body.get("id"))

    def masked(self, answer: Answer) -> tuple[int, Any]:
        return answer.status, self.masker.mask(answer.body)


# ---------------------------------------------------------------------------------------------- the calls


def _account(rng: random.Random) -> dict[str, str]:
    account = rng.choice(ACCOUNTS)
    return {} if account is None else {"account": account}


def _vendor_auth(rng: random.Random) -> str:
    return rng.choices(
        ["aladdin", "genie", "aladdin-key", "aladdin-token", "wrong", "jinn", f"bearer:{rng.randrange(9)}",
         f"ibsso:{rng.randrange(9)}"],
        weights=[50, 10, 8, 5, 4, 5, 10, 8])[0]


def _flow(rng: random.Random) -> list[dict[str, str]]:
    steps = []
    for _ in range(rng.randint(1, 3)):
        step = {"channel": rng.choice(CHANNELS)}
        if rng.random() < 0.7:
            step["from"] = rng.choice(("InfoSMS", "Sender", "info@example.com"))
        steps.append(step)
    return steps


def _scenario_ref(rng: random.Random) -> str:
    return UNKNOWN_KEY if rng.random() < 0.08 else f"{{scenario:{rng.randrange(1000)}}}"


def list_scenarios(rng: random.Random) -> Call:
    query: dict[str, str] = {}
    if rng.random() < 0.3:
        query["isDefault"] = rng.choice(("true", "false"))
    if rng.random() < 0.4:
        query["limit"] = str(rng.choice((0, 1, 2, 5, 100, -1)))
    if rng.random() < 0.3:
        query["page"] = str(rng.choice((0, 1, 2, "x")))
    return Call("GET", "/omni/1/scenarios", _vendor_auth(rng), query)


def get_scenario(rng: random.Random) -> Call:
    return Call("GET", f"/omni/1/scenarios/{_scenario_ref(rng)}", _vendor_auth(rng))


def create_scenario(rng: random.Random) -> Call:
    body: dict[str, Any] = {"flow": _flow(rng)}
    if rng.random() < 0.6:
        body["name"] = rng.choice(NAMES)
    if rng.random() < 0.4:
        body["default"] = rng.random() < 0.5
    if rng.random() < 0.08:
        body["flow"] = rng.choice(([], [{"channel": "FAX"}], "SMS"))
    if rng.random() < 0.04:
        return Call("POST", "/omni/1/scenarios", _vendor_auth(rng), content="{not json",
                    content_type="application/json")
    return Call("POST", "/omni/1/scenarios", _vendor_auth(rng), json=body)


def update_scenario(rng: random.Random) -> Call:
    body: dict[str, Any] = {}
    if rng.random() < 0.5:
        body["name"] = rng.choice(NAMES)
    if rng.random() < 0.3:
        body["flow"] = _flow(rng)
    if rng.random() < 0.5:
        body["default"] = rng.random() < 0.6
    return Call("PUT", f"/omni/1/scenarios/{_scenario_ref(rng)}", _vendor_auth(rng), json=body)


def send(rng: random.Random) -> Call:
    body: dict[str, Any] = {
        "destinations": [{"to": {"phoneNumber": rng.choice(PHONES)}} for _ in range(rng.randint(1, 3))]}
    if rng.random() < 0.85:
        body["scenarioKey"] = _scenario_ref(rng)
    for channel, (name, payload) in PAYLOADS.items():
        if rng.random() < 0.97 or channel not in ("SMS", "VIBER"):
            body[name] = {**payload, **({"validityPeriod": rng.randint(1, 5)} if rng.random() < 0.3 else {})}
    if rng.random() < 0.2:
        body["bulkId"] = f"bulk-{rng.randrange(4)}"
    path = "/omni/1/advanced"
    return Call("POST", path, _vendor_auth(rng), json=body)


def reports(rng: random.Random) -> Call:
    query = {"limit": str(rng.choice((1, 2, 5, 50)))}
    if rng.random() < 0.3:
        query["messageId"] = f"{{message:{rng.randrange(100)}}}"
    elif rng.random() < 0.15:
        query["bulkId"] = f"{{bulk:{rng.randrange(100)}}}"
    return Call("GET", "/omni/1/reports", _vendor_auth(rng), query)


def logs(rng: random.Random) -> Call:
    query = {"limit": str(rng.choice((1, 3, 50)))}
    choice = rng.random()
    if choice < 0.25:
        query["messageId"] = f"{{message:{rng.randrange(100)}}}"
    elif choice < 0.4:
        query["bulkId"] = f"{{bulk:{rng.randrange(100)}}}"
    elif choice < 0.55:
        query["channel"] = rng.choice(("SMS", "VIBER", "EMAIL"))
    return Call("GET", "/omni/1/logs", _vendor_auth(rng), query)


def oauth_token(rng: random.Random) -> Call:
    client_id, secret = rng.choice((("Aladdin", "open sesame"), ("Genie", "three wishes"), ("Aladdin", "no"),
                                    ("Jinn", "lamp")))
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if rng.random() < 0.1:
        form["grant_type"] = "password"
    if rng.random() < 0.2:
        form["scope"] = rng.choice(("omni-failover:manage", "message:send", "omni-failover:logs:read", "nope"))
    return Call("POST", "/auth/1/oauth2/token", None, form=form)


def open_session(rng: random.Random) -> Call:
    username, password = rng.choice((("Aladdin", "open sesame"), ("Genie", "three wishes"), ("Genie", "wrong"),
                                     ("Jinn", "lamp")))
    return Call("POST", "/auth/1/session", None, json={"username": username, "password": password})


def end_session(rng: random.Random) -> Call:
    return Call("DELETE", "/auth/1/session", f"ibsso:{rng.randrange(9)}")


def reset(rng: random.Random) -> Call:
    return Call("POST", "/__admin/reset", query={"account": rng.choice(("Aladdin", "Genie"))} if rng.random() < 0.5
                else {})


def add_fault(rng: random.Random) -> Call:
    body: dict[str, Any] = {
        "path": rng.choice(("/omni/1/scenarios", "/omni/1/scenarios/*", "/omni/1/*", "/omni/1/advanced",
                            "/auth/1/*")),
        "status": rng.choice((400, 404, 409, 429, 500, 503)), "times": rng.choice((1, 2, None)), **_account(rng)}
    if rng.random() < 0.4:
        body["method"] = rng.choice(("GET", "POST", "PUT"))
    if rng.random() < 0.2:
        body["message"] = "injected"
    return Call("POST", "/__admin/faults", json=body)


def advance_clock(rng: random.Random) -> Call:
    return Call("POST", "/__admin/clock/advance",
                json={"seconds": rng.choice((0, 1, 5, 30, 61, 600, 3601)), **_account(rng)})


def create_account(rng: random.Random) -> Call:
    body = rng.choice(({"username": "Jinn", "password": "lamp"}, {}, {"seedAccount": "Aladdin"},
                       {"username": "Jinn", "password": "lamp", "seedAccount": "Genie"}))
    return Call("POST", "/__admin/accounts", json=body)


def delete_account(rng: random.Random) -> Call:
    return Call("DELETE", f"/__admin/accounts/{rng.choice(('Jinn', 'Genie', 'Nobody'))}")


def put_limits(rng: random.Random) -> Call:
    limits: Any = rng.choice(("off", {"create": "3/1m"}, {"update": "2/1m", "create": "off"}, {"logs": "2/1m"},
                              {"fax": "1/1m"}))
    return Call("PUT", "/__admin/rate-limits", json={"limits": limits, **_account(rng)})


def add_delivery_rule(rng: random.Random) -> Call:
    outcome = rng.choice(("DELIVERED", "UNDELIVERABLE", "REJECTED", "EXPIRED"))
    body: dict[str, Any] = {"destination": rng.choice((*PHONES, "*")), "outcome": outcome,
                            "channel": rng.choice((None, "SMS", "VIBER")), "times": rng.choice((None, 1, 2)),
                            **_account(rng)}
    if outcome != "EXPIRED":
        body["delaySeconds"] = rng.choice((None, 0, 5, 60))
    return Call("POST", "/__admin/delivery-rules", json=body)


def admin_messages(rng: random.Random) -> Call:
    query = _account(rng)
    if rng.random() < 0.3:
        query["limit"] = str(rng.choice((1, 3)))
    if rng.random() < 0.2:
        query["messageId"] = f"{{message:{rng.randrange(100)}}}"
    return Call("GET", "/__admin/messages", query=query)


def admin_requests(rng: random.Random) -> Call:
    query = _account(rng)
    if rng.random() < 0.3:
        query["method"] = rng.choice(("GET", "POST", "PUT"))
    if rng.random() < 0.3:
        query["status"] = str(rng.choice((200, 201, 400, 401, 429, 500)))
    return Call("GET", "/__admin/requests", query=query)


def _simple(method: str, path: str, accounts: bool = True) -> Callable[[random.Random], Call]:
    def make(rng: random.Random) -> Call:
        return Call(method, path, query=_account(rng) if accounts else {})

    make.__name__ = f"{method.lower()} {path}"
    return make


def snapshot(rng: random.Random) -> Call:
    name = rng.choice(("s1", "s2"))
    action = rng.choice(("save", "save", "restore", "restore", "list", "forget"))
    if action == "list":
        return Call("GET", "/__admin/snapshots")
    path = {"save": f"/__admin/snapshots/{name}", "restore": f"/__admin/snapshots/{name}/restore",
            "forget": f"/__admin/snapshots/{name}"}[action]
    return Call("DELETE" if action == "forget" else "POST", path, query=_account(rng) if rng.random() < 0.3 else {})


#: (weight, maker) of every kind of call.
CALLS: tuple[tuple[int, Callable[[random.Random], Call]], ...] = (
    (8, list_scenarios), (6, get_scenario), (8, create_scenario), (8, update_scenario), (10, send),
    (5, reports), (4, logs), (3, oauth_token), (3, open_session), (2, end_session),
    (2, reset), (3, add_fault), (2, _simple("GET", "/__admin/faults")), (1, _simple("DELETE", "/__admin/faults")),
    (5, advance_clock), (1, _simple("GET", "/__admin/clock")), (5, admin_messages), (3, admin_requests),
    (2, create_account), (2, _simple("GET", "/__admin/accounts", accounts=False)), (1, delete_account),
    (2, put_limits), (2, _simple("GET", "/__admin/rate-limits", accounts=False)),
    (1, _simple("DELETE", "/__admin/rate-limits")), (4, snapshot), (3, add_delivery_rule),
    (1, _simple("GET", "/__admin/delivery-rules")), (2, _simple("GET", "/__admin/tokens")),
)


def sequence(seed: int, count: int) -> list[Call]:
    """``count`` calls drawn from ``CALLS`` by ``random.Random(seed)``: the same for every side."""
    rng = random.Random(seed)
    makers = [maker for _, maker in CALLS]
    weights = [weight for weight, _ in CALLS]
    return [rng.choices(makers, weights)[0](rng) for _ in range(count)]


# ---------------------------------------------------------------------------------------------- the runs


@dataclass
class Disagreement:
    seed: int
    index: int
    call: Call
    side: str  # "redis replica A", "redis replica B" (or "memory" in the self-check)
    memory: Answer
    other: Answer
    masked_memory: tuple[int, Any]
    masked_other: tuple[int, Any]

    def __str__(self) -> str:
        def shown(masked: tuple[int, Any]) -> str:
            return json.dumps(masked, ensure_ascii=False, sort_keys=True)[:3000]

        name = self.side.split()[0]
        return (f"seed {self.seed}, call {self.index} (to {self.side}): {self.call}\n"
                f"  memory: {self.memory}\n  {name}: {self.other}\n"
                f"  masked memory: {shown(self.masked_memory)}\n  masked {name}: {shown(self.masked_other)}")


def memory_app(**settings: object) -> MockOmni:
    keys = counting_keys()
    return create_app(Settings(**settings), clock=ManualClock(), key_factory=lambda: next(keys),  # type: ignore[arg-type]
                      wall_clock=lambda: WALL)


def redis_replicas(url: str, prefix: str, count: int = 2, settings: dict[str, object] | None = None) -> list[MockOmni]:
    """``count`` replicas of one store (``prefix``) on ``url``, each built as ``memory_app`` builds the memory
    side: its own counter of scenario keys and its own manual clock standing still. Every replica applies every
    call, so their counters and clocks move alike."""
    return [_replica(url, prefix, settings or {}) for _ in range(count)]


def _replica(url: str, prefix: str, settings: dict[str, object]) -> MockOmni:
    keys = counting_keys()
    return create_app(Settings(store=url, store_prefix=prefix, **settings),  # type: ignore[arg-type]
                      clock=ManualClock(), key_factory=lambda: next(keys), wall_clock=lambda: WALL)


@contextmanager
def twins(redis_url: str | None, other: dict[str, object] | None = None,
          **settings: object) -> Iterator[tuple[Side, Side]]:
    """The memory side and the Redis side (two replicas on a fresh prefix of ``redis_url``), serving. With no
    ``redis_url`` the other side is a second memory app (the harness's self-check); ``other`` overrides
    settings of the other side only."""
    other_settings = {**settings, **(other or {})}
    with ExitStack() as stack:
        apps = [memory_app(**settings)]
        stack.callback(apps[0].close)
        if redis_url is None:
            apps.append(memory_app(**other_settings))
            stack.callback(apps[1].close)
        else:
            for replica in redis_replicas(redis_url, f"diff-{uuid.uuid4().hex[:12]}", settings=other_settings):
                apps.append(replica)
                stack.callback(replica.close)
        clients = [stack.enter_context(TestClient(app, raise_server_exceptions=False)) for app in apps]
        yield Side("memory", clients[:1]), Side("redis" if redis_url else "memory", clients[1:])


def run(seed: int, count: int, redis_url: str | None, stop_at_first: bool = True,
        other: dict[str, object] | None = None, **settings: object) -> list[Disagreement]:
    """Sends ``sequence(seed, count)`` to both sides (``twins``); the calls whose masked answers differ."""
    found: list[Disagreement] = []
    with twins(redis_url, other, **settings) as (memory, twin):
        for index, call in enumerate(sequence(seed, count)):
            side = twin.name if len(twin.clients) == 1 else f"{twin.name} replica {'AB'[twin.turn % 2]}"
            expected, got = memory.send(call), twin.send(call)
            masked_expected, masked_got = memory.masked(expected), twin.masked(got)
            if masked_expected != masked_got:
                found.append(Disagreement(seed, index, call, side, expected, got, masked_expected, masked_got))
                if stop_at_first:
                    break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--calls", type=int, default=60)
    parser.add_argument("--store", help="a Redis URL (default: start one)")
    parser.add_argument("--cluster", action="store_true", help="start a 3-master Redis Cluster and use it")
    parser.add_argument("--all", action="store_true", help="every disagreement of a seed, not only its first")
    options = parser.parse_args()
    import tempfile
    from pathlib import Path

    from .redis_server import running, running_cluster

    with ExitStack() as stack:
        url = options.store
        if url is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            if options.cluster:
                url = stack.enter_context(running_cluster(folder)).url
            else:
                url = stack.enter_context(running(folder)).url
        agreed = 0
        for seed in range(options.first_seed, options.first_seed + options.seeds):
            try:
                found = run(seed, options.calls, url, stop_at_first=not options.all)
            except Exception as exc:  # noqa: BLE001 - reported, then the next seed
                print(f"seed {seed}: {type(exc).__name__}: {exc}")
                continue
            agreed += not found
            for disagreement in found:
                print(disagreement)
            if not found:
                print(f"seed {seed}: the sides agree on all {options.calls} calls")
        print(f"{agreed} of {options.seeds} seeds agree")


if __name__ == "__main__":
    main()
