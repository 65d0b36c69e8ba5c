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
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import redis
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

    # --- the vendor path ------------------------------------------------------------------

    def run(self, script: Script, keys: Sequence[str], args: Sequence[str | bytes | int | float]) -> Any:
        """EVALSHA on this thread's own connection; ``StoreUnavailable`` if Redis does not answer."""
        if self._paused_until and time.monotonic() < self._paused_until:
            raise StoreUnavailable()
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = cast(Connection, self.client.connection_pool.make_connection())
            self._connections.append(connection)
        try:
            try:
                connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
                reply = connection.read_response()
            except NoScriptError:
                # A Redis that restarted has forgotten the scripts: load, then run once more.
                connection.send_command("SCRIPT", "LOAD", script.text)
                connection.read_response()
                connection.send_command("EVALSHA", script.sha, len(keys), *keys, *args)
                reply = connection.read_response()
        except (RedisError, OSError) as exc:
            if not isinstance(exc, ResponseError):
                connection.disconnect()
            raise self.failed(exc) from None
        if self._failing:
            self.recovered()
        return reply

    # --- everything else --------------------------------------------------------------------

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Any Redis failure inside becomes ``StoreUnavailable``."""
        if self._paused_until and time.monotonic() < self._paused_until:
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

    def failed(self, exc: BaseException) -> StoreUnavailable:
        """Note a failure (logged once per outage) and pause; the error to answer with."""
        if isinstance(exc, ResponseError) and not _transient(exc):
            # Redis answered, but refused: a bug here or a misconfigured Redis, not an outage.
            log.error("mock-omni: Redis refused a command: %s", exc)
            return StoreUnavailable()
        self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        if not self._failing:
            self._failing = True
            log.warning("mock-omni: Redis at %s is unreachable (%s); answering 500 until it is back",
                        shown(self.url), exc)
        return StoreUnavailable()

    def recovered(self) -> None:
        self._failing = False
        self._paused_until = 0.0
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


def as_names(reply: object) -> list[str]:
    """Members of a set or sorted set, decoded."""
    return [member.decode("utf-8", "surrogatepass") for member in cast("list[bytes]", reply)]
