"""Delivery reports pushed to the app's ``notifyUrl``, as the vendor does it.

Each report goes out as ``POST {"results": [report]}`` (``callbackData`` echoed in the
report), or as XML (``<omniReportsResponse><results><result>``, the shape of
``GET /omni/1/reports``) when the send asked for ``notifyContentType: application/xml``.

- ``notify`` never blocks a vendor call: it only queues, from any thread. The queue is
  bounded (``max_pending``); a callback beyond it is recorded as ``dropped``, never sent.
- One FIFO per URL: a slow or failing receiver delays only its own callbacks, which
  keep their order.
- An attempt fails on a connection error, a timeout or a status other than 2xx; it is
  retried after ``backoff``, 2x, 4x... seconds (real time: the receiver is real), up to
  ``attempts`` in all, then the callback is ``failed``.
- Every callback and attempt is recorded (the newest ``keep``), for ``GET /__admin/callbacks``
  and the pytest plugin, which can ``wait`` for one instead of sleeping.
- ``clear`` (a reset) and ``restore`` (a snapshot) drop what they remove that is still
  queued: nothing of a state that was replaced goes out afterwards. An attempt on the wire (or
  a retry's backoff) of what they drop is abandoned (its task cancelled, nothing more recorded
  for it), so the URL's next callback goes out at once instead of after a stalled receiver's timeout.
- Where a callback may go is checked before each attempt (webhook_targets.py): never to a
  mock's own admin API, only where ``--webhook-allow`` allows, connecting to the address that
  was checked. A refused callback is ``failed`` at once, with the reason, never sent.
- After ``close`` nothing is sent: queued callbacks are recorded as ``dropped``.

Delivery runs on an asyncio loop: the server's own when it runs on asyncio (uvicorn,
Starlette's TestClient by default), else (anyio's trio backend) a loop of its own in a
thread, so the server never crashes and callbacks go out all the same. The HTTP client is
made on a thread (``_http``): vendor calls are answered on that loop. ``CallbackSender``
is the whole interface the app uses: replicas on Redis extend it (replication/webhooks.py) and can
replace this one.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from typing import Any, Protocol

import anyio

from ..domain.callbacks import Attempt, Callback, State, masked_url, put_back
from ..testing import PUSH_USER_AGENT
from .codecs import XML, render, to_json
from .webhook_targets import Refused, Rule, Target, resolve_targets

__all__ = ["Attempt", "Callback", "CallbackSender", "State", "Webhooks", "matches", "report_body"]

XML_CONTENT_TYPE = "application/xml"
#: The XML shape of a pushed report: that of GET /omni/1/reports.
XML_ROOT, XML_ITEMS = "omniReportsResponse", {"results": "result"}
DEFAULT_ATTEMPTS = 4
DEFAULT_BACKOFF = 0.5
DEFAULT_TIMEOUT = 5.0
MAX_PENDING = 10_000
#: How often ``wait`` looks again (it works on any thread and event loop, so it polls a change counter).
WAIT_POLL = 0.01
SHUTTING_DOWN = "the server is shutting down"
#: Bytes of a receiver's answer read at most (its status is what counts).
MAX_ANSWER_READ = 64 * 1024


def report_body(report: dict[str, Any], content_type: str | None, callback_data: str | None) -> tuple[str, bytes]:
    """(Content-Type, body) of the POST that carries ``report``."""
    if callback_data is not None:
        report = {**report, "callbackData": callback_data}
    document: dict[str, object] = {"results": [report]}
    if content_type is not None and content_type.split(";")[0].strip().lower() == XML_CONTENT_TYPE:
        return XML_CONTENT_TYPE, render(document, XML, XML_ROOT, XML_ITEMS)
    # orjson's bytes keep the whole buffer it wrote into (4 KiB); a body kept until delivered is copied to its size.
    return "application/json", bytes(memoryview(to_json(document)))


class CallbackSender(Protocol):
    """What the app needs of a webhook sender (``MockOmni.webhooks``)."""

    #: How many records are kept (the newest).
    keep: int

    @property
    def pending(self) -> int: ...

    @property
    def recorded(self) -> int: ...

    def notify(self, account: str, url: str, content_type: str | None, report: dict[str, Any],
               callback_data: str | None = None) -> None: ...

    def records(self, account: str | None = None, url: str | None = None, state: str | None = None,
                limit: int | None = None) -> list[Callback]: ...

    def count(self, account: str | None = None, url: str | None = None, state: str | None = None) -> int: ...

    def clear(self, account: str | None = None) -> None: ...

    def snapshot(self, account: str | None = None) -> list[Callback]: ...

    def restore(self, callbacks: Iterable[Callback], account: str | None = None) -> None: ...

    async def wait(self, predicate: Callable[[], bool], timeout: float,
                   gone: Callable[[], Awaitable[bool]] | None = None) -> bool: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class Webhooks:
    """The callbacks of one mock server. Thread-safe; ``start`` begins delivery (the app's lifespan)."""

    def __init__(
        self, *, attempts: int = DEFAULT_ATTEMPTS, backoff: float = DEFAULT_BACKOFF,
        timeout: float = DEFAULT_TIMEOUT, max_pending: int = MAX_PENDING, keep: int = 1000,
        wall_clock: Callable[[], float] = time.time, transport: Any = None, allow: Sequence[Rule] = (),
    ) -> None:
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.timeout = timeout
        self.max_pending = max_pending
        self.keep = max(1, keep)
        self._wall_clock = wall_clock
        self._transport = transport
        #: Where callbacks may go (``--webhook-allow``); none: anywhere (but a mock's admin API).
        self.allow = tuple(allow)
        self._next_id = 1
        #: Guards everything below, and every change to a callback's state and attempts.
        self._lock = threading.Lock()
        self._records: deque[Callback] = deque(maxlen=self.keep)
        #: Callbacks queued or on the wire, by id.
        self._pending: dict[int, Callback] = {}
        self._queues: dict[str, deque[Callback]] = {}
        #: URLs whose worker runs or is about to.
        self._draining: set[str] = set()
        self._workers: set[asyncio.Task[None]] = set()
        #: The callbacks being delivered (on the wire or waiting to retry): their URL, queue and worker.
        self._on_wire: dict[int, tuple[str, deque[Callback], asyncio.Task[None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        #: The loop of our own, when the server's is not asyncio.
        self._host: _LoopThread | None = None
        self._client: Any = None
        self._tls: Any = None
        #: What is being made on a thread (``_made``), by the attribute it goes to.
        self._making: dict[str, asyncio.Task[Any]] = {}
        self._closed = False
        #: Bumped on every change: ``wait`` looks again only then.
        self._version = 0
        self._recorded = 0

    # --- the app's side ---------------------------------------------------------------

    def notify(self, account: str, url: str, content_type: str | None, report: dict[str, Any],
               callback_data: str | None = None) -> None:
        """Queue one report for ``url``; returns at once, from any thread."""
        kind, body = report_body(report, content_type, callback_data)
        status = report.get("status")
        group = status.get("groupName") if isinstance(status, dict) else None
        with self._lock:
            self._next_id += 1
            callback = Callback(self._next_id - 1, account, url, kind, body, self._wall_clock(),
                                _text(report.get("messageId")), _text(report.get("channel")), _text(group))
            self._records.append(callback)
            self._recorded += 1
            self._version += 1
            if self._closed or len(self._pending) >= self.max_pending:
                callback.state = "dropped"
                callback.reason = SHUTTING_DOWN if self._closed else "too many callbacks pending"
                return
            self._pending[callback.id] = callback
            if not self._sends(callback):
                return  # another replica sends it (replication/webhooks.py)
            self._queues.setdefault(url, deque()).append(callback)
            if self._loop is None or url in self._draining:
                return  # delivered once started, or by the worker already draining that URL
            self._draining.add(url)
            loop = self._loop
        self._spawn_soon(loop, url)

    async def start(self) -> None:
        """Start delivering (callbacks queued before go out now): on the running asyncio loop, or on a
        loop of our own in a thread when the server runs on another event loop (trio)."""
        loop = _running_loop()
        if loop is None:
            self._host = host = _LoopThread()
            loop, thread = host.loop, host.ident
        else:
            thread = threading.get_ident()
        with self._lock:
            self._loop, self._loop_thread, self._closed = loop, thread, False
            waiting = [url for url, queue in self._queues.items() if queue and url not in self._draining]
            self._draining.update(waiting)
        for url in waiting:
            self._spawn_soon(loop, url)

    async def close(self) -> None:
        """Stop: nothing is sent after this returns; what was queued is recorded as dropped."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._drop(list(self._pending.values()), SHUTTING_DOWN)
            host = self._host
        if host is None:
            await self._stop_workers()
        else:
            await anyio.to_thread.run_sync(host.run, self._stop_workers)
            host.stop()
        with self._lock:  # a later start (the app served again) begins afresh
            self._loop = self._loop_thread = self._host = self._client = None
            self._making.clear()
            self._queues.clear()
            self._draining.clear()
            self._on_wire.clear()

    def clear(self, account: str | None = None) -> None:
        """Forget the records (of one account); its queued callbacks are not sent. Forgetting all of them
        starts the count of recorded callbacks again."""
        with self._lock:
            self._remove(account, "reset")
            if account is None:
                self._recorded = 0

    def snapshot(self, account: str | None = None) -> list[Callback]:
        """Copies of the records (of one account), for ``restore``."""
        with self._lock:
            return [c.copy() for c in self._records if account is None or c.account == account]

    def restore(self, callbacks: Iterable[Callback], account: str | None = None) -> None:
        """The records (of one account) become copies of ``callbacks``. Restoring sends nothing: what is
        queued is dropped, and callbacks that were pending when the snapshot was taken come back dropped."""
        restored = put_back(callbacks)
        with self._lock:
            self._remove(account, "a snapshot was restored")
            # Ids never repeat: those of later callbacks follow the restored ones (an import's may be any).
            self._next_id = max([self._next_id, *(c.id + 1 for c in restored)])
            merged = sorted([*self._records, *restored], key=lambda c: c.id)
            self._records.clear()
            self._records.extend(merged)
            if account is None:
                # A whole reset (or import) starts the count of recorded callbacks again, at what it restored.
                self._recorded = len(self._records)

    # --- what tests see ---------------------------------------------------------------

    def records(self, account: str | None = None, url: str | None = None, state: str | None = None,
                limit: int | None = None) -> list[Callback]:
        """Copies of the recorded callbacks, oldest first (the newest ``limit`` when given)."""
        with self._lock:
            found = list(self._matching(account, url, state))
            if limit is not None:
                found = found[-limit:] if limit > 0 else []
            return [c.copy() for c in found]

    def count(self, account: str | None = None, url: str | None = None, state: str | None = None) -> int:
        """How many recorded callbacks match (no copies: a ``wait`` predicate may ask after every change)."""
        with self._lock:
            return sum(1 for _ in self._matching(account, url, state))

    def _matching(self, account: str | None, url: str | None, state: str | None) -> Iterator[Callback]:
        return (c for c in self._records if matches(c, account, url, state))

    @property
    def pending(self) -> int:
        """Callbacks queued or on the wire."""
        return len(self._pending)

    @property
    def recorded(self) -> int:
        """Callbacks ever notified (the records keep the newest ``keep``)."""
        return self._recorded

    def changes(self) -> object:
        """What differs after every change of the records (``wait`` compares it)."""
        return self._version

    async def wait(self, predicate: Callable[[], bool], timeout: float,
                   gone: Callable[[], Awaitable[bool]] | None = None) -> bool:
        """Until ``predicate()`` holds (asked again after every change), at most ``timeout`` seconds, or until
        ``gone()`` says the one waiting left (an HTTP client that hung up: its wait would poll on for nobody).

        Works on any event loop and thread: it looks at a change counter every few milliseconds.
        """
        # The loop's clock, not time.monotonic: a test that freezes time (freezegun) must not stop the wait.
        deadline = anyio.current_time() + timeout
        seen: object = None
        while True:
            version = self.changes()
            if version != seen:
                seen = version
                if predicate():
                    return True
            remaining = deadline - anyio.current_time()
            if remaining <= 0 or (gone is not None and await gone()):
                return False
            await anyio.sleep(min(WAIT_POLL, remaining))

    # --- under the lock ---------------------------------------------------------------

    def _remove(self, account: str | None, reason: str) -> None:
        kept = [] if account is None else [c for c in self._records if c.account != account]
        self._records.clear()
        self._records.extend(kept)
        self._drop([c for c in self._pending.values() if account is None or c.account == account], reason)

    def _drop(self, callbacks: list[Callback], reason: str) -> None:
        # Their queues still hold them: each worker skips what is no longer pending.
        for callback in callbacks:
            self._settle(callback, "dropped", reason)
            if callback.id in self._on_wire:
                self._abandon(callback)
        self._version += 1

    def _abandon(self, callback: Callback) -> None:
        """Stop delivering ``callback`` now: its worker is cancelled (whatever it was waiting for: a stalled
        receiver, a backoff) and the rest of its URL's queue goes to a new worker, so the URL's next callback
        does not wait for the abandoned attempt's timeout."""
        url, queue, worker = self._on_wire.pop(callback.id)
        if self._queues.get(url) is queue:  # else a later worker took the URL over already
            rest = deque(c for c in queue if c.state == "pending")
            if rest:
                self._queues[url] = rest
                if self._loop is not None:  # never inline: _spawn takes the lock held here
                    try:
                        self._loop.call_soon_threadsafe(self._spawn, url)
                    except RuntimeError:
                        pass  # the loop is gone: the server stopped, and close() dropped the rest
            else:
                del self._queues[url]
                self._draining.discard(url)
        if threading.get_ident() == self._loop_thread:
            worker.cancel()
        elif self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(worker.cancel)
            except RuntimeError:
                pass  # the loop is gone: so is the worker

    def _settle(self, callback: Callback, state: State, reason: str | None) -> None:
        callback.state, callback.reason = state, reason
        self._pending.pop(callback.id, None)
        self._version += 1

    def _sends(self, callback: Callback) -> bool:
        """Whether this server sends ``callback`` (replicas on Redis: only the one whose call made it)."""
        return True

    def _attempted(self, callback: Callback, done: Attempt | None,
                   settle: tuple[State, str | None] | None) -> None:
        """Record an attempt (None: refused, never sent), and the callback's end if it was the last (replicas
        record it through the log). Nothing more is recorded for a callback dropped meanwhile."""
        with self._lock:
            if callback.state != "pending":
                return
            if done is not None:
                callback.attempts.append(done)
            self._version += 1
            if settle is not None:
                self._settle(callback, *settle)

    # --- delivery, on the loop --------------------------------------------------------

    def _spawn_soon(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        if threading.get_ident() == self._loop_thread:
            self._spawn(url)
            return
        try:
            loop.call_soon_threadsafe(self._spawn, url)
        except RuntimeError:  # the loop is gone: the server stopped meanwhile, and close() dropped it
            pass

    def _spawn(self, url: str) -> None:
        if self._closed or self._loop is None:
            return
        # In a context of its own: a worker started from inside a vendor call must not carry that call's
        # context variables (a replica applying a call draws its random values from the call's seed there).
        with self._lock:
            queue = self._queues.get(url)
            if queue is None:  # abandoned and taken over meanwhile, or emptied: nothing for this worker
                return
            task = contextvars.Context().run(self._loop.create_task, self._drain(url, queue))
        self._workers.add(task)
        task.add_done_callback(self._workers.discard)

    async def _drain(self, url: str, queue: deque[Callback]) -> None:
        """Deliver ``queue`` in order; stop when it is empty or when it is no longer the URL's queue (an
        attempt of it was abandoned: a new worker has the rest)."""
        worker = asyncio.current_task()
        assert worker is not None
        while True:
            with self._lock:
                if self._queues.get(url) is not queue:
                    return
                while queue and queue[0].state != "pending":
                    queue.popleft()  # dropped by a reset or a restore
                if not queue:
                    del self._queues[url]
                    self._draining.discard(url)
                    return
                callback = queue[0]
                self._on_wire[callback.id] = (url, queue, worker)
            try:
                await self._deliver(callback)
            finally:
                with self._lock:
                    wire = self._on_wire.get(callback.id)
                    if wire is not None and wire[2] is worker:
                        del self._on_wire[callback.id]
            with self._lock:
                if queue and queue[0] is callback:
                    queue.popleft()

    async def _deliver(self, callback: Callback) -> None:
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(self.backoff * 2 ** (attempt - 1))
            if callback.state != "pending":
                return
            try:
                done = await self._attempt(callback)
            except Refused as refused:
                self._attempted(callback, None, ("failed", refused.reason))
                return
            delivered = done.status is not None and 200 <= done.status < 300
            settle: tuple[State, str | None] | None = ("delivered", None) if delivered else (
                ("failed", f"no 2xx answer in {self.attempts} attempt(s)") if attempt == self.attempts - 1 else None)
            self._attempted(callback, done, settle)
            if delivered or callback.state != "pending":
                return  # delivered, failed for good, or dropped while on the wire

    async def _attempt(self, callback: Callback) -> Attempt:
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            # First, and not within the timeout: the client (httpx imported off the loop, ``_http``) before
            # resolve_targets uses httpx. Within the try: a client that cannot be made (no thread to make it
            # on: the loop's executor shut down) is an attempt that failed, not a worker that died with the
            # URL's queue (its callbacks pending for ever).
            await self._http()
            started = time.perf_counter()
            # The whole attempt within the timeout (the name's resolution included): a receiver trickling its
            # answer byte by byte is a timeout.
            async with asyncio.timeout(self.timeout):
                targets = await resolve_targets(callback.url, self.allow)
                for index, target in enumerate(targets):
                    try:
                        status = await self._post(target, callback)
                        break
                    except _connect_errors():
                        if index == len(targets) - 1:
                            raise  # else the name's next address (localhost: ::1, then 127.0.0.1)
        except Refused:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to deliver is an attempt that failed
            if status is None:
                error = masked_url(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return Attempt(self._wall_clock(), status, error, round((time.perf_counter() - started) * 1000, 3))

    async def _post(self, target: Target, callback: Callback) -> int:
        """POST the callback to the checked address; the receiver's status."""
        headers = {"content-type": callback.content_type, "host": target.host, "user-agent": PUSH_USER_AGENT}
        if isinstance(self._tls, CaBundleUnusable) and target.url.startswith("https:"):
            raise CaBundleUnusable(*self._tls.args)  # plain http goes on: it needs no CA bundle
        if target.sni_hostname is None or self._transport is not None:
            return await self._stream(await self._http(), target, callback, headers)
        # https to a name: a connection of its own. The pool knows connections by address only, so a pooled
        # one, made and verified for another name on that address, must not carry this one.
        async with await self._client_for_tls() as client:
            return await self._stream(client, target, callback, headers)

    async def _stream(self, client: Any, target: Target, callback: Callback, headers: dict[str, str]) -> int:
        async with client.stream("POST", target.url, content=callback.body, headers=headers,
                                 extensions=target.extensions) as response:
            # The answer's body is not needed: a little is read so the connection can be kept, never more.
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read > MAX_ANSWER_READ:
                    break
            status: int = response.status_code
            return status

    async def _client_for_tls(self) -> Any:
        import httpx  # imported by now, off the loop (_attempt)

        return httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False,
                                 verify=_usable(self._tls))

    async def _http(self) -> Any:
        # Made on the first callback (servers that push none never pay for it), on a thread: importing httpx
        # (httpcore, and rich and pygments for its CLI when installed) and loading its CA certificates take
        # 0.2 s, 0.6 s on a loaded machine, which on the loop held every vendor call in flight meanwhile.
        if self._client is not None:
            return self._client
        await self._made("_tls", _tls_context)  # first: the pooled client verifies with it too
        return await self._made("_client", self._new_client)

    async def _made(self, attribute: str, make: Callable[[], Any]) -> Any:
        """``self.<attribute>``, made by ``make()`` on a thread the first time: once for every caller (the first
        callbacks to many URLs wait for one client, one CA file parsed), in a task of its own, so that a caller
        that gives up (an attempt's timeout, a callback a reset abandoned) leaves it to finish for the next
        one: made again by each attempt, one slower than the timeout would never be made. A failure is the
        waiting callers' (their attempts fail); the next caller tries again."""
        made = getattr(self, attribute)
        if made is not None:
            return made
        task = self._making.get(attribute)
        if task is None or task.done():  # none yet, or one that failed or was cancelled (close)
            task = self._making[attribute] = asyncio.get_running_loop().create_task(self._make(attribute, make))
        return await asyncio.shield(task)

    async def _make(self, attribute: str, make: Callable[[], Any]) -> Any:
        made = await asyncio.to_thread(make)
        setattr(self, attribute, made)  # on the loop, before any caller resumes: close() closes it
        return made

    def _new_client(self) -> Any:
        import httpx

        # trust_env=False: a proxy from the environment must not see (or swallow) the app's callbacks. The
        # certificates are still verified as SSL_CERT_FILE and SSL_CERT_DIR say (_tls_context).
        return httpx.AsyncClient(timeout=self.timeout, trust_env=False, follow_redirects=False,
                                 transport=self._transport, verify=_usable(self._tls))

    async def _stop_workers(self) -> None:
        # What is being made goes too: its thread runs on (it cannot be stopped), its result is never used
        # (a client no attempt used holds no connection).
        workers = [*self._workers, *self._making.values()]
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


class _LoopThread:
    """An asyncio loop in a daemon thread: where callbacks go out when the server's loop is not asyncio's."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mock-omni-webhooks", daemon=True)
        self._thread.start()
        assert self._thread.ident is not None
        self.ident: int = self._thread.ident

    def run(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run a coroutine on the loop and wait for it (from another thread)."""
        asyncio.run_coroutine_threadsafe(make(), self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


def matches(callback: Callback, account: str | None, url: str | None, state: str | None) -> bool:
    """Whether ``callback`` is among those asked for (None: any); ``url`` with its credentials masked, as
    records show it (the real one or the masked one finds the same callbacks, and nothing guesses a password)."""
    return ((account is None or callback.account == account)
            and (url is None or masked_url(callback.url) == masked_url(url))
            and (state is None or callback.state == state))


class CaBundleUnusable(Exception):
    """``SSL_CERT_FILE`` (or ``SSL_CERT_DIR``) names no CA bundle that can be read: an https callback's failed
    attempt, naming the variable."""


def _tls_context() -> Any:
    """What every https callback is verified with: the CA bundle in ``SSL_CERT_FILE``, else the directory in
    ``SSL_CERT_DIR``, else certifi's (httpx's rule). One for the pooled client and the callbacks to a name alike:
    the pooled one used to take certifi's whatever the environment said.

    A bundle that cannot be read is a CaBundleUnusable, not raised: the pooled client carries plain http
    callbacks too, which need none (raised, every callback failed, 'FileNotFoundError', naming no variable)."""
    import os
    import ssl

    import httpx

    try:
        return httpx.create_ssl_context()
    except (OSError, ssl.SSLError) as exc:
        variable = "SSL_CERT_FILE" if os.environ.get("SSL_CERT_FILE") else "SSL_CERT_DIR"
        return CaBundleUnusable(f"{variable}={os.environ.get(variable)!r}: {getattr(exc, 'strerror', None) or exc}")


def _usable(tls: Any) -> Any:
    """``tls``, or for a CaBundleUnusable a context that trusts nothing (https is refused before it is used)."""
    import ssl

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if isinstance(tls, CaBundleUnusable) else tls


def _connect_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.ConnectError, OSError)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
