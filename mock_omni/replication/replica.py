"""A replica: the memory store's own classes, kept equal to every other replica's by applying one log.

Every call that may change the state is an entry appended to the log (log.py); the append brings back
every entry this replica has not applied yet, its own last, and they are applied in order, each with
the time and the randomness its entry carries. Every replica applies the same entries in the same
order to the same starting state, so each holds the same state, and the answer to a call is what
applying its entry gave on the replica that appended it. The rules of the vendor and admin APIs are
the memory store's, unchanged: nothing here knows a scenario, a credential or a report.

A replica whose log is gone (Redis lost its data, or a whole reset began a new one) starts again from
its fixtures and applies the new log from its start.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from starlette.datastructures import QueryParams

from ..api.answers import error_answer
from ..api.codecs import JSON
from ..domain import entropy
from ..domain.errors import GeneralError
from ..testing.journal import MAX_BODY_KEPT
from .entries import ADMIN, ATTEMPT, GONE, RESUME, SEED, TICK, UNANSWERED, VENDOR, Entry
from .log import Batch, RedisLog, StoreUnavailable

if TYPE_CHECKING:
    from ..app import MockOmni
    from .dispatcher import ReplicatedVendorApi
    from .webhooks import ReplicatedWebhooks

log = logging.getLogger("mock_omni")

#: The kinds of entry whose object equals its decoded encoding (bytes, text, numbers, None): a replica applies
#: its own from the object it appended.
AS_APPENDED = frozenset((VENDOR, RESUME, TICK))
#: Calls answered 500 while Redis was away, kept for the journal until it is back (the oldest dropped).
MAX_UNANSWERED = 1000
#: A replica says it runs every second; one silent for five is taken for stopped.
BEAT_SECONDS = 1.0
ALIVE_SECONDS = 5.0


class Failed(NamedTuple):
    """What applying an entry gave when it raised: its caller answers 500."""

    error: Exception


class Replica:
    def __init__(self, link: RedisLog, stamp: Callable[[], float], settings: dict[str, str]) -> None:
        self.link = link
        #: This replica's name in the entries it appends.
        self.origin = os.urandom(8).hex()
        #: The settings that shape the state: told apart from those of the replica that began the log.
        self.settings = settings
        #: Where this replica reads the time it stamps its entries with (the app's clock source).
        self.stamp = stamp
        #: The clock time and the real time (POSIX) of the entry being applied, or of the last one.
        self.now = stamp()
        self.wall = time.time()
        self.epoch = ""
        self.cursor = 0
        self._lock = threading.RLock()
        self._unanswered: deque[Entry] = deque(maxlen=MAX_UNANSWERED)
        self._app: MockOmni | None = None
        #: The replicated dispatcher and webhook sender (replication/state.py sets them).
        self.dispatcher: ReplicatedVendorApi
        self.webhooks: ReplicatedWebhooks
        self._warned: set[str] = set()
        self._next_beat = 0.0
        self._seed_made: tuple[float, bytes] | None = None
        #: Whether the entry being applied is this replica's own (then it sends the reports it pushes).
        self.applying_own = False
        self.applying_origin = ""
        #: Whether this replica began the log it follows (seeded the store with its fixtures).
        self.began = False
        #: Whether entries are being applied (what they do happens here, not through the log again).
        self.applying = False

    def bind(self, app: MockOmni) -> None:
        """The app whose state this replica keeps; joins the log (or begins it) at once."""
        self._app = app
        self.exchange([])

    def entry(self, kind: str, **fields: Any) -> Entry:
        return Entry(kind, self.origin, self.stamp(), time.time(), **fields)

    def real_time(self) -> float:
        """When things really happen: the entry's time while one is applied, else now."""
        return self.wall if self.applying else time.time()

    # --- the one way in -----------------------------------------------------------------

    def exchange(self, entries: Sequence[Entry], timeout: float | None = None) -> list[Any]:
        """Append ``entries`` (none: only catch up), apply everything up to them; their results, in order.

        ``StoreUnavailable`` if Redis cannot take them: then none of them is ever applied anywhere.
        """
        with self._lock:
            waiting = list(self._unanswered)
            raws = [entry.encode() for entry in (*waiting, *entries)]
            batch = self.link.append(self.epoch, self.cursor, raws, os.urandom(8).hex(), self._seed(),
                                     timeout)
            self._unanswered.clear()
            # Its own entries are the last of the log as the append left it.
            epoch, end = batch.epoch, batch.end
            own_from = end - len(entries)
            results = self._apply(batch, own_from, entries, end)
            # A reply is one page of the log (log.lua): a replica far behind reads on, up to its own entries.
            while self.cursor < end:
                batch = self.link.append(self.epoch, self.cursor, [], os.urandom(8).hex(), self._seed(),
                                         timeout)
                if batch.epoch != epoch:  # the log began again meanwhile: its entries went with the old one
                    self._apply(batch, None)
                    break
                results += self._apply(batch, own_from, entries, end)
            # Entries another replica's whole reset cut from the log before this one read them: answered 500.
            results += [Failed(StoreUnavailable())] * (len(entries) - len(results))
            return results

    def restart(self, entry: Entry) -> Any:
        """A new log begun by ``entry`` (a whole reset when Redis is full: dropping the old log frees it)."""
        with self._lock:
            self.link.restart(os.urandom(8).hex(), entry.encode())
            # Calls answered 500 before it: a whole reset empties the journal they were kept for.
            self._unanswered.clear()
            batch = self.link.append("", 0, [], os.urandom(8).hex(), self._seed())
            results = self._apply(batch, 0, own_to=1)
            # Another replica may have begun yet another log meanwhile: then this reset was not applied here.
            return results[0] if results else Failed(StoreUnavailable())

    @staticmethod
    def whole_reset(entry: Entry) -> bool:
        """Whether ``entry`` resets everything (then every earlier entry is no longer needed)."""
        # The query read as the route reads it (``?acc%6Funt=Genie`` names an account too).
        return (entry.kind == ADMIN and entry.method == "POST" and entry.path == "/__admin/reset"
                and "account" not in QueryParams(entry.query.decode("latin-1")))

    def heartbeat(self) -> list[Entry]:
        """Say this replica runs; the ``GONE`` entries for the replicas with callbacks to send that do not."""
        now = time.monotonic()
        if now < self._next_beat:
            return []
        self._next_beat = now + BEAT_SECONDS
        self.link.alive(self.origin, ALIVE_SECONDS)
        others = sorted(self.webhooks.senders() - {self.origin})
        return [self.entry(GONE, extra={"replica": gone}) for gone in (self.link.gone(others) if others else [])]

    def unanswered(self, entry: Entry) -> None:
        """``entry`` was answered 500 (Redis did not take it): journaled once Redis is back."""
        if entry.kind == VENDOR:
            # Cut as the journal keeps it: a backlog of these goes with the next append.
            self._unanswered.append(self.entry(UNANSWERED, method=entry.method, path=entry.path, query=entry.query,
                                               headers=entry.headers, body=entry.body[:MAX_BODY_KEPT]))

    # --- applying -----------------------------------------------------------------------

    def _apply(self, batch: Batch, own_from: int | None, entries: Sequence[Entry] = (),
               own_to: int | None = None) -> list[Any]:
        """Apply ``batch``; the results of this replica's own entries (the log's from index ``own_from`` on, up to
        ``own_to`` if given; none if None)."""
        app = self._app
        assert app is not None
        self.applying = True
        try:
            return self._apply_batch(app, batch, own_from, entries, own_to)
        finally:
            self.applying = False

    def _apply_batch(self, app: MockOmni, batch: Batch, own_from: int | None, entries: Sequence[Entry],
                     own_to: int | None) -> list[Any]:
        if batch.epoch != self.epoch or batch.first != self.cursor:
            self._rebuild(app, batch)
        results: list[Any] = []
        # This replica's own entries come back last: applied from the objects it appended, not decoded again
        # (the kinds whose fields come back from JSON as they went in; the others are decoded like any entry).
        compact: tuple[int, bytes] | None = None
        for raw in batch.entries:
            index = self.cursor
            mine = own_from is not None and index >= own_from and (own_to is None or index < own_to)
            try:
                entry = entries[index - own_from] if mine and entries and own_from is not None else None
                if entry is None or entry.kind not in AS_APPENDED:
                    entry = Entry.decode(raw)
                self.applying_own = entry.origin == self.origin
                self.applying_origin = entry.origin
                result = self._apply_one(app, entry)
            except Exception as error:  # noqa: BLE001 - one entry must not stop the log
                # A defect, or an entry this version cannot read: it fails alike on every replica, its caller
                # gets the 500 envelope (recorded as a server error), and the log goes on past it.
                app.state.errors.record(f"applying entry {self.cursor} of the log", error)
                log.error("mock-omni: applying entry %d of the log failed", self.cursor, exc_info=error)
                entry, result = None, Failed(error)
            finally:
                self.applying_own = False
            if mine:
                results.append(result)
                if entry is not None and self.whole_reset(entry) and isinstance(result, tuple) and result[0] == 200:
                    # Nothing before a whole reset is needed again; its body (if any) is the new baseline.
                    compact = (self.cursor, raw if entry.body.strip() else b"")
            self.cursor += 1
        if compact is not None:
            try:
                self.link.compact(self.epoch, *compact)
            except StoreUnavailable:
                pass  # the log stays longer; nothing is wrong
        return results

    def _rebuild(self, app: MockOmni, batch: Batch) -> None:
        """Back to the fixtures, for a log this replica has not followed from its start."""
        if self.epoch:
            log.warning("mock-omni: the state on Redis began again (a whole reset, or Redis lost its data); "
                        "this replica follows it from its fixtures")
        self.epoch, self.cursor = batch.epoch, batch.first
        # Times are the entries' from here on (the largest so far): the same on every replica.
        self.now = self.wall = 0.0
        self.dispatcher.forget_held()
        if not batch.seed:  # a log begun by a whole reset on a full Redis (restart.lua) that never had a seed
            app.admin.reset(None, app.admin.startup)
        # Each part guarded like any entry: one that fails must not leave this replica half begun.
        for part in (batch.seed, batch.baseline):
            if not part:
                continue
            try:
                self._apply_one(app, Entry.decode(part))
            except Exception as error:  # noqa: BLE001 - recorded and passed over, as any entry
                app.state.errors.record("beginning the log again", error)
                log.error("mock-omni: beginning the log again failed", exc_info=error)

    def _apply_one(self, app: MockOmni, entry: Entry) -> Any:
        self.now = max(self.now, entry.time)
        self.wall = max(self.wall, entry.wall)
        # The entry's randomness: every replica draws the same keys, IDs and tokens for it.
        token = entropy.use(entropy.Entropy(entry.seed))
        try:
            return self._apply_kind(app, entry)
        finally:
            entropy.restore(token)

    def _apply_kind(self, app: MockOmni, entry: Entry) -> Any:
        kind = entry.kind
        if kind in (VENDOR, RESUME):
            return self.dispatcher.apply(entry)
        if kind == ADMIN:
            app.state.messages.advance()
            return run_web(app, entry)
        if kind == TICK:
            app.state.messages.advance()
            return None
        if kind == ATTEMPT:
            self.webhooks.apply(entry.extra)
            return None
        if kind == GONE:
            self.webhooks.sender_gone(entry.extra["replica"], entry.extra.get("reason"))
            return None
        if kind == UNANSWERED:
            unreachable = GeneralError().because("Redis could not be reached: the call was answered 500 and not "
                                                 "applied (journaled once Redis was back)")
            app.state.journal.record(entry.method, entry.path, entry.query, entry.headers, entry.body,
                                     error_answer(unreachable, JSON), None)
            return None
        if kind == SEED:
            self.began = self.began or entry.origin == self.origin
            app.admin.reset(None, app.admin.startup)
            # Messages' dates are the mock's clock plus an offset: the same on every replica.
            app.state.messages.dates_offset = entry.extra.get("dates", app.state.messages.dates_offset)
            self._compare(entry.extra.get("settings", {}))
            return None
        log.error("mock-omni: an entry of unknown kind %r in the log (a newer mock-omni?) was skipped", kind)
        return None

    def _seed(self) -> bytes:
        """The entry a new log would begin with (sent with every append, used only when there is no log): made
        again only when the dates' offset it carries changed, not on every call."""
        assert self._app is not None
        dates = self._app.state.messages.dates_offset
        if self._seed_made is None or self._seed_made[0] != dates:
            self._seed_made = (dates, self.entry(SEED, extra={"settings": self.settings, "dates": dates}).encode())
        return self._seed_made[1]

    def _compare(self, theirs: dict[str, str]) -> None:
        """One line per setting that shapes the state and differs from the one of the replica that began it."""
        from ..settings import BY_NAME

        for name, value in sorted(self.settings.items()):
            other = theirs.get(name)
            if other is not None and other != value and name not in self._warned:
                self._warned.add(name)
                flag = BY_NAME[name].flag or name
                log.warning("mock-omni: %s differs from the replica that began the state on Redis: here %s, there "
                            "%s; each replica applies every call with its own, so their states drift apart: start "
                            "every replica with the same %s", flag, value, other, flag)


