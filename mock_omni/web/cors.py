"""CORS for browser apps on other local origins, as a pure-ASGI middleware around the whole app.

Only requests that carry an ``Origin`` header are touched: curl, SDKs and test
clients get exactly the headers the vendor would send, and the hot path pays one
scan of the header list. Preflights (``OPTIONS`` with ``Access-Control-Request-Method``)
from an allowed origin are answered here; from any other origin they go on to the
app, which answers like it would without CORS.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..testing import ADMIN_PREFIX
from ..vendor.api import Message, Receive, Scope, Send

ASGIApp = Any

#: ``--cors-origin`` values with a meaning of their own.
LOCAL = "local"
ANY = "*"
OFF = ("off", "none")
#: http(s) on localhost, 127.0.0.1 or [::1], any port: the default.
LOCAL_ORIGIN = re.compile(r"^https?://(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$")

ALLOW_METHODS = b"GET, POST, PUT"
ALLOW_HEADERS = b"Authorization, Content-Type, Accept"
#: mock-omni's own API (``/__admin``) also deletes, and takes the admin token.
ADMIN_METHODS = b"GET, POST, PUT, DELETE"
ADMIN_HEADERS = b"Authorization, Content-Type, Accept, X-Admin-Token"
MAX_AGE = b"600"


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


class CorsMiddleware:
    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = preflight_method = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                preflight_method = value
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self.policy.allows(origin.decode("latin-1"))
        if allowed and preflight_method is not None and scope["method"] == "OPTIONS":
            await _preflight(send, origin, scope["path"].startswith(ADMIN_PREFIX + "/"))
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


async def _preflight(send: Send, origin: bytes, admin: bool) -> None:
    headers = [
        (b"access-control-allow-origin", origin),
        (b"access-control-allow-methods", ADMIN_METHODS if admin else ALLOW_METHODS),
        (b"access-control-allow-headers", ADMIN_HEADERS if admin else ALLOW_HEADERS),
        (b"access-control-max-age", MAX_AGE),
        (b"vary", b"Origin"),
        (b"content-length", b"0"),
    ]
    await send({"type": "http.response.start", "status": 204, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
