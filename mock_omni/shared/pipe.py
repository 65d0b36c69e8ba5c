"""Scripts pipelined to Redis on the event loop, for the calls the HTTP protocol answers itself.

One connection per event loop, opened on first use (same address, credentials and database
as the link's clients): scripts are written as they come, all the writes of one loop turn
in one, and each reply goes to its call's callback as it arrives. Nothing waits: while Redis
runs one batch of calls, the loop reads the next one, so a replica is limited by its CPU,
not by the round trip. Packing and parsing are hiredis's (C), as in redis-py.

Bounds as the link's: a reply that does not come within the timeout fails every call
waiting on the connection (which is dropped), a lost connection fails them too, and the
link's pause after a failure applies. Each failure reaches its call as ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

import hiredis
from redis.exceptions import ResponseError

from .link import TIMEOUT, Link, RoundTrip, StoreUnavailable, pack_evalsha, packed

Reply = Callable[[Any], None]


class Pipe:
    def __init__(self, link: Link) -> None:
        self.link = link
        self._wire: _Wire | None = None
        self._connecting: asyncio.Task[None] | None = None
        #: Callbacks of the commands written (or to be written), in order, with when they were queued.
        self._waiting: deque[tuple[Reply, float]] = deque()
        self._unsent: list[bytes] = []
        self._flush_armed = False
        self._watch: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def send(self, trip: RoundTrip, reply: Reply) -> None:
        """Run ``trip``'s script; ``reply(value)`` later in this loop (``StoreUnavailable`` on failure)."""
        if self.link.paused():
            reply(StoreUnavailable())
            return
        self._queue(pack_evalsha(trip), lambda value: self._script_reply(trip, reply, value))

    def _queue(self, packed: bytes, reply: Reply) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection serves the loop it was opened in
            self._loop, self._wire, self._connecting, self._watch, self._flush_armed = loop, None, None, None, False
        self._unsent.append(packed)
        self._waiting.append((reply, time.monotonic()))
        if self._watch is None:
            self._watch = loop.call_later(TIMEOUT, self._check_time)
        if self._wire is None:
            if self._connecting is None:
                self._connecting = loop.create_task(self._connect())
        elif not self._flush_armed:
            self._flush_armed = True
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_armed = False
        if self._wire is not None and self._unsent:
            data, self._unsent = b"".join(self._unsent), []
            self._wire.transport.write(data)

    def _script_reply(self, trip: RoundTrip, reply: Reply, value: Any) -> None:
        if isinstance(value, hiredis.ReplyError):
            if str(value).startswith("NOSCRIPT"):
                # A Redis that restarted has forgotten the scripts: load it (once), send the call again.
                try:
                    with self.link.guard():
                        self.link.client.script_load(trip.script.text)
                except StoreUnavailable as error:
                    reply(error)
                    return
                self.send(trip, reply)
                return
            value = self.link.failed(ResponseError(str(value)))
        reply(value)

    # --- the connection -------------------------------------------------------------------

    async def _connect(self) -> None:
        options = self.link.client.connection_pool.connection_kwargs
        loop = asyncio.get_running_loop()
        wire = _Wire(self)
        try:
            if "path" in options:
                connecting = loop.create_unix_connection(lambda: wire, options["path"])
            else:
                context = _tls(options) if self.link.url.startswith("rediss://") else None
                connecting = loop.create_connection(lambda: wire, options.get("host", "localhost"),
                                                    options.get("port", 6379), ssl=context)
            await asyncio.wait_for(connecting, options.get("socket_connect_timeout") or TIMEOUT)
        except (OSError, asyncio.TimeoutError) as exc:
            self._connecting = None
            self._fail(self.link.failed(exc))
            return
        self._connecting = None
        self._wire = wire
        # The handshake goes first, then what was queued while connecting.
        queued, waiting = self._unsent, self._waiting
        self._unsent, self._waiting = [packed(*command) for command in _handshake(options)], deque()
        now = time.monotonic()
        self._waiting.extend((self._expect_ok, now) for _ in self._unsent)
        self._unsent += queued
        self._waiting += waiting
        self._flush()

    def _expect_ok(self, value: Any) -> None:
        if isinstance(value, hiredis.ReplyError):
            self._fail(self.link.failed(ResponseError(f"handshake: {value}")))

    def received(self, wire: _Wire, value: Any) -> None:
        if wire is not self._wire:
            return
        if not self._waiting:  # a reply nobody asked for: the stream is not to be trusted
            self._fail(self.link.failed(ResponseError("unexpected reply")))
            return
        reply, _ = self._waiting.popleft()
        if self.link.failing:
            self.link.recovered()
        reply(value)

    def lost(self, wire: _Wire, exc: BaseException) -> None:
        if wire is self._wire:
            self._fail(self.link.failed(exc))

    def _check_time(self) -> None:
        self._watch = None
        if not self._waiting:
            return
        waited = time.monotonic() - self._waiting[0][1]
        if waited >= TIMEOUT:
            self._fail(self.link.failed(TimeoutError(f"no reply in {TIMEOUT:g} s")))
        else:
            self._watch = asyncio.get_running_loop().call_later(TIMEOUT - waited, self._check_time)

    def _fail(self, error: StoreUnavailable) -> None:
        """Every call waiting on this connection fails; the connection is dropped (a later call reconnects)."""
        waiting, self._waiting, self._unsent = self._waiting, deque(), []
        wire, self._wire = self._wire, None
        if wire is not None:
            wire.transport.abort()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        for reply, _ in waiting:
            reply(error)

    def close(self) -> None:
        if self._wire is not None:
            self._wire.transport.close()
            self._wire = None


class _Wire(asyncio.Protocol):
    """One connection of the pipe: bytes in, replies out."""

    transport: asyncio.Transport

    def __init__(self, pipe: Pipe) -> None:
        self.pipe = pipe
        self.reader = hiredis.Reader()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Not an isinstance check: uvloop's transports are not asyncio.Transport subclasses.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while True:
            try:
                value = self.reader.gets()
            except hiredis.ProtocolError as exc:
                self.pipe.lost(self, exc)
                return
            if value is False:
                return
            self.pipe.received(self, value)

    def connection_lost(self, exc: Exception | None) -> None:
        self.pipe.lost(self, exc or ConnectionError("Redis closed the connection"))


def _handshake(options: dict[str, Any]) -> list[tuple[str | int, ...]]:
    commands: list[tuple[str | int, ...]] = []
    if options.get("password"):
        username = options.get("username")
        commands.append(("AUTH", username, options["password"]) if username else ("AUTH", options["password"]))
    if options.get("db"):
        commands.append(("SELECT", int(options["db"])))
    commands.append(("CLIENT", "SETNAME", "mock-omni"))
    return commands


def _tls(options: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
    if options.get("ssl_cert_reqs") in ("none", ssl.CERT_NONE):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if options.get("ssl_certfile"):
        context.load_cert_chain(options["ssl_certfile"], options.get("ssl_keyfile"))
    return context
