"""Injected faults: make matching vendor requests fail, wait, or meet the network faults real clients meet.

A rule matches on method, path pattern (``fnmatch``: ``*`` also crosses ``/``) and
account, and applies to the next ``times`` matching requests, or until cleared when
``times`` is None; with ``probability`` below 1, to that share of them. The first
matching rule with uses left (and a draw in its favour) wins. ``VendorApi`` awaits
``Faults.hook`` after authentication, so a fault can be scoped to one account and an
unauthenticated request is answered 401 as in production.

What a rule does:
- before the call: a delay (``delayMs``, plus up to ``jitterMs`` drawn uniformly);
- instead of the call (nothing is carried out): a status in the vendor's envelope, or a
  connection fault that sends no answer: ``drop`` (close), ``reset`` (a TCP reset: SO_LINGER 0,
  then abort), ``garbage`` (random bytes, then close);
- to the call's real answer (the call is carried out): ``malformed`` (the body made unparseable),
  ``truncate`` (the head and half the body, then close), ``bytesPerSecond`` (the body written
  at that rate). ``shape`` turns the answer into what is sent; its ``wire`` says how to send it.

Every draw (the probability, the jitter, the garbage) comes from the rule's own generator,
seeded by its ``seed`` (or, without one, from the state's entropy: on replicas, from the
admin entry that added it, so every replica holds the same generator). Rules are taken in
the order calls are applied (on replicas: log order), so one seed gives one sequence,
again after a reset and across replicas.

Closing the connection: uvicorn gives an ASGI app no way to close a connection
without a response (returning without one makes it send a 500). So we act on the
request cycle's ``transport`` ourselves: the cycle is ``send.__self__`` or, when a
middleware wrapped ``send``, the owner of the running task's coroutine (uvicorn runs
each request as ``cycle.run_asgi``). Once the transport has reported the loss, uvicorn
sees the cycle disconnected and writes nothing (tested with uvloop and asyncio). In-process
(TestClient, httpx.ASGITransport) there is no connection to close, so drop, reset, garbage
and truncate raise ``ConnectionDropped`` in the client instead (malformed and slow bodies
work there as on a socket).
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
import itertools
import random
import socket
import struct
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..domain import entropy
from ..domain.errors import BY_STATUS, InvalidArgument, OmniError
from .admin_models import FaultIn, validated

if TYPE_CHECKING:
    from ..api.answers import Answer
    from ..api.codecs import Format
    from .journal import Response

MAX_RULES = 1000
#: How often a fault's delay looks whether the server stops.
STOP_POLL = 0.05
#: How many random bytes a garbage fault sends (drawn from the rule's generator).
GARBAGE_SIZES = (16, 256)
#: A slow body is written in parts of about this share of a second of its rate.
SLOW_STEP = 0.05
#: How long closing after a truncated answer waits for the written part to leave before it aborts.
CLOSE_WAIT = 2.0
#: Connection faults that send no answer at all (the call is not carried out).
SILENT = frozenset(("drop", "reset", "garbage"))


class ConnectionDropped(ConnectionError):
    """A fault cut the connection (raised where there is no socket to cut: in-process clients).

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
    #: "drop", "reset", "truncate", "garbage" or None.
    connection: str | None = None
    times: int | None = None
    jitter_ms: int = 0
    malformed: bool = False
    bytes_per_second: int | None = None
    probability: float = 1.0
    seed: int | None = None
    #: How many requests this rule has hit so far.
    hits: int = 0
    _pattern: Callable[[str], bool] = field(init=False, repr=False, compare=False)
    _random: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = self.path
        self._pattern = (lambda path: path == pattern) if not any(c in pattern for c in "*?[") else (
            lambda path: fnmatch.fnmatchcase(path, pattern)
        )
        # Without a seed, one from the state's entropy: on replicas the adding entry's, the same everywhere.
        self._random = random.Random(
            self.seed if self.seed is not None else int.from_bytes(entropy.current().secret(8), "big"))

    @property
    def drop(self) -> bool:
        return self.connection == "drop"

    def matches(self, method: str, path: str, account: str) -> bool:
        return (
            (self.times is None or self.hits < self.times)
            and (self.method is None or self.method == method)
            and (self.account is None or self.account == account)
            and self._pattern(path)
        )

    def draw(self) -> Hit | None:
        """This rule applied to one more matching request (its use counted, its draws made), or None if the
        probability says it sits this one out."""
        rng = self._random
        if self.probability < 1 and rng.random() >= self.probability:
            return None
        self.hits += 1
        delay = self.delay_ms + (rng.uniform(0, self.jitter_ms) if self.jitter_ms else 0.0)
        garbage = rng.randbytes(rng.randint(*GARBAGE_SIZES)) if self.connection == "garbage" else b""
        return Hit(self, delay / 1000, garbage, self.described())

    def described(self) -> str:
        """The rule as a journal's reason names it: its id, what it matches, the uses it has left."""
        left = "no limit" if self.times is None else f"{max(0, self.times - self.hits)} of {self.times} uses left"
        matches = f"{self.method or 'any method'} {self.path}" + (f" of {self.account}" if self.account else "")
        if self.probability < 1:
            matches += f", probability {self.probability:g}"
        return f"fault rule {self.id} ({matches}; {left})"

    def definition(self) -> dict[str, object]:
        """The rule as fixture documents and the state document write it (what POST /__admin/faults takes)."""
        return {
            "method": self.method, "path": self.path, "account": self.account, "status": self.status,
            "message": self.message, "delayMs": self.delay_ms, "jitterMs": self.jitter_ms,
            "connection": self.connection, "malformed": self.malformed, "bytesPerSecond": self.bytes_per_second,
            "probability": self.probability, "seed": self.seed, "times": self.times,
        }

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "method": self.method, "path": self.path, "account": self.account,
            "status": self.status, "message": self.message, "delayMs": self.delay_ms, "jitterMs": self.jitter_ms,
            "drop": self.drop, "connection": self.connection, "malformed": self.malformed,
            "bytesPerSecond": self.bytes_per_second, "probability": self.probability, "seed": self.seed,
            "times": self.times, "hits": self.hits,
            "remaining": None if self.times is None else max(0, self.times - self.hits),
        }


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule taken for one request, with what was drawn for it."""

    fault: Fault
    #: Seconds to wait before the call (delayMs plus the jitter drawn).
    delay: float
    #: What a garbage fault sends.
    garbage: bytes
    #: The rule as it was when taken (its uses left counted then).
    described: str

    @property
    def silent(self) -> bool:
        """Whether no answer is sent at all (the call is not carried out)."""
        return self.fault.connection in SILENT


@dataclass(frozen=True, slots=True)
class Wire:
    """How a faulted answer goes on the wire (``Answer.wire``; None: as usual)."""

    #: "drop", "reset", "garbage" (no answer), "truncate" or "slow".
    kind: str
    garbage: bytes = b""
    #: truncate: how many bytes of the body are sent (of the head, when there is no body).
    cut: int = 0
    bytes_per_second: int = 0


def document_faults(raw: list[dict[str, object]], source: str,
                    origins: list[tuple[str, int]] | None = None) -> tuple[FaultIn, ...]:
    """The ``faults`` of a fixture document, checked as the admin API checks a rule (FixtureError naming the
    field otherwise: in the file and at the index ``origins`` give, if given)."""
    from ..domain.fixtures import FixtureError

    rules = []
    for index, item in enumerate(raw):
        try:
            rules.append(validated(FaultIn, item))
        except InvalidArgument as exc:
            name, messages = next(iter((exc.validation_errors or {"": [exc.text]}).items()))
            where, at = origins[index] if origins is not None and index < len(origins) else (source, index)
            raise FixtureError(where, f"faults[{at}].{name}", messages[0]) from None
    return tuple(rules)


def fault_from_rule(fault_id: int, rule: FaultIn) -> Fault:
    return Fault(fault_id, rule.method, rule.path, rule.account, rule.status, rule.message, rule.delay_ms,
                 "drop" if rule.drop else rule.connection, rule.times, rule.jitter_ms, rule.malformed,
                 rule.bytes_per_second, rule.probability, rule.seed)


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

    def take(self, method: str, path: str, account: str) -> Hit | None:
        """The rule that applies to this request, its use counted and its draws made; None if none does."""
        if not self._rules:
            return None
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path, account):
                    hit = rule.draw()
                    if hit is not None:
                        return hit
        return None

    async def hook(self, method: str, path: str, account: str) -> Hit | None:
        """The rule taken for this request, after its delay."""
        hit = self.take(method, path, account)
        if hit is not None and hit.delay:
            await self._sleep(hit.delay)
        return hit

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


def fault_error(fault: Fault, described: str | None = None) -> OmniError | None:
    """The error a rule answers with (after its delay), None if it answers none; ``described``: the rule as it
    was when taken."""
    if fault.status is None:
        return None
    error: OmniError = BY_STATUS[fault.status]()
    if fault.message:
        error.text = fault.message
    return error.because(f"{described or fault.described()} answered {fault.status}")


# --- what is sent ---------------------------------------------------------------------------


def silent_answer(hit: Hit, fmt: Format) -> Answer:
    """The stand-in for an answer never sent (drop, reset, garbage): status 0, the reason, how to cut."""
    from ..api.answers import Answer

    kind = hit.fault.connection or "drop"
    done = {"drop": "dropped the connection", "reset": "reset the connection (TCP RST)",
            "garbage": f"sent garbage ({len(hit.garbage)} random bytes) and closed the connection"}[kind]
    waited = f" waited {round(hit.delay * 1000)} ms and" if hit.delay else ""
    return Answer(0, b"", fmt, reason=f"{hit.described}{waited} {done}: no answer was sent, the call was not "
                                      "carried out",
                  wire=Wire(kind, garbage=hit.garbage))


def shape(hit: Hit, answer: Answer) -> Answer:
    """The call's real ``answer`` as the rule of ``hit`` has it sent (malformed, truncated, slow), its reason
    naming the rule and all it did: "fault rule 3 (...) waited 250 ms and malformed the body (...); the call
    itself: answered by GET /omni/1/scenarios (operation 'list')"."""
    fault = hit.fault
    doings = [f"waited {round(hit.delay * 1000)} ms"] if hit.delay else []
    base: str | None = answer.reason or ""
    if base is not None and base.startswith(hit.described):  # the rule's status: "... answered 503"
        doings.append(base[len(hit.described):].strip())
        base = None
    content = answer.content
    wire: Wire | None = None
    if fault.malformed:
        if content:
            # Half the document: its root is never closed, so neither JSON nor XML parsers take it.
            content = content[:max(1, len(content) // 2)]
            doings.append(f"malformed the body (its first {len(content)} of {len(answer.content)} bytes: "
                          f"{answer.fmt.upper()} that does not parse)")
        else:
            doings.append(f"had no body to malform (status {answer.status})")
    if fault.connection == "truncate":
        cut = len(content) // 2
        wire = Wire("truncate", cut=cut)
        doings.append(f"truncated the answer: sent the head and {cut} of {len(content)} body bytes, then closed "
                      "the connection" if content else
                      "truncated the answer: sent half the head (the answer has no body), then closed the "
                      "connection: no complete answer")
    elif fault.bytes_per_second is not None:
        wire = Wire("slow", bytes_per_second=fault.bytes_per_second)
        doings.append(f"wrote the body at {fault.bytes_per_second} bytes per second")
    if not doings:
        return answer
    said = doings[0] if len(doings) == 1 else f"{', '.join(doings[:-1])} and {doings[-1]}"
    reason = f"{hit.described} {said}" + (f"; the call itself: {base}" if base else "")
    return dataclasses.replace(answer, content=content, reason=reason, wire=wire)


def as_sent(answer: Answer) -> Response | None:
    """What the journal keeps of a shaped answer: what the client got (None: no answer, status 0)."""
    from .journal import KeptResponse

    wire = answer.wire
    if wire is None or wire.kind == "slow":
        return answer
    if wire.kind == "truncate" and answer.content:
        return KeptResponse(answer.status, answer.content[:wire.cut], answer.headers, answer.reason)
    return None


async def deliver(answer: Answer, send: Callable[..., Awaitable[None]],
                  sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Send ``answer`` through ASGI ``send``, as its ``wire`` says (cutting the connection where it must)."""
    wire = answer.wire
    start = {"type": "http.response.start", "status": answer.status, "headers": answer.headers}
    if wire is None:
        await send(start)
        await send({"type": "http.response.body", "body": answer.content})
        return
    if wire.kind in SILENT:
        await cut_connection(send, wire, answer.reason or "")
        return
    connection = _connection(send)
    if wire.kind == "truncate":
        if connection is None:
            raise ConnectionDropped(answer.reason)
        if not answer.content:
            # No body to cut: half the head, written by hand (uvicorn would write all of it).
            head = _head(answer)
            connection.transport.write(head[:max(1, len(head) // 2)])
        else:
            await send(start)
            await send({"type": "http.response.body", "body": answer.content[:wire.cut], "more_body": True})
        await _close(connection)
        return
    await send(start)
    await _trickle(answer.content, wire.bytes_per_second, send, sleep, connection)


async def _trickle(content: bytes, rate: int, send: Callable[..., Awaitable[None]],
                   sleep: Callable[[float], Awaitable[None]], connection: _Connection | None) -> None:
    """``content`` as body parts at ``rate`` bytes a second from the head: each part once its last byte is due,
    so the whole body has come ``len(content) / rate`` seconds after the head."""
    import anyio  # its clock works under asyncio and trio alike (in-process clients may run either)

    step = max(1, int(rate * SLOW_STEP))
    began = anyio.current_time()
    for offset in range(0, len(content), step):
        end = min(offset + step, len(content))
        wait = began + end / rate - anyio.current_time()
        if wait > 0:
            await sleep(wait)
        if connection is not None and getattr(connection.owner, "disconnected", False):
            return  # the client gave up (its read timeout): nobody to write to
        await send({"type": "http.response.body", "body": content[offset:end], "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _head(answer: Answer) -> bytes:
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE

    return b"".join([STATUS_LINE[answer.status], answer.head(), b"\r\n"])


async def cut_connection(send: Callable[..., Awaitable[None]], wire: Wire, reason: str) -> None:
    """Drop, reset or garbage: no answer, the connection cut (ConnectionDropped where there is none)."""
    connection = _connection(send)
    if connection is None:
        raise ConnectionDropped(reason)
    transport = connection.transport
    if wire.kind == "garbage":
        transport.write(wire.garbage)
        await _close(connection)
        return
    if wire.kind == "reset":
        reset(transport)
    else:
        transport.abort()
    _lost(connection)
    # abort() reports the loss on the next loop turns.
    for _ in range(3):
        await asyncio.sleep(0)


def _lost(connection: _Connection) -> None:
    """Mark the request's cycle disconnected, so uvicorn neither sends its own 500 nor logs an error. The
    transport's loss marks only the connection's newest cycle: with pipelined requests behind this one, that
    is another (this one would end "without starting response": an ERROR and a traceback writing the 500)."""
    if hasattr(connection.owner, "disconnected"):
        connection.owner.disconnected = True


def reset(transport: Any) -> None:
    """A TCP reset: with SO_LINGER on and 0 s, closing the socket sends RST instead of FIN."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (OSError, AttributeError, TypeError):
            pass  # not a TCP socket (a Unix one): an abort, then
    transport.abort()


async def _close(connection: _Connection) -> None:
    """Close once what was written has left (at most CLOSE_WAIT), then wait for uvicorn to see the loss."""
    transport = connection.transport
    transport.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CLOSE_WAIT
    # Until the loss is seen, or what was written has left (the loss may be reported to a pipelined cycle
    # behind this one: _lost).
    while not getattr(connection.owner, "disconnected", True) and _unsent(transport):
        if loop.time() > deadline:
            transport.abort()
            break
        await asyncio.sleep(0.005)
    _lost(connection)
    for _ in range(3):
        await asyncio.sleep(0)


def _unsent(transport: _Transport) -> bool:
    """Whether written bytes still wait in the transport (True if it cannot say)."""
    size = getattr(transport, "get_write_buffer_size", None)
    return not callable(size) or bool(size())


async def drop_connection(send: Callable[..., Awaitable[None]]) -> None:
    """Close the client's connection without a response, if the server gives us one to close."""
    await cut_connection(send, Wire("drop"), "mock-omni fault: connection dropped")


class _Transport(Protocol):
    def abort(self) -> None: ...
    def close(self) -> None: ...
    def write(self, data: bytes) -> None: ...
    def get_extra_info(self, name: str, default: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class _Connection:
    #: uvicorn's request cycle (its ``disconnected`` says the loss was seen).
    owner: object
    transport: _Transport


def _connection(send: Callable[..., Awaitable[None]]) -> _Connection | None:
    """uvicorn's request cycle and transport for this request: from its ``send``, or, when middleware wrapped
    ``send`` (CORS, state file), from the request cycle whose ``run_asgi`` runs the current task."""
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
        # A closing cycle's stand-in (server/http_protocol.py's CloseAfterBody): the real one is its protocol's.
        transport = getattr(getattr(transport, "protocol", None), "transport", transport)
        # Duck-typed: uvloop's transports are not asyncio.Transport subclasses.
        if callable(getattr(transport, "abort", None)) and callable(getattr(transport, "write", None)):
            return _Connection(owner, cast(_Transport, transport))
    return None
