"""The connection to Redis: clients with short timeouts, scripts, and what a lost Redis becomes.

Calls are synchronous (the vendor's calls are answered inside uvicorn's protocol, with no
task to await in), so every one is bounded: connecting and each reply time out after a
second by default (``?socket_timeout=`` and ``?socket_connect_timeout=`` in the URL change
that), and nothing is retried: a retry of a script whose reply was lost could apply it
twice. After a failure the link answers at once for a quarter of a second instead of
trying again, so a Redis that is gone costs the event loop one timeout at a time, not one
per request. Any failure becomes ``StoreUnavailable``: the vendor's 500 envelope, one log
line per outage and none per request, and service resumes by itself when Redis answers.

The vendor path uses one connection per thread directly (send, read): the client's
retry and pooling layers cost more than the round trip itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import redis
from hiredis import pack_command
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.exceptions import NoScriptError, RedisError, ResponseError, WatchError
from redis.retry import Retry

from ..domain.errors import GeneralError
from ..state import StoreUnreachable
from .keys import Keys
from .scripts import Script

log = logging.getLogger("mock_omni")

TIMEOUT = 1.0
#: Admin operations that move a whole state (imports of 100,000 scenarios) get longer.
BULK_TIMEOUT = 30.0
#: How long to answer at once after a failure instead of trying Redis again.
PAUSE_AFTER_FAILURE = 0.25
MINIMUM_VERSION = (6, 2)

T = TypeVar("T")


class StoreUnavailable(GeneralError):
    """Redis did not answer: the vendor's 500 envelope, nothing applied by this request."""


class RoundTrip(BaseException):
    """A script a batched call needs run: raised where the call reaches Redis, sent with the batch.
    A BaseException, so the ``except Exception`` that answers failures lets it through."""

    def __init__(self, script: Script, keys: Sequence[str], args: Sequence[str | bytes]) -> None:
        super().__init__(script.sha)
        self.script = script
        self.keys = keys
        self.arguments = args


class Recording:
    """The replies one step of a batched call has had so far. The step runs again from its start
    after each round trip and gets them back in order; the first script past them raises
    ``RoundTrip``. A step must reach Redis the same way each time it runs (vendor.py keeps
    everything it depends on fixed)."""

    __slots__ = ("replies", "_next", "_values", "_next_value")

    def __init__(self) -> None:
        self.replies: list[tuple[str, Any]] = []
        self._next = 0
        self._values: list[Any] = []
        self._next_value = 0

    def value(self, make: Callable[[], T]) -> T:
        """What ``make`` gave the first time the step ran (a new key, a token, the time)."""
        if self._next_value == len(self._values):
            self._values.append(make())
        self._next_value += 1
        return self._values[self._next_value - 1]  # type: ignore[no-any-return]

    def replay(self, script: Script, keys: Sequence[str], args: Sequence[str | bytes]) -> Any:
        if self._next == len(self.replies):
            raise RoundTrip(script, keys, args)
        sha, reply = self.replies[self._next]
        self._next += 1
        if sha != script.sha:
            raise AssertionError("a batched step reached Redis in another order than before")
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def add(self, trip: RoundTrip, reply: Any) -> None:
        self.replies.append((trip.script.sha, reply))
        self._next = self._next_value = 0


def stable(make: Callable[[], T]) -> T:
    """``make()``, the same each time a batched step runs again: whatever a step draws that is not
    a function of its inputs (a new key, a token, the time) must come through here."""
    recording = RECORDING.get()
    return make() if recording is None else recording.value(make)


def packed(*args: str | bytes | int) -> bytes:
    """One command in Redis's protocol, packed by hiredis (in C)."""
    return cast(bytes, pack_command(args))  # type: ignore[arg-type]  # its stub types a 1-tuple


def pack_evalsha(trip: RoundTrip) -> bytes:
    return packed("EVALSHA", trip.script.sha, len(trip.keys), *trip.keys, *trip.arguments)


#: The recording of the batched step running in this context, if any.
RECORDING: ContextVar[Recording | None] = ContextVar("mock_omni_recording", default=None)


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + netloc))


