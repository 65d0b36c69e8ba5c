"""The vendor dispatcher on a shared store: each call is one script, one round trip.

The checks and their order are the memory dispatcher's (vendor/api.py): Accept 406, route
404/405, size 413, credentials 401, Content-Type 415, rate limit 429, body and query 400,
handler. What needs no state is checked here first; the rest happens in the call's script
(call.lua): the credentials are proven against the account, a failure found here (415 before
the rate limit, 400 after it) is answered only once the script has decided the earlier checks,
the token is taken, the handler's store operation runs, and the journal entry is written,
all atomically. The handler reaches the script through the gate (gate.py).

The script refuses to act on a stale configuration (config.py): the replica reloads and
runs the call again, and if a fault rule added elsewhere now applies, the call goes back
through the fault hook (``None`` to the caller: VendorApi.__call__ loops, and the direct
path hands the request to the ASGI app).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..domain.errors import GeneralError, OmniError, Unauthorized
from ..vendor.answers import Answer, error_answer
from ..vendor.api import Exchange, VendorApi, VendorRequest
from ..vendor.codecs import require_body_format
from ..vendor.routing import Call, Operation
from .gate import CURRENT, STATUSES, UNGATED, Gate, Stale, Unproven, status_of
from .journal import entry_arguments
from .limiter import limit_arguments
from .link import StoreUnavailable

if TYPE_CHECKING:
    from . import Shared

#: Runs of one call's script before giving up (each after a configuration change under it).
ATTEMPTS = 5
#: An epoch no account has: proving credentials alone never waits for the configuration.
ANY_EPOCH = "1e308"


class SharedVendorApi(VendorApi):
    def __init__(self, *args: Any, shared: Shared, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared

    def admit(self, request: VendorRequest, too_large: bool) -> Exchange:
        exchange = super().admit(request, too_large)
        if exchange.answer is None and self.shared.faults.may_apply(request.method, request.path, exchange.account):
            # A fault rule may answer this call: only once its credentials are proven (401 first).
            self._prove(exchange, request)
        return exchange

    def perform(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer | None:
        try:
            operation = exchange.operation
            if exchange.answer is not None or operation is None or not operation.authenticated:
                return super().perform(exchange, request, body)
            return self._perform(exchange, operation, request, body)
        except StoreUnavailable as error:
            # Redis is gone: nothing was applied, nothing could be journaled.
            return error_answer(error, exchange.fmt)

    def _perform(self, exchange: Exchange, operation: Operation, request: VendorRequest, body: bytes) -> Answer | None:
        assert exchange.account is not None
        pre: OmniError | None = None
        post: BaseException | None = None
        call: Call | None = None
        try:
            body_format = None if operation.body is None else require_body_format(request.content_type)
        except OmniError as error:
            pre = error
        if pre is None:
            try:
                call = self.call_for(exchange, operation, request, body_format, body)
            except Exception as error:  # noqa: BLE001 - answered once the script has decided the earlier checks
                post = error
        entry = entry_arguments(request.method, request.path, request.query, request.headers, body, exchange.account)
        for _ in range(ATTEMPTS):
            gate = Gate(self._arguments(exchange.account, request, operation, pre, post, entry), pre, post)
            try:
                return self._through(gate, exchange, operation, call, request)
            except Stale:
                self.shared.config.reload()
                if self.shared.faults.may_apply(request.method, request.path, exchange.account):
                    return None
            except Unproven:
                return self._unproven(exchange, request, body)
        return error_answer(GeneralError("The configuration kept changing; try again."), exchange.fmt)

    def _arguments(self, account: str, request: VendorRequest, operation: Operation, pre: OmniError | None,
                   post: BaseException | None, entry: list[str | bytes]) -> list[str | bytes]:
        """The script's ARGV 1-22 (call.lua)."""
        shared = self.shared
        config = shared.config.current
        claim = shared.auth.claim(request.authorization)
        rule = shared.limiter.rule_for(account, operation.name)
        limit = limit_arguments(operation.name, rule, shared.clock) if rule is not None else ["", "", "", "", "0"]
        return [config.store_id, str(config.epoch), claim.kind, claim.digest,
                "" if pre is None else str(pre.status), *limit, "" if post is None else str(status_of(post)),
                str(operation.status), *STATUSES, str(shared.journal.limit), *entry]

    def _through(self, gate: Gate, exchange: Exchange, operation: Operation, call: Call | None,
                 request: VendorRequest) -> Answer:
        """The call with its gate open: the handler's store operation runs the whole script."""
        where = f"{request.method} {request.path}"
        token = CURRENT.set(gate)
        try:
            if call is not None and gate.post is None:
                try:
                    return self.respond(exchange, operation, operation.handler(self.backend, call))
                except (Stale, Unproven):
                    raise
                except Exception as error:  # noqa: BLE001 - decided by the script, or found before it ran
                    if gate.done:
                        return error_answer(error, exchange.fmt, where)
                    gate.fail_after_limit(error)
            # A failure found here: the script still decides credentials and rate limit first.
            assert exchange.account is not None
            try:
                self.shared.store.checks(exchange.account)
            except (Stale, Unproven):
                raise
            except Exception as error:  # noqa: BLE001 - the failure the script chose, journaled by it
                return error_answer(error, exchange.fmt, where)
            raise AssertionError("a call with a failure passed its checks")
        finally:
            CURRENT.reset(token)

    def _unproven(self, exchange: Exchange, request: VendorRequest, body: bytes) -> Answer | None:
        """The script did not accept the credentials: 401, unless what this replica remembered is stale."""
        shared = self.shared
        before = shared.config.current.store_id
        if shared.config.reload().store_id != before:
            return None  # the store was wiped and seeded again: the call starts over
        if shared.auth.forget(request.authorization):
            try:
                if shared.auth.claim(request.authorization).username != exchange.account:
                    return None  # the key or token now belongs to another account: start over
            except Unauthorized:
                pass
        exchange.account = None
        exchange.answer = error_answer(Unauthorized(), exchange.fmt)
        return super().perform(exchange, request, body)

    def _prove(self, exchange: Exchange, request: VendorRequest) -> None:
        """Prove the credentials alone (before a fault rule may answer): a 401 if they fail."""
        assert exchange.account is not None
        shared = self.shared
        for _ in range(ATTEMPTS):
            claim = shared.auth.claim(request.authorization)
            argv: list[str | bytes] = list(UNGATED)
            argv[0:4] = [shared.config.current.store_id, ANY_EPOCH, claim.kind, claim.digest]
            token = CURRENT.set(Gate(argv))
            try:
                shared.store.checks(exchange.account)
                return
            except Stale:  # only the store id: a store seeded again
                shared.config.reload()
            except Unproven:
                break
            except OmniError as error:
                exchange.answer = error_answer(error, exchange.fmt)
                return
            finally:
                CURRENT.reset(token)
        exchange.account = None
        exchange.answer = error_answer(Unauthorized(), exchange.fmt)

