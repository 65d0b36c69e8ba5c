"""Injected faults: make matching vendor requests fail, wait, or lose their connection.

A rule matches on method, path pattern (``fnmatch``: ``*`` also crosses ``/``) and
account, and applies to the next ``times`` matching requests, or until cleared when
``times`` is None. The first matching rule with uses left wins. ``VendorApi`` awaits
``Faults.hook`` after authentication, so a fault can be scoped to one account and an
unauthenticated request is answered 401 as in production.

Dropping the connection: uvicorn gives an ASGI app no way to close a connection
without a response (returning without one makes it send a 500). So we abort the
request cycle's ``transport`` ourselves: the cycle is ``send.__self__`` or, when a
middleware wrapped ``send``, the owner of the running task's coroutine (uvicorn runs
each request as ``cycle.run_asgi``). Once the transport has reported the loss, uvicorn
sees the cycle disconnected and writes nothing (tested with uvloop and asyncio). The
client sees the connection closed with no response, as when a load balancer drops
it. In-process (TestClient, httpx.ASGITransport) there is no connection to close, so
the request raises ``ConnectionDropped`` in the client instead.
"""

from __future__ import annotations

import asyncio
import fnmatch
import itertools
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, cast

from ..domain.errors import BY_STATUS, InvalidArgument, OmniError

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
MAX_DELAY_MS = 60_000
MAX_RULES = 1000


class ConnectionDropped(ConnectionError):
    """A fault dropped the connection (raised where there is no socket to close).

    Not a ConnectionAbortedError: that one means the client left, which VendorApi handles apart.
    """


@dataclass
class Fault:
    id: int
    method: str | None = None
    path: str = "*"
    account: str | None = None
    status: int | None = None
    message: str | None = None
    delay_ms: int = 0
    drop: bool = False
    times: int | None = None
    #: How many requests this rule has hit so far.
    hits: int = 0
    _pattern: Callable[[str], bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = self.path
        self._pattern = (lambda path: path == pattern) if not any(c in pattern for c in "*?[") else (
            lambda path: fnmatch.fnmatchcase(path, pattern)
        )

    def matches(self, method: str, path: str, account: str) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.method is None or self.method == method)
            and (self.account is None or self.account == account)
            and self._pattern(path)
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "method": self.method, "path": self.path, "account": self.account,
            "status": self.status, "message": self.message, "delayMs": self.delay_ms, "drop": self.drop,
            "times": self.times, "hits": self.hits,
            "remaining": None if self.times is None else max(0, self.times - self.hits),
        }


def fault_from_data(data: dict[str, object], fault_id: int) -> Fault:
    """A rule from the admin API's JSON, every field checked; errors name the field."""
    errors: dict[str, list[str]] = {}
    known = {"method", "path", "account", "status", "message", "delayMs", "drop", "times"}
    for name in sorted(set(data) - known):
        errors[name] = ["unknown field"]
    method = data.get("method")
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        errors["method"] = [f"must be one of {', '.join(METHODS)}"]
    path = data.get("path", "*")
    if not isinstance(path, str) or not path:
        errors["path"] = ["must be a non-empty pattern such as /omni/1/scenarios/*"]
    account = data.get("account")
    if account is not None and not isinstance(account, str):
        errors["account"] = ["must be a username"]
    status = data.get("status")
    if status is not None and (type(status) is not int or status not in BY_STATUS):
        errors["status"] = [f"must be one of {', '.join(map(str, sorted(BY_STATUS)))}"]
    message = data.get("message")
    if message is not None and (not isinstance(message, str) or not message):
        errors["message"] = ["must be a non-empty string"]
    delay = data.get("delayMs", 0)
    if type(delay) is not int or not 0 <= delay <= MAX_DELAY_MS:
        errors["delayMs"] = [f"must be an integer from 0 to {MAX_DELAY_MS}"]
    drop = data.get("drop", False)
    if not isinstance(drop, bool):
        errors["drop"] = ["must be true or false"]
    times = data.get("times")
    if times is not None and (type(times) is not int or times < 1):
        errors["times"] = ["must be a positive integer, or null for until cleared"]
    if not errors and status is None and not drop and not delay:
        errors["status"] = ["give a status, delayMs or drop"]
    if not errors and status is not None and drop:
        errors["drop"] = ["cannot be combined with status"]
    if errors:
        raise InvalidArgument(validation_errors=errors)
    return Fault(
        fault_id, method.upper() if isinstance(method, str) else None, str(path),
        account if isinstance(account, str) else None, status if isinstance(status, int) else None,
        message if isinstance(message, str) else None, delay if isinstance(delay, int) else 0, drop is True,
        times if isinstance(times, int) else None,
    )


