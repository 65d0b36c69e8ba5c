"""Pushed reports on Redis: ``CallbackSender`` (vendor/webhooks.py) with its records shared by every replica.

A push is made by the replica whose messages queued it (shared/messages.py hands it over once),
with the memory sender's queues, retries and bounds. What is shared is the record of it: every
replica's ``GET /__admin/callbacks`` (and the plugin's ``wait_for_callback``) sees every
callback, and a reset, a restore or an import on any replica drops what is still queued on all:

- a callback is written through to Redis when it is recorded, after each attempt and when it
  settles (save.lua); Redis gives it its id, so ids grow across replicas;
- before each attempt its replica asks Redis whether it is still pending: a reset elsewhere
  removed it (clear.lua), a restore made it another (restore.lua), and it is not sent;
- a vendor call cannot wait for Redis in the middle of its batched step (link.py), so what
  changed during one is written just after it, on the event loop (or by the next read);
- each replica's ticker says every second that it is alive (beat.lua); the pending callbacks of
  a replica silent for GONE_AFTER seconds (killed, crashed) are shown dropped by every replica:
  nobody will send them.
"""

from __future__ import annotations

import contextvars
import json
import secrets
import threading
import time
from collections.abc import Iterable
from typing import Any

from ..domain.callbacks import Callback, callback_from_document, put_back
from ..vendor.webhooks import Webhooks, matches
from . import scripts
from .link import RECORDING, Link, StoreUnavailable, as_bytes

SAVE = scripts.named("callbacks/save", "callbacks/remove")
READ = scripts.named("callbacks/read")
BEAT = scripts.named("callbacks/beat")
CLEAR = scripts.named("callbacks/clear", "callbacks/remove")
RESTORE = scripts.named("callbacks/restore", "callbacks/remove")
#: Why a callback queued on this replica is not sent after all.
DROPPED_ELSEWHERE = "dropped by a reset or a restore"
#: Why a callback queued on a replica that died (SIGKILL, a crash) is shown dropped: nobody will send it.
ORPHANED = "its replica stopped before sending it"
#: Seconds between a replica's signs of life, and without one after which its pending callbacks are orphans.
BEAT_SECONDS = 1.0
GONE_AFTER = 5.0


def callback_json(callback: Callback) -> str:
    """A callback's record on Redis: its state-document form with its account. Its id there is the field it
    is stored under (a new one's is given by Redis), so the one inside is not read back."""
    return json.dumps({**callback.document(), "account": callback.account})


def callback_from_json(callback_id: int, raw: str | bytes) -> Callback:
    data: dict[str, Any] = json.loads(raw)
    return callback_from_document(data.pop("account"), {**data, "id": callback_id})


