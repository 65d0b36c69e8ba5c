"""``create_app``: builds one independent mock server (store, limiter, journal, routes).

The ASGI entry point sends the vendor's paths straight to the pure-ASGI
``VendorApi`` and everything else (OpenAPI, docs, admin API) to a FastAPI app
that is built on first use, so start-up does not pay for importing FastAPI;
``mock-omni serve`` builds it on a thread of its own once it listens
(``build_web_in_background``), so that the first admin call does not pay for it either.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from importlib import import_module
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import Receive, Scope, Send

from .api.dispatcher import VendorApi, VendorRequest
from .domain.accounts import KeyFactory, random_key
from .domain.backend import Backend
from .domain.clock import Clock
from .server.batched_transport import Outbox
from .server.work_share import WorkShare
from .settings import Settings
from .state import StoreUnreachable
from .stores import open_state
from .testing.admin import Admin
from .web.cors import CorsMiddleware, OriginPolicy
from .web.csrf import AdminGuard
from .web.head import HeadAsGet
from .web.hosts import HostMiddleware, HostPolicy
from .web.state_file import PersistMiddleware, StateFile

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .replication.replica import Replica

log = logging.getLogger("mock_omni")
#: Seconds between two looks at the messages' due transitions (reports and pushes happen on time
#: even when nobody calls the server).
TICK_SECONDS = 0.1


class MockOmni:
    """One mock server's state and its ASGI callable. No module-level state: build as many as you like."""

    def __init__(
        self, settings: Settings | None = None, *, clock: Clock | None = None,
        key_factory: KeyFactory = random_key, wall_clock: Callable[[], float] = time.time, listening: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.key_factory = key_factory
        #: Every part of the state, in this process or on a Redis shared by replicas (state.py).
        self.state = state = open_state(self.settings, clock, key_factory, wall_clock)
        self.state_file = StateFile(self.settings.state_file) if self.settings.state_file else None
        if self.state_file is not None:
            saved = self.state_file.load(key_factory)
            if saved is not None:
                self.state.accounts.replace(saved)
            self.state_file.saved_revision = self.state.accounts.revision
        self.backend = Backend(self.state.accounts, self.state.clock, state.signin, self.state.messages)
        #: The connections' writes held to the end of the loop's turn (server/batched_transport.py); the work
        #: share's turn sends them first.
        self.outbox = Outbox()
        self.vendor = (state.vendor or VendorApi)(
            self.backend, self.state.limiter, self.state.journal, self.settings.max_body, self.state.faults.hook,
            fence=self.state.fence, errors=self.state.errors, pace=self.state.faults.sleep,
            share=WorkShare(before_turn=self.outbox.flush))
        self._all_direct = self.vendor.router.all_direct
        #: The admin API's operations (accounts, snapshots, state import); admin_api.py serves them.
        self.admin = Admin(self.state, self.settings, key_factory, self.tick)
        # Messages walk, and tokens and sessions expire, on their account's clock: everyone's, plus what the
        # admin API moved that account's.
        self.state.messages.account_offset = self.admin.own_clock_offset
        self.state.signin.account_offset = self.admin.own_clock_offset
        #: Replicas on Redis: every change goes through the log (replication/); None in memory.
        self.replica = state.replica
        self._web: FastAPI | None = None
        self._pages: HeadAsGet | None = None
        #: Held while the web app is built: by the first request that needs it, or by the thread building it
        #: in the background (``build_web_in_background``), whose end ``_web_built`` says.
        self._web_lock = threading.Lock()
        self._web_built: concurrent.futures.Future[None] | None = None
        #: Whether ``running`` is in force (its ticker and callbacks run once, however many lifespans nest).
        self._running = False
        #: Whether the lifespan lets the server answer before ``running`` starts (``mock-omni serve``): anyio's
        #: asyncio backend, which its task group needs, is then imported on a thread while the first calls are
        #: answered, and the ticker and the callbacks' delivery start a few ms later (callbacks queued meanwhile
        #: go out then). In-process (TestClient, the plugin's in-process app) they start before any request.
        self.serve_first = False
        if self.replica is not None:
            replica = self.replica
            # Admin changes applied from the log were let in by the replica that took them.
            self.admin.trusted = lambda: replica.applying
            # After ``_web``: joining applies the log's admin entries through the web app.
            self._join(replica)
        #: The whole ASGI stack: Host check around CORS around the admin API's guard around persistence around
        #: ``route``; each only when enabled.
        self.asgi: Any = self.route
        if self.state_file is not None:
            self.asgi = PersistMiddleware(self.asgi, self.state.accounts, self.state_file)
        self.cors = OriginPolicy(self.settings.cors_origins)
        # Pages on other sites may not use the admin API (web/csrf.py), whether CORS is on or not.
        self.asgi = AdminGuard(self.asgi, self.cors)
        if self.cors.enabled:
            self.asgi = CorsMiddleware(self.asgi, self.cors)
        #: Which Host a request may name (web/hosts.py), when the app answers a socket (``listening``: the CLI);
        #: None in-process (TestClient's ``http://testserver``), where no browser can reach it. The direct
        #: answers (server/http_protocol.py) ask the same policy, through ``answers_directly``.
        self.hosts = HostPolicy(self.settings.allowed_hosts, self.settings.host) if listening else None
        if self.hosts is not None:
            self.asgi = HostMiddleware(self.asgi, self.hosts)

    def _join(self, replica: Replica) -> None:
        from .replication.log import StoreUnavailable

        try:
            replica.bind(self)
            self.state.origin += (f": seeded with {len(self.state.initial_accounts)} fixture accounts" if replica.began
                                  else f": joined, {len(self.state.accounts.usernames())} accounts there")
        except StoreUnavailable:
            self.close()
            raise StoreUnreachable(f"Redis at {self.settings.store} stopped answering while mock-omni started") \
                from None

    def answers_directly(self, request: VendorRequest) -> bool:
        """Whether ``VendorApi.answer`` alone gives this request the answer the whole ASGI stack would.

        Not when a fault rule may apply (its delay is awaited), when a state file must be
        saved first, when CORS may add headers, when the Host is not allowed (the ASGI stack
        refuses it), or when the route table says the operation must go through the ASGI app.
        server/http_protocol.py asks before taking a request.
        """
        return (not self.state.faults.armed and self.state_file is None
                and not (request.has_origin and self.cors.enabled)
                and (self.hosts is None or self.hosts.allows(request.host))
                and (self._all_direct or self.vendor.router.direct(request.method, request.path)))

    @property
    def web(self) -> FastAPI:
        """The FastAPI app for everything that is not the vendor API, built on first use (thread-safe: once)."""
        if self._web is None:
            with self._web_lock:
                if self._web is None:
                    from .web.app import build_web_app

                    self._web = build_web_app(self.admin)
        return self._web

    def build_web_in_background(self, then: Callable[[], None] | None = None) -> None:
        """Build ``pages`` (FastAPI imported, the admin API, dashboard and docs routes) on a thread of its own,
        then call ``then`` there: what ``mock-omni serve`` does once it listens (server/cli.py), so that the
        vendor API answers before FastAPI is even imported, and the first admin or dashboard call does not
        wait for the build either. A request that needs it earlier awaits the build without holding the
        event loop (``route``); vendor calls go on meanwhile. On the asyncio loop only (uvicorn's)."""
        built: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._web_built = built

        def build() -> None:
            try:
                _ = self.pages
            except Exception:  # the request that needs it builds it again, and answers the error as usual
                log.debug("building the web app in the background failed", exc_info=True)
            finally:
                built.set_result(None)
                if then is not None:
                    then()

        threading.Thread(target=build, name="mock-omni-web", daemon=True).start()

    def stop_waiting(self) -> None:
        """The server stops (server/cli.py, before uvicorn drains the requests in flight): every wait ends now,
        so none keeps the drain waiting, or is cancelled at its end with a traceback. A callbacks wait answers
        503 (the server is shutting down); a fault's delay ends and its call goes on."""
        self.admin.stopping.set()
        self.state.faults.stop()

    @property
    def pages(self) -> HeadAsGet:
        """``web`` with HEAD answered wherever GET is (web/head.py): what requests from outside reach."""
        if self._pages is None:
            self._pages = HeadAsGet(self.web)
        return self._pages

    def close(self) -> None:
        """Release what the state holds outside this process (Redis connections); memory holds nothing."""
        self.state.close()

    def reset(self, account: str | None = None) -> None:
        """Back to the fixture state, or one account back to where it started: the admin API's reset (on
        replicas, through the log like any change, so that every replica resets)."""
        if self.replica is None:
            self.admin.reset(account)
            return
        from urllib.parse import urlencode

        from .replication.entries import ADMIN

        query = urlencode({"account": account}).encode() if account is not None else b""
        [result] = self.replica.exchange([self.replica.entry(ADMIN, method="POST", path="/__admin/reset",
                                                             query=query)])
        if not isinstance(result, tuple) or result[0] != 200:
            raise RuntimeError(f"the reset through the log was answered {result!r}")

    def tick(self) -> None:
        """Perform the messages' transitions that are due (the ticker calls it; so does the admin clock)."""
        if self.replica is not None and not self.replica.applying:
            self._replicated_tick(self.replica)
            return
        try:
            self.state.messages.advance()
        except Exception:  # the ticker must survive whatever one transition or push does
            log.exception("advancing messages failed")

    def export_state(self, account: str | None = None) -> dict[str, object]:
        """The state as a fixture document (the admin API's ``GET /__admin/state``)."""
        return self.admin.export_state(account)

    def _due(self, replica: Replica) -> bool:
        """Whether a message's transition is due by the time a new entry would carry (the state's own clock
        reads the last entry's)."""
        return self.state.messages.due_at(replica.stamp() + self.state.clock.offset)

    def _replicated_tick(self, replica: Replica) -> None:
        """Catch up with the log; while messages are on their way, their due transitions are an entry of it."""
        from .replication.entries import TICK
        from .replication.log import StoreUnavailable

        try:
            entries = replica.heartbeat()
            if self._due(replica):
                entries.append(replica.entry(TICK))
            replica.exchange(entries)
        except StoreUnavailable:
            pass  # said once per outage by the log; the next tick tries again
        except Exception:  # the ticker must survive whatever one transition does
            log.exception("advancing messages failed")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http" and VendorApi.handles(scope["path"]):
            await self.vendor(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        elif self._web_built is not None and not self._web_built.done():
            # Being built beside the vendor API (``build_web_in_background``): awaited, the loop serves on.
            await asyncio.wrap_future(self._web_built)
            await self.route(scope, receive, send)
        elif self.replica is not None and kind == "http":
            await self._replicated_web(self.replica, scope, receive, send)
        else:
            self.tick()  # the admin API and the dashboard see the messages as of now
            await self.pages(scope, receive, send)

    async def _replicated_web(self, replica: Replica, scope: Scope, receive: Receive, send: Send) -> None:
        """Reads see the log's present; a change is an entry of the log, answered once applied."""
        from .api.answers import error_answer
        from .api.codecs import JSON
        from .replication.entries import ADMIN, TICK
        from .replication.log import StoreFull, StoreUnavailable
        from .replication.replica import Failed, read_request
        from .testing import ADMIN_PREFIX, ADMIN_TOKEN_HEADER
        from .testing.admin_routes.common import admin_token_given

        try:
            if scope["method"] in ("GET", "HEAD", "OPTIONS"):
                # Caught up; and the messages' transitions that are due now as one more entry (a read adds
                # nothing to the log otherwise: a dashboard polling a store does not grow it).
                replica.exchange([])
                if self._due(replica):
                    replica.exchange([replica.entry(TICK)])
                await self.pages(scope, receive, send)
                return
            token = next((value.decode("latin-1") for name, value in scope["headers"]
                          if name == ADMIN_TOKEN_HEADER.encode()), None)
            if scope["path"].startswith(ADMIN_PREFIX) and not admin_token_given(self.settings.admin_token, token):
                await self.web(scope, receive, send)  # its 401, from this replica's token: nothing for the log
                return
            body = await read_request(receive)
            if body is None:
                return  # the client left
            entry = replica.entry(ADMIN, method=scope["method"], path=scope["path"], query=scope["query_string"],
                                  headers=list(scope["headers"]), body=body)
            try:
                [result] = replica.exchange([entry])
            except StoreFull:
                if not replica.whole_reset(entry):
                    raise
                result = replica.restart(entry)
            if isinstance(result, Failed):
                raise StoreUnavailable() from result.error  # recorded where it failed: answered 500
            status, headers, content = result
        except StoreUnavailable as error:
            answer = error_answer(error, JSON)
            status, headers, content = answer.status, answer.headers, answer.content
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        if message["type"] != "lifespan.startup":
            return
        if self.serve_first:
            await send({"type": "lifespan.startup.complete"})
            # Only ``mock-omni serve`` sets it, on uvicorn's asyncio loop (docs/performance.md, cold start).
            await asyncio.get_running_loop().run_in_executor(None, import_module, "anyio._backends._asyncio")
        async with self.running():
            if not self.serve_first:
                await send({"type": "lifespan.startup.complete"})
            while message["type"] != "lifespan.shutdown":
                message = await receive()
        await send({"type": "lifespan.shutdown.complete"})

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """What a serving app does by itself: the ticker, and pushing callbacks (the lifespan; the plugin's
        in-process server too). After it, nothing happens by itself, and no callback goes out.

        Nested uses (a test's own TestClient around the plugin's in-process app) change nothing: the
        outermost runs the ticker and the callbacks, and stops them.
        """
        if self._running:
            yield
            return
        self._running = True
        try:
            # anyio, not asyncio: the app runs under trio too (Starlette's TestClient can use it).
            async with anyio.create_task_group() as ticking:
                await self.state.webhooks.start()
                ticking.start_soon(self._tick_forever)
                try:
                    yield
                finally:
                    ticking.cancel_scope.cancel()
                    with anyio.CancelScope(shield=True):
                        await self.state.webhooks.close()
        finally:
            self._running = False

    async def _tick_forever(self) -> None:
        if self.replica is not None:
            await self._follow_forever(self.replica)
        while True:
            await anyio.sleep(TICK_SECONDS)
            self.tick()

    async def _follow_forever(self, replica: Replica) -> None:
        """A replica's ticker: it looks at the log when told that it grew (Redis pub/sub, on asyncio), every
        ``TICK_SECONDS`` while messages are on their way (their due transitions) or while it cannot be told,
        and else once a second (its heartbeat). Whatever the number of waiters, never more."""
        import asyncio

        from .replication.replica import BEAT_SECONDS

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not asyncio (trio): the plain ticker
        woken = asyncio.Event()

        def grew(epoch: str, end: int) -> None:  # on the listener's thread
            if epoch != replica.epoch or end > replica.cursor:
                try:
                    loop.call_soon_threadsafe(woken.set)
                except RuntimeError:
                    pass  # the loop is closed: stopping

        listener = replica.link.listen(grew)
        try:
            while True:
                idle = listener.listening and not self.state.messages.in_flight
                with anyio.move_on_after(BEAT_SECONDS if idle else TICK_SECONDS):
                    await woken.wait()
                woken.clear()
                self.tick()
        finally:
            listener.stop()


def create_app(settings: Settings | None = None, **options: Any) -> MockOmni:
    """Build a mock server; options: ``clock`` (a Clock), ``key_factory`` (new scenario keys),
    ``wall_clock`` (POSIX seconds the mock's clock starts at, for the dates of messages) and ``listening``
    (True when it answers a socket, as ``mock-omni serve``: requests must then name an allowed Host)."""
    return MockOmni(settings, **options)
