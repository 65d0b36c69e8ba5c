"""uvicorn's httptools protocol, with the vendor's calls answered in place and the wire fixes uvicorn lacks.

uvicorn runs every request as an asyncio task that talks ASGI messages, and writes
a response's head and body with two writes. For the vendor's four calls that is
most of the cost (py-spy on the seed PUT: the two writes alone took 30% of the
time), and none of it is needed: once the body is in, ``VendorApi.answer`` decides
the call synchronously. So when a request is on a vendor path and nothing needs the
ASGI stack for it (``MockOmni.answers_directly``: no fault rule, no state file, no
CORS origin, a Host the host policy allows: web/hosts.py), this protocol collects the
body itself, asks ``VendorApi.answer`` (the code the ASGI app runs too) and writes the
response with one write, byte for byte what uvicorn would have sent
(tests/test_http_protocol.py compares both ways). If that raises, the request gets the
vendor's 500 envelope and the connection stays usable.

Everything else is uvicorn's own path: other paths, other methods, ``Expect:
100-continue``, a declared body over the limit (answered 413 before it is read), a
request behind one still in flight on the connection (pipelining keeps its order), a
client that is not reading its responses. With ``--asgi-only`` every request takes it.

On both paths this protocol also
- ignores an ``Upgrade`` offer (``Upgrade: h2c`` from ``curl --http2`` and Java's HTTP
  clients) and serves the request as HTTP/1.1 with its body (RFC 9110 section 7.8):
  httptools stops at the offer and skips the body, so the request is parsed again
  without its ``Upgrade`` header (its headers as sent are what the app sees);
- answers a request target httptools cannot take (over 64 KiB, or malformed) with the
  vendor's envelope, 414 or 400, instead of uvicorn's plain-text 400;
- answers an HTTP/1.1 request without ``Host``, and any with several, 400 in the vendor's envelope (RFC 9112
  section 3.2), as the vendor's front does; uvicorn answered it;
- carries out nothing pipelined behind an answer that closes the connection (``close_after_body``);
- writes uvicorn's 400 for bytes that are no HTTP after the answers owed to the requests pipelined before
  them (uvicorn wrote it at once and closed: the answers of requests still in the ASGI app were lost);
- when a response closes the connection before the request's body has arrived (a 413
  to a client that sent ``Connection: close``), reads and drops the rest (bounded)
  before closing: closing with unread bytes makes the kernel send a reset, which can
  destroy the response before the client reads it;
- at shutdown, answers a request still waiting for its body when uvicorn's grace period
  ends with the vendor's 500 envelope (uvicorn would cancel its ASGI task: a traceback
  and a plain-text 500);
- answers the requests of a client that closed its side after sending them (``nc -N``) while a direct answer
  or a pipelined request is owed, then closes: uvicorn closed at once, losing the answers of calls it went on
  to carry out;
- writes the access log through access_log.py;
- holds every write until the end of the event loop's turn (batched_transport.py): the answers of the requests
  read in one turn go out together, and each client is woken once for them, not once per answer;
- keeps one keep-alive timer per idle spell of a connection instead of arming and cancelling
  one per request, as uvicorn does (an idle connection still closes after ``timeout_keep_alive``);
- closes connections that stall (slowloris; uvicorn waits for ever): a request's head must be in within
  ``--header-timeout`` of the connection's start (the first request), of its first byte (a later one), or of
  the previous response if it was pipelined behind it (a head behind a slow answer is not the client's
  fault), and its body must not go that long without a byte (checked once per period: closed within twice
  it). Like Node's ``headersTimeout``, the answer is 408 (the vendor's envelope, JSON: the ``Accept`` header
  may not be in yet) with ``connection: close`` when nothing else is owed on the connection, then the
  connection closes; a body whose request was already answered (a 413's rest being read) just closes. An idle
  keep-alive connection is the keep-alive timeout's, and a client whose reading the app has paused is never
  at fault. One timer per connection, armed when a head begins and none is armed, re-armed only while a head
  or body is in progress; per request, one clock read when its first bytes arrive.

A call whose body is big (``work_share.BIG_BODY``: a send to a hundred destinations or more) is not answered where
it is read: its work (``VendorApi.answering``) runs a few steps per turn of the event loop (work_share.py), so the
small calls of other connections are served between them (on the ASGI path too). A placeholder stands as the
connection's request cycle meanwhile, as below.

With replicas on Redis (``VendorApi.batched``), the answer comes later in the event loop: the
calls of one loop turn are appended to the log together (replication/dispatcher.py). Meanwhile a placeholder stands
as the connection's request cycle, so uvicorn queues the connection's later requests behind it
and keeps their order; a call a fault rule turns out to apply to is run through the ASGI app's
steps, its hook awaited, and answered (or dropped) the same way.

It relies on uvicorn internals, so ``check`` runs at start-up: a uvicorn outside the
tested range, or one missing an internal used here, makes the CLI fall back to
uvicorn's own protocol with one warning line.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import urllib.parse
from collections import deque
from typing import TYPE_CHECKING, Any

import httptools
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string
from uvicorn.server import ServerState

from ..api.answers import Answer, error_answer
from ..api.codecs import JSON, Negotiator
from ..api.dispatcher import VendorApi, VendorRequest
from ..domain.errors import BadRequest, GeneralError, OmniError, RequestTimeout, UriTooLong
from ..testing.faults import SLOW_STEP, reset
from .access_log import AccessLog
from .batched_transport import BatchedTransport
from .work_share import Entry

if TYPE_CHECKING:
    from uvicorn.config import Config

    from ..app import MockOmni

log = logging.getLogger("mock_omni")

#: The uvicorn versions tests/test_http_protocol.py passes on, [from, to): pyproject.toml pins the same.
UVICORN_RANGE = ((0, 53), (0, 55))
DIRECT_METHODS = (b"GET", b"PUT", b"POST")
#: httptools.parse_url refuses longer targets (its offsets are 16-bit).
MAX_TARGET = (1 << 16) - 1
#: How long, and how much, a closing connection waits for the rest of a request body.
LINGER_SECONDS = 2.0
LINGER_BYTES = 8 * 1024 * 1024
#: Seconds before uvicorn's grace period ends that shutdown stops the big calls still in the share.
SHARE_MARGIN = 0.5
#: Why an HTTP/1.1 request without a Host header is 400 (the diagnostics; the body says "Bad request").
NO_HOST = "an HTTP/1.1 request needs a Host header (RFC 9112 section 3.2)"
#: Why a request with more than one Host header is 400.
TWO_HOSTS = "a request has one Host header, not several (RFC 9112 section 3.2)"
#: Written if writing an answer itself failed (no uvicorn internals needed); the connection then closes.
_STATUS_500 = b"HTTP/1.1 500 Internal Server Error\r\n"


class MockOmniProtocol(HttpToolsProtocol):
    """See the module docstring; ``protocol_for`` binds it to one MockOmni."""

    mock: MockOmni
    #: Whether vendor calls may be answered in place (off with ``--asgi-only``).
    direct_answers: bool
    #: The access log, None with ``--quiet``.
    access: AccessLog | None
    negotiator: Negotiator
    #: Seconds a head may take, and a body may stall (``--header-timeout``).
    header_timeout: float
    #: The connection's transport, its writes held to the end of the loop's turn (``self.transport`` too).
    batched_transport: BatchedTransport

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = self.access is not None
        if self.access is not None:
            self.access_logger = self.access  # type: ignore[assignment]
        #: The vendor request being collected here, None while uvicorn has the request.
        self.direct: VendorRequest | None = None
        #: Its body so far: the first chunk as it came (most bodies come in one), a bytearray once another does.
        self.direct_body: bytes | bytearray = b""
        self.direct_ticket: int | None = 0
        self.direct_keep_alive = True
        #: The current request's body is not wanted (answered early, or an Upgrade offer's first pass).
        self.skip_body = False
        #: The current request has been read whole.
        self.body_done = True
        #: An Upgrade offer's request head rebuilt without it, and its headers as sent.
        self.replay_head: bytes | None = None
        self.offered_headers: list[tuple[bytes, bytes]] | None = None
        #: Closing, once the rest of the request body is in (``close_after_body``).
        self.lingering = False
        self.linger_left = LINGER_BYTES
        #: While lingering, the parser refused what came (a broken chunk): the rest is dropped unparsed.
        self.linger_unparsed = False
        self.timers: list[asyncio.TimerHandle] = []
        #: When the connection last fell idle (a response completed, nothing pipelined); None while busy.
        self.idle_since: float | None = None
        #: uvicorn's default headers as last formatted (``_default_head``).
        self.default_headers_seen: list[tuple[bytes, bytes]] | None = None
        self.default_head = b""
        #: When the head being read began to count (the connection's start, its first byte after the previous
        #: request, or the previous response if it was pipelined behind it); None while no head is being read.
        self.head_since: float | None = None
        #: Bytes came since the stall timer last looked (a body in progress must keep coming).
        self.fed = False
        self.stall_timer: asyncio.TimerHandle | None = None
        #: A slow body being written on the direct path (a replica's faulted call): the body, how much of it
        #: is written, its cycle. Shutdown writes the rest at once.
        self.trickling: tuple[bytes, int, _Pending] | None = None
        #: The client closed its side: close once nothing more is owed (``eof_received``).
        self.read_closed = False
        #: The direct answer coming later (a replica's batch, the share), until it is written.
        self.owed: _Pending | None = None
        #: The request last taken from the pipeline (uvicorn's queue of those sent before an answer).
        self.unqueued: RequestResponseCycle | None = None
        #: The call with a big body whose work waits in the share (``share``), and its request.
        self.sharing: tuple[Entry, VendorRequest] | None = None
        #: A 400's text, for bytes that are no HTTP after requests still being answered: sent once they are.
        self.bad_request: str | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        # Answers go out at the end of the loop's turn, together (batched_transport.py).
        self.batched_transport = BatchedTransport(transport, self.loop, self.mock.outbox)
        super().connection_made(self.batched_transport)  # type: ignore[arg-type]
        self.head_since = self.loop.time()  # a connection that sends nothing at all is stalling too
        self.stall_timer = self.loop.call_later(self.header_timeout, self._stall_due)

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self.timers:
            timer.cancel()
        if self.stall_timer is not None:
            self.stall_timer.cancel()
            self.stall_timer = None
        if self.timeout_keep_alive_task is not None:
            self.timeout_keep_alive_task.cancel()
            self.timeout_keep_alive_task = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, plus the replay of a request whose Upgrade offer is ignored."""
        if self.bad_request is not None:
            return  # after bytes that are no HTTP: nothing more is read, the 400 comes once what is owed is
        if self.lingering:
            self.linger_left -= len(data)
            if self.linger_left < 0:
                self.transport.close()
                return
            if self.linger_unparsed:
                return
        self._unset_keepalive_if_required()
        self.fed = True
        if self.head_since is None and self.body_done:  # between requests: a head begins with these bytes
            self.head_since = self.loop.time()
            if self.stall_timer is None:
                self.stall_timer = self.loop.call_later(self.header_timeout, self._stall_due)
        more: bytes | None = data
        while more is not None:  # a loop, not recursion: a packet may hold many offers
            more = self._feed(more)
        if self.direct is not None and self.direct_ticket is None:
            self.direct_ticket = self.mock.state.fence.ticket()  # its body is still coming (replicas)

    def eof_received(self) -> bool | None:  # type: ignore[override]  # asyncio.Protocol: True keeps writing
        """The client closed its side (``printf ... | nc -N``) while a direct answer is owed (a big body's, in
        the share; a replica's batch) or requests it pipelined are: they are answered, then the connection
        closes (``on_response_complete``). uvicorn's closes at once: the calls went on and were journaled, their
        answers lost. With one request in the ASGI app, sent alone, uvicorn's: the app sees the client gone (a
        ``?wait=`` long poll ends at once: a killed client's FIN looks the same)."""
        unqueued = self.unqueued
        if self.body_done and (self.owed is not None or self.pipeline or (
                unqueued is not None and self.cycle is unqueued and not unqueued.response_complete)):
            self.read_closed = True
            return True  # keep writing
        # The loop closes the transport itself when this returns, past BatchedTransport: what was written and is
        # held for the end of the turn (an answer written in the turn the FIN came) goes out first.
        self.batched_transport.flush()
        return None

    def on_message_begin(self) -> None:
        """uvicorn's; a head that begins after a request in the same packet is timed from here (``data_received``
        starts the clock only for a head at a packet's start), and the connection is busy, not idle."""
        super().on_message_begin()
        if self.head_since is None:
            self.head_since = self.loop.time()
            self.idle_since = None
            if self.stall_timer is None:
                self.stall_timer = self.loop.call_later(self.header_timeout, self._stall_due)

    def _feed(self, data: bytes) -> bytes | None:
        """Parse ``data``; what to parse next when an Upgrade offer was met, else None."""
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as offer:
            rest = data[offer.args[0]:]
            if self.replay_head is None:
                # CONNECT, answered 400 (its target is no path): the connection stays HTTP (RFC 9110
                # section 9.3.6), and httptools has already resumed parsing after it.
                return rest or None
            head, self.replay_head = self.replay_head, None
            self.parser = httptools.HttpRequestParser(self)
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
            return head + rest
        except httptools.HttpParserError:
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
        return None

    def on_headers_complete(self) -> None:
        self.head_since = None
        self.skip_body = False
        self.body_done = False
        if self.lingering or self.transport.is_closing():  # closing: nothing more starts on this connection
            self.skip_body = True
            return
        if self.offered_headers is not None:
            self.headers[:], self.offered_headers = self.offered_headers, None
        elif self.parser.should_upgrade() and self.parser.get_method() != b"CONNECT":
            self.replay_head = self._head_without_upgrade()
            self.offered_headers = list(self.headers)
            self.skip_body = True
            return
        try:
            parsed = httptools.parse_url(self.url)
        except httptools.HttpParserInvalidURLError:
            self._refuse_target()
            return
        hosts = 0
        for name, _ in self.headers:  # a plain loop: sum() over a generator is 0.28 us a request, this 0.1
            if name == b"host":
                hosts += 1
        if hosts != 1 and (hosts or self.parser.get_http_version() == "1.1"):
            # RFC 9112 section 3.2: a server MUST answer 400 to an HTTP/1.1 request without Host, and to any with
            # more than one (which of two a guard, a router or a proxy reads differs), as the vendor's front does
            # (HTTP/1.0 needs none).
            # The vendor's own text in the body; why, in the mock's diagnostics (/__admin/errors, the journal).
            self._refuse_target(BadRequest().because(NO_HOST if not hosts else TWO_HOSTS))
            return
        request = None
        if self.direct_answers:
            try:
                request = self._direct_request(parsed)
            except Exception:  # noqa: BLE001 - uvicorn's path still answers it correctly
                log.exception("mock-omni: direct answer not possible; the ASGI app answers")
        if request is None:
            super().on_headers_complete()
            if not self.cycle.keep_alive:
                self.cycle.transport = CloseAfterBody(self)
            return
        self.direct = request
        self.direct_body = b""
        # The fence (testing/fence.py): a reset while the body arrives drops this request. A replica's ticket is
        # its position in the log, which another replica's reset may already be past: taken only if the body
        # does not come with the head (data_received).
        self.direct_ticket = None if self.mock.vendor.batched else self.mock.state.fence.ticket()
        self.direct_keep_alive = self.scope["http_version"] != "1.0" and self.parser.should_keep_alive()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's 400 for bytes that are no HTTP, but after the answers still owed to the requests before them
        (pipelined in the same packet; in the ASGI app or waiting): uvicorn wrote it at once and closed, and
        their answers were lost. Responses go in the order of the requests (RFC 9112 section 9.3.2). While
        lingering (``close_after_body``), nothing: the request was answered and ``write_eof`` ended this side, so
        the bytes are the rest of its body, dropped unparsed until the linger ends (a write after write_eof
        raised: "Fatal error on transport", a traceback, and the connection aborted, its answer perhaps lost)."""
        if self.lingering:
            self.linger_unparsed = True
            return
        if self.body_done and self._owes_response():
            self.bad_request = msg
            self.transport.pause_reading()
            return
        super().send_400_response(msg)

    def _head_without_upgrade(self) -> bytes:
        """The request line and headers as parsed, less ``Upgrade``: parsed again, they frame the body."""
        head = [self.parser.get_method(), b" ", self.url, b" HTTP/", self.parser.get_http_version().encode(), b"\r\n"]
        for name, value in self.headers:
            if name != b"upgrade":
                head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        return b"".join(head)

    def _direct_request(self, parsed: Any) -> VendorRequest | None:
        """The request if this protocol may answer it, else None (uvicorn answers)."""
        method = self.parser.get_method()
        if (
            method not in DIRECT_METHODS or self.expect_100_continue
            or self.root_path or self.limit_concurrency is not None
            # In order: something is still in flight on this connection.
            or self.pipeline or (self.cycle is not None and not self.cycle.response_complete)
            # The client is not reading: uvicorn waits for it to drain before writing.
            or self.flow.write_paused
        ):
            return None
        path = parsed.path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        if not VendorApi.handles(path):
            return None
        request = VendorRequest.read(method.decode("ascii"), path, parsed.query or b"", self.headers)
        mock = self.mock
        if request.content_length > mock.vendor.max_body or not mock.answers_directly(request):
            return None
        # What the access log and any later fallback read from the scope.
        http_version = self.parser.get_http_version()
        if http_version != "1.1":
            self.scope["http_version"] = http_version
        self.scope["method"] = request.method
        self.scope["path"] = path
        self.scope["raw_path"] = parsed.path
        self.scope["query_string"] = request.query
        return request

    def _refuse_target(self, error: OmniError | None = None) -> None:
        """A target httptools cannot parse (or a request refused for ``error``): the vendor's envelope through a
        uvicorn cycle (it keeps its place among pipelined requests), in the access log as its first 100 bytes."""
        target = self.url
        request = VendorRequest.read(self.parser.get_method().decode("ascii"), "", b"", self.headers)
        if error is None:
            error = UriTooLong() if len(target) > MAX_TARGET else BadRequest()
        app, self.app = self.app, answer_app(self._error_answer(error, request))
        self.url = b"/"
        try:
            super().on_headers_complete()
        finally:
            self.app, self.url = app, target
        path, _, query = (target[:100] + (b"..." if len(target) > 100 else b"")).partition(b"?")
        self.scope["path"], self.scope["raw_path"] = path.decode("latin-1"), path
        self.scope["query_string"] = query.decode("latin-1").encode("ascii", "backslashreplace")
        if not self.cycle.keep_alive:
            self.cycle.transport = CloseAfterBody(self)

    def on_body(self, body: bytes) -> None:
        if self.direct is not None:
            if not self.direct_body:
                self.direct_body = body
            else:
                if isinstance(self.direct_body, bytes):  # a second chunk: a bytearray from now on
                    self.direct_body = bytearray(self.direct_body)
                self.direct_body += body
            if len(self.direct_body) > self.mock.vendor.max_body:
                # 413 now, as the ASGI path answers as soon as the body passes the limit.
                self._answer(self.direct, None)
                self.skip_body = True
        elif not self.skip_body:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self.body_done = True
        if self.lingering:
            self.transport.close()
        elif self.direct is not None:
            body = self.direct_body
            self._answer(self.direct, body if isinstance(body, bytes) else bytes(body))
        elif not self.skip_body:
            super().on_message_complete()

    def _answer(self, request: VendorRequest, body: bytes | None) -> None:
        """Decide the call, write the whole response at once, then what uvicorn does after a response."""
        self.direct = None
        self.direct_body = b""
        vendor = self.mock.vendor
        if vendor.batched:
            pending = self.owed = _Pending(self.direct_keep_alive, self._logged(), self.scope)
            self.cycle = pending  # type: ignore[assignment]  # a stand-in with what uvicorn reads of a cycle
            vendor.answer_soon(request, body, self.direct_ticket,
                               lambda answer: self._answer_later(request, answer, pending))
            return
        share = vendor.share
        if share is not None and body is not None and share.takes(body) and self.direct_ticket is not None:
            # Answered over the coming turns of the loop, small calls served between (work_share.py).
            pending = self.owed = _Pending(self.direct_keep_alive, self._logged(), self.scope)
            self.cycle = pending  # type: ignore[assignment]
            entry = share.submit(self.loop, vendor.answering(request, body, self.direct_ticket),
                                 lambda answer, error: self._shared(request, answer, error, pending))
            if entry is not None:  # None: carried out at once, and answered
                self.sharing = entry, request
            return
        try:
            decided = vendor.answer(request, body, self.direct_ticket)
            if decided is None:
                # The state was reset while its body arrived: dropped unanswered, as the ASGI path drops it.
                self.transport.abort()
                return
            answer = decided
        except Exception as error:  # noqa: BLE001 - answered like any failure in the dispatcher
            answer = self._error_answer(error, request)
        self._send(request, answer, self.direct_keep_alive, self._logged())

    def _shared(self, request: VendorRequest, answer: Answer | None, error: BaseException | None,
                pending: _Pending) -> None:
        """A big call's work is done (work_share.py): its answer, or the vendor's 500 for what it raised."""
        self.sharing = None
        self._answer_later(request, answer if error is None else self._error_answer(error, request), pending)

    def _answer_later(self, request: VendorRequest, answer: Answer | None, pending: _Pending) -> None:
        """A batched or shared call's answer (None: dropped, by a fault or a reset), if the client is still
        there."""
        pending.response_complete = True
        self.owed = None
        if pending.disconnected or self.transport.is_closing():
            return  # the client left: nobody to answer
        if answer is None:
            self.transport.abort()
            return
        if answer.wire is not None:
            self._send_faulted(request, answer, pending)
            return
        self._send(request, answer, pending.keep_alive, pending.logged)

    def _send_faulted(self, request: VendorRequest, answer: Answer, pending: _Pending) -> None:
        """A batched call's answer as its fault rule has it sent (testing/faults.py): cut, truncated or slow."""
        wire = answer.wire
        assert wire is not None
        if wire.kind == "reset":
            reset(self.transport)
        elif wire.kind == "garbage":
            self.transport.write(wire.garbage)
            self.transport.close()
        elif wire.kind == "drop":
            self.transport.abort()
        else:
            head = b"".join(self._head(answer, request.method, pending.keep_alive, pending.logged))
            if wire.kind == "truncate":
                self.transport.write(head[:max(1, len(head) // 2)] if not answer.content
                                     else head + answer.content[:wire.cut])
                self.transport.close()
                return
            pending.response_complete = False  # later requests of the connection wait for the whole body
            self.transport.write(head)
            self._trickle(request, answer.content, wire.bytes_per_second, pending, self.loop.time(), 0, 0)

    def _trickle(self, request: VendorRequest, content: bytes, rate: int, pending: _Pending, began: float,
                 sent: int, upto: int) -> None:
        """A slow body: ``content[sent:upto]`` now, the next part when its last byte is due at ``rate`` bytes a
        second from ``began`` (as testing/faults.py does on the ASGI path), then what follows a response."""
        if self.transport.is_closing() or (upto and self.trickling is None):
            self.trickling = None
            return  # the client gave up (its read timeout), or shutdown wrote the rest
        if upto > sent:
            self.transport.write(content[sent:upto])
        if upto < len(content):
            end = min(upto + max(1, int(rate * SLOW_STEP)), len(content))
            self.trickling = (content, upto, pending)
            self.timers.append(self.loop.call_at(began + end / rate, self._trickle, request, content, rate,
                                                 pending, began, upto, end))
            return
        self.trickling = None
        self._trickled(pending)

    def _trickled(self, pending: _Pending) -> None:
        """A slow body is all written: what follows a response."""
        pending.response_complete = True
        if not pending.keep_alive:
            self.close_after_body()
        self.on_response_complete()

    def _send(self, request: VendorRequest, answer: Answer, keep_alive: bool, logged: _Logged) -> None:
        """Write the answer, then what uvicorn does after a response."""
        try:
            self._write(answer, request.method, keep_alive, logged)
        except Exception:  # noqa: BLE001 - a uvicorn internal failed: answer without them, then close
            log.exception("mock-omni: writing the answer to %s %s failed", request.method, request.path)
            answer = self._error_answer(GeneralError(), request)
            self.transport.write(b"".join([_STATUS_500, answer.head(), b"connection: close\r\n\r\n", answer.content]))
            self.transport.close()
            return
        if not keep_alive:
            self.close_after_body()
        self.on_response_complete()

    # --- the keep-alive timeout: one timer per idle spell, not one per response -------------------------

    def on_response_complete(self) -> None:
        """uvicorn's, but the keep-alive timer armed after a response stays armed through the next ones: when
        it fires it waits again for what is left of the current idle spell. uvicorn arms one and cancels it
        for every request (a tenth of a short answer's cost); the connection closes just as it would."""
        self.server_state.total_requests += 1
        self.unqueued = None
        if self.transport.is_closing() or self.lingering:
            return  # closing: what was pipelined behind is not carried out (close_after_body)
        if self.head_since is not None:  # a head pipelined behind this response counts from now
            self.head_since = self.loop.time()
        self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self.unqueued = cycle
            self._start_asgi_task(cycle, app)
            return
        if self.bad_request is not None:  # what was owed before bytes that were no HTTP is answered: now their 400
            super().send_400_response(self.bad_request)
            return
        if self.read_closed:  # nothing more will come
            self.transport.close()
            return
        if self.head_since is not None:
            return  # a head is coming (pipelined behind this response): the header timeout's, not idle
        self.idle_since = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self._keep_alive_due)

    def _unset_keepalive_if_required(self) -> None:
        """Data came: busy until a response completes (a timer that fires meanwhile finds it so)."""
        self.idle_since = None

    def _keep_alive_due(self) -> None:
        self.timeout_keep_alive_task = None
        if self.idle_since is None:
            return  # busy: the response that ends it arms the timer again
        left = self.idle_since + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.timeout_keep_alive_task = self.loop.call_later(left, self._keep_alive_due)
        else:
            self.timeout_keep_alive_handler()

    # --- stalled heads and bodies: one timer per connection, while a head or a body is in progress -----------

    def _stall_due(self) -> None:
        self.stall_timer = None
        if self.transport.is_closing():
            return
        if self.head_since is not None:
            if self._owes_response():
                left = self.header_timeout  # pipelined: counts from that response (on_response_complete)
            else:
                left = self.head_since + self.header_timeout - self.loop.time()
            if left > 0:
                self.stall_timer = self.loop.call_later(left, self._stall_due)
            else:
                self._time_out()
        elif not self.body_done and not self.lingering:
            # Not the client's fault: the app has paused reading, or the client waits for a 100 Continue.
            if self.fed or self.flow.read_paused or getattr(self.cycle, "expect_100_continue", False):
                self.fed = False
                self.stall_timer = self.loop.call_later(self.header_timeout, self._stall_due)
            else:
                self._time_out()
        # Otherwise idle (the keep-alive timer's) or answering: the next head arms the timer again.

    def _owes_response(self) -> bool:
        """Whether a response is still owed on the connection (in the app, waiting for a batch, or pipelined)."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _time_out(self) -> None:
        """A head or body stalled: 408 if nothing has been answered to it yet (and nothing else is owed), then
        close."""
        request, self.direct = self.direct, None
        cycle = self.cycle
        answer = None
        if request is not None:  # a direct call's body stalled: nothing of it was answered
            answer = self._error_answer(RequestTimeout(), request)
        elif self.head_since is not None or (cycle is not None and not cycle.response_started
                                             and not self.pipeline and not self.skip_body):
            answer = error_answer(RequestTimeout(), JSON)
        if cycle is not None and not cycle.response_complete:
            # Its task's receive() now says http.disconnect: the app ends without a word or a traceback.
            cycle.disconnected = True
            cycle.message_event.set()
        if answer is not None:
            self.transport.write(b"".join([STATUS_LINE[answer.status], self._default_head(), answer.head(),
                                           b"connection: close\r\n\r\n", answer.content]))
        self.transport.close()

    def _logged(self) -> _Logged:
        """What the access log shows of the current request (client, target, HTTP version); None without a
        log. Taken when the request is read: by the time a batched answer comes, the scope may be another's."""
        if not self.access_log:
            return None
        return get_client_addr(self.scope), get_path_with_query_string(self.scope), self.scope["http_version"]

    def _write(self, answer: Answer, method: str, keep_alive: bool, logged: _Logged = None) -> None:
        """One write of the response, as uvicorn would send it, and its access-log line."""
        parts = self._head(answer, method, keep_alive, logged)
        parts.append(answer.content)
        self.transport.write(b"".join(parts))

    def _head(self, answer: Answer, method: str, keep_alive: bool, logged: _Logged = None) -> list[bytes]:
        """The response's head as uvicorn would send it, in parts; logs its access-log line."""
        head = [STATUS_LINE[answer.status], self._default_head(), answer.head()]
        if not keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        if self.access_log:  # first: if it fails, nothing has been written yet
            client, target, version = logged or self._logged() or ("", "", "")
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, method, target, version, answer.status)
        return head

    def _default_head(self) -> bytes:
        """uvicorn's default headers (the date; any set in its config) as header lines, formatted again only when they
        change: uvicorn puts a new list in every second (server.py's ``on_tick``), so looking at which list it is
        is enough."""
        defaults = self.server_state.default_headers
        if defaults is not self.default_headers_seen:
            self.default_headers_seen = defaults
            self.default_head = b"".join([b"%s: %s\r\n" % pair for pair in defaults])
        return self.default_head

    def _error_answer(self, error: BaseException, request: VendorRequest) -> Answer:
        """The vendor's envelope for ``error``, in the negotiated format if there is one, else JSON."""
        try:
            fmt = self.negotiator.response_format(request.accept, request.content_type)
        except OmniError:
            fmt = JSON
        return error_answer(error, fmt, f"{request.method} {request.path}", self.mock.state.errors)

    def close_after_body(self) -> None:
        """Close, once the request's body is in (at most LINGER_SECONDS and LINGER_BYTES more).

        Requests pipelined behind the answer that closes are dropped unstarted (RFC 9112 section 9.6: no further
        request is processed). httptools goes on parsing after an HTTP/1.0 request that says ``Connection:
        keep-alive``, which uvicorn answers with a close: those behind it were carried out, their answers never
        sent (a scenario created that the client never heard of), or, with a body still coming, written after
        ``write_eof`` (a RuntimeError, a 500 and two tracebacks)."""
        self.pipeline.clear()
        if self.body_done or self.transport.is_closing():
            self.transport.close()
            return
        if not self.lingering:
            self.lingering = True
            self.skip_body = True  # the body still coming is dropped as it comes, its request never started
            if self.transport.can_write_eof():
                self.transport.write_eof()  # the client sees the response end now
            self.timers.append(self.loop.call_later(LINGER_SECONDS, self.transport.close))
            self.flow.resume_reading()

    def shutdown(self) -> None:
        if self.trickling is not None and not self.transport.is_closing():
            # A slow body: the rest at once (as a fault's delay ends when the server stops), then close.
            content, written, pending = self.trickling
            self.trickling = None
            self.transport.write(content[written:])
            pending.keep_alive = False
            self._trickled(pending)
        waiting = not self.body_done and not self.pipeline
        if self.direct is not None:
            # Mid-request: answer it, then close (uvicorn does the same for its own requests).
            self.direct_keep_alive = False
        elif self.cycle is not None and not self.cycle.response_complete:
            self.cycle.transport = CloseAfterBody(self)
            super().shutdown()
        else:
            super().shutdown()
            return
        grace = self.config.timeout_graceful_shutdown
        if grace is None:
            return
        if self.sharing is not None:
            # Sooner: a step may hold the loop past the timer, and uvicorn looks for open connections every 0.1 s.
            self.timers.append(self.loop.call_later(max(0.0, grace - SHARE_MARGIN), self._give_up))
        elif waiting:
            # Just before uvicorn's grace period ends (it sleeps 0.1 s before it starts counting).
            self.timers.append(self.loop.call_later(grace, self._give_up))

    def _give_up(self) -> None:
        """Shutting down, and the body never came: the vendor's 500, then close (nothing was done). A big call
        still being carried out is stopped there and its connection closed unanswered, as uvicorn ends its
        own requests' tasks when the grace period is over, but without its error line (the process is
        exiting: nothing of the state it kept is seen again)."""
        if self.sharing is not None:
            entry, call = self.sharing
            self.sharing = None
            share = self.mock.vendor.share
            if share is not None and share.cancel(entry):
                log.warning("mock-omni: shutting down: %s %s was still being carried out when the grace period "
                            "ended; its connection is closed unanswered", call.method, call.path)
                self.transport.close()
                return
        if self.body_done or self.transport.is_closing():
            return
        request = self.direct
        self.direct = None
        if request is None:
            cycle = self.cycle
            if cycle is None or cycle.response_started:
                return  # answered (None: on the direct path, a 413 whose body's rest is being dropped)
            # Its task's receive() now says http.disconnect: the app ends without a word or a traceback.
            cycle.disconnected = True
            cycle.message_event.set()
            scope = cycle.scope
            if VendorApi.handles(scope["path"]):
                request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], self.headers)
        if request is not None:
            self._write(self._error_answer(GeneralError(), request), request.method, keep_alive=False)
        self.transport.close()


