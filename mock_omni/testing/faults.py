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
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, cast

from ..domain.errors import BY_STATUS, InvalidArgument, OmniError
from .admin_models import FaultIn, validated

MAX_RULES = 1000
#: How often a fault's delay looks whether the server stops.
STOP_POLL = 0.05


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

    def described(self) -> str:
        """The rule as a journal's reason names it: its id, what it matches, the uses it has left."""
        left = "no limit" if self.times is None else f"{max(0, self.times - self.hits)} of {self.times} uses left"
        matches = f"{self.method or 'any method'} {self.path}" + (f" of {self.account}" if self.account else "")
        return f"fault rule {self.id} ({matches}; {left})"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "method": self.method, "path": self.path, "account": self.account,
            "status": self.status, "message": self.message, "delayMs": self.delay_ms, "drop": self.drop,
            "times": self.times, "hits": self.hits,
            "remaining": None if self.times is None else max(0, self.times - self.hits),
        }


def fault_from_rule(fault_id: int, rule: FaultIn) -> Fault:
    return Fault(fault_id, rule.method, rule.path, rule.account, rule.status, rule.message, rule.delay_ms, rule.drop,
                 rule.times)


class Faults:
    """The active fault rules of one server. ``hook`` is what VendorApi awaits."""

    def __init__(self, sleep: Callable[[float], Awaitable[None]] | None = None) -> None:
        self._rules: list[Fault] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._sleep = sleep or self.sleep
        #: Set when the server stops: a delay still running ends at once (the held call goes on).
        self._stopping = threading.Event()

    def add(self, rule: FaultIn | Mapping[str, object]) -> Fault:
        """A new rule (admin API JSON, checked here if not already); the first matching one wins."""
        if not isinstance(rule, FaultIn):
            rule = validated(FaultIn, rule)
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise InvalidArgument(f"At most {MAX_RULES} faults at once; clear some first.")
            fault = fault_from_rule(next(self._ids), rule)
            self._rules.append(fault)
            return fault

    @property
    def armed(self) -> bool:
        """Whether any rule may still apply (one whose ``times`` are used up no longer counts)."""
        if not self._rules:  # asked on every request the protocol may answer directly
            return False
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

    async def sleep(self, seconds: float) -> None:
        """A fault's delay: ``seconds``, or less if the server stops meanwhile (``stop``), so a held call never
        keeps a stopping server waiting (nor is cut off with a traceback)."""
        import anyio  # on first delay only; anyio's sleep works under asyncio and trio alike

        deadline = anyio.current_time() + seconds
        while not self._stopping.is_set():
            remaining = deadline - anyio.current_time()
            if remaining <= 0:
                return
            await anyio.sleep(min(STOP_POLL, remaining))

    def stop(self) -> None:
        """The server stops: delays running now end at once, later ones are not waited."""
        self._stopping.set()


async def apply_fault(fault: Fault | None, sleep: Callable[[float], Awaitable[None]]) -> None:
    """What a rule does to the request it was taken for: wait, then drop it or answer an error."""
    if fault is None:
        return
    if fault.delay_ms:
        await sleep(fault.delay_ms / 1000)
    if fault.drop:
        raise ConnectionDropped(f"{fault.described()} dropped the connection: no answer was sent")
    error = fault_error(fault)
    if error is not None:
        raise error


def fault_error(fault: Fault) -> OmniError | None:
    """The error a rule answers with (after its delay), None if it answers none."""
    if fault.status is None:
        return None
    error: OmniError = BY_STATUS[fault.status]()
    if fault.message:
        error.text = fault.message
    return error.because(f"{fault.described()} answered {fault.status}")


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
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not asyncio (trio, in-process): there is no uvicorn transport either
        task = None
    frame = getattr(task.get_coro(), "cr_frame", None) if task is not None else None
    if frame is not None:
        owners.append(frame.f_locals.get("self"))
    for owner in owners:
        transport = getattr(owner, "transport", None)
        # Duck-typed: uvloop's transports are not asyncio.Transport subclasses.
        if callable(getattr(transport, "abort", None)):
            return cast(_Abortable, transport)
    return None
