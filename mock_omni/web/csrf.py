"""The admin API is out of reach of pages on other sites (cross-site request forgery), as a pure-ASGI middleware.

A page on any site may make a browser send a "simple" request to the mock without asking it first
(no preflight): a form post, or ``fetch`` with a ``text/plain`` body, and its ``Origin`` says
where it came from. The browser then hides the answer from the page, but the change is made. So
on ``/__admin``:

- a request whose ``Origin`` is neither the mock's own (same origin: the dashboard) nor allowed by
  the CORS policy (``--cors-origin``) is refused, whatever its method and whether or not it has a
  body; so is one without ``Origin`` that the browser marks ``Sec-Fetch-Site: cross-site`` (a GET
  from an ``<img>`` or a link on another site);
- a body must be ``application/json`` (parameters such as ``charset`` allowed): a page can only
  send that type cross-origin after a preflight, which only allowed origins pass. Anything else
  with a body is 415.

Both answers are the vendor's error envelope in JSON, refused before the admin API (or a replicas'
log) sees the request. Requests without ``Origin`` (curl, SDKs, the pytest plugin, servers) are
judged by their body alone. The vendor's own paths are not touched: the vendor's API has no such
rules, and a mock kinder or stricter than the vendor is a bug.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.answers import error_answer
from ..api.codecs import JSON
from ..domain.errors import Forbidden, OmniError, UnsupportedMediaType
from ..settings import BY_NAME
from ..testing import ADMIN_PREFIX, PUSH_USER_AGENT
from .cors import OriginPolicy

JSON_MEDIA_TYPE = "application/json"
_CORS = BY_NAME["cors_origins"]
_PUSH = PUSH_USER_AGENT.encode()
#: The ports an origin leaves out: ``http://mock`` is ``Host: mock`` as well as ``Host: mock:80``.
DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def same_origin(origin: str, host: bytes | None) -> bool:
    """Whether ``origin`` is the mock's own: its authority is the ``Host`` the request was sent to (a Host the
    host policy allowed, so a page whose name was rebound to the mock never gets this far)."""
    scheme, separator, authority = origin.partition("://")
    if not separator or host is None or scheme not in DEFAULT_PORTS:
        return False
    given = host.decode("latin-1").strip().lower()
    authority = authority.lower()
    default = DEFAULT_PORTS[scheme]
    return authority in (given, given.removesuffix(default)) or authority + default == given


class AdminGuard:
    """403 to a browser's cross-origin request on ``/__admin`` whose origin is not allowed; 415 to a body that
    is not JSON there. Other paths pass untouched."""

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] == ADMIN_PREFIX or scope["path"].startswith(ADMIN_PREFIX + "/")):
            error = self.refusal(scope["headers"])
            if error is not None:
                answer = error_answer(error, JSON)
                await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
                await send({"type": "http.response.body", "body": answer.content})
                return
        await self.app(scope, receive, send)

    def refusal(self, headers: list[tuple[bytes, bytes]]) -> OmniError | None:
        """Why these headers may not reach the admin API, or None."""
        origin = host = fetch_site = None
        body = False
        types: list[bytes] = []
        for name, value in headers:
            if name == b"origin":
                origin = value
            elif name == b"host":
                host = value
            elif name == b"sec-fetch-site":
                fetch_site = value
            elif name == b"content-type":
                types.append(value)
            elif name == b"content-length":
                body = body or value.strip() != b"0"
            elif name == b"transfer-encoding":
                body = True
            elif name == b"user-agent" and value == _PUSH:
                return Forbidden("A report pushed by mock-omni may not call the admin API (its notifyUrl reached "
                                 "the admin API, through a proxy or an address that forwards here)")
        if origin is not None:
            shown = origin.decode("latin-1")
            if not (same_origin(shown, host) or (self.policy.enabled and self.policy.allows(shown))):
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                return Forbidden(f"Origin {shown!r} may not call the admin API: allow it with "
                                 f"{_CORS.flag} {shown} or {_CORS.env}={shown}")
        elif fetch_site is not None and fetch_site.strip().lower() == b"cross-site":
            return Forbidden(f"A cross-site browser request without Origin may not call the admin API "
                             f"({_CORS.flag} or {_CORS.env} allow origins, which browsers name in Origin)")
        if body and (len(types) != 1 or not is_json(types[0])):
            given = f"not {types[0].decode('latin-1')[:80]!r}" if len(types) == 1 else (
                "and this one has no Content-Type" if not types else "and this one has several Content-Types")
            return UnsupportedMediaType(f"The admin API takes {JSON_MEDIA_TYPE} bodies only, {given}")
        return None


def is_json(content_type: bytes) -> bool:
    """``application/json``, with parameters or not (``; charset=utf-8``), in any case."""
    return content_type.split(b";", 1)[0].strip().lower() == JSON_MEDIA_TYPE.encode()
