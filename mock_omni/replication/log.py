"""The Redis side of replication: one list of entries per store, appended and read by one script.

Redis stores, orders and hands back; it knows no vendor rule (log.lua names entries, not scenarios).
Every call is bounded: connecting and each reply time out after a second by default
(``?socket_timeout=`` in the URL changes that), nothing is retried (a retry of an append whose reply
was lost could apply it twice), and an append carries a deadline on Redis's clock: one that reaches
Redis after its caller gave up (a stalled Redis, resumed) is refused there, so a call answered 500
changes nothing afterwards. After a failure the log answers at once for a quarter of a second instead
of trying again, and an outage is logged once, with its end.

Every key has the prefix as its hash tag: one store is one slot of a Redis Cluster.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import redis
from hiredis import pack_command
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.exceptions import NoScriptError, OutOfMemoryError, RedisError, ResponseError
from redis.retry import Retry

from ..domain.errors import GeneralError
from ..state import StoreUnreachable
from .urls import shown

log = logging.getLogger("mock_omni")

TIMEOUT = 1.0
#: Milliseconds before the client's timeout (at most a tenth of it) from which Redis refuses an append.
DEADLINE_MARGIN_MS = 50
#: How long to answer at once after a failure instead of trying Redis again.
PAUSE_AFTER_FAILURE = 0.25
MINIMUM_VERSION = (7, 0)
#: The policies under which Redis keeps every key: any other may evict the log behind our back.
KEEPING_POLICIES = ("noeviction",)


class StoreUnavailable(GeneralError):
    """Redis did not answer, or refused: the vendor's 500 envelope, nothing applied by this call."""


class StoreFull(StoreUnavailable):
    """Redis is at its ``maxmemory`` and refuses writes."""


@dataclass(frozen=True)
class Batch:
    """What an append brings back: the entries from ``first`` on (the caller's own at the end)."""

    epoch: str
    first: int
    base: int
    baseline: bytes
    #: The entry the log began with (its settings and dates), kept when older entries are dropped.
    seed: bytes
    #: The index after the log's last entry (the entries may be one page of what is there: read on up to it).
    end: int
    entries: list[bytes]


class Script:
    def __init__(self, name: str) -> None:
        self.text = resources.files(__package__).joinpath(name).read_text()
        import hashlib

        self.sha = hashlib.sha1(self.text.encode()).hexdigest()


APPEND = Script("log.lua")
RESTART = Script("restart.lua")


