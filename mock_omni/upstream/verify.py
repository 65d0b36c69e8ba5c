"""``mock-omni verify``: the same probes to the upstream and to a mock seeded from it, and what differs.

By default every probe is a read (``GET``) that changes nothing at the upstream: scenario lists
(filters, pages, ``Accept`` variants, XML), a scenario, an unknown key, a refused and a missing
credential, and the reads of sending with filters that match no message (``/omni/1/reports`` is
one-time: a report read there is gone, so the probe asks for a message id that does not exist).
Nothing is sent (sends cost money). With ``writes=True`` the probes also create (once; later runs
reuse it) a scenario named ``OWN_NAME`` and update only that one, plus calls that cannot succeed.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from .client import Reply, Upstream
from .compare import Difference, compare
from .importer import fixture_document, new_credentials, read_scenarios
from .local import LocalMock

#: The one scenario verify --writes creates and changes at the upstream (found by this name on later runs).
OWN_NAME = "mock-omni verify"
SCENARIOS = "/omni/1/scenarios"
JSON_TYPE = "application/json"
XML_TYPE = "application/xml"
REFUSED = "App mock-omni-verify-not-a-key"
USER_AGENT = "mock-omni-verify"


@dataclass(frozen=True)
class Probe:
    name: str
    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ((("Accept", JSON_TYPE)),)
    body: bytes = b""
    #: "account" (the given credential, or the mock's own), "refused" or "none".
    credential: str = "account"


@dataclass
class Side:
    """One side of the comparison: how to call it, its credential, and its own scenario's key."""

    call: Callable[[str, str, str, list[tuple[str, str]], bytes], Reply]
    authorization: str
    own: str | None = None


@dataclass
class Outcome:
    probes: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)

    def to_dict(self, upstream: str) -> dict[str, object]:
        return {"upstream": upstream, "probes": self.probes, "drift": bool(self.differences),
                "differences": [difference.to_dict() for difference in self.differences]}


def read_probes(first: str | None, unknown: str, count: int) -> list[Probe]:
    xml = (("Accept", XML_TYPE),)
    probes = [
        Probe("list", "GET", SCENARIOS),
        Probe("list isDefault=true", "GET", SCENARIOS, "isDefault=true"),
        Probe("list isDefault=false", "GET", SCENARIOS, "isDefault=false"),
        Probe("list limit=1 page=0", "GET", SCENARIOS, "limit=1&page=0"),
        Probe("list limit=1 page=1", "GET", SCENARIOS, "limit=1&page=1"),
        Probe("list past the last page", "GET", SCENARIOS, f"limit=1&page={count + 10}"),
        Probe("list XML", "GET", SCENARIOS, headers=xml),
        Probe("list without Accept", "GET", SCENARIOS, headers=()),
        Probe("list Accept */*", "GET", SCENARIOS, headers=(("Accept", "*/*"),)),
        Probe("list Accept text/plain", "GET", SCENARIOS, headers=(("Accept", "text/plain"),)),
        Probe("list Accept XML q-preferred", "GET", SCENARIOS,
              headers=(("Accept", "application/json;q=0.5, application/xml"),)),
        Probe("get an unknown key", "GET", f"{SCENARIOS}/{unknown}"),
        Probe("get an unknown key XML", "GET", f"{SCENARIOS}/{unknown}", headers=xml),
        Probe("list refused credential", "GET", SCENARIOS, credential="refused"),
        Probe("list refused credential XML", "GET", SCENARIOS, headers=xml, credential="refused"),
        Probe("list without credential", "GET", SCENARIOS, credential="none"),
        Probe("reports of an unknown message", "GET", "/omni/1/reports", f"messageId={unknown.lower()}"),
        Probe("logs limit=1", "GET", "/omni/1/logs", "limit=1"),
        Probe("logs of an unknown message", "GET", "/omni/1/logs", f"messageId={unknown.lower()}"),
        Probe("logs XML", "GET", "/omni/1/logs", "limit=1", headers=xml),
    ]
    if first is not None:
        probes[11:11] = [Probe("get a scenario", "GET", f"{SCENARIOS}/{first}"),
                         Probe("get a scenario XML", "GET", f"{SCENARIOS}/{first}", headers=xml)]
    return probes


def _json(data: object) -> bytes:
    return orjson.dumps(data)