class SharedWebhooks(Webhooks):
    def __init__(self, link: Link, **options: Any) -> None:
        super().__init__(**options)
        self.link = link
        keys = link.keys
        self._keys = (keys.callbacks, keys.callback_states, keys.callback_accounts, keys.callback_order,
                      keys.callback_ids, keys.callback_version, keys.callback_owners)
        self._alive = keys.callback_alive
        #: This replica, as the owner of the callbacks it sends (its beat says it is alive).
        self.owner = secrets.token_hex(8)
        self._last_beat = -BEAT_SECONDS
        #: Callbacks changed since they were last written, by local id (under the lock).
        self._dirty: dict[int, Callback] = {}
        #: Local id -> id on Redis, while the callback may still change.
        self._shared_ids: dict[int, int] = {}
        #: Local ids of the callbacks being delivered: their ids on Redis are kept until the delivery ends,
        #: so that an attempt ending after a reset is refused by save.lua, never written as a new record.
        self._delivering: set[int] = set()
        #: One write at a time: a callback changed again while its first write is under way must not be
        #: written as new twice (the sender's loop runs in a thread of its own under trio).
        self._writing = threading.Lock()

    # --- writing through --------------------------------------------------------------

    def _changed(self, callback: Callback) -> None:
        self._dirty[callback.id] = callback

    def notify(self, account: str, url: str, content_type: str | None, report: dict[str, Any],
               callback_data: str | None = None) -> None:
        super().notify(account, url, content_type, report, callback_data)
        self._write_soon()

    def _write_soon(self) -> None:
        if RECORDING.get() is None:
            self._write()
            return
        loop = self._loop
        if loop is not None:
            try:  # out of the vendor call's context: there, Redis answers only from its recording
                loop.call_soon_threadsafe(self._write, context=contextvars.Context())
            except RuntimeError:  # the loop is gone (shut down): the next read writes it
                pass

    def _write(self) -> None:
        """Write the changed callbacks (one script); those a reset elsewhere dropped are settled here."""
        if RECORDING.get() is not None:
            return
        with self._writing:
            self._write_changed()

    def _write_changed(self) -> None:
        with self._lock:
            changed = list(self._dirty.values())
            self._dirty.clear()
            if not changed:
                return
            args: list[object] = [self.keep, self.owner]
            for callback in changed:
                shared_id = self._shared_ids.get(callback.id)
                args += ["" if shared_id is None else shared_id, callback.account, callback.state,
                         callback_json(callback)]
        try:
            ids = self.link.script(SAVE, self._keys, args)
        except StoreUnavailable:
            with self._lock:  # written with the next change, once Redis is back
                for callback in changed:
                    self._dirty.setdefault(callback.id, callback)
            return
        with self._lock:
            for callback, shared_id in zip(changed, ids, strict=True):
                if not shared_id:
                    if callback.state == "pending":
                        self._settle(callback, "dropped", DROPPED_ELSEWHERE)
                    self._forget(callback.id)
                elif callback.state == "pending" or callback.id in self._dirty:
                    self._shared_ids[callback.id] = int(shared_id)
                else:
                    self._shared_ids.pop(callback.id, None)  # settled and written: it changes no more

    def _wanted(self, callback: Callback) -> bool:
        self._write()
        shared_id = self._shared_ids.get(callback.id)
        if shared_id is None:
            return True  # not written (Redis is away): the push is owed all the same
        try:
            with self.link.guard():
                state = as_bytes(self.link.client.hget(self._keys[1], str(shared_id)))
        except StoreUnavailable:
            return True
        if state == b"pending":
            return True
        with self._lock:
            if callback.state == "pending":
                self._settle(callback, "dropped", DROPPED_ELSEWHERE)
            self._forget(callback.id)
        return False

    def _forget(self, local_id: int) -> None:
        """Under the lock: a callback gone from Redis (a reset or a restore) is not written again."""
        self._dirty.pop(local_id, None)
        if local_id not in self._delivering:
            self._shared_ids.pop(local_id, None)

    async def _deliver(self, callback: Callback) -> None:
        with self._lock:
            self._delivering.add(callback.id)
        try:
            await super()._deliver(callback)
            self._write()
        finally:
            with self._lock:
                self._delivering.discard(callback.id)
                if callback.state != "pending" and callback.id not in self._dirty:
                    self._shared_ids.pop(callback.id, None)

    async def start(self) -> None:
        await super().start()
        self.tick(force=True)
        self._write()

    def tick(self, force: bool = False) -> None:
        """A sign of life (the app's ticker calls it): while it comes, this replica's pending callbacks are
        its own to send; without one for GONE_AFTER seconds, every replica shows them dropped."""
        now = time.monotonic()
        if not force and now - self._last_beat < BEAT_SECONDS:
            return
        self._last_beat = now
        try:
            self.link.script(BEAT, (self._alive,), [self.owner])
        except StoreUnavailable:
            pass  # Redis is away: the next tick tries again

    async def close(self) -> None:
        await super().close()
        self._write()  # what was queued here is recorded as dropped for every replica

    # --- what every replica sees ------------------------------------------------------

    def _read(self) -> list[Callback]:
        self._write()

        ids, records, orphans = self.link.script(READ, (*self._keys, self._alive), [repr(GONE_AFTER), self.owner])
        found = [callback_from_json(int(shared_id), record) for shared_id, record in zip(ids, records, strict=True)]
        if orphans:
            gone = {int(shared_id) for shared_id in orphans}
            for callback in found:
                if callback.id in gone and callback.state == "pending":
                    callback.state, callback.reason = "dropped", ORPHANED
        return found

    def records(self, account: str | None = None, url: str | None = None, state: str | None = None,
                limit: int | None = None) -> list[Callback]:
        found = [c for c in self._read() if matches(c, account, url, state)]
        if limit is not None:
            found = found[-limit:] if limit > 0 else []
        return found

    def count(self, account: str | None = None, url: str | None = None, state: str | None = None) -> int:
        return sum(1 for c in self._read() if matches(c, account, url, state))

    def snapshot(self, account: str | None = None) -> list[Callback]:
        return self.records(account)

    @property
    def pending(self) -> int:
        """Callbacks queued or on the wire, on every replica that is alive."""
        try:
            return self.count(state="pending")
        except StoreUnavailable:
            return super().pending

    @property
    def recorded(self) -> int:
        """Callbacks ever recorded, by every replica (their ids come from one counter)."""
        self._write()
        try:
            with self.link.guard():
                return int(as_bytes(self.link.client.get(self._keys[4])) or 0)
        except StoreUnavailable:
            return super().recorded

    def changes(self) -> object:
        try:
            with self.link.guard():
                return self._version, self.link.client.get(self._keys[5])
        except StoreUnavailable:
            return self._version, None

    def clear(self, account: str | None = None) -> None:
        self._replace(account, "reset", [])

    def restore(self, callbacks: Iterable[Callback], account: str | None = None) -> None:
        self._replace(account, "a snapshot was restored", put_back(callbacks))

    def _replace(self, account: str | None, reason: str, restored: list[Callback]) -> None:
        if restored:
            args: list[object] = [account or "", self.keep]
            for callback in restored:
                args += [callback.id, callback.account, callback.state, callback_json(callback)]
            self.link.script(RESTORE, self._keys, args)
        else:
            self.link.script(CLEAR, self._keys, [account or ""])
        with self._lock:
            self._remove(account, reason)

    def _remove(self, account: str | None, reason: str) -> None:
        super()._remove(account, reason)
        # Dropped here and gone from Redis: nothing of them is written again.
        for local_id in [i for i, c in self._dirty.items() if account is None or c.account == account]:
            self._forget(local_id)

