"""Which ``Host`` a request may name: the guard against DNS rebinding, as a pure-ASGI middleware.

A page on ``http://evil.example:8080`` whose name the attacker then points at 127.0.0.1 is, to the
browser, same-origin with the mock: it could read the accounts, the journal and the dashboard's
summary. Its requests still say ``Host: evil.example:8080``, so a server that answers only the
names it knows is out of reach (Vite's ``server.allowedHosts``, webpack-dev-server's ``allowedHosts``).

Always allowed: loopback names (``localhost``, ``*.localhost``), any IP literal (``127.0.0.1``,
``[::1]``, ``10.0.0.5``: an attacker cannot make a browser send one for a name of theirs), the name
given to ``--host`` when it is a name, and a request with no ``Host`` at all (HTTP/1.0). Others come
from ``--allowed-host`` / ``MOCK_OMNI_ALLOWED_HOSTS``: exact names, ``.example.com`` for that name and
its subdomains, ``all`` or ``*`` for any.

The policy is checked where a request comes in over a socket: here, for the ASGI stack, and in
server/http_protocol.py, whose direct answers leave a request with another Host to this middleware.
Decisions are cached per ``Host`` value (bounded: a client sending endless names only refills it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from ..api.answers import error_answer
from ..api.codecs import JSON
from ..domain.errors import Forbidden
from ..settings import ALL_HOSTS, BY_NAME

#: Decisions kept per Host value before the cache starts again.
CACHE_SIZE = 1024
#: Longer Host values are never cached (nor allowed, unless any is).
MAX_HOST = 300
FLAG = BY_NAME["allowed_hosts"].flag
VARIABLE = BY_NAME["allowed_hosts"].env


def host_name(value: str) -> str | None:
    """The name or address of a ``Host`` value, lower case, without its port or a trailing dot; None if
    the value is no host at all."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        if end < 0 or value[end + 1:] and not re.fullmatch(r":\d{0,5}", value[end + 1:]):
            return None
        return value[:end + 1]
    name, colon, port = value.rpartition(":")
    if colon:
        if not re.fullmatch(r"\d{0,5}", port):
            return None
        value = name
    return value.rstrip(".") if value not in (".", "") else None


def is_ip_literal(name: str) -> bool:
    """``127.0.0.1``, ``[::1]``: an address, not a name anyone can point elsewhere."""
    try:
        ipaddress.ip_address(name[1:-1] if name.startswith("[") and name.endswith("]") else name)
    except ValueError:
        return False
    return True


class HostPolicy:
    """Which ``Host`` values may be answered (see the module docstring); ``allows`` is the one check."""

    def __init__(self, specs: Iterable[str] = (), bound: str | None = None) -> None:
        # Checked by settings.py (``allowed_hosts``): names, ``.domain`` or ``all``/``*``.
        specs = [spec.strip().lower() for spec in specs if spec.strip()]
        self.any = any(spec in ALL_HOSTS for spec in specs)
        names = [spec.rstrip(".") for spec in specs if spec not in ALL_HOSTS]
        if bound and not is_ip_literal(bound) and host_name(bound):
            names.append(host_name(bound) or "")
        #: Exact names, and the names whose subdomains are allowed too (``.example.com``: ``example.com``).
        self.exact = frozenset(name for name in names if not name.startswith("."))
        self.domains = tuple(name[1:] for name in names if name.startswith("."))
        self._decided: dict[bytes, bool] = {}

    def allows(self, host: bytes | None) -> bool:
        """Whether a request with this ``Host`` header value (None: none sent) may be answered."""
        if host is None or self.any:
            return True
        decided = self._decided.get(host)
        if decided is None:
            decided = self._decide(host)
            if len(host) <= MAX_HOST:
                if len(self._decided) >= CACHE_SIZE:
                    self._decided.clear()
                self._decided[host] = decided
        return decided

    def _decide(self, host: bytes) -> bool:
        if not host.strip():
            return True  # an empty Host: a request target with no authority (RFC 9110 section 7.2)
        if len(host) > MAX_HOST:
            return False
        name = host_name(host.decode("latin-1"))
        if name is None:
            return False
        if name == "localhost" or name.endswith(".localhost") or is_ip_literal(name) or name in self.exact:
            return True
        return any(name == domain or name.endswith("." + domain) for domain in self.domains)

    @staticmethod
    def refusal(host: bytes) -> Forbidden:
        """The 403 for a Host the policy does not allow: one line naming the host, the flag and the variable."""
        shown = host.decode("latin-1")
        name = host_name(shown) or shown
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        return Forbidden(f"Host {shown!r} is not allowed (DNS rebinding protection): allow it with "
                         f"{FLAG} {name[:80]} or {VARIABLE}={name[:80]}")


class HostMiddleware:
    """Answers 403 (the vendor's envelope) to a request whose ``Host`` the policy does not allow."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"host" and not self.policy.allows(value):
                    answer = error_answer(self.policy.refusal(value), JSON)
                    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
                    await send({"type": "http.response.body", "body": answer.content})
                    return
        await self.app(scope, receive, send)
