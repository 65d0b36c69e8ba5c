"""The vendor's API: one dispatcher for every operation of the route table (routes.py).

It reads the raw request instead of going through FastAPI's routing and body
injection: that keeps the seed PUT near the bare-ASGI floor (perf-notes.md).
Two ways in share every step: the ASGI app (``VendorApi.__call__``: in-process
clients, and any request the server cannot answer directly) and ``VendorApi.answer``,
which server/http_protocol.py calls from uvicorn's protocol without an ASGI task.

Order of checks, each answered in the vendor's envelope: Accept (406; every
later answer is rendered in the negotiated format, JSON for JSON-only calls), route
(404/405), body size (413), credentials (401), scopes (403), then any injected
fault, Content-Type (415), rate limit (429), body and query (400), then the handler
(400/401/404). Sign-in calls skip 401 and 403: the handler checks their credentials.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.types import Receive, Scope, Send

from ..domain.backend import Backend
from ..domain.errors import Forbidden, PayloadTooLarge
from ..domain.steps import Steps, run
from ..testing.faults import Hit, as_sent, deliver, drop_connection, fault_error, shape, silent_answer
from ..testing.fence import Fence
from .answers import Answer, error_answer
from .auth import Authenticator
from .bodies import Bodies
from .codecs import JSON, Format, Negotiator, render, require_body_format, require_form
from .routes import ROUTER
from .routing import Call, Operation, Router

if TYPE_CHECKING:
    from ..server.work_share import WorkShare
    from ..state import Fences, RateLimits, RequestJournal
    from ..testing.server_errors import ErrorLog

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
    #: The ``Host`` header (None: none sent; two are never allowed: web/hosts.py).
    host: bytes | None = None

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
            elif name == b"host":
                request.host = value if request.host is None else b"\x00two Host headers"
        return request


@dataclass(slots=True)
class Exchange:
    """One call on its way through the checks; ``answer`` is set once it is decided."""

    fmt: Format = JSON
    operation: Operation | None = None
    params: dict[str, str] = field(default_factory=dict)
    account: str | None = None
    answer: Answer | None = None
    #: The fence's ticket of a call answered in steps (``answering``): a reset between two steps stops it.
    ticket: int | None = None


#: Called after authentication with (method, path, account): the fault rule taken for the call, after its
#: delay, or None (fault injection, testing/faults.py).
FaultHook = Callable[[str, str, str], Awaitable[Hit | None]]


class VendorApi:
    """Every vendor call. ``answer`` decides a call whose body is in, synchronously; the ASGI
    entry (``__call__``) reads the body, then runs the same two steps with the fault hook
    awaited between them."""

    #: Whether calls may be answered in batches (``answer_soon``): replicas', one append to the log a batch.
    batched = False

    def __init__(
        self, backend: Backend, limiter: RateLimits, journal: RequestJournal,
        max_body: int = MAX_BODY_BYTES, fault_hook: FaultHook | None = None,
        fence: Fences | None = None, errors: ErrorLog | None = None,
        pace: Callable[[float], Awaitable[None]] | None = None, share: WorkShare | None = None,
    ) -> None:
        self.backend = backend
        self.limiter = limiter
        self.journal = journal
        self.router: Router = ROUTER
        self.auth = Authenticator(backend.accounts, backend.signin)
        self.negotiator = Negotiator()
        self.bodies = Bodies()
        self.max_body = max_body
        self.fault_hook = fault_hook
        self.fence: Fences = fence or Fence()
        #: Where unexpected exceptions (the 500s no fault asked for) are recorded, if anywhere.
        self.errors = errors
        #: How a slow body's writer waits (the fault rules' sleep, which ends when the server stops).
        self.pace = pace or asyncio.sleep
        #: Where calls with a big body are answered, a few steps per turn of the event loop (None: at once).
        self.share = share

    @staticmethod
    def handles(path: str) -> bool:
        """Whether ``path`` is the vendor's (every other path is the web app's)."""
        return ROUTER.handles(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ticket = self.fence.ticket()
        request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], scope["headers"])
        try:
            body = await read_body(receive, request.content_length, self.max_body)
        except ConnectionAbortedError:
            return  # the client left mid-body: nobody to answer, nothing was done
        answer = await self.decide(request, body, ticket)
        if answer is None:
            await drop_connection(send)
            return
        await deliver(answer, send, self.pace)

    async def decide(self, request: VendorRequest, body: bytes | None, ticket: int) -> Answer | None:
        """The call's answer, the fault hook awaited between the checks; None: drop the connection (a reset
        came while it waited, and nothing of it is kept). A fault's answer carries how it is sent (``wire``)."""
        exchange = self.admit(request, body is None)
        hit = await self.hook(exchange, request)
        if not self.fence.admits(ticket, exchange.account):
            # Reset while it waited (testing/fence.py): nothing of it may reach the state that replaced its own.
            return None
        if hit is None and self.share is not None and self.share.takes(body):
            assert body is not None
            exchange.ticket = ticket
            return await self.share.finish(self._answering(exchange, request, body))
        return self.faulted(exchange, request, body or b"", hit)

    def faulted(self, exchange: Exchange, request: VendorRequest, body: bytes, hit: Hit | None) -> Answer | None:
        """The call with the rule of ``hit`` applied: no answer at all (drop, reset, garbage: journaled with
        status 0, nothing carried out), its status, or the real answer as the rule has it sent."""
        if hit is not None:
            if hit.silent:
                answer = silent_answer(hit, exchange.fmt)
                self.journal.record(request.method, request.path, request.query, request.headers, body, None,
                                    exchange.account, answer.reason)
                return answer
            error = fault_error(hit.fault, hit.described)
            if error is not None and exchange.answer is None:
                assert exchange.operation is not None
                exchange.answer = error_answer(exchange.operation.worded(error), exchange.fmt,
                                               f"{request.method} {request.path}", self.errors)
        return self.perform(exchange, request, body, hit)

    async def hook(self, exchange: Exchange, request: VendorRequest) -> Hit | None:
        """Await the fault hook for an admitted call: the rule it took, after its delay (a failure of the hook
        itself becomes the call's 500)."""
        if exchange.answer is not None or self.fault_hook is None:
            return None
        try:
            # Sign-in calls have no account yet: only rules for any account match them.
            return await self.fault_hook(request.method, request.path, exchange.account or "")
        except Exception as error:  # noqa: BLE001 - answered like any other failure
            exchange.answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}", self.errors)
        return None

    def answer(self, request: VendorRequest, body: bytes | None, ticket: int | None = None) -> Answer | None:
        """The whole call at once (no fault hook), journaled; ``body`` None means it was over the limit.

        ``ticket`` is the fence's (testing/fence.py), taken when the request's head arrived: None
        (dropped, nothing done) if the state was reset while its body was still coming.
        """
        exchange = self.admit(request, body is None)
        if ticket is not None and not self.fence.admits(ticket, exchange.account):
            return None
        return self.perform(exchange, request, body or b"")

    def answer_soon(self, request: VendorRequest, body: bytes | None, ticket: int | None,
                    reply: Callable[[Answer | None], None]) -> None:
        """``reply(answer)`` once the call is decided, later in this event loop (None: drop the connection,
        as ``answer``). Only where ``batched``: replication/dispatcher.py."""
        raise NotImplementedError

    def admit(self, request: VendorRequest, too_large: bool) -> Exchange:
        """Accept (406), route (404/405), body size (413), credentials (401), scopes (403)."""
        exchange = Exchange()
        try:
            exchange.fmt = self.negotiator.response_format(request.accept, request.content_type)
            # Faults, the journal and its filters see one path for an operation, whatever alias reached it.
            if request.path.startswith(self.router.alias_prefixes):
                request.path = self.router.canonical(request.path)
            operation, exchange.params = self.router.match(request.method, request.path)
            exchange.operation = operation
            if operation.json_only:
                exchange.fmt = JSON
            if too_large:
                raise PayloadTooLarge(f"Request body too large: at most {self.max_body} bytes").because(
                    f"the body is over the vendor API's {self.max_body}-byte limit (not read past it)")
            if operation.authenticated:
                principal = self.auth.principal_for(request.authorization)
                exchange.account = principal.username
                # Most credentials have every scope: the test is skipped for them (the seed PUT's hot path).
                if principal.scopes is not None and not principal.allows(operation.scopes):
                    raise Forbidden().because(
                        f"the credential of {principal.username} holds the scopes {sorted(principal.scopes)}; "
                        f"{operation.method} {operation.path} needs one of {list(operation.scopes)}")
        except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
            exchange.answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}", self.errors)
        return exchange

    def perform(self, exchange: Exchange, request: VendorRequest, body: bytes, hit: Hit | None = None) -> Answer:
        """Content-Type (415), rate limit (429), body and query (400), then the handler; journals the call (as
        the fault rule of ``hit``, if any, has it sent)."""
        decided = self._carry_out(exchange, request, body)
        answer = decided if isinstance(decided, Answer) else run(decided)
        assert answer is not None  # only a ticket stops a call between its steps
        if hit is None:  # inline: the hot path
            self.journal.record(request.method, request.path, request.query, request.headers, body, answer,
                                exchange.account)
            return answer
        return self._journaled(exchange, request, body, answer, hit)

    def answering(self, request: VendorRequest, body: bytes, ticket: int) -> Steps[Answer | None]:
        """``answer`` for a call whose body is in, in steps (domain/steps.py) when its handler's work comes in
        steps (a big send): the parse is the first. None: drop the connection, when a reset came before the
        call was carried out or while it was (what it kept before the reset went with the state; it keeps
        nothing after, and is not journaled)."""
        exchange = self.admit(request, False)
        if not self.fence.admits(ticket, exchange.account):
            return None
        exchange.ticket = ticket
        return (yield from self._answering(exchange, request, body))

    def _answering(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Steps[Answer | None]:
        """An admitted call carried out (in steps where its handler's work comes in steps) and journaled."""
        decided = self._carry_out(exchange, request, body)
        answer = decided if isinstance(decided, Answer) else (yield from decided)
        if answer is None:
            return None
        return self._journaled(exchange, request, body, answer, None)

    def _carry_out(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer | Steps[Answer | None]:
        """The call's answer, or the rest of its work in steps when its handler's comes in steps."""
        answer = exchange.answer
        # Messages' due transitions first, so this call (and any push) sees the clock's present.
        self.backend.messages.advance()
        if answer is not None:
            return answer
        operation = exchange.operation
        assert operation is not None
        call = Call(exchange.account or "", exchange.params, {}, None, request.authorization)
        try:
            # Inline, not body_format, parse and respond: this is the memory store's hot path.
            body_format = None
            if operation.form:
                require_form(request.content_type)
            elif operation.body is not None:
                body_format = require_body_format(request.content_type)
            self.limiter.check(call.account, operation.name)
            if body_format is not None and operation.body is not None:
                call.body = self.bodies.parse(operation.body, body_format, body)
            elif operation.form:
                call.body = body
            if operation.query:
                call.query = operation.parse_query(request.query)
            payload = operation.handler(self.backend, call)
            if not isinstance(payload, dict):
                return self._stepped(exchange, request, call, payload)
            answer = rendered(operation, exchange.fmt, call, payload)
        except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
            answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}", self.errors)
        # A sign-in call belongs to the account it signed in to.
        exchange.account = call.account or None
        return answer

    def _stepped(self, exchange: Exchange, request: VendorRequest, call: Call,
                 steps: Steps[dict[str, object]]) -> Steps[Answer | None]:
        """The handler's work in steps, then its answer; with the exchange's ticket, a reset between two steps
        stops it there (None)."""
        operation = exchange.operation
        assert operation is not None
        try:
            while True:
                try:
                    yield
                except GeneratorExit:  # this call stopped (shutdown): its work stops now, not when collected
                    steps.close()
                    raise
                if exchange.ticket is not None and not self.fence.admits(exchange.ticket, exchange.account):
                    steps.close()
                    return None
                try:
                    next(steps)
                except StopIteration as done:
                    payload = done.value
                    break
            answer = rendered(operation, exchange.fmt, call, payload)
        except Exception as error:  # noqa: BLE001 - every failure is answered in the envelope
            answer = error_answer(error, exchange.fmt, f"{request.method} {request.path}", self.errors)
        exchange.account = call.account or None
        return answer

    def _journaled(self, exchange: Exchange, request: VendorRequest, body: bytes, answer: Answer,
                   hit: Hit | None) -> Answer:
        """``answer`` journaled (as the fault rule of ``hit``, if any, has it sent: and shaped so)."""
        if hit is not None:
            answer = shape(hit, answer)
            sent = as_sent(answer)
            self.journal.record(request.method, request.path, request.query, request.headers, body, sent,
                                exchange.account, None if sent is not None else answer.reason)
            return answer
        self.journal.record(request.method, request.path, request.query, request.headers, body, answer,
                            exchange.account)
        return answer


def rendered(operation: Operation, fmt: Format, call: Call, payload: dict[str, object]) -> Answer:
    """A handler's data as the operation answers it (its journal reason: the operation, and the call's notes)."""
    content = b"" if operation.status == 204 else render(payload, fmt, operation.xml_root, operation.xml_items)
    return Answer(operation.status, content, fmt, operation.headers,
                  f"{operation.answered}; {'; '.join(call.notes)}" if call.notes else operation.answered)


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