async def read_request(receive: Any, limit: int | None = None) -> bytes | None:
    """An admin call's body, at most ``limit`` bytes and one more (its handler refuses what is over); None if
    the client left."""
    from ..testing.admin_models import ADMIN_MAX_BODY

    limit = ADMIN_MAX_BODY if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk[:limit + 1 - size])
        size += len(chunks[-1])
        if not message.get("more_body", False) or size > limit:
            return b"".join(chunks)


def run_web(app: MockOmni, entry: Entry) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """The web app's answer to an admin call of the log, run to its end without an event loop (admin
    calls that change the state never wait on anything)."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": entry.method, "scheme": "http", "path": entry.path, "raw_path": entry.path.encode("latin-1"),
        "root_path": "", "query_string": entry.query, "headers": entry.headers,
        "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0), "state": {},
    }
    answer: dict[str, Any] = {"status": 500, "headers": [], "body": []}
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if given:
            return {"type": "http.disconnect"}
        given = True
        return {"type": "http.request", "body": entry.body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            answer["body"].append(message.get("body", b""))

    run_to_end(app.web(scope, receive, send))
    return answer["status"], answer["headers"], b"".join(answer["body"])


def run_to_end(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """A coroutine that never suspends, run on this thread; RuntimeError if it does suspend."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("an admin call applied from the log waited on the event loop")


def settings_of(app_settings: Any) -> dict[str, str]:
    """The settings that shape the state, as a user gives them (replicas joining a store compare them)."""
    from ..settings import BY_NAME

    names = ("fixtures", "rate_limits", "journal_limit", "message_limit", "message_bytes", "delivery_delay",
             "token_lifetime", "session_idle", "max_body", "webhook_attempts", "webhook_backoff", "webhook_timeout",
             "webhook_allow")
    shown: dict[str, str] = {}
    for name in names:
        value, setting = getattr(app_settings, name), BY_NAME[name]
        if isinstance(value, dict):  # rate limits
            text = " ".join(f"{op}={rule}" for op, rule in value.items()) or "off"
        elif isinstance(value, list):
            text = " ".join(map(str, value)) or (setting.described or "none")
        else:
            text = setting.kind.show(value)
        shown[name] = text
    return shown


__all__ = ["Replica", "StoreUnavailable", "run_web", "settings_of"]
