"""The request journal: what the vendor API received and answered, newest last, bounded in size.

Recording is cheap (one tuple appended to a deque); masking credentials (the
Authorization header, secrets in bodies and queries: redaction.py) and decoding
bodies happen only when someone reads the journal.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, Protocol

from . import ADMIN_TOKEN_HEADER
from .redaction import redact_body, redact_query

DEFAULT_LIMIT = 1000
# uvicorn takes header values of any length, and bodies of up to 1 MiB are read: the journal keeps
# the first 8 KiB of each header value and 64 KiB of each body, so its bound in entries is also a
# bound in memory (1000 entries of 1 MiB bodies would otherwise pin a gigabyte).
MAX_HEADER_VALUE = 8192
MAX_BODY_KEPT = 64 * 1024
#: Characters of a reason kept (it may quote what the caller sent: an Accept header, a username, a client_id).
MAX_REASON = 4096
_SECRET_HEADERS = {"authorization", "proxy-authorization", "cookie", ADMIN_TOKEN_HEADER}


class Response(Protocol):
    """What the journal keeps of an answer (api/answers.py's ``Answer``): as the client got it, and why."""

    @property
    def status(self) -> int: ...

    @property
    def content(self) -> bytes: ...

    @property
    def headers(self) -> list[tuple[bytes, bytes]]: ...

    @property
    def reason(self) -> str | None: ...


class KeptResponse(NamedTuple):
    """An answer whose body was over ``MAX_BODY_KEPT``: its headers as sent, the first part of its body."""

    status: int
    content: bytes
    headers: list[tuple[bytes, bytes]]
    reason: str | None


class Entry(NamedTuple):
    """One call. A named tuple: immutable, and a third of a frozen dataclass's cost to make (hot path)."""

    timestamp: float
    method: str
    path: str
    query: str
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    status: int
    account: str | None
    #: The answer as the client got it (None: none was sent, status 0).
    response: Response | None = None
    #: Why no answer was sent, when none was.
    why: str | None = None

    @property
    def content_type(self) -> str | None:
        return _header(self.headers, b"content-type")

    @property
    def reason(self) -> str | None:
        """One sentence: why this answer (what refused the call, or which operation answered it)."""
        return self.response.reason if self.response is not None else self.why

    def to_dict(self) -> dict[str, object]:
        response = self.response
        return {
            "timestamp": self.timestamp,
            "method": self.method,
            "path": self.path,
            "query": redact_query(self.query),
            "headers": {name.decode("latin-1"): _masked(name, value) for name, value in self.headers},
            "body": redact_body(self.body, self.content_type),
            "status": self.status,
            "account": self.account,
            "response": None if response is None else {
                "status": response.status,
                "headers": {name.decode("latin-1"): _answered(name, value) for name, value in response.headers},
                "body": redact_body(response.content, _header(response.headers, b"content-type")),
            },
            "reason": self.reason,
        }


def bounded(reason: str | None) -> str | None:
    """A reason of at most ``MAX_REASON`` characters: the values it quotes come from the caller (a header, a
    username, a path) and may be as long as a request allows."""
    if reason is None or len(reason) <= MAX_REASON:
        return reason
    return f"{reason[:MAX_REASON - 40]}... ({len(reason) - MAX_REASON + 40} more characters)"


def _header(headers: tuple[tuple[bytes, bytes], ...] | list[tuple[bytes, bytes]], wanted: bytes) -> str | None:
    return next((value.decode("latin-1") for name, value in headers if name.lower() == wanted), None)


def _masked(name: bytes, value: bytes) -> str:
    text = value.decode("latin-1")
    if name.lower().decode("latin-1") not in _SECRET_HEADERS:
        return text
    scheme, _, secret = text.partition(" ")
    return f"{scheme} ***" if secret else "***"


def _answered(name: bytes, value: bytes) -> str:
    """A response header as the journal shows it: a cookie set (an upstream's session, through ``mock-omni
    record``) keeps its name and attributes and loses its value."""
    text = value.decode("latin-1")
    if name.lower() != b"set-cookie":
        return text
    cookie, semicolon, attributes = text.partition(";")
    cookie_name, equals, _ = cookie.partition("=")
    return f"{cookie_name}{equals}***{semicolon}{attributes}" if equals else "***"


def kept(headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[tuple[tuple[bytes, bytes], ...], bytes]:
    """What an entry keeps of a request's headers and body (both bounded)."""
    names = tuple(headers)
    if any(len(value) > MAX_HEADER_VALUE for _, value in names):
        names = tuple((name, value[:MAX_HEADER_VALUE]) for name, value in names)
    return names, body[:MAX_BODY_KEPT] if len(body) > MAX_BODY_KEPT else body


class Journal:
    def __init__(self, limit: int = DEFAULT_LIMIT, wall_clock: Callable[[], float] = time.time) -> None:
        self._entries: deque[Entry] = deque(maxlen=max(0, limit))
        self._lock = threading.Lock()
        self._wall_clock = wall_clock
        #: How many entries were recorded since the last whole reset (the bound drops the oldest).
        self.recorded = 0

    @property
    def limit(self) -> int:
        return self._entries.maxlen or 0

    def record(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
        body: bytes, response: Response | None, account: str | None, why: str | None = None,
    ) -> None:
        """One call and its ``response`` (None: none was sent, ``why`` says why)."""
        # Inline, not kept(): recording is on the hot path of the memory store (a loop, not any() over a
        # generator: half the cost for a handful of headers).
        names = tuple(headers)
        for _, value in names:
            if len(value) > MAX_HEADER_VALUE:
                names = tuple((name, value[:MAX_HEADER_VALUE]) for name, value in names)
                break
        if len(body) > MAX_BODY_KEPT:
            body = body[:MAX_BODY_KEPT]
        status = 0
        if response is not None:
            status = response.status
            reason = response.reason
            if len(response.content) > MAX_BODY_KEPT or (reason is not None and len(reason) > MAX_REASON):
                response = KeptResponse(status, response.content[:MAX_BODY_KEPT], response.headers, bounded(reason))
        if why is not None and len(why) > MAX_REASON:
            why = bounded(why)
        entry = Entry(self._wall_clock(), method, path, query.decode("latin-1"), names, body, status, account,
                      response, why)
        with self._lock:
            self._entries.append(entry)
            self.recorded += 1

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self, account: str | None = None) -> None:
        with self._lock:
            if account is None:
                self._entries.clear()
                # A whole reset starts the count again (the dashboard's "recorded in all").
                self.recorded = 0
            else:
                kept = [entry for entry in self._entries if entry.account != account]
                self._entries.clear()
                self._entries.extend(kept)
