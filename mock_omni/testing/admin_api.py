"""The admin API under ``/__admin``: mock-omni's own, tagged "admin", never part of the vendor's API.

Handlers read the body (bounded), validate it with its model (admin_models.py, also
its published schema), call ``Admin`` (admin.py) or the journal, and answer JSON;
errors use the vendor's envelope like the rest of the server.
"""

from __future__ import annotations

import fnmatch
import hmac
from typing import TYPE_CHECKING, Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from ..domain.delivery import TEST_DESTINATIONS, DeliveryRuleIn
from ..domain.errors import InvalidArgument, NotFound, Unauthorized
from . import ADMIN_PREFIX, ADMIN_TOKEN_HEADER, admin_models
from .admin_models import (
    SNAPSHOT_NAME,
    CallbacksQuery,
    ClockIn,
    FaultIn,
    LimitsIn,
    NewAccountIn,
    ResetIn,
    StateIn,
    body_doc,
    parse_body,
    read_body,
)

if TYPE_CHECKING:
    from ..app import MockOmni

_ACCOUNT = Query(None, description="only this account")
_SNAPSHOT = Path(pattern=SNAPSHOT_NAME, description="1 to 100 of A-Z a-z 0-9 . _ -")


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def require_admin_token(app: MockOmni, request: Request) -> None:
    """401 unless the request carries the admin token (when one is set), compared in constant time as the
    header's raw bytes (settings allow printable ASCII tokens only)."""
    token = app.settings.admin_token
    if token is None:
        return
    given = request.headers.get(ADMIN_TOKEN_HEADER, "").encode("latin-1")
    if not hmac.compare_digest(given, token.encode()):
        raise Unauthorized("Missing or wrong X-Admin-Token.")


async def _raw(request: Request) -> bytes:
    return await read_body(request.stream(), admin_models.ADMIN_MAX_BODY)  # read at call time: tests lower it


