"""Delivery reports pushed to the app's ``notifyUrl``, as the vendor does it.

Each report goes out as ``POST {"results": [report]}`` (``callbackData`` echoed in the
report), or as XML (``<omniReportsResponse><results><result>``, the shape of
``GET /omni/1/reports``) when the send asked for ``notifyContentType: application/xml``.

- ``notify`` never blocks a vendor call: it only queues. The queue is bounded
  (``max_pending``); a callback beyond it is recorded as ``dropped``, never sent.
- One FIFO per URL: a slow or failing receiver delays only its own callbacks, which
  keep their order.
- An attempt fails on a connection error, a timeout or a status other than 2xx; it is
  retried after ``backoff``, 2x, 4x... seconds (real time: the receiver is real), up to
  ``attempts`` in all, then the callback is ``failed``.
- Every callback and attempt is recorded (the newest ``keep``), for ``GET /__admin/callbacks``
  and the pytest plugin, which can wait for one instead of sleeping.
- After ``close`` nothing is sent: queued callbacks are recorded as ``dropped``.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from .codecs import XML, render, to_json

State = Literal["pending", "delivered", "failed", "dropped"]
XML_CONTENT_TYPE = "application/xml"
#: The XML shape of a pushed report: that of GET /omni/1/reports.
XML_ROOT, XML_ITEMS = "omniReportsResponse", {"results": "result"}


@dataclass
class Attempt:
    at: float
    #: The receiver's status, None when it did not answer.
    status: int | None
    error: str | None
    milliseconds: float

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at, "status": self.status, "error": self.error, "milliseconds": self.milliseconds}


@dataclass
class Callback:
    id: int
    account: str
    url: str
    content_type: str
    body: bytes
    created: float
    state: State = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    reason: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "account": self.account, "url": self.url, "contentType": self.content_type,
            "body": self.body.decode("utf-8", "replace"), "created": self.created, "state": self.state,
            "reason": self.reason, "attempts": [attempt.to_dict() for attempt in self.attempts],
        }


def report_body(report: dict[str, Any], content_type: str | None, callback_data: str | None) -> tuple[str, bytes]:
    """(Content-Type, body) of the POST that carries ``report``."""
    if callback_data is not None:
        report = {**report, "callbackData": callback_data}
    document: dict[str, object] = {"results": [report]}
    if content_type is not None and content_type.split(";")[0].strip().lower() == XML_CONTENT_TYPE:
        return XML_CONTENT_TYPE, render(document, XML, XML_ROOT, XML_ITEMS)
    return "application/json", to_json(document)


class Webhooks:
    """The callbacks of one mock server. ``start`` binds it to the running event loop (the app's lifespan)."""

    def __init__(
        self, *, attempts: int = 4, backoff: float = 1.0, timeout: float = 5.0, max_pending: int = 10_000,
        keep: int = 1000, wall_clock: Callable[[], float] = time.time, transport: Any = None,
    ) -> None:
        self.attempts = attempts
        self.backoff = backoff
        self.timeout = timeout
        self.max_pending = max_pending
        self._wall_clock = wall_clock
        self._transport = transport
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._records: deque[Callback] = deque(maxlen=keep)
        self._queues: dict[str, deque[Callback]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._pending = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._changed: asyncio.Event | None = None
        self._closed = False

    # --- the app's side ---------------------------------------------------------------

    def notify(self, account: str, url: str, content_type: str | None, report: dict[str, Any],
               callback_data: str | None = None) -> None:
        """Queue one report for ``url``; returns at once, from any thread."""
        kind, body = report_body(report, content_type, callback_data)
        callback = Callback(next(self._ids), account, url, kind, body, self._wall_clock())
        with self._lock:
            self._records.append(callback)
            if self._closed or self._pending >= self.max_pending:
                callback.state = "dropped"
                callback.reason = "the server is shutting down" if self._closed else "too many callbacks pending"
                return
            self._pending += 1
            loop = self._loop
        if loop is None:
            self._enqueue(callback)  # delivered once the loop starts
        elif _running_loop() is loop:
            self._enqueue(callback)
        else:
            loop.call_soon_threadsafe(self._enqueue, callback)

    async def start(self) -> None:
        """Start delivering on the running loop (callbacks queued before start go out now)."""
        import httpx  # only servers that push callbacks pay for the import

        self._loop = asyncio.get_running_loop()
        self._changed = asyncio.Event()
        # trust_env=False: a proxy from the environment must not see (or swallow) the app's callbacks.
        self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False,
                                         transport=self._transport)
        for url, queue in self._queues.items():
            if queue:
                self._workers[url] = self._loop.create_task(self._drain(url))

    async def close(self) -> None:
        """Stop: nothing is sent after this returns; what was queued is recorded as dropped."""
        with self._lock:
            self._closed = True
        workers = list(self._workers.values())
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        for queue in self._queues.values():
            while queue:
                self._finish(queue.popleft(), "dropped", "the server is shutting down")
        if self._client is not None:
            await self._client.aclose()

    def clear(self, account: str | None = None) -> None:
        """Forget the records (of one account); queued callbacks of that account are not sent."""
        with self._lock:
            kept = [] if account is None else [c for c in self._records if c.account != account]
            self._records.clear()
            self._records.extend(kept)
            loop = self._loop
        # The queues belong to the loop's thread.
        if loop is None or _running_loop() is loop:
            self._drop_queued(account)
        else:
            loop.call_soon_threadsafe(self._drop_queued, account)

    def _drop_queued(self, account: str | None) -> None:
        for queue in self._queues.values():
            for callback in [c for c in queue if account is None or c.account == account]:
                queue.remove(callback)
                self._finish(callback, "dropped", "reset")

    # --- what tests see ---------------------------------------------------------------

    def records(self, account: str | None = None, url: str | None = None) -> list[Callback]:
        with self._lock:
            return [c for c in self._records
                    if (account is None or c.account == account) and (url is None or c.url == url)]

    async def wait(self, predicate: Callable[[list[Callback]], bool], timeout: float) -> bool:
        """Until ``predicate(records)`` holds (checked after every change), at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate(self.records()):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._changed is None:
                return predicate(self.records())
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return predicate(self.records())
        return True

    # --- delivery ---------------------------------------------------------------------

    def _enqueue(self, callback: Callback) -> None:
        queue = self._queues.setdefault(callback.url, deque())
        queue.append(callback)
        loop = self._loop
        worker = self._workers.get(callback.url)
        if loop is not None and (worker is None or worker.done()):
            self._workers[callback.url] = loop.create_task(self._drain(callback.url))

    async def _drain(self, url: str) -> None:
        queue = self._queues[url]
        while queue:
            callback = queue[0]
            for attempt in range(self.attempts):
                if attempt:
                    await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
                if callback.state != "pending" or await self._attempt(callback):
                    break  # delivered, or dropped by a reset meanwhile
            else:
                self._finish(callback, "failed", f"no 2xx answer in {self.attempts} attempts")
            if queue and queue[0] is callback:
                queue.popleft()
        self._workers.pop(url, None)

    async def _attempt(self, callback: Callback) -> bool:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self._client.post(callback.url, content=callback.body,
                                               headers={"content-type": callback.content_type})
            status = response.status_code
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is an attempt that failed
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        attempt = Attempt(self._wall_clock(), status, error, round((time.perf_counter() - started) * 1000, 3))
        callback.attempts.append(attempt)
        if status is not None and 200 <= status < 300:
            self._finish(callback, "delivered", None)
            return True
        self._signal()
        return False

    def _finish(self, callback: Callback, state: State, reason: str | None) -> None:
        if callback.state != "pending":
            return  # dropped by a reset while its attempt was on the wire
        callback.state, callback.reason = state, reason
        with self._lock:
            self._pending -= 1
        self._signal()

    def _signal(self) -> None:
        if self._changed is not None:
            self._changed.set()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