#: The access log's view of a request: client, target, HTTP version (None: no access log).
_Logged = tuple[str, str, str] | None


class _Pending:
    """Stands as uvicorn's request cycle while a direct answer waits for its batch (replicas on Redis) or for
    its steps in the share (a big body: work_share.py): uvicorn queues later requests of the connection behind
    it, marks it to close at shutdown, and marks it disconnected if the client leaves."""

    def __init__(self, keep_alive: bool, logged: _Logged, scope: Any) -> None:
        self.keep_alive = keep_alive
        self.logged = logged
        self.scope = dict(scope)
        self.response_started = False
        self.response_complete = False
        self.disconnected = False
        self.message_event = _NO_EVENT
        #: Where shutdown points a closing cycle (``CloseAfterBody``); the answer closes by keep_alive.
        self.transport: asyncio.Transport | None = None


class _NoEvent:
    def set(self) -> None:
        """uvicorn wakes a cycle's body reader; this one has none."""


_NO_EVENT = _NoEvent()


class CloseAfterBody(asyncio.Transport):
    """The transport as a closing request cycle sees it: its ``close`` waits for the request body."""

    def __init__(self, protocol: MockOmniProtocol) -> None:
        super().__init__()
        self.protocol = protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.protocol.transport.write(data)

    def is_closing(self) -> bool:
        return self.protocol.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.protocol.transport.get_extra_info(name, default)

    def close(self) -> None:
        self.protocol.close_after_body()