class Link:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.keys = Keys(prefix)
        options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": TIMEOUT,
                                   "client_name": "mock-omni"}
        #: Admin operations and reads (pooled, thread-safe).
        self.client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, **options)
        self.bulk = redis.Redis.from_url(url, socket_timeout=BULK_TIMEOUT, **options)
        self._local = threading.local()
        self._connections: list[Connection] = []
        self._paused_until = 0.0
        self._failing = False
        #: The loop's pipe and admin threads notice an outage (and its end) at once: one line each, not two.
        self._failing_lock = threading.Lock()

    # --- the vendor path ------------------------------------------------------------------

    def run(self, script: Script, keys: Sequence[str], args: Sequence[str | bytes]) -> Any:
        """EVALSHA on this thread's own connection; ``StoreUnavailable`` if Redis does not answer.

        Inside a batched call (a ``Recording`` is open) it answers from the recording, or raises
        ``RoundTrip`` for the batch to send (vendor.py).
        """
        recording = RECORDING.get()
        if recording is not None:
            return recording.replay(script, keys, args)
        reply = self.run_many((RoundTrip(script, keys, args),))[0]
        if isinstance(reply, BaseException):
            raise reply
        return reply

    def run_many(self, trips: Sequence[RoundTrip]) -> list[Any]:
        """Scripts pipelined in one round trip on this thread's connection: each one's reply, or the
        ``StoreUnavailable`` its call must raise instead."""
        if self.paused():
            return [StoreUnavailable()] * len(trips)
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = cast(Connection, self.client.connection_pool.make_connection())
            self._connections.append(connection)
        try:
            replies = self._exchange(connection, trips)
            forgotten = [index for index, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
            if forgotten:
                # A Redis that restarted has forgotten the scripts: load them, then run those again.
                for text in {trips[index].script.text for index in forgotten}:
                    connection.send_command("SCRIPT", "LOAD", text)
                    connection.read_response()
                for index, reply in zip(forgotten, self._exchange(connection, [trips[i] for i in forgotten]),
                                        strict=True):
                    replies[index] = reply
        except (RedisError, OSError) as exc:
            connection.disconnect()
            error = self.failed(exc)
            return [error] * len(trips)
        if self._failing:
            self.recovered()
        return [self.failed(reply) if isinstance(reply, ResponseError) else reply for reply in replies]

    @staticmethod
    def _exchange(connection: Connection, trips: Sequence[RoundTrip]) -> list[Any]:
        # hiredis packs in C; the client's own packer costs more than the round trip's share of a call.
        connection.send_packed_command([b"".join(map(pack_evalsha, trips))])  # type: ignore[no-untyped-call]
        replies: list[Any] = []
        for _ in trips:
            try:
                replies.append(connection.read_response())
            except ResponseError as refused:  # this script's own error; the others' replies follow
                replies.append(refused)
        return replies

    # --- everything else --------------------------------------------------------------------

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Any Redis failure inside becomes ``StoreUnavailable``."""
        if self.paused():
            raise StoreUnavailable()
        try:
            yield
        except (RedisError, OSError) as exc:
            raise self.failed(exc) from None
        if self._failing:
            self.recovered()

    def transaction(self, change: Callable[[redis.client.Pipeline], T], *watched: str, bulk: bool = False) -> T:
        """``change(pipe)`` reads the watched keys, calls ``pipe.multi()``, queues writes; run again
        until no watched key changed under it. All writes apply together or none does."""
        client = self.bulk if bulk else self.client
        with self.guard():
            while True:
                with client.pipeline() as pipe:
                    try:
                        if watched:
                            pipe.watch(*watched)  # type: ignore[no-untyped-call]
                        result = change(pipe)
                        pipe.execute()
                        return result
                    except WatchError:
                        continue

    def script(self, script: Script, keys: Sequence[str], args: Sequence[object]) -> Any:
        """A script through the pooled client (admin paths; any thread)."""
        with self.guard():
            try:
                return self.client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[arg-type]
            except NoScriptError:
                self.client.script_load(script.text)
                return self.client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[arg-type]

    def paused(self) -> bool:
        """Whether a failure was so recent that calls are answered at once, without trying Redis."""
        return bool(self._paused_until) and time.monotonic() < self._paused_until

    @property
    def failing(self) -> bool:
        return self._failing

    def failed(self, exc: BaseException) -> StoreUnavailable:
        """Note a failure (logged once per outage) and pause; the error to answer with."""
        if isinstance(exc, ResponseError) and not _transient(exc):
            # Redis answered, but refused: a bug here or a misconfigured Redis, not an outage.
            log.error("mock-omni: Redis refused a command: %s", exc)
            return StoreUnavailable()
        self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        with self._failing_lock:
            first, self._failing = not self._failing, True
        if first:
            log.warning("mock-omni: Redis at %s is unreachable (%s); answering 500 until it is back",
                        shown(self.url), exc)
            # Pooled connections left idle through the outage would each fail once after it (a restarted Redis
            # has closed them): closed now, every later call opens a fresh one.
            for client in (self.client, self.bulk):
                client.connection_pool.disconnect()
        return StoreUnavailable()

    def recovered(self) -> None:
        with self._failing_lock:
            was, self._failing = self._failing, False
            self._paused_until = 0.0
        if was:
            log.warning("mock-omni: Redis at %s is back", shown(self.url))

    def check(self) -> None:
        """At start-up: Redis answers and is recent enough, or ``StoreUnreachable`` in one line."""
        try:
            version = str(self.client.info("server").get("redis_version", "0"))
        except (RedisError, OSError) as exc:
            raise StoreUnreachable(f"cannot reach Redis at {shown(self.url)}: {_reason(exc)}") from None
        numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
        if numbers < MINIMUM_VERSION:
            raise StoreUnreachable(f"Redis at {shown(self.url)} is version {version}; mock-omni needs "
                                   f"{'.'.join(map(str, MINIMUM_VERSION))} or later")

    def ping(self) -> None:
        """``StoreUnavailable`` unless Redis answers now (the health check)."""
        with self.guard():
            self.client.ping()

    def close(self) -> None:
        for connection in self._connections:
            connection.disconnect()  # type: ignore[no-untyped-call]
        self.client.close()
        self.bulk.close()


def _transient(exc: ResponseError) -> bool:
    # Redis answers these while it loads its data or is stuck in a long script: an outage too.
    return str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY"))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


#: What redis-py's ``hset(mapping=...)`` takes (its Mapping's types are invariant).
FieldMap = dict[bytes | bytearray | memoryview | str | int | float, bytes | bytearray | memoryview | str | int | float]


# redis-py's replies are bytes (decode_responses is off); its annotations also allow str.
def as_hash(reply: object) -> dict[bytes, bytes]:
    return cast("dict[bytes, bytes]", reply)


def as_bytes(reply: object) -> bytes | None:
    return cast("bytes | None", reply)


def as_fields(reply: object) -> list[bytes | None]:
    """HMGET's values (None for a missing field)."""
    return cast("list[bytes | None]", reply)


def as_names(reply: object) -> list[str]:
    """Members of a set or sorted set, decoded."""
    return [member.decode("utf-8", "surrogatepass") for member in cast("list[bytes]", reply)]
