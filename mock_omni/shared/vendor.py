"""The vendor dispatcher on a shared store: each call is one script, and the calls of one
event-loop turn share one round trip.

The checks and their order are the memory dispatcher's (vendor/api.py): Accept 406, route
404/405, size 413, credentials 401, scopes 403, fault, Content-Type 415, rate limit 429, body
and query 400, handler. What needs no state is checked here first; the rest happens in the
call's script (call.lua): the credentials are proven against the account and their scopes
checked, the reset fence is checked, a failure found here (415 before the rate limit, 400 after
it) is answered only once the script has decided the earlier checks, the token is taken, the
handler's operation runs, and the journal entry is written, all atomically. The handler reaches
the script through the gate (gate.py). Sign-in calls, which have no account until their handler
has checked their credentials, run the memory dispatcher's steps, each of their scripts in turn.

A call is written as steps (generators) that yield each script they need (``RoundTrip``).
``answer`` and the ASGI path drive them one round trip at a time; ``answer_soon`` (the HTTP
protocol's direct answers) drives every call that arrived in one turn of the event loop
together: their scripts go to Redis pipelined, in one round trip, instead of one each.
Inside a step, a script is reached through ``Link.run``, which raises ``RoundTrip`` the
first time and answers from the step's recording when the step runs again (link.py).

The script refuses to act on a stale configuration (config.py): the replica reloads and
runs the call again, and if a fault rule added elsewhere now applies, the call goes back
through the fault hook (``None`` from ``perform``: the ASGI path's ``decide`` loops, the
protocol hands the call to the ASGI app).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..domain.errors import GeneralError, OmniError, Unauthorized
from ..vendor.answers import Answer, error_answer
from ..vendor.api import Exchange, VendorApi, VendorRequest
from ..vendor.codecs import JSON
from ..vendor.routing import Call, Operation
from . import scripts
from .config import EPOCH, STORE
from .gate import CURRENT, STATUSES, TICKET, UNGATED, Fenced, Gate, Stale, Unproven, journal_held, status_of
from .journal import entry_arguments
from .limiter import limit_arguments
from .link import RECORDING, Link, Recording, RoundTrip, StoreUnavailable
from .store import scope_set

if TYPE_CHECKING:
    from . import Shared

log = logging.getLogger("mock_omni")
T = TypeVar("T")
#: A call's steps: they yield the round trips they need and get each one's reply back.
Steps = Generator[RoundTrip, Any, T]

#: Runs of one call's script before giving up (each after a configuration change under it).
ATTEMPTS = 5
#: An epoch no account has: proving credentials alone never waits for the configuration.
ANY_EPOCH = "1e308"
READ = scripts.named("read")
INDEX = scripts.named("index")


def step(operation: Callable[[], T]) -> Steps[T]:
    """``operation`` (which may reach Redis) as a step: run again after each round trip it needs."""
    recording = Recording()
    while True:
        token = RECORDING.set(recording)
        try:
            return operation()
        except RoundTrip as needed:
            trip = needed
        finally:
            RECORDING.reset(token)
        recording.add(trip, (yield trip))


def drive(steps: Steps[T], link: Link) -> T:
    """Steps run one round trip at a time."""
    try:
        trip = next(steps)
        while True:
            trip = steps.send(link.run_many((trip,))[0])
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


@dataclass(slots=True)
class _Waiting:
    steps: Steps[Answer | None]
    request: VendorRequest
    body: bytes | None
    ticket: int | None
    reply: Callable[[Answer | None], None]


class SharedVendorApi(VendorApi):
    batched = True

    def __init__(self, *args: Any, shared: Shared, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared
        #: Calls that went back through the fault hook (kept until done: the loop holds tasks weakly).
        self._hooked: set[asyncio.Task[None]] = set()

    # --- one round trip at a time ---------------------------------------------------------

    def admit(self, request: VendorRequest, too_large: bool) -> Exchange:
        return drive(self.admit_steps(request, too_large), self.shared.link)

    def perform(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer | None:
        return drive(self.perform_steps(exchange, request, body), self.shared.link)

    async def decide(self, request: VendorRequest, body: bytes | None, ticket: int) -> Answer | None:
        """As the memory dispatcher's, with the fence checked by the call's script too, and the hook
        awaited again when a fault rule added on another replica turns out to apply."""
        try:
            for _ in range(ATTEMPTS):
                exchange = self.admit(request, body is None)
                dropped = await self.hook(exchange, request)
                if not self.fence.admits(ticket, exchange.account):
                    return None
                if dropped:
                    self.journal.record(request.method, request.path, request.query, request.headers, body or b"",
                                        0, exchange.account)
                    return None
                answer = drive(self.perform_steps(exchange, request, body or b"", ticket, hooked=True),
                               self.shared.link)
                if answer is not None:
                    return answer
            return error_answer(GeneralError("The configuration kept changing; try again."), JSON)
        except Fenced:
            return None
        except StoreUnavailable as error:  # the ticket, the fence or a journal entry could not be read or written
            return error_answer(error, JSON)

    # --- answered later: scripts pipelined on the event loop (pipe.py) --------------------------

    def answer(self, request: VendorRequest, body: bytes | None, ticket: int | None = None) -> Answer | None:
        """Not on a shared store: a call may need the fault hook awaited (``answer_soon`` sees to it)."""
        raise NotImplementedError("a shared store's calls are answered through answer_soon or the ASGI app")

    def answer_soon(self, request: VendorRequest, body: bytes | None, ticket: int | None,
                    reply: Callable[[Answer | None], None]) -> None:
        steps = self.perform_after_admit(request, body, ticket)
        self._advance(_Waiting(steps, request, body, ticket, reply), None)

    def perform_after_admit(self, request: VendorRequest, body: bytes | None,
                            ticket: int | None) -> Steps[Answer | None]:
        exchange = yield from self.admit_steps(request, body is None)
        return (yield from self.perform_steps(exchange, request, body or b"", ticket))

    def _advance(self, call: _Waiting, reply: Any) -> None:
        """The call's steps up to the next script, which goes to the pipe; its reply continues them."""
        try:
            trip = call.steps.send(reply)
        except Fenced:
            self._reply(call, None)  # reset while its body came: dropped, nothing done
        except StopIteration as done:
            if done.value is None:
                # A fault rule applies that the call was not taken through: the ASGI path's steps, its hook awaited.
                task = asyncio.get_running_loop().create_task(self._hooked_call(call))
                self._hooked.add(task)
                task.add_done_callback(self._hooked.discard)
            else:
                self._reply(call, done.value)
        except Exception as error:  # noqa: BLE001 - a bug: the 500 envelope, as anywhere else
            self._reply(call, error_answer(error, JSON, f"{call.request.method} {call.request.path}", self.errors))
        else:
            self.shared.pipe.send(trip, functools.partial(self._advance, call))

    async def _hooked_call(self, call: _Waiting) -> None:
        ticket = self.fence.ticket() if call.ticket is None else call.ticket
        self._reply(call, await self.decide(call.request, call.body, ticket))

    @staticmethod
    def _reply(call: _Waiting, answer: Answer | None) -> None:
        try:
            call.reply(answer)
        except Exception:  # one connection's trouble must not keep the rest of the batch unanswered
            log.exception("mock-omni: could not send an answer")

    # --- the steps ----------------------------------------------------------------------------

    def admit_steps(self, request: VendorRequest, too_large: bool) -> Steps[Exchange]:
        try:
            exchange = VendorApi.admit(self, request, too_large)
            if exchange.answer is None and exchange.operation is not None:
                if not exchange.operation.authenticated:
                    # No account's script checks the configuration for it: a fault rule added elsewhere
                    # would go unseen.
                    yield from self._refresh()
                elif self.shared.faults.may_apply(request.method, request.path, exchange.account):
                    # A fault rule may answer this call: only once its credentials and scopes pass (401, 403).
                    yield from self._prove(exchange, request)
        except StoreUnavailable as error:
            exchange = Exchange(answer=error_answer(error, JSON))
        return exchange

    def perform_steps(self, exchange: Exchange, request: VendorRequest, body: bytes, ticket: int | None = None,
                      hooked: bool = False) -> Steps[Answer | None]:
        """The call after admission: ``ticket`` is its fence ticket (ASGI path), ``hooked`` whether the fault
        hook was awaited for it; None: a fault rule applies that was not, or no longer, awaited."""
        try:
            operation = exchange.operation
            if exchange.answer is not None or operation is None:
                return (yield from step(lambda: VendorApi.perform(self, exchange, request, body)))
            if not operation.authenticated:
                if not hooked and self.shared.faults.may_apply(request.method, request.path, ""):
                    return None
                return (yield from step(lambda: VendorApi.perform(self, exchange, request, body)))
            return (yield from self._perform(exchange, operation, request, body, ticket))
        except StoreUnavailable as error:
            # Redis is gone: nothing was applied, nothing could be journaled.
            return error_answer(error, exchange.fmt)

    def _perform(self, exchange: Exchange, operation: Operation, request: VendorRequest, body: bytes,
                 ticket: int | None) -> Steps[Answer | None]:
        account = exchange.account
        assert account is not None
        pre: OmniError | None = None
        post: BaseException | None = None
        call: Call | None = None
        try:
            body_format = self.body_format(operation, request)
        except OmniError as error:
            pre = error
        else:
            call = Call(account, exchange.params, {}, None, request.authorization)
            try:
                self.parse(call, operation, request, body_format, body)
            except Exception as error:  # noqa: BLE001 - answered once the script has decided the earlier checks
                post, call = error, None
        entry = entry_arguments(request.method, request.path, request.query, request.headers, body, account)
        for _ in range(ATTEMPTS):
            gate = Gate(self._arguments(account, request, operation, pre, post, entry, ticket), pre, post)
            try:
                return (yield from step(functools.partial(self._through, gate, exchange, operation, call, request)))
            except Stale:
                self.shared.config.reload()
                if self.shared.faults.may_apply(request.method, request.path, account):
                    return None
            except Unproven as unproven:
                return (yield from self._unproven(exchange, request, body, unproven.dropped, ticket))
        return error_answer(GeneralError("The configuration kept changing; try again."), exchange.fmt)

    def _arguments(self, account: str, request: VendorRequest, operation: Operation, pre: OmniError | None,
                   post: BaseException | None, entry: list[str | bytes], ticket: int | None) -> list[str | bytes]:
        """The script's ARGV 1-26 (call.lua)."""
        shared = self.shared
        config = shared.config.current
        claim = shared.auth.claim(request.authorization)
        rule = shared.limiter.rule_for(account, operation.name)
        return [config.store_id, str(config.epoch), claim.kind, claim.digest, scope_set(operation.scopes or None),
                "" if ticket is None else str(ticket), "" if pre is None else str(pre.status),
                *limit_arguments(operation.name, rule, shared.clock), "" if post is None else str(status_of(post)),
                str(operation.status), *STATUSES, str(shared.journal.limit), *entry]

    def _through(self, gate: Gate, exchange: Exchange, operation: Operation, call: Call | None,
                 request: VendorRequest) -> Answer:
        """The call with its gate open: the handler's operation runs the whole script."""
        where = f"{request.method} {request.path}"
        account = exchange.account
        assert account is not None
        token = CURRENT.set(gate)
        try:
            # Not ``gate.post``: the handler's own failure sets it, and the step must run the same way again.
            if call is not None:
                try:
                    answer = self.respond(exchange, operation, operation.handler(self.backend, call))
                except (Stale, Unproven, Fenced, StoreUnavailable):
                    raise
                except Exception as error:  # noqa: BLE001 - decided by the script, or found before it ran
                    if gate.held:
                        journal_held(self.shared.link, gate, account, status_of(error))
                    if gate.done:
                        return error_answer(error, exchange.fmt, where, self.errors)
                    gate.fail_after_limit(error)
                else:
                    if gate.held:
                        journal_held(self.shared.link, gate, account, operation.status)
                    elif not gate.done:
                        # An operation that reached no script of its own is still checked (and journaled).
                        return self._checked(account, exchange, where) or answer
                    return answer
            # A failure found here: the script still decides credentials and rate limit first.
            refused = self._checked(account, exchange, where)
            if refused is None:
                raise AssertionError("a call with a failure passed its checks")
            return refused
        finally:
            CURRENT.reset(token)

    def _checked(self, account: str, exchange: Exchange, where: str) -> Answer | None:
        """The gate's checks alone (the script journals the call): the refusal's answer, None if they pass."""
        try:
            self.shared.store.checks(account)
        except (Stale, Unproven, Fenced, StoreUnavailable):
            raise
        except Exception as error:  # noqa: BLE001 - the failure the script chose, journaled by it
            return error_answer(error, exchange.fmt, where, self.errors)
        return None

    def _unproven(self, exchange: Exchange, request: VendorRequest, body: bytes, dropped: bool,
                  ticket: int | None) -> Steps[Answer | None]:
        """The script did not accept the credentials: 401, unless what this replica remembered is stale."""
        shared = self.shared
        claim = shared.auth.claim(request.authorization)
        if dropped:  # an expired issued token, dropped from its account: its index entry goes too
            yield from step(lambda: shared.link.run(INDEX, (shared.link.keys.grants,), ["", "", claim.digest]))
        before = shared.config.current.store_id
        if shared.config.reload().store_id != before:
            return None  # the store was wiped and seeded again: the call starts over
        if shared.auth.forget(request.authorization):
            try:
                if shared.auth.claim(request.authorization).username != exchange.account:
                    return None  # the key or token now belongs to another account: start over
            except Unauthorized:
                pass
        if ticket is not None and not self.fence.admits(ticket, exchange.account):
            raise Fenced()  # the account is gone in a reset since the call began
        exchange.account = None
        exchange.answer = error_answer(Unauthorized(), exchange.fmt)
        return (yield from step(lambda: VendorApi.perform(self, exchange, request, body)))

    def _prove(self, exchange: Exchange, request: VendorRequest) -> Steps[None]:
        """Prove the credentials and their scopes alone (before a fault rule may answer): 401 or 403 if not."""
        account = exchange.account
        assert account is not None and exchange.operation is not None
        shared = self.shared
        for _ in range(ATTEMPTS):
            claim = shared.auth.claim(request.authorization)
            argv: list[str | bytes] = list(UNGATED)
            argv[0:TICKET] = [shared.config.current.store_id, ANY_EPOCH, claim.kind, claim.digest,
                              scope_set(exchange.operation.scopes or None)]
            argv[10:12] = limit_arguments("", None, shared.clock)[3:]  # the time: an issued token may expire
            try:
                yield from step(functools.partial(self._checks, Gate(argv), account))
                return
            except Stale:  # only the store id: a store seeded again
                shared.config.reload()
            except Unproven:
                break
            except OmniError as error:  # 403
                exchange.answer = error_answer(error, exchange.fmt)
                return
        exchange.account = None
        exchange.answer = error_answer(Unauthorized(), exchange.fmt)

    def _checks(self, gate: Gate, account: str) -> None:
        token = CURRENT.set(gate)
        try:
            self.shared.store.checks(account)
        finally:
            CURRENT.reset(token)

    def _refresh(self) -> Steps[None]:
        """The configuration cache made current if another replica changed it (one round trip)."""
        config = self.shared.config
        store_id, epoch = yield from step(lambda: self.shared.link.run(READ, (self.shared.link.keys.config,),
                                                                       [STORE, EPOCH]))
        if store_id is None or store_id.decode() != config.current.store_id or int(epoch) != config.current.epoch:
            config.reload()