class RedisLog:
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        tag = "{" + prefix + "}"
        self.keys = (f"{tag}:log", f"{tag}:meta")
        #: Where log.lua tells of each append: a channel named like the log.
        self.channel = self.keys[0]
        self.health_key = f"{tag}:health"
        options: dict[str, Any] = {"retry": Retry(NoBackoff(), 0), "socket_connect_timeout": TIMEOUT,
                                   "client_name": "mock-omni"}
        self.timeout = float(_query(url, "socket_timeout", TIMEOUT))
        self._options = options
        #: A plain client; ``check`` replaces it with a cluster client when the node is one of a Redis Cluster.
        self.client: Any = redis.Redis.from_url(url, socket_timeout=TIMEOUT, **options)
        self.cluster = False
        #: Redis's clock minus ours, in ms (deadlines are on Redis's clock).
        self.skew_ms = 0.0
        self._paused_until = 0.0
        self._failing = False
        #: Whether the last failure was Redis at its ``maxmemory`` (a pause after it is ``StoreFull`` too).
        self._full = False
        self._lock = threading.Lock()
        #: Each thread's own connection for the log's scripts (``_direct``), and all of them, to close.
        self._local = threading.local()
        self._connections: list[Connection] = []

    # --- start --------------------------------------------------------------------------

    def check(self) -> None:
        """At start-up: Redis answers, is recent enough and keeps every key; else ``StoreUnreachable``."""
        try:
            info = self.client.info()
            seconds, micros = self.client.time()
        except (RedisError, OSError) as exc:
            raise StoreUnreachable(f"cannot reach Redis at {shown(self.url)}: {_reason(exc)}") from None
        self.skew_ms = seconds * 1000 + micros / 1000 - time.time() * 1000
        if str(info.get("cluster_enabled", "0")) == "1":
            # Every key of the store has one hash tag: one slot, served by whichever node holds it.
            from redis.cluster import RedisCluster

            self.client.close()
            try:
                self.client = RedisCluster.from_url(self.url, socket_timeout=TIMEOUT, **self._options)
            except (RedisError, OSError) as exc:
                raise StoreUnreachable(f"cannot join the Redis Cluster at {shown(self.url)}: {_reason(exc)}") \
                    from None
            self.cluster = True
        version = str(info.get("redis_version", "0"))
        numbers = tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
        if numbers < MINIMUM_VERSION:
            raise StoreUnreachable(f"Redis at {shown(self.url)} is version {version}; mock-omni needs "
                                   f"{'.'.join(map(str, MINIMUM_VERSION))} or later")
        policy = str(info.get("maxmemory_policy", "noeviction"))
        if policy not in KEEPING_POLICIES:
            raise StoreUnreachable(
                f"Redis at {shown(self.url)} has maxmemory-policy {policy}, which may evict mock-omni's state; "
                f"set it to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction, or in redis.conf)")

    # --- the log ------------------------------------------------------------------------

    def append(self, epoch: str, cursor: int, entries: Sequence[bytes], new_epoch: str, first_entry: bytes,
               timeout: float | None = None) -> Batch:
        """Append ``entries`` (none: just read) and get every entry from ``cursor`` on; ``StoreUnavailable``
        if Redis does not answer in time (then none of them is ever appended)."""
        # A margin before the client gives up: the script's answer must reach it before its timeout.
        ms = (timeout or self.timeout) * 1000
        deadline = int(time.time() * 1000 + self.skew_ms + ms - min(DEADLINE_MARGIN_MS, ms / 10))
        reply = self._run(APPEND, "append", epoch, cursor, deadline, new_epoch, first_entry, *entries)
        if reply[0] == b"late":
            # Past its deadline when Redis ran it: Redis stalled, or a clock stepped (NTP, a resumed VM). The
            # skew is measured again from Redis's clock, so a step costs one call, not every call after it.
            skew = float(reply[1]) - time.time() * 1000
            if abs(skew - self.skew_ms) > 100:
                log.warning("mock-omni: Redis's clock is %.0f ms from this host's (was %.0f ms); deadlines follow it",
                            skew, self.skew_ms)
                self.skew_ms = skew
            raise StoreUnavailable()
        return Batch(reply[0].decode(), int(reply[1]), int(reply[2]), reply[3], reply[4], int(reply[5]), reply[6:])

    def compact(self, epoch: str, index: int, baseline: bytes) -> None:
        """Entries before ``index`` are no longer needed (a whole reset at ``index``)."""
        self._run(APPEND, "compact", epoch, index, baseline)

    def restart(self, new_epoch: str, first_entry: bytes) -> None:
        """A new log begun by ``first_entry``, even when Redis is full (the old log is dropped first).

        Tried even in the pause after a failure: it is what ends a full Redis's outage."""
        self._run(RESTART, new_epoch, first_entry, pausing=False)

    def listen(self, grew: Callable[[str, int], None]) -> Listener:
        """``grew(epoch, end)`` on a thread of its own whenever an append reaches the log (log.lua publishes
        it), and once more after each (re)subscription, as ``grew("", 0)``: appends may have been missed."""
        listener = Listener(self, grew)
        listener.start()
        return listener

    def alive(self, replica: str, seconds: float) -> None:
        """Say that ``replica`` is running, for ``seconds``."""
        self._guarded(lambda: self.client.set(f"{self.keys[1]}:alive:{replica}", b"1", px=int(seconds * 1000)))

    def gone(self, replicas: Sequence[str]) -> list[str]:
        """Those of ``replicas`` that have not said they are running lately."""
        found = self._guarded(lambda: [self.client.exists(f"{self.keys[1]}:alive:{r}") for r in replicas])
        return [replica for replica, there in zip(replicas, found, strict=True) if not there]

    def healthy(self) -> None:
        """``StoreUnavailable`` unless Redis answers, takes a write now and still keeps every key (its policy may
        have been changed since the start): the health check."""
        self._guarded(lambda: self.client.set(self.health_key, b"1", px=1000))
        info = self._guarded(lambda: self.client.info("memory"))
        # A cluster client may answer for each node ({node: info}) or for one: either way, any that may evict counts.
        answers = [info] if "maxmemory_policy" in info else [node for node in info.values() if isinstance(node, dict)]
        policies = {str(answer.get("maxmemory_policy", "noeviction")) for answer in answers}
        evicting = sorted(policies - set(KEEPING_POLICIES))
        if evicting:
            log.error("mock-omni: Redis at %s now has maxmemory-policy %s, which may evict mock-omni's state; set it "
                      "to noeviction (redis-cli CONFIG SET maxmemory-policy noeviction)", shown(self.url),
                      evicting[0])
            raise StoreUnavailable()

    def _run(self, script: Script, *args: str | bytes | int, pausing: bool = True) -> Any:
        if self.cluster:  # the cluster client finds the node that holds the slot
            def call() -> Any:
                try:
                    return self.client.evalsha(script.sha, 2, *self.keys, *args)
                except NoScriptError:
                    self.client.script_load(script.text)
                    return self.client.evalsha(script.sha, 2, *self.keys, *args)

            return self._guarded(call, pausing)
        return self._guarded(lambda: self._direct(script, args), pausing)

    def _direct(self, script: Script, args: Sequence[str | bytes | int]) -> Any:
        """EVALSHA on this thread's own connection, packed by hiredis: redis-py's command layer (its retry,
        pool and packer) cost more than the round trip's share of a call (as the store before this one found)."""
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.client.connection_pool.make_connection()
            with self._lock:
                self._connections.append(connection)
        elif _closed_by_server(connection):
            # Closed while idle (CLIENT KILL, a proxy or Redis's `timeout` ending idle clients): nothing was sent on
            # it, so connecting again is safe; sent on, the call failed and the next ones were 500 for a pause.
            connection.disconnect()  # type: ignore[no-untyped-call]
        command = pack_command(("EVALSHA", script.sha, 2, *self.keys, *args))  # type: ignore[arg-type]
        try:
            connection.send_packed_command([command])
            try:
                return connection.read_response()
            except NoScriptError:  # a Redis that restarted has forgotten the script
                connection.send_command("SCRIPT", "LOAD", script.text)
                connection.read_response()
                connection.send_packed_command([command])
                return connection.read_response()
        except ResponseError:
            raise  # Redis answered: the connection is fine
        except BaseException:
            connection.disconnect()  # a reply may still come: never read it
            raise

    def _guarded(self, call: Any, pausing: bool = True) -> Any:
        if pausing and self._paused_until and time.monotonic() < self._paused_until:
            raise StoreFull() if self._full else StoreUnavailable()
        try:
            result = call()
        except ResponseError as exc:
            # redis-py takes the "OOM" code off the message of its OutOfMemoryError.
            if isinstance(exc, OutOfMemoryError) or str(exc).startswith("OOM"):
                self.failed(exc)
                self._full = True
                raise StoreFull() from None
            if not _transient(exc):
                log.error("mock-omni: Redis refused a command: %s", exc)
                raise StoreUnavailable() from None
            raise self.failed(exc) from None
        except (RedisError, OSError) as exc:
            raise self.failed(exc) from None
        if self._failing:
            self.recovered()
        return result

    def recovered(self) -> None:
        """Redis answered again: said once, however many threads notice it together."""
        with self._lock:
            was, self._failing = self._failing, False
            self._paused_until = 0.0
            self._full = False
        if was:
            log.warning("mock-omni: Redis at %s is back", shown(self.url))

    def failed(self, exc: BaseException) -> StoreUnavailable:
        """Note a failure (said once per outage) and pause; the error to answer with."""
        self._paused_until = time.monotonic() + PAUSE_AFTER_FAILURE
        self._full = False
        with self._lock:
            first, self._failing = not self._failing, True
        if first and isinstance(exc, OutOfMemoryError):
            log.warning("mock-omni: Redis at %s is full (used memory > maxmemory); answering 500 until it is back "
                        "(a whole reset, POST /__admin/reset, frees it)", shown(self.url))
        elif first:
            log.warning("mock-omni: Redis at %s is unreachable (%s); answering 500 until it is back",
                        shown(self.url), _reason(exc))
            if not self.cluster:  # a cluster client finds its nodes again by itself
                self.client.connection_pool.disconnect()
                with self._lock:
                    connections = list(self._connections)
                for connection in connections:
                    connection.disconnect()  # type: ignore[no-untyped-call]
        return StoreUnavailable()

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.disconnect()  # type: ignore[no-untyped-call]
        self.client.close()