def build_admin_router(app: MockOmni) -> APIRouter:
    async def token(request: Request) -> None:
        require_admin_token(app, request)

    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])
    guarded = APIRouter(dependencies=[Depends(token)])
    admin = app.admin

    @router.get("/health")
    async def health() -> Response:
        """200 once the server is ready and its store answers (no token needed)."""
        app.state.check()
        return _json({"status": "ok"})

    @guarded.post("/reset", openapi_extra=body_doc(ResetIn, "Fixtures and/or limits for later resets too",
                                                   required=False))
    async def reset(request: Request, account: str | None = _ACCOUNT) -> Response:
        """Back to the fixture state (or one account to its start); a body sets what resets return to."""
        raw = await _raw(request)
        if raw.strip() and account is not None:
            raise InvalidArgument(validation_errors={"account": ["give account or a body, not both"]})
        baseline = None
        if raw.strip():
            body, data = parse_body(ResetIn, raw)
            baseline = admin.baseline_from(body, data)
        admin.reset(account, baseline)
        return _json({"reset": account or "all"})

    # --- journal and server errors ------------------------------------------------------

    @guarded.get("/requests")
    async def requests(
        method: str | None = None, path: str | None = Query(None, description="exact, or an fnmatch pattern"),
        account: str | None = _ACCOUNT, status: int | None = None,
    ) -> Response:
        """The vendor requests received, newest last (bounded by --journal-limit)."""
        method = method.upper() if method else None
        wildcard = path is not None and any(c in path for c in "*?[")
        found = [
            entry.to_dict() for entry in app.journal.entries()
            if (method is None or entry.method == method)
            and (account is None or entry.account == account)
            and (status is None or entry.status == status)
            and (path is None or (fnmatch.fnmatchcase(entry.path, path) if wildcard else entry.path == path))
        ]
        return _json({"requests": found, "recorded": app.journal.recorded, "limit": app.journal.limit})

    @guarded.delete("/requests")
    async def clear_requests(account: str | None = _ACCOUNT) -> Response:
        """Empty the journal (or one account's part of it)."""
        app.journal.clear(account)
        return _json({"cleared": account or "all"})

    @guarded.get("/errors")
    async def errors() -> Response:
        """Unexpected errors inside mock-omni (500s no fault asked for) since the last reset, newest last."""
        return _json({"errors": [error.to_dict() for error in app.errors.entries()], "recorded": app.errors.recorded})

    @guarded.delete("/errors")
    async def clear_errors() -> Response:
        """Forget the recorded server errors."""
        app.errors.clear()
        return _json({"cleared": "all"})

    # --- faults -----------------------------------------------------------------------

    @guarded.get("/faults")
    async def faults(account: str | None = _ACCOUNT) -> Response:
        """The active fault rules and how often each has hit."""
        return _json({"faults": [rule.to_dict() for rule in app.faults.rules(account)]})

    @guarded.post("/faults", status_code=201, openapi_extra=body_doc(FaultIn, "A fault rule"))
    async def add_fault(request: Request) -> Response:
        """Make matching vendor requests fail with a status, wait delayMs, or lose their connection."""
        rule, _ = parse_body(FaultIn, await _raw(request))
        return _json(admin.add_fault(rule).to_dict(), 201)

    @guarded.delete("/faults")
    async def clear_faults(account: str | None = _ACCOUNT) -> Response:
        """Remove every fault rule (or one account's)."""
        return _json({"removed": app.faults.clear(account)})

    # --- state ------------------------------------------------------------------------

    @guarded.get("/state")
    async def state(account: str | None = _ACCOUNT) -> Response:
        """The whole state (or one account) as a fixture document, messages and delivery rules included."""
        return _json(app.export_state(account))

    @guarded.put("/state", openapi_extra=body_doc(StateIn, "A fixture document"))
    async def import_state(request: Request) -> Response:
        """Replace the whole state with a fixture document; a bad one changes nothing."""
        _, data = parse_body(StateIn, await _raw(request))
        return _json({"accounts": admin.import_state(data)})

    # --- accounts ---------------------------------------------------------------------

    @guarded.get("/accounts")
    async def accounts() -> Response:
        """Every account with its credentials."""
        return _json({"accounts": admin.accounts()})

    @guarded.post("/accounts", status_code=201,
                  openapi_extra=body_doc(NewAccountIn, "The new account", required=False))
    async def create_account(request: Request) -> Response:
        """Create a fresh account (optionally seeded) and return its credentials."""
        raw = await _raw(request)
        body, data = parse_body(NewAccountIn, raw) if raw.strip() else (NewAccountIn.model_validate({}), {})
        return _json(admin.create_account(body, data), 201)

    @guarded.delete("/accounts/{username:path}")
    async def remove_account(username: str) -> Response:
        """Remove an account with its journal entries, faults, limits and snapshots."""
        admin.remove_account(username)
        return _json({"removed": username})

    # --- snapshots --------------------------------------------------------------------

    @guarded.get("/snapshots")
    async def snapshots() -> Response:
        """The saved snapshots."""
        return _json({"snapshots": admin.snapshots()})

    @guarded.delete("/snapshots")
    async def clear_snapshots(account: str | None = _ACCOUNT) -> Response:
        """Forget every snapshot (or one account's)."""
        return _json({"removed": admin.clear_snapshots(account)})

    @guarded.post("/snapshots/{name}/restore")
    async def restore_snapshot(name: str = _SNAPSHOT, account: str | None = _ACCOUNT) -> Response:
        """Restore a saved snapshot (one account's, if saved with account)."""
        admin.restore_snapshot(name, account)
        return _json({"restored": name})

    @guarded.post("/snapshots/{name}", status_code=201)
    async def save_snapshot(name: str = _SNAPSHOT, account: str | None = _ACCOUNT) -> Response:
        """Save the current state (or one account's, under that account's names) in memory."""
        admin.save_snapshot(name, account)
        return _json({"saved": name}, 201)

    @guarded.delete("/snapshots/{name}")
    async def delete_snapshot(name: str = _SNAPSHOT, account: str | None = _ACCOUNT) -> Response:
        """Forget a saved snapshot."""
        admin.delete_snapshot(name, account)
        return _json({"deleted": name})

    # --- rate limits and clock --------------------------------------------------------

    @guarded.get("/rate-limits")
    async def rate_limits() -> Response:
        """The limits in force, per-account overrides and the buckets in use."""
        return _json(admin.rate_limits())

    @guarded.put("/rate-limits", openapi_extra=body_doc(LimitsIn, "New limits"))
    async def set_rate_limits(request: Request) -> Response:
        """Change limits at run time, for everyone or one account; "off" or {op: "5/1m" | "off"}."""
        body, _ = parse_body(LimitsIn, await _raw(request))
        admin.set_rate_limits(body.limits.rules(), body.account)
        return _json(admin.rate_limits())

    @guarded.delete("/rate-limits")
    async def reset_rate_limits(account: str | None = _ACCOUNT) -> Response:
        """Back to the limits a reset returns to, with full buckets (for everyone or one account)."""
        admin.reset_rate_limits(account)
        return _json(admin.rate_limits())

    @guarded.get("/clock")
    async def clock(account: str | None = _ACCOUNT) -> Response:
        """How far the limiter's clock (everyone's, or one account's) has been advanced."""
        admin.require_account(account)
        return _json({"offsetSeconds": admin.clock_offset(account)})

    @guarded.post("/clock/advance", openapi_extra=body_doc(ClockIn, "How far"))
    async def advance_clock(request: Request) -> Response:
        """Move the limiter's clock forward (everyone's, or one account's), so buckets refill without waiting."""
        body, _ = parse_body(ClockIn, await _raw(request))
        return _json({"offsetSeconds": admin.advance_clock(body.seconds, body.account)})

    # --- messages and delivery rules ---------------------------------------------------

    @guarded.get("/messages")
    async def messages(account: str | None = _ACCOUNT, messageId: str | None = None,
                       bulkId: str | None = None,
                       limit: int | None = Query(None, ge=0, le=1_000_000, description="the newest N")) -> Response:
        """Sent messages with each one's walk through its flow (channel, outcome, times), oldest first."""
        return _json({"messages": app.messages.messages(account, messageId, bulkId, limit),
                      "sent": app.messages.sent, "kept": app.messages.count(), "limit": app.messages.limit})

    @guarded.get("/callbacks")
    async def callbacks(query: Annotated[CallbacksQuery, Query()], request: Request) -> Response:
        """Reports pushed to notifyUrls, oldest first, each with its attempts; wait=SECONDS waits for count of them."""
        admin.require_account(query.account)
        hooks = app.webhooks
        if query.wait:
            # A client that hangs up (a killed test run) ends its wait: it would poll for nobody until the timeout.
            await hooks.wait(lambda: hooks.count(query.account, query.url, query.state) >= query.count, query.wait,
                             gone=request.is_disconnected)
        found = hooks.records(query.account, query.url, query.state)
        return _json({"callbacks": [callback.to_dict() for callback in found], "reached": len(found) >= query.count,
                      "pending": hooks.pending, "recorded": hooks.recorded, "limit": hooks.keep})

    @guarded.delete("/callbacks")
    async def clear_callbacks(account: str | None = _ACCOUNT) -> Response:
        """Forget the callbacks (or one account's); those still queued are not sent."""
        app.webhooks.clear(account)
        return _json({"cleared": account or "all"})

    @guarded.get("/delivery-rules")
    async def delivery_rules(account: str | None = _ACCOUNT) -> Response:
        """The outcome rules in force (first match wins), then the ready-made test destinations."""
        return _json({"rules": [rule.to_dict() for rule in app.delivery_rules.rules(account)],
                      "testDestinations": [test.to_dict() for test in TEST_DESTINATIONS],
                      "defaultDelaySeconds": app.delivery_rules.default_delay})

    @guarded.post("/delivery-rules", status_code=201, openapi_extra=body_doc(DeliveryRuleIn, "An outcome rule"))
    async def add_delivery_rule(request: Request) -> Response:
        """Decide how matching steps end: DELIVERED (after delaySeconds), UNDELIVERABLE, REJECTED or EXPIRED."""
        rule, _ = parse_body(DeliveryRuleIn, await _raw(request))
        admin.require_account(rule.account)
        return _json(app.delivery_rules.add(rule).to_dict(), 201)

    @guarded.delete("/delivery-rules")
    async def clear_delivery_rules(account: str | None = _ACCOUNT) -> Response:
        """Remove every outcome rule (or one account's); the test destinations stay."""
        return _json({"removed": app.delivery_rules.clear(account)})

    @guarded.delete("/delivery-rules/{rule_id}")
    async def remove_delivery_rule(rule_id: int = Path(ge=1, le=2**62)) -> Response:
        """Remove one outcome rule."""
        if not app.delivery_rules.remove(rule_id):
            raise NotFound(f"Delivery rule {rule_id} not found.")
        return _json({"removed": rule_id})

    from .admin_signin import signin_router

    guarded.include_router(signin_router(app))
    router.include_router(guarded)
    return router