def write_probes(unknown: str) -> list[Probe]:
    body = (("Accept", JSON_TYPE), ("Content-Type", JSON_TYPE))
    xml_body = (("Accept", XML_TYPE), ("Content-Type", XML_TYPE))
    own = f"{SCENARIOS}/{{own}}"
    return [
        Probe("get own scenario", "GET", own),
        Probe("update own scenario's name", "PUT", own, headers=body, body=_json({"name": OWN_NAME})),
        Probe("update own scenario XML", "PUT", own, headers=xml_body,
              body=f'<?xml version="1.0" encoding="UTF-8"?><scenario><name>{OWN_NAME}</name></scenario>'.encode()),
        Probe("update own scenario default=false", "PUT", own, headers=body, body=_json({"default": False})),
        Probe("update own scenario with an unknown channel", "PUT", own, headers=body,
              body=_json({"flow": [{"from": "InfoSMS", "channel": "NO_SUCH_CHANNEL"}]})),
        Probe("update own scenario with a body that does not parse", "PUT", own, headers=body, body=b"{"),
        Probe("update own scenario without Content-Type", "PUT", own, headers=(("Accept", JSON_TYPE),),
              body=_json({"name": OWN_NAME})),
        Probe("update an unknown key", "PUT", f"{SCENARIOS}/{unknown}", headers=body, body=_json({"name": OWN_NAME})),
        Probe("create with a body that does not parse", "POST", SCENARIOS, headers=body, body=b"{"),
        Probe("create without flow", "POST", SCENARIOS, headers=body, body=_json({"name": OWN_NAME})),
    ]


def local_authorization(authorization: str, credentials: dict[str, object]) -> str:
    """The mock's credential in the scheme the upstream's was given in (a token added for IBSSO/Bearer)."""
    scheme = authorization.split(" ", 1)[0]
    if scheme.lower() == "basic":
        pair = f"{credentials['username']}:{credentials['password']}".encode()
        return f"Basic {base64.b64encode(pair).decode()}"
    if scheme.lower() in ("ibsso", "bearer"):
        token = secrets.token_hex(16)
        credentials["tokens"] = [token]
        return f"{scheme} {token}"
    return f"App {credentials['apiKeys'][0]}"  # type: ignore[index]


def run_probe(probe: Probe, side: Side) -> Reply:
    headers = [*probe.headers, ("User-Agent", USER_AGENT)]
    if probe.credential == "account":
        headers.append(("Authorization", side.authorization))
    elif probe.credential == "refused":
        headers.append(("Authorization", REFUSED))
    path = probe.path.replace("{own}", side.own or "")
    return side.call(probe.method, path, probe.query, headers, probe.body)


def unknown_key(keys: set[str]) -> str:
    while True:
        key = secrets.token_hex(16).upper()
        if key not in keys:
            return key


def verify(upstream: Upstream, authorization: str, writes: bool = False) -> Outcome:
    scenarios = read_scenarios(upstream, authorization)
    credentials = new_credentials("verify")
    ours = local_authorization(authorization, credentials)
    local = LocalMock(fixture_document([(credentials, scenarios)]))
    try:
        theirs = Side(lambda m, p, q, h, b: upstream.call(m, p, q, h, b), authorization)
        mine = Side(local.call, ours)
        keys = {str(item.get("key")) for item in scenarios}
        unknown = unknown_key(keys)
        first = str(scenarios[0]["key"]) if scenarios and "key" in scenarios[0] else None
        outcome = Outcome()
        for probe in read_probes(first, unknown, len(scenarios)):
            _compare(probe, theirs, mine, outcome)
        if writes:
            own = next((str(item["key"]) for item in scenarios if item.get("name") == OWN_NAME and "key" in item),
                       None)
            if own is None:
                create = Probe("create own scenario", "POST", SCENARIOS,
                               headers=(("Accept", JSON_TYPE), ("Content-Type", JSON_TYPE)),
                               body=_json({"name": OWN_NAME, "flow": [{"from": "InfoSMS", "channel": "SMS"}],
                                           "default": False}))
                upstream_reply, mock_reply = _compare(create, theirs, mine, outcome)
                theirs.own, mine.own = _created_key(upstream_reply), _created_key(mock_reply)
            else:
                theirs.own = mine.own = own
            if theirs.own and mine.own:
                for probe in write_probes(unknown):
                    _compare(probe, theirs, mine, outcome)
        return outcome
    finally:
        local.close()


def _compare(probe: Probe, theirs: Side, mine: Side, outcome: Outcome) -> tuple[Reply, Reply]:
    upstream_reply = run_probe(probe, theirs)
    mock_reply = run_probe(probe, mine)
    outcome.probes.append(probe.name)
    outcome.differences.extend(compare(probe.name, upstream_reply, mock_reply))
    return upstream_reply, mock_reply


def _created_key(reply: Reply) -> str | None:
    try:
        key = orjson.loads(reply.content)["key"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return key if isinstance(key, str) else None
