"""uvicorn's httptools protocol, with the vendor's calls answered in place.

uvicorn runs every request as an asyncio task that talks ASGI messages, and writes
a response's head and body with two writes. For the vendor's four calls that is
most of the cost (py-spy on the seed PUT: the two writes alone took 30% of the
time), and none of it is needed: once the body is in, ``VendorApi.answer`` decides
the call synchronously. So when a request is on a vendor path and nothing needs the
ASGI stack for it (``MockOmni.answers_directly``: no fault rule, no state file, no
CORS origin), this protocol collects the body itself, asks ``VendorApi.answer`` (the
code the ASGI app runs too) and writes the response with one write, byte for byte
what uvicorn would have sent (tests/test_http_protocol.py compares both ways).

Everything else is uvicorn's own path, untouched: other paths, other methods,
``Expect: 100-continue``, upgrades, a declared body over the limit (answered 413
before it is read), a request behind one still in flight on the connection
(pipelining keeps its order), a client that is not reading its responses.
"""

from __future__ import annotations

import asyncio
import urllib.parse
from typing import TYPE_CHECKING, Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from ..vendor.answers import Answer
from ..vendor.api import VendorApi, VendorRequest

if TYPE_CHECKING:
    from ..app import MockOmni

DIRECT_METHODS = (b"GET", b"PUT", b"POST")


class DirectVendorProtocol(HttpToolsProtocol):
    """Answers vendor calls without an ASGI task; ``protocol_for`` binds it to one MockOmni."""

    mock: MockOmni

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: The vendor request being collected here, None while uvicorn has the request.
        self.direct: VendorRequest | None = None
        self.direct_body = bytearray()
        self.direct_keep_alive = True
        #: Answered before its body ended (413): the rest of the body is read and dropped.
        self.answered_early = False

    def on_headers_complete(self) -> None:
        self.answered_early = False
        request = self._direct_request()
        if request is None:
            super().on_headers_complete()
            return
        self.direct = request
        self.direct_body = bytearray()
        self.direct_keep_alive = self.scope["http_version"] != "1.0" and self.parser.should_keep_alive()

    def _direct_request(self) -> VendorRequest | None:
        """The request if this protocol may answer it, else None (uvicorn answers)."""
        method = self.parser.get_method()
        if (
            method not in DIRECT_METHODS or self.expect_100_continue or self.parser.should_upgrade()
            or self.root_path or self.limit_concurrency is not None
            # In order: something is still in flight on this connection.
            or self.pipeline or (self.cycle is not None and not self.cycle.response_complete)
            # The client is not reading: uvicorn waits for it to drain before writing.
            or self.flow.write_paused
        ):
            return None
        parsed = httptools.parse_url(self.url)
        path = parsed.path.decode("ascii")
        if "%" in path:
            path = urllib.parse.unquote(path)
        if not VendorApi.handles(path):
            return None
        request = VendorRequest.read(method.decode("ascii"), path, parsed.query or b"", self.headers)
        mock = self.mock
        if request.content_length > mock.vendor.max_body or not mock.answers_directly(request):
            return None
        # What uvicorn's access log and any later fallback read from the scope.
        http_version = self.parser.get_http_version()
        if http_version != "1.1":
            self.scope["http_version"] = http_version
        self.scope["method"] = request.method
        self.scope["path"] = path
        self.scope["raw_path"] = parsed.path
        self.scope["query_string"] = request.query
        return request

    def on_body(self, body: bytes) -> None:
        if self.direct is not None:
            self.direct_body += body
            if len(self.direct_body) > self.mock.vendor.max_body:
                # 413 now, as the ASGI path answers as soon as the body passes the limit.
                self._answer(self.direct, None)
                self.answered_early = True
        elif not self.answered_early:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self.direct is not None:
            self._answer(self.direct, bytes(self.direct_body))
        elif not self.answered_early:
            super().on_message_complete()

    def _answer(self, request: VendorRequest, body: bytes | None) -> None:
        """Decide the call, write the whole response at once, then what uvicorn does after a response."""
        self.direct = None
        self.direct_body = bytearray()
        vendor = self.mock.vendor
        if body is not None and vendor.batched:
            # A shared store decides the calls of one loop turn together, with one round trip to
            # Redis: the answer comes later. Meanwhile the placeholder stands as this connection's
            # request in flight, so uvicorn queues any later request behind it (order kept).
            pending = _Pending(self.direct_keep_alive, self._logged())
            self.cycle = pending  # type: ignore[assignment]  # a stand-in with what uvicorn reads of a cycle
            vendor.answer_soon(request, body, lambda answer: self._send_later(request, answer, pending))
            return
        answer = vendor.answer(request, body)
        if answer is None:
            self._hand_over(body)
            return
        self._send(request, answer, self.direct_keep_alive, self._logged() if self.access_log else None)

    def _send_later(self, request: VendorRequest, answer: Answer | None, pending: _Pending) -> None:
        pending.response_complete = True
        if pending.disconnected or self.transport.is_closing():
            return  # the client left: nobody to answer
        if answer is None:
            self.transport.abort()  # a fault dropped the call (journaled)
            return
        self._send(request, answer, pending.keep_alive, pending.logged)

    def _logged(self) -> tuple[str, str, str] | None:
        """What the access log shows of this request (client, target, HTTP version); None without a log."""
        if not self.access_log:
            return None
        return get_client_addr(self.scope), get_path_with_query_string(self.scope), self.scope["http_version"]

    def _send(self, request: VendorRequest, answer: Answer, keep_alive: bool,
              logged: tuple[str, str, str] | None) -> None:
        head = [STATUS_LINE[answer.status]]
        for name, value in [*self.server_state.default_headers, *answer.headers]:
            head += [name, b": ", value, b"\r\n"]
        if not keep_alive:
            head.append(b"connection: close\r\n")
        head += [b"\r\n", answer.content]
        self.transport.write(b"".join(head))
        if logged is not None:
            client, target, http_version = logged
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, request.method, target, http_version,
                                    answer.status)
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _hand_over(self, body: bytes | None) -> None:
        """Give uvicorn a request this protocol has read but declined to answer (with a shared store,
        a fault rule added on another replica turned out to apply): as if uvicorn had read it."""
        HttpToolsProtocol.on_headers_complete(self)
        if body:
            HttpToolsProtocol.on_body(self, body)
        HttpToolsProtocol.on_message_complete(self)

    def shutdown(self) -> None:
        if self.direct is not None:
            # Mid-request: answer it, then close (uvicorn does the same for its own requests).
            self.direct_keep_alive = False
            return
        super().shutdown()


class _Pending:
    """Stands as uvicorn's request cycle while a direct answer waits for its batch (shared store):
    uvicorn queues later requests of the connection behind it, marks it to close at shutdown, and
    marks it disconnected if the client leaves."""

    def __init__(self, keep_alive: bool, logged: tuple[str, str, str] | None) -> None:
        self.keep_alive = keep_alive
        #: Taken now: by the time the answer comes, the protocol's scope may be a later request's.
        self.logged = logged
        self.response_complete = False
        self.disconnected = False
        self.message_event = _NO_EVENT


class _NoEvent:
    def set(self) -> None:
        """uvicorn wakes a cycle's body reader; this one has none."""


_NO_EVENT = _NoEvent()


def protocol_for(mock: MockOmni) -> type[asyncio.Protocol]:
    """The protocol class for uvicorn's ``Config(http=...)``, answering ``mock``'s vendor calls."""
    return type("DirectVendorProtocol", (DirectVendorProtocol,), {"mock": mock})