class Listener(threading.Thread):
    """A subscription to the log's channel, on a daemon thread; subscribed again after a failure.
    ``listening`` says whether it is subscribed now (if not, the follower looks at the log itself)."""

    #: Seconds between two tries to subscribe again, and the longest wait for a message.
    RETRY = 0.5

    def __init__(self, link: RedisLog, grew: Callable[[str, int], None]) -> None:
        super().__init__(name="mock-omni-log-listener", daemon=True)
        self.link = link
        self.grew = grew
        self.listening = False
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            pubsub = None
            try:
                pubsub = self.link.client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.link.channel)
                self.listening = True
                self.grew("", 0)  # appends made while it was not subscribed
                while not self._stopped.is_set():
                    message = pubsub.get_message(timeout=self.RETRY)
                    if message is not None and message.get("type") == "message":
                        epoch, _, end = bytes(message["data"]).decode().partition(" ")
                        self.grew(epoch, int(end))
            except (RedisError, OSError):
                pass  # Redis is away (the log says so once); try again soon
            except Exception:  # the follower polls meanwhile; this thread must live on
                log.exception("mock-omni: listening to the log failed")
            finally:
                self.listening = False
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except (RedisError, OSError):
                        pass
            self._stopped.wait(self.RETRY)

    def stop(self) -> None:
        """It ends within ``RETRY`` seconds (not waited for: the event loop calls it)."""
        self._stopped.set()


def _closed_by_server(connection: Connection) -> bool:
    """Whether an idle connection is readable: between calls Redis sends nothing, so it has been closed (EOF), or
    holds bytes no call asked for; either way it is not to be used. One poll without waiting."""
    sock = getattr(connection, "_sock", None)  # redis-py's (5 to 8); under another name: not checked, as before
    if sock is None:
        return False
    poller = select.poll()  # not select(): a descriptor over 1023 (a replica with many clients) is fine here
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _transient(exc: ResponseError) -> bool:
    # Redis answers these while it loads its data or is stuck in a long script: an outage too.
    return str(exc).startswith(("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "READONLY"))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _query(url: str, name: str, default: float) -> float:
    for part in urlsplit(url).query.split("&"):
        key, _, value = part.partition("=")
        if key == name:
            try:
                return float(value)
            except ValueError:
                return default
    return default
