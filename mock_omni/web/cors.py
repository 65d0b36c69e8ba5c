"""CORS for browser apps on other local origins, as a pure-ASGI middleware around the whole app.

Only requests that carry an ``Origin`` header are touched: curl, SDKs and test
clients get exactly the headers the vendor would send, and the hot path pays one
scan of the header list. Preflights (``OPTIONS`` with ``Access-Control-Request-Method``)
from an allowed origin are answered here; from any other origin they go on to the
app, which answers like it would without CORS.

A preflight from an allowed origin may ask for any request headers: browser apps
send tracing and correlation headers (``X-Request-Id``, ``traceparent``, ``tracestate``,
``sentry-trace``, ``baggage``) the mock has no reason to refuse. The names asked for are
allowed back if each is a valid header name and the list is of sane size; otherwise only
the headers the API itself reads are allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api.routes import OPERATIONS
from ..testing import ADMIN_PREFIX

#: ``--cors-origin`` values with a meaning of their own.
LOCAL = "local"
ANY = "*"
OFF = ("off", "none")
#: http(s) on localhost, 127.0.0.1 or [::1], any port: the default.
LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$")

#: The methods of the vendor's operations (the route table): a browser app ends its session with DELETE too.
ALLOW_METHODS = ", ".join(method for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
                          if any(operation.method == method for operation in OPERATIONS)).encode()
ALLOW_HEADERS = b"Authorization, Content-Type, Accept"
#: mock-omni's own API (``/__admin``) also deletes, and takes the admin token.
ADMIN_METHODS = b"GET, POST, PUT, DELETE"
ADMIN_HEADERS = b"Authorization, Content-Type, Accept, X-Admin-Token"
MAX_AGE = b"600"
#: A header name is an RFC 9110 token.
HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: The local origins as CSP sources (``frame-ancestors``): CSP's grammar has no IPv6 literal, so [::1] is left out.
LOCAL_FRAME_SOURCES = ("http://localhost:*", "https://localhost:*", "http://127.0.0.1:*", "https://127.0.0.1:*")
#: An exact origin that is a valid CSP source (a stray ``;`` or ``,`` would start another directive).
FRAME_SOURCE = re.compile(r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$")
#: Bounds on what a preflight may ask for: browsers send one short line of the names a script set.
MAX_REQUESTED_HEADERS = 64
MAX_REQUESTED_LENGTH = 2048


class OriginPolicy:
    """Which origins may call: ``local`` (the default), ``*``, exact origins; ``off`` for none."""

    def __init__(self, specs: Iterable[str] | None = None) -> None:
        specs = [LOCAL] if specs is None else [spec.strip() for spec in specs if spec.strip()]
        self.enabled = bool(specs) and not any(spec.lower() in OFF for spec in specs)
        self.local = LOCAL in specs
        self.any = ANY in specs
        self.exact = {spec.rstrip("/") for spec in specs if spec not in (LOCAL, ANY) and spec.lower() not in OFF}
        for origin in self.exact:
            if not re.match(r"^https?://[^/\s]+$", origin):
                raise ValueError(f"--cors-origin: {origin!r} is not an origin like http://host:port, "
                                 f"'{LOCAL}', '{ANY}' or 'off'")

    def allows(self, origin: str) -> bool:
        return self.any or origin in self.exact or (self.local and LOCAL_ORIGIN.match(origin) is not None)

    def frame_ancestors(self) -> str | None:
        """The Content-Security-Policy of the mock's own pages (dashboard, docs): which pages may frame them.

        A page on another site that frames the dashboard can have a visitor click its Reset button under a
        decoy (clickjacking): a same-origin request the admin API's guard lets through. So only the pages that
        may already call the admin API may frame it: its own origin and those ``--cors-origin`` allows (None
        with ``*``: any page)."""
        if self.enabled and self.any:
            return None
        sources = ["'self'"]
        if self.enabled:
            sources += LOCAL_FRAME_SOURCES if self.local else ()
            sources += sorted(origin for origin in self.exact if FRAME_SOURCE.match(origin))
        return "frame-ancestors " + " ".join(sources)


class CorsMiddleware:
    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = preflight_method = None
        requested: list[bytes] = []
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight_method = value
            elif name == b"access-control-request-headers":
                requested.append(value)
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.policy.allows(origin.decode("latin-1"))
        if allowed and preflight_method is not None and scope["method"] == "OPTIONS":
            admin = scope["path"].startswith(ADMIN_PREFIX + "/")
            await _preflight(send, origin, admin, allowed_headers(ADMIN_HEADERS if admin else ALLOW_HEADERS,
                                                                  b",".join(requested)))
            return
        if not allowed:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(n, v) for n, v in message.get("headers", ()) if n.lower() != b"vary"]
                vary = [v for n, v in message.get("headers", ()) if n.lower() == b"vary"]
                headers.append((b"access-control-allow-origin", origin))
                headers.append((b"vary", b", ".join([*vary, b"Origin"])))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)


def allowed_headers(base: bytes, requested: bytes) -> bytes:
    """``base`` and the header names a preflight asked for (``Access-Control-Request-Headers``),
    each once; just ``base`` when the request is not a list of valid names within the bounds."""
    if not requested.strip() or len(requested) > MAX_REQUESTED_LENGTH:
        return base
    # A list in RFC 9110 may hold empty elements; browsers send lowercase names separated by commas.
    names = [name for name in (part.strip(b" \t") for part in requested.split(b",")) if name]
    if len(names) > MAX_REQUESTED_HEADERS or not all(HEADER_NAME.fullmatch(name) for name in names):
        return base
    allowed = base.split(b", ")
    seen = {name.lower() for name in allowed}
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            allowed.append(name)
    return b", ".join(allowed)


async def _preflight(send: Send, origin: bytes, admin: bool, headers_allowed: bytes) -> None:
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", ADMIN_METHODS if admin else ALLOW_METHODS),
        (b"access-control-allow-headers", headers_allowed),
        (b"access-control-max-age", MAX_AGE),
        # The answer depends on the headers asked for too: a cache must not give it to another preflight.
        (b"vary", b"Origin, Access-Control-Request-Headers"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
