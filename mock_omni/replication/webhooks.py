"""Pushed reports of a replica: every replica records every callback (applying the same entries makes
the same ones, with the same ids); the replica whose entry made a callback sends it, and each of its
attempts is an entry of the log, so every replica records the same attempts and ends."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..api.webhooks import SHUTTING_DOWN, Webhooks
from ..domain.callbacks import Attempt, Callback, State
from .entries import ATTEMPT, GONE
from .log import StoreUnavailable

if TYPE_CHECKING:
    from .replica import Replica


#: Why the callbacks of a replica that stopped without a word are never sent.
SENDER_GONE = "its replica stopped before sending it"


class ReplicatedWebhooks(Webhooks):
    replica: Replica

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Which replica sends each pending callback (the one whose entry made it).
        self._senders: dict[int, str] = {}

    def _sends(self, callback: Callback) -> bool:
        self._senders[callback.id] = self.replica.applying_origin
        return self.replica.applying_own

    def senders(self) -> set[str]:
        """The replicas that still have callbacks to send."""
        with self._lock:
            for gone in [id_ for id_ in self._senders if id_ not in self._pending]:
                del self._senders[gone]
            return set(self._senders.values())

    def sender_gone(self, replica: str, reason: str | None = None) -> None:
        """On every replica: what ``replica`` was to send is dropped (applying a ``GONE`` entry)."""
        with self._lock:
            self._drop([self._pending[id_] for id_, sender in self._senders.items()
                        if sender == replica and id_ in self._pending], reason or SENDER_GONE)

    def _attempted(self, callback: Callback, done: Attempt | None,
                   settle: tuple[State, str | None] | None) -> None:
        if callback.state != "pending":
            return  # dropped while on the wire (a reset, a restore): nothing more is recorded for it
        # A refused push (done None) is an entry without an attempt: it only settles the callback.
        entry = self.replica.entry(ATTEMPT, extra={
            "id": callback.id, "at": done and done.at, "status": done and done.status,
            "error": done and done.error, "ms": done and done.milliseconds,
            "settle": list(settle) if settle is not None else None})
        try:
            self.replica.exchange([entry])
        except StoreUnavailable:
            # Redis is away: this replica records it alone (the others see the callback pending).
            super()._attempted(callback, done, settle)

    def apply(self, extra: dict[str, Any]) -> None:
        """An attempt of the log, on every replica."""
        callback = self._pending.get(extra["id"])
        if callback is None:
            return  # dropped by a reset, a restore or an import while on the wire: it writes nothing there
        settle = extra["settle"]
        done = None if extra["at"] is None else Attempt(extra["at"], extra["status"], extra["error"], extra["ms"])
        super()._attempted(callback, done, (settle[0], settle[1]) if settle is not None else None)

    async def close(self) -> None:
        # What this replica was to send is dropped for every replica, not only in its own records.
        try:
            self.replica.exchange([self.replica.entry(GONE, extra={"replica": self.replica.origin,
                                                                   "reason": SHUTTING_DOWN})])
        except Exception:  # noqa: BLE001 - stopping goes on whatever Redis says
            pass
        await super().close()