def answer_app(answer: Answer) -> ASGIApp:
    """An ASGI app that sends ``answer`` whatever the request."""
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.content})
    return app


def protocol_for(mock: MockOmni, *, direct: bool = True, access: AccessLog | None = None) -> type[MockOmniProtocol]:
    """The protocol class for uvicorn's ``Config(http=...)``, bound to ``mock``; ``direct`` False
    serves every call through the ASGI app; ``access`` None means no access log."""
    attributes = {"mock": mock, "direct_answers": direct, "access": access, "negotiator": Negotiator(),
                  "header_timeout": mock.settings.header_timeout}
    return type("MockOmniProtocol", (MockOmniProtocol,), attributes)


# --- the start-up check ---------------------------------------------------------------------

#: What this module reads or calls on uvicorn's protocol and its request cycle.
PROTOCOL_METHODS = (
    "connection_made", "data_received", "on_message_begin", "on_url", "on_header", "on_headers_complete", "on_body",
    "on_message_complete", "on_response_complete", "shutdown", "connection_lost", "send_400_response",
    "_unset_keepalive_if_required", "_start_asgi_task", "timeout_keep_alive_handler",
)
PROTOCOL_STATE = (
    "app", "config", "loop", "logger", "parser", "transport", "flow", "server_state", "pipeline", "cycle",
    "root_path", "limit_concurrency", "scope", "headers", "url", "expect_100_continue", "timeout_keep_alive",
    "timeout_keep_alive_task",
)
PARSER_METHODS = ("get_method", "get_http_version", "should_upgrade", "should_keep_alive", "set_dangerous_leniencies")
CYCLE_STATE = ("transport", "keep_alive", "response_started", "response_complete", "disconnected", "message_event")


