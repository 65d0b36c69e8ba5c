"""The vendor's API: one dispatcher for every operation of the route table (routes.py).

It reads the raw request instead of going through FastAPI's routing and body
injection: that keeps the seed PUT near the bare-ASGI floor (perf-notes.md).
Two ways in share every step: the ASGI app (``VendorApi.__call__``: in-process
clients, and any request the server cannot answer directly) and ``VendorApi.answer``,
which server/http_protocol.py calls from uvicorn's protocol without an ASGI task.

Order of checks, each answered in the vendor's envelope: Accept (406; every
later answer is rendered in the negotiated format), route (404/405), body size
(413), credentials (401), Content-Type (415), rate limit (429), body and query
(400), then the handler (400/404).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.types import Receive, Scope, Send

from ..domain.backend import Backend
from ..domain.errors import PayloadTooLarge
from ..testing.faults import ConnectionDropped, drop_connection
from ..testing.journal import Journal
from .answers import Answer, error_answer
from .auth import Authenticator
from .bodies import Bodies
from .codecs import JSON, Format, Negotiator, render, require_body_format
from .ratelimit import RateLimiter
from .routes import ROUTER
from .routing import Call, Operation, Router

MAX_BODY_BYTES = 1024 * 1024


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
                # Accept split over several header lines is one list (RFC 9110 5.3).
                text = value.decode("latin-1")
                request.accept = text if request.accept is None else f"{request.accept}, {text}"
            elif name == b"content-length":
                request.content_length = int(value) if value.isdigit() else -1
            elif name == b"origin":
                request.has_origin = True
        return request


@dataclass(slots=True)
class Exchange:
    """One call on its way through the checks; ``answer`` is set once it is decided."""

    fmt: Format = JSON
    operation: Operation | None = None
    params: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    answer: Answer | None = None


#: Called after authentication with (method, path, account); may sleep, or raise an
#: OmniError to answer with it instead (fault injection, testing/faults.py).
FaultHook = Callable[[str, str, str], Awaitable[None]]


class VendorApi:
    """Every vendor call. ``answer`` decides a call whose body is in, synchronously; the ASGI
    entry (``__call__``) reads the body, then runs the same two steps with the fault hook
    awaited between them."""

    def __init__(
        self, backend: Backend, limiter: RateLimiter, journal: Journal,
        max_body: int = MAX_BODY_BYTES, fault_hook: FaultHook | None = None, router: Router = ROUTER,
    ) -> None:
        self.backend = backend
        self.limiter = limiter
        self.journal = journal
        self.router = router
        self.auth = Authenticator(backend.store)
        self.negotiator = Negotiator()
        self.bodies = Bodies()
        self.max_body = max_body
        self.fault_hook = fault_hook

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is the vendor's (every other path is the web app's)."""
        return ROUTER.handles(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], scope["headers"])
        try:
            body = await read_body(receive, request.content_length, self.max_body)
        except ConnectionAbortedError:
            return  # the client left mid-body: nobody to answer, nothing was done
        exchange = self.admit(request, body is None)
        if exchange.answer is None and self.fault_hook is not None:
            assert exchange.account is not None
            try:
                await self.fault_hook(request.method, request.path, exchange.account)
            except ConnectionDropped:
                # Journaled with status 0: the client got no response at all.
                self.journal.record(request.method, request.path, request.query, request.headers, body or b"", 0,
                                    exchange.account)
                await drop_connection(send)
                return
            except Exception as error:  # noqa: BLE001 - answered like any other failure
                exchange.answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}")
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
            # Faults, the journal and its filters see one path for an operation, whatever alias reached it.
            if request.path.startswith(self.router.alias_prefixes):
                request.path = self.router.canonical(request.path)
            exchange.operation, exchange.params = self.router.match(request.method, request.path)
            if too_large:
                raise PayloadTooLarge()
            exchange.account = self.auth.account_for(request.authorization)
        except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
            exchange.answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}")
        return exchange

    def perform(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer:
        """Content-Type (415), rate limit (429), body and query (400), then the handler; journals the call."""
        answer = exchange.answer
        # Messages' due transitions first, so this call (and any push) sees the clock's present.
        self.backend.messages.advance()
        if answer is None:
            operation = exchange.operation
            assert exchange.account is not None and operation is not None
            try:
                body_format = None if operation.body is None else require_body_format(request.content_type)
                self.limiter.check(exchange.account, operation.name)
                parsed = None if body_format is None or operation.body is None else (
                    self.bodies.parse(operation.body, body_format, body))
                query = operation.parse_query(request.query) if operation.query else {}
                call = Call(exchange.account, exchange.params, query, parsed, request.authorization)
                payload = operation.handler(self.backend, call)
                answer = Answer(operation.status, render(payload, exchange.fmt, operation.xml_root,
                                                         operation.xml_items), exchange.fmt)
            except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
                answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}")
        self.journal.record(request.method, request.path, request.query, request.headers, body, answer.status,
                            exchange.account)
        return answer


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