class Faults:
    """The active fault rules of one server. ``hook`` is what VendorApi awaits."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sleep = sleep

    def add(self, data: dict[str, object]) -> Fault:
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise InvalidArgument(f"At most {MAX_RULES} faults at once; clear some first.")
            fault = fault_from_data(data, next(self._ids))
            self._rules.append(fault)
            return fault

    @property
    def armed(self) -> bool:
        """Whether any rule may still apply (one whose ``times`` are used up no longer counts)."""
        return any(rule.times is None or rule.hits < rule.times for rule in self._rules)

    def rules(self, account: str | None = None) -> list[Fault]:
        with self._lock:
            return [rule for rule in self._rules if account is None or rule.account == account]

    def clear(self, account: str | None = None) -> int:
        """Remove every rule (or one account's); returns how many were removed."""
        with self._lock:
            kept = [] if account is None else [rule for rule in self._rules if rule.account != account]
            removed = len(self._rules) - len(kept)
            self._rules = kept
            return removed

    def take(self, method: str, path: str, account: str) -> Fault | None:
        """The rule that applies to this request, its use counted; None if none does."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, account):
                    rule.hits += 1
                    return rule
        return None

    async def hook(self, method: str, path: str, account: str) -> None:
        await apply_fault(self.take(method, path, account), self._sleep)


async def apply_fault(fault: Fault | None, sleep: Callable[[float], Awaitable[None]]) -> None:
    """What a rule does to the request it was taken for: wait, then drop it or answer an error."""
    if fault is None:
        return
    if fault.delay_ms:
        await sleep(fault.delay_ms / 1000)
    if fault.drop:
        raise ConnectionDropped("mock-omni fault: connection dropped")
    if fault.status is not None:
        error: OmniError = BY_STATUS[fault.status]()
        if fault.message:
            error.text = fault.message
        raise error


async def drop_connection(send: Callable[..., Awaitable[None]]) -> None:
    """Close the client's connection without a response, if the server gives us one to close."""
    transport = _server_transport(send)
    if transport is None:
        raise ConnectionDropped("mock-omni fault: connection dropped")
    transport.abort()
    # abort() reports the loss on the next loop turns; after that uvicorn's cycle is
    # "disconnected" and it neither sends its own 500 nor logs an error.
    for _ in range(3):
        await asyncio.sleep(0)


class _Abortable(Protocol):
    def abort(self) -> None: ...


def _server_transport(send: Callable[..., Awaitable[None]]) -> _Abortable | None:
    """uvicorn's transport for this request: from its ``send``, or, when middleware wrapped ``send``
    (CORS, state file), from the request cycle whose ``run_asgi`` runs the current task."""
    owners: list[object] = [getattr(send, "__self__", None)]
    task = asyncio.current_task()
    frame = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
    if frame is not None:
        owners.append(frame.f_locals.get("self"))
    for owner in owners:
        transport = getattr(owner, "transport", None)
        # Duck-typed: uvloop's transports are not asyncio.Transport subclasses.
        if callable(getattr(transport, "abort", None)):
            return cast(_Abortable, transport)
    return None
