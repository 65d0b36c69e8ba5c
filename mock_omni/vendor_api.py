"""The vendor's OMNI scenario API as a pure-ASGI app: parse, call the store, render.

It reads the raw request instead of going through FastAPI's routing and body
injection: that keeps the seed PUT near the bare-ASGI floor (perf-notes.md).
The OpenAPI for these routes is published from the same models (openapi.py).

Order of checks, each answered in the vendor's envelope: route (404/405),
Accept (406), body size (413), credentials (401), Content-Type (415),
rate limit (429), body (400), then the store (400/404).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .auth import Authenticator
from .codecs import CONTENT_TYPES, JSON, XML, Format, Negotiator, render, require_body_format, scenario_from_xml
from .errors import (
    BadRequest,
    GeneralError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    OmniError,
    PayloadTooLarge,
)
from .faults import ConnectionDropped, drop_connection
from .journal import Journal
from .models import ScenarioIn, parse_scenario_data, parse_scenario_json
from .ratelimit import RateLimiter
from .store import Store

log = logging.getLogger("mock_omni")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/omni/1/scenarios"
# The vendor's Scenario: Update page sends its curl example to /sms/1/omni/1/scenarios/{key};
# the page is the final word, so that path is served as an alias.
SEED_CURL_PREFIX = "/sms/1/omni/"
MAX_BODY_BYTES = 1024 * 1024
INT32_MAX = 2**31 - 1


@dataclass(slots=True)
class Call:
    """What a handler needs from one request."""

    account: str
    key: str | None
    query: bytes
    #: The validated body of create and update; None for reads.
    scenario: ScenarioIn | None


#: Called after authentication with (method, path, account); may sleep, or raise an
#: OmniError to answer with it instead (fault injection, faults.py).
FaultHook = Callable[[str, str, str], Awaitable[None]]
WRITES = ("create", "update")


class VendorApi:
    def __init__(
        self, store: Store, limiter: RateLimiter, journal: Journal,
        max_body: int = MAX_BODY_BYTES, fault_hook: FaultHook | None = None,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.journal = journal
        self.auth = Authenticator(store)
        self.negotiator = Negotiator()
        self.bodies = ScenarioBodies()
        self.max_body = max_body
        self.fault_hook = fault_hook

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/omni/") or path.startswith(SEED_CURL_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        accept = content_type = authorization = None
        content_length = -1
        raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        for name, value in raw_headers:
            if name == b"authorization":
                # Two Authorization headers are ambiguous credentials: neither is taken (401).
                authorization = value.decode("latin-1") if authorization is None else ""
            elif name == b"content-type":
                content_type = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"content-length":
                content_length = int(value) if value.isdigit() else -1

        fmt: Format = JSON
        account: str | None = None
        body = b""
        extra: list[tuple[bytes, bytes]] = []
        try:
            fmt = self.negotiator.response_format(accept, content_type)
            operation, key = route(method, path)
            body = await read_body(receive, content_length, self.max_body)
            account = self.auth.account_for(authorization)
            if self.fault_hook is not None:
                await self.fault_hook(method, path, account)
            body_format = require_body_format(content_type) if operation in WRITES else None
            self.limiter.check(account, operation)
            scenario = None if body_format is None else self.bodies.parse(body_format, body)
            call = Call(account, key, scope["query_string"], scenario)
            status, payload, root = HANDLERS[operation](self.store, call)
        except ConnectionDropped:
            # Journaled with status 0: the client got no response at all.
            self.journal.record(method, path, scope["query_string"], raw_headers, body, 0, account)
            await drop_connection(send)
            return
        except ConnectionAbortedError:
            return  # the client left mid-body: nobody to answer, nothing was done
        except OmniError as error:
            status, payload, root = error.status, error.envelope(), "ApiException"
            if isinstance(error, MethodNotAllowed):
                extra.append((b"allow", ", ".join(error.allowed).encode()))
        except Exception:
            log.exception("unexpected error on %s %s", method, path)
            status, payload, root = GeneralError.status, GeneralError().envelope(), "ApiException"
        await _respond(send, status, render(payload, fmt, root), fmt, extra)
        self.journal.record(method, path, scope["query_string"], raw_headers, body, status, account)


async def _respond(send: Send, status: int, content: bytes, fmt: Format,
                   extra: list[tuple[bytes, bytes]]) -> None:
    headers = [(b"content-type", CONTENT_TYPES[fmt]), (b"content-length", str(len(content)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})


def route(method: str, path: str) -> tuple[str, str | None]:
    """(operation, scenario key) for a vendor path, or 404/405."""
    if path.startswith(SEED_CURL_PREFIX):
        path = path[len(SEED_CURL_PREFIX) - len("/omni/"):]
    if path == PREFIX:
        if method == "GET":
            return "list", None
        if method == "POST":
            return "create", None
        raise MethodNotAllowed(("GET", "POST"))
    if path.startswith(PREFIX + "/"):
        key = path[len(PREFIX) + 1:]
        if key and "/" not in key:
            if method == "GET":
                return "get", key
            if method == "PUT":
                return "update", key
            raise MethodNotAllowed(("GET", "PUT"))
    raise NotFound("Resource not found.")


async def read_body(receive: Receive, declared: int, limit: int) -> bytes:
    if declared > limit:
        raise PayloadTooLarge()
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        chunks.append(chunk)
        more = message.get("more_body", False)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


# --- the four operations --------------------------------------------------------------

Result = tuple[int, dict[str, object], str]


class ScenarioBodies:
    """Validated create and update bodies; each distinct body is parsed once.

    Load tests send the same body again and again. Parsing is a pure function of the
    bytes and ScenarioIn is frozen, so a repeat costs a dict lookup. Bounded in count
    and body size; a body that fails is not kept (it fails the same way every time).
    """

    LIMIT = 256
    MAX_BODY = 4096

    def __init__(self) -> None:
        self._parsed: dict[tuple[Format, bytes], ScenarioIn] = {}

    def parse(self, fmt: Format, body: bytes) -> ScenarioIn:
        key = (fmt, body)
        scenario = self._parsed.get(key)
        if scenario is None:
            scenario = parse_scenario_data(scenario_from_xml(body)) if fmt == XML else parse_scenario_json(body)
            if len(body) <= self.MAX_BODY:
                if len(self._parsed) >= self.LIMIT:
                    self._parsed.clear()
                self._parsed[key] = scenario
        return scenario


def _scenario_body(call: Call) -> ScenarioIn:
    assert call.scenario is not None  # VendorApi parses the body of every write
    return call.scenario


def list_scenarios(store: Store, call: Call) -> Result:
    is_default, limit, page = parse_list_query(call.query)
    scenarios = store.list_scenarios(call.account, is_default, limit, page)
    return 200, {"scenarios": scenarios}, "scenariosResponse"


def get_scenario(store: Store, call: Call) -> Result:
    return 200, store.get(call.account, call.key or ""), "scenario"


def create_scenario(store: Store, call: Call) -> Result:
    return 201, store.create(call.account, _scenario_body(call)), "scenario"


def update_scenario(store: Store, call: Call) -> Result:
    return 200, store.update(call.account, call.key or "", _scenario_body(call)), "scenario"


HANDLERS: dict[str, Callable[[Store, Call], Result]] = {
    "list": list_scenarios, "get": get_scenario, "create": create_scenario, "update": update_scenario,
}


def parse_list_query(query: bytes) -> tuple[bool | None, int, int]:
    """isDefault, limit (default 100) and page (zero-based) from the query string."""
    if not query:
        return None, 100, 0
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, strict_parsing=False)
    except ValueError:
        raise BadRequest() from None
    for name, value in pairs:
        params.setdefault(name, value)
    errors: dict[str, list[str]] = {}
    is_default: bool | None = None
    if "isDefault" in params:
        flag = params["isDefault"].lower()
        if flag not in ("true", "false"):
            errors["isDefault"] = ["must be true or false"]
        is_default = flag == "true"
    limit = _non_negative(params, "limit", 100, errors)
    page = _non_negative(params, "page", 0, errors)
    if errors:
        raise InvalidArgument(validation_errors=errors)
    return is_default, limit, page


def _non_negative(params: dict[str, str], name: str, default: int, errors: dict[str, list[str]]) -> int:
    if name not in params:
        return default
    text = params[name]
    if not text.isdigit() or not text.isascii() or int(text) > INT32_MAX:
        errors[name] = [f"must be an integer from 0 to {INT32_MAX}"]
        return default
    return int(text)
