"""The vendor's OMNI scenario API: parse, call the store, render.

It reads the raw request instead of going through FastAPI's routing and body
injection: that keeps the seed PUT near the bare-ASGI floor (perf-notes.md).
Two ways in share every step: the ASGI app (``VendorApi.__call__``: in-process
clients, and any request the server cannot answer directly) and ``VendorApi.answer``,
which http_protocol.py calls from uvicorn's protocol without an ASGI task.
The OpenAPI for these routes is published from the same models (openapi.py).

Order of checks, each answered in the vendor's envelope: Accept (406; every
later answer is rendered in the negotiated format), route (404/405), body size
(413), credentials (401), Content-Type (415), rate limit (429), body (400), then
the store (400/404).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from ..domain.errors import (
    BadRequest,
    GeneralError,
    InvalidArgument,
    MethodNotAllowed,
    NotFound,
    OmniError,
    PayloadTooLarge,
)
from ..domain.scenarios import ScenarioIn, parse_scenario_data, parse_scenario_json
from ..domain.store import Store
from ..testing.faults import ConnectionDropped, drop_connection
from ..testing.fence import Fence
from ..testing.journal import Journal
from ..testing.server_errors import ServerErrors
from .auth import Authenticator
from .codecs import CONTENT_TYPES, JSON, XML, Format, Negotiator, render, require_body_format, scenario_from_xml
from .ratelimit import RateLimiter

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


@dataclass(slots=True)
class VendorRequest:
    """One request to a vendor path, as both ways in (ASGI and http_protocol.py) see it."""

    method: str
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    accept: str | None = None
    content_type: str | None = None
    authorization: str | None = None
    #: The declared Content-Length, -1 when absent or not a number.
    content_length: int = -1
    #: Whether an ``Origin`` header came (CORS may have to add headers to the answer).
    has_origin: bool = False

    @classmethod
    def read(cls, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> VendorRequest:
        """The request with the headers the checks need picked out in one pass (names are lower case)."""
        request = cls(method, path, query, headers)
        for name, value in headers:
            if name == b"authorization":
                # Two Authorization headers are ambiguous credentials: neither is taken (401).
                request.authorization = value.decode("latin-1") if request.authorization is None else ""
            elif name == b"content-type":
                request.content_type = value.decode("latin-1")
            elif name == b"accept":
                request.accept = value.decode("latin-1")
            elif name == b"content-length":
                request.content_length = int(value) if value.isdigit() else -1
            elif name == b"origin":
                request.has_origin = True
        return request


@dataclass(slots=True)
class Exchange:
    """One call on its way through the checks; ``answer`` is set once it is decided."""

    fmt: Format = JSON
    operation: str = ""
    key: str | None = None
    account: str | None = None
    answer: Answer | None = None


@dataclass(slots=True)
class Answer:
    status: int
    content: bytes
    fmt: Format
    #: Headers beyond content-type and content-length (``allow`` on a 405).
    extra: tuple[tuple[bytes, bytes], ...] = ()

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        return [(b"content-type", CONTENT_TYPES[self.fmt]), (b"content-length", b"%d" % len(self.content)),
                *self.extra]


#: Called after authentication with (method, path, account); may sleep, or raise an
#: OmniError to answer with it instead (fault injection, faults.py).
FaultHook = Callable[[str, str, str], Awaitable[None]]
WRITES = ("create", "update")


class VendorApi:
    """The vendor's four calls. ``answer`` decides a call whose body is in, synchronously; the
    ASGI entry (``__call__``) reads the body, then runs the same two steps with the fault hook
    awaited between them."""

    def __init__(
        self, store: Store, limiter: RateLimiter, journal: Journal,
        max_body: int = MAX_BODY_BYTES, fault_hook: FaultHook | None = None,
        fence: Fence | None = None, errors: ServerErrors | None = None,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.journal = journal
        self.auth = Authenticator(store)
        self.negotiator = Negotiator()
        self.bodies = ScenarioBodies()
        self.max_body = max_body
        self.fault_hook = fault_hook
        self.fence = fence or Fence()
        #: Where unexpected exceptions (the 500s no fault asked for) are recorded, if anywhere.
        self.errors = errors

    @staticmethod
    def handles(path: str) -> bool:
        return path.startswith("/omni/") or path.startswith(SEED_CURL_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ticket = self.fence.ticket()
        request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], scope["headers"])
        try:
            body = await read_body(receive, request.content_length, self.max_body)
        except ConnectionAbortedError:
            return  # the client left mid-body: nobody to answer, nothing was done
        exchange = self.admit(request, body is None)
        dropped = False
        if exchange.answer is None and self.fault_hook is not None:
            assert exchange.account is not None
            try:
                await self.fault_hook(request.method, request.path, exchange.account)
            except ConnectionDropped:
                dropped = True
            except Exception as error:  # noqa: BLE001 - answered like any other failure
                exchange.answer = _failure(error, exchange.fmt, request, self.errors)
        if not self.fence.admits(ticket, exchange.account):
            # Reset while it waited (fence.py): nothing of it may reach the state that replaced its own.
            await drop_connection(send)
            return
        if dropped:
            # Journaled with status 0: the client got no response at all.
            self.journal.record(request.method, request.path, request.query, request.headers, body or b"", 0,
                                exchange.account)
            await drop_connection(send)
            return
        answer = self.perform(exchange, request, body or b"")
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.content})

    def answer(self, request: VendorRequest, body: bytes | None) -> Answer:
        """The whole call at once (no fault hook), journaled; ``body`` None means it was over the limit."""
        return self.perform(self.admit(request, body is None), request, body or b"")

    def admit(self, request: VendorRequest, too_large: bool) -> Exchange:
        """Accept (406), route (404/405), body size (413), credentials (401)."""
        exchange = Exchange()
        try:
            exchange.fmt = self.negotiator.response_format(request.accept, request.content_type)
            exchange.operation, exchange.key = route(request.method, request.path)
            if too_large:
                raise PayloadTooLarge()
            exchange.account = self.auth.account_for(request.authorization)
        except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
            exchange.answer = _failure(error, exchange.fmt, request, self.errors)
        return exchange

    def perform(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer:
        """Content-Type (415), rate limit (429), body (400), then the store; journals the call."""
        answer = exchange.answer
        if answer is None:
            assert exchange.account is not None
            try:
                body_format = require_body_format(request.content_type) if exchange.operation in WRITES else None
                self.limiter.check(exchange.account, exchange.operation)
                scenario = None if body_format is None else self.bodies.parse(body_format, body)
                call = Call(exchange.account, exchange.key, request.query, scenario)
                status, payload, root = HANDLERS[exchange.operation](self.store, call)
                answer = Answer(status, render(payload, exchange.fmt, root), exchange.fmt)
            except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
                answer = _failure(error, exchange.fmt, request, self.errors)
        self.journal.record(request.method, request.path, request.query, request.headers, body, answer.status,
                            exchange.account)
        return answer


def _failure(error: BaseException, fmt: Format, request: VendorRequest, errors: ServerErrors | None) -> Answer:
    """The vendor's envelope for an OmniError; a 500 envelope (logged and recorded) for anything else."""
    if not isinstance(error, OmniError):
        log.error("unexpected error on %s %s", request.method, request.path, exc_info=error)
        if errors is not None:
            errors.record(request.method, request.path, error)
        error = GeneralError()
    extra = ((b"allow", ", ".join(error.allowed).encode()),) if isinstance(error, MethodNotAllowed) else ()
    return Answer(error.status, render(error.envelope(), fmt, "ApiException"), fmt, extra)


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


async def read_body(receive: Receive, declared: int, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` (the rest is not read)."""
    if declared > limit:
        return None
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
            return None
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
