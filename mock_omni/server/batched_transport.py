"""A connection's transport whose writes wait for the end of the event loop's turn, then go out as one.

Under load, one turn of the loop reads the requests of many connections, and answers
the vendor's calls in place (http_protocol.py). Written at once, each answer goes out
tens of microseconds after the previous one, and on loopback every write to an idle
client wakes it: the kernel's wake-up, paid in the server's write, cost more than a
tenth of a call's time (perf on the seed PUT under wrk: 18% of the server's CPU in
the scheduler's wake-up path). Held until the turn's reads are done, the answers go
out together and one wake-up serves them all; uvicorn's ASGI path gets the same for
free, since its tasks run after the reads. Requests on one connection are answered in
order either way; a head and body written apart (the ASGI path) become one write (a body under ``HOLD_LIMIT``).

Nothing else changes: every call that ends the connection or hands it on (close, abort, so a fault's reset
too, write_eof, set_protocol and whatever else this class does not define) first writes what is held, so it
happens after every write before it, as it did when writes went out at once; calls that only read or ask
(pause_reading, get_extra_info, is_closing) write nothing (a reset's SO_LINGER, set on get_extra_info's
socket, acts only at the abort that follows). A write after write_eof is the transport's at once (it raises
there, as it did). ``HOLD_LIMIT`` bytes or more held go out at once, and so does a write that big (after what is
held, not copied into it), so a big body meets the transport's own flow control. The one close this
class does not see is the loop's own, when the client's FIN comes and the protocol does not keep the
connection open: the protocol's ``eof_received`` calls ``flush`` before it returns (an answer written in
the turn the FIN came would otherwise be dropped: ``printf 'PUT ...' | nc -N`` on the ASGI path).

The connections holding writes in a turn wait in one ``Outbox`` (one per app, like the work share), written by
one callback; the work share's turn (work_share.py) sends them first, so answers decided while a big call's
steps wait do not wait for those steps too (bench part 6c: small calls beside bulk sends).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

log = logging.getLogger("mock_omni")

#: Bytes held at most: past it, what is held is written at once (a streamed body; a big answer).
HOLD_LIMIT = 64 * 1024


class Outbox:
    """The connections whose writes are held this turn, written together by one callback at its end.

    It belongs to the first loop that holds writes in it (the server's); a transport on another loop (a second
    server on the same app, in a test) has its writes sent by a callback of its own, so nothing here is touched
    from two threads.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.held: list[BatchedTransport] = []
        self._lock = threading.Lock()

    def hold(self, transport: BatchedTransport) -> None:
        """Write ``transport``'s held writes at the end of this turn (or sooner: ``flush``)."""
        loop = transport.loop
        if loop is not self.loop and not self._owned_by(loop):
            loop.call_soon(transport.flush)
            return
        if not self.held:
            loop.call_soon(self.flush)
        self.held.append(transport)

    def _owned_by(self, loop: asyncio.AbstractEventLoop) -> bool:
        with self._lock:
            if self.loop is None:
                self.loop = loop
            return self.loop is loop

    def flush(self) -> None:
        """Write what every connection holds (on the outbox's loop; elsewhere, nothing)."""
        held = self.held
        if not held:
            return
        if self.loop is not None and asyncio.get_running_loop() is not self.loop:
            return  # another loop's turn (the share of an app served on two loops): not this one's to send
        self.held = []
        for transport in held:
            transport.flush()


class BatchedTransport:
    """``transport`` with its writes held until ``loop`` runs its ready callbacks (the end of the turn), or
    until ``outbox`` is flushed sooner."""

    __slots__ = ("transport", "loop", "outbox", "held", "held_size", "ended")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop, outbox: Outbox) -> None:
        self.transport = transport
        self.loop = loop
        self.outbox = outbox
        #: What was written this turn, not yet handed to the transport; None when nothing is.
        self.held: list[bytes] | None = None
        self.held_size = 0
        #: ``write_eof`` was called: a write now is the transport's at once (it raises where it is made, as it
        #: did before writes were held, not in the flush at the end of the turn, far from the code that wrote).
        self.ended = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)  # the caller may reuse its buffer before the turn ends
        held = self.held
        if held is None:  # always, once ended: write_eof wrote what was held
            if len(data) >= HOLD_LIMIT or self.ended:
                self._write_now(data)
                return
            self.held = [data]
            self.held_size = len(data)
            self.outbox.hold(self)
            return
        if len(data) >= HOLD_LIMIT:  # what is held, then this as it is: joined, a big body was copied whole
            self.flush()
            self._write_now(data)
            return
        held.append(data)
        self.held_size += len(data)
        if self.held_size >= HOLD_LIMIT:
            self.flush()

    def flush(self) -> None:
        """Write what is held, if the connection is still open (a client that left is not written to)."""
        held = self.held
        if held is None:
            return
        self.held = None
        if not self.transport.is_closing():
            try:
                self.transport.write(held[0] if len(held) == 1 else b"".join(held))
            except Exception:  # noqa: BLE001 - one connection's failure must not lose the others' answers
                log.exception("mock-omni: writing a held answer failed; its connection is closed")
                self.transport.abort()

    def _write_now(self, data: bytes) -> None:
        """``data`` to the transport now, as ``flush`` writes: not to a client that left (uvloop raises on a
        connection already lost: a pipelined request's big answer, written after the client reset)."""
        if not self.transport.is_closing():
            self.transport.write(data)

    def writelines(self, parts: Any) -> None:
        for part in parts:
            self.write(part)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self.flush()  # what was written before the abort has left already, as when writes went out at once
        self.transport.abort()

    def write_eof(self) -> None:
        self.flush()
        self.ended = True
        self.transport.write_eof()

    def can_write_eof(self) -> bool:
        return self.transport.can_write_eof()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self.transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() + (self.held_size if self.held is not None else 0)

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        self.transport.resume_reading()

    def is_reading(self) -> bool:
        return self.transport.is_reading()

    def __getattr__(self, name: str) -> Any:
        """Anything else the transport has (set_protocol, write buffer limits), after what is held."""
        self.flush()
        return getattr(self.transport, name)
