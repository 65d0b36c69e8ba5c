"""The vendor API of a replica: each call is an entry of the log, answered once it is applied.

Applying an entry runs the memory dispatcher's own steps (``VendorApi.admit`` and ``perform``) with
the fault rules taken in between, as in memory (in log order, so a rule's draws, such as its
probability's, are one sequence across replicas). What a fault does on the wire (wait, drop, reset,
garbage, truncate, a slow body) is done by the replica that took the call, after the state changed:
the state changes when the call reaches the log, where memory changes it after the wait.

Calls answered in uvicorn's protocol (``answer_soon``) are sent to Redis together, one append for
all the calls of one turn of the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from ..api.answers import Answer, error_answer
from ..api.codecs import JSON
from ..api.dispatcher import Exchange, VendorApi, VendorRequest, read_body
from ..testing.faults import Hit, deliver, drop_connection
from .entries import RESUME, VENDOR, Entry
from .log import StoreUnavailable
from .replica import Failed

if TYPE_CHECKING:
    from ..state import FaultRules
    from .replica import Replica

#: What applying a call gives: its answer (None: drop the connection), the seconds to wait first, and the
#: key of a call held by a delay fault (its rest is applied after the wait: ``RESUME``).
Outcome = tuple[Answer | None, float, str | None]


class ReplicatedVendorApi(VendorApi):
    batched = True
    replica: Replica
    faults: FaultRules

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: list[tuple[Entry, VendorRequest, Callable[[Answer | None], None]]] = []
        #: Calls held by a delay fault, until their ``RESUME`` entry.
        self._held: dict[str, tuple[Exchange, VendorRequest, Hit, bytes, int | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The ticket is where the log ends (a round trip: fence.py), taken only for a body that arrives in parts
        # (a reset meanwhile drops the call), when its first part says more is coming.
        ticket: int | None = None
        parts = 0

        async def counted() -> Any:
            nonlocal parts, ticket
            parts += 1
            message = await receive()
            if parts == 1 and message.get("more_body", False):
                ticket = self.fence.ticket()
            return message

        request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], scope["headers"])
        try:
            body = await read_body(counted, request.content_length, self.max_body)
        except ConnectionAbortedError:
            return  # the client left mid-body: nobody to answer, nothing was done
        answer, wait, held = self._send(request, [self._entry(request, body, ticket)])[0]
        if wait:
            await self.faults.sleep(wait)  # ends early when the server stops
        if held is not None:
            answer, _, _ = self._send(request, [self.replica.entry(RESUME, extra={"held": held})])[0]
        if answer is None:
            await drop_connection(send)
            return
        await deliver(answer, send, self.faults.sleep)

    def answer(self, request: VendorRequest, body: bytes | None, ticket: int | None = None) -> Answer | None:
        return self._send(request, [self._entry(request, body, ticket)])[0][0]

    def answer_soon(self, request: VendorRequest, body: bytes | None, ticket: int | None,
                    reply: Callable[[Answer | None], None]) -> None:
        if not self._queue:
            asyncio.get_running_loop().call_soon(self._flush)
        self._queue.append((self._entry(request, body, ticket), request, reply))

    def _flush(self) -> None:
        queued, self._queue = self._queue, []
        loop = asyncio.get_running_loop()
        try:
            outcomes = [self._outcome(request, result) for (_, request, _), result in
                        zip(queued, self.replica.exchange([entry for entry, _, _ in queued]), strict=True)]
        except Exception as error:  # noqa: BLE001 - every queued call is answered, whatever went wrong
            for entry, request, reply in queued:
                if isinstance(error, StoreUnavailable):
                    self.replica.unanswered(entry)
                reply(self._unavailable(request, error))
            return
        for (_, request, reply), (answer, wait, held) in zip(queued, outcomes, strict=True):
            if held is not None:
                loop.call_later(wait, self._resume, request, held, reply)
            elif wait:
                loop.call_later(wait, reply, answer)
            else:
                reply(answer)

    def _resume(self, request: VendorRequest, held: str, reply: Callable[[Answer | None], None]) -> None:
        reply(self._send(request, [self.replica.entry(RESUME, extra={"held": held})])[0][0])

    def _send(self, request: VendorRequest, entries: list[Entry]) -> list[Outcome]:
        try:
            return [self._outcome(request, result) for result in self.replica.exchange(entries)]
        except Exception as error:  # noqa: BLE001 - answered in the envelope, whatever went wrong
            if isinstance(error, StoreUnavailable):
                for entry in entries:
                    self.replica.unanswered(entry)
            return [(self._unavailable(request, error), 0.0, None)] * len(entries)

    def _entry(self, request: VendorRequest, body: bytes | None, ticket: int | None) -> Entry:
        extra: dict[str, Any] = {"ticket": ticket, "large": body is None}
        if ticket is not None:
            extra["epoch"] = self.replica.epoch  # positions count again from 0 in a new log
        return self.replica.entry(VENDOR, method=request.method, path=request.path, query=request.query,
                                  headers=request.headers, body=body or b"", extra=extra)

    def _outcome(self, request: VendorRequest, result: Outcome | Failed) -> Outcome:
        """An entry's outcome; the 500 envelope for one whose applying failed (recorded where it failed)."""
        return (self._unavailable(request, result.error), 0.0, None) if isinstance(result, Failed) else result

    def _unavailable(self, request: VendorRequest, error: Exception) -> Answer:
        try:
            fmt = self.negotiator.response_format(request.accept, request.content_type)
        except Exception:  # noqa: BLE001 - the 500 is answered in JSON then
            fmt = JSON
        return error_answer(error, fmt, f"{request.method} {request.path}", None)

    # --- on every replica ---------------------------------------------------------------

    def apply(self, entry: Entry) -> Outcome:
        """The call of ``entry`` carried out on this replica's state (memory's steps, in memory's order). A
        call held by a delay fault stops after the fault is taken: its rest is a later entry (``resume``)."""
        if entry.kind == RESUME:
            held = self._held.pop(entry.extra["held"], None)
            if held is None:
                return None, 0.0, None  # the replica began again meanwhile: nothing of it is kept
            return self._finish(*held), 0.0, None
        request = VendorRequest.read(entry.method, entry.path, entry.query, entry.headers)
        exchange = self.admit(request, bool(entry.extra.get("large")))
        ticket = entry.extra.get("ticket")
        if ticket is not None and entry.extra.get("epoch", self.replica.epoch) != self.replica.epoch:
            return None, 0.0, None  # the log began again while its body came: nothing of it is kept
        hit: Hit | None = None
        if exchange.answer is None and self.faults.armed:
            hit = self.faults.take(request.method, request.path, exchange.account or "")
            if hit is not None and hit.delay:
                key = entry.origin + entry.seed.hex()
                # Held from here: a reset before its rest is applied drops it, as in memory.
                ticket = self.replica.cursor if ticket is None else ticket
                self._held[key] = (exchange, request, hit, entry.body, ticket)
                return None, hit.delay, key
        return self._finish(exchange, request, hit, entry.body, ticket), 0.0, None

    def forget_held(self) -> None:
        """The state began again: the calls held in the old one are dropped when their rest comes."""
        self._held.clear()

    def _finish(self, exchange: Exchange, request: VendorRequest, hit: Hit | None, body: bytes,
                ticket: int | None) -> Answer | None:
        if ticket is not None and not self.fence.admits(ticket, exchange.account):
            return None  # reset while its body came or while it was held: nothing of it is kept
        return self.faulted(exchange, request, body, hit)