def uvicorn_version() -> tuple[int, ...]:
    return tuple(int(part) for part in uvicorn.__version__.split(".")[:2] if part.isdigit())


def check(config: Config, protocol_class: type[MockOmniProtocol]) -> str | None:
    """Why ``protocol_class`` (from ``protocol_for``, in ``config``) cannot be used on this uvicorn, or None.

    The version first; then one instance is built and every internal this module touches looked up.
    """
    low, high = UVICORN_RANGE
    if not low <= uvicorn_version() < high:
        return (f"uvicorn {uvicorn.__version__} is outside the range the direct answers are tested on "
                f"({'.'.join(map(str, low))} to before {'.'.join(map(str, high))})")
    loop = asyncio.new_event_loop()
    try:
        protocol = protocol_class(config, ServerState(), {}, _loop=loop)
        transport = _Probe()
        protocol.connection_made(transport)
        protocol.on_message_begin()
        cycle = RequestResponseCycle(
            scope=protocol.scope, transport=transport, flow=protocol.flow, logger=protocol.logger,
            access_logger=protocol.access_logger, access_log=False, default_headers=[],
            message_event=asyncio.Event(), expect_100_continue=False, keep_alive=True, on_response=lambda: None,
        )
        missing = [name for name in PROTOCOL_METHODS if not inspect.isfunction(getattr(HttpToolsProtocol, name, None))]
        missing += [name for name in PROTOCOL_STATE if not hasattr(protocol, name)]
        missing += [f"parser.{name}" for name in PARSER_METHODS if not hasattr(protocol.parser, name)]
        missing += [f"cycle.{name}" for name in CYCLE_STATE if not hasattr(cycle, name)]
        if not isinstance(protocol.pipeline, deque) or not all(
                hasattr(protocol.flow, name) for name in ("write_paused", "read_paused")):
            missing.append("pipeline or flow")
        if not hasattr(protocol.config, "timeout_graceful_shutdown") or len(STATUS_LINE) < 500:
            missing.append("config.timeout_graceful_shutdown or STATUS_LINE")
        protocol.connection_lost(None)
        if missing:
            return f"uvicorn {uvicorn.__version__} lacks what the direct answers use: {', '.join(missing)}"
    except Exception as error:  # noqa: BLE001 - anything at all means: do not use it
        return f"uvicorn {uvicorn.__version__}: the direct-answer protocol cannot be built ({error!r})"
    finally:
        loop.close()
    return None


class _Probe(asyncio.Transport):
    """A transport for the start-up check: no socket, nothing written anywhere."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pass

    def close(self) -> None:
        pass

    def is_closing(self) -> bool:
        return True
