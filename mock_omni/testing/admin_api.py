"""The admin API under ``/__admin``: mock-omni's own, tagged "admin", never part of the vendor's API.

Handlers parse, call ``Admin`` (admin.py), ``Faults`` or the journal, and answer
JSON; errors use the vendor's envelope like the rest of the server. Bodies are read
by hand with a bound, so a huge state import is a 413, not a memory spike, and a
bad document is a 400 naming the field, from the same checks as fixture files.
"""

from __future__ import annotations

import fnmatch
import hmac
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from ..domain.delivery import OUTCOMES, TEST_DESTINATIONS
from ..domain.errors import BY_STATUS, BadRequest, NotFound, PayloadTooLarge, Unauthorized
from ..domain.scenarios import CHANNELS
from ..vendor.ratelimit import OPERATIONS
from .admin import MAX_CLOCK_ADVANCE, SNAPSHOT_NAME
from .faults import MAX_DELAY_MS, METHODS

if TYPE_CHECKING:
    from ..app import MockOmni

PREFIX = "/__admin"
ADMIN_MAX_BODY = 64 * 1024 * 1024
TOKEN_HEADER = "x-admin-token"

_ACCOUNT = Query(None, description="only this account")


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def _body_doc(description: str, schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"requestBody": {"description": description, "required": required,
                            "content": {"application/json": {"schema": schema}}}}


async def read_json(request: Request, required: bool = True) -> Any:
    """The request's JSON body, bounded; an absent body is ``{}`` where one is optional."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > ADMIN_MAX_BODY:
            raise PayloadTooLarge()
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if required:
            raise BadRequest("A JSON body is required.")
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON.") from None


def _object(data: object) -> dict[str, object]:
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.")
    return data


FAULT_SCHEMA: dict[str, Any] = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "method": {"type": ["string", "null"], "enum": [*METHODS, None],
                   "description": "only this method (any if absent)"},
        "path": {"type": "string", "minLength": 1, "default": "*",
                 "description": "fnmatch pattern, e.g. /omni/1/scenarios/*"},
        "account": {"type": ["string", "null"], "description": "only this account's requests"},
        "status": {"type": ["integer", "null"], "enum": [*sorted(BY_STATUS), None],
                   "description": "answer this status in the vendor's envelope"},
        "message": {"type": ["string", "null"], "minLength": 1,
                    "description": "the envelope's text instead of the default"},
        "delayMs": {"type": "integer", "minimum": 0, "maximum": MAX_DELAY_MS, "description": "wait first"},
        "drop": {"type": "boolean", "description": "close the connection without a response"},
        "times": {"type": ["integer", "null"], "minimum": 1, "description": "the next N requests; null: until cleared"},
    },
}
ACCOUNT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A fixture account; every field optional (generated), plus seedAccount to copy the "
                   "scenarios of a fixture account.",
    "properties": {
        "username": {"type": "string", "minLength": 1, "pattern": "^[^:]+$"},
        "password": {"type": "string", "minLength": 1},
        "apiKeys": {"type": "array", "items": {"type": "string"}},
        "tokens": {"type": "array", "items": {"type": "string"}},
        "scenarios": {"type": "array", "items": {"type": "object"}},
        "seedAccount": {"type": ["string", "null"]},
    },
}
STATE_SCHEMA: dict[str, Any] = {"type": "object", "required": ["accounts"],
                                "properties": {"accounts": {"type": "array", "items": ACCOUNT_SCHEMA}}}
_LIMIT_PATTERN = r"^(off|[0-9]{1,9}/[0-9]{0,9}(\.[0-9]{1,9})?(ms|s|m|h|d))$"
LIMITS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["limits"],
    "properties": {
        "limits": {"oneOf": [{"const": "off"}, {
            "type": "object", "additionalProperties": False, "minProperties": 1,
            "properties": {op: {"type": "string", "pattern": _LIMIT_PATTERN} for op in OPERATIONS},
            "example": {"update": "5/1m", "create": "off"}}]},
        "account": {"type": ["string", "null"], "description": "only this account (all accounts if absent)"},
    },
}
CLOCK_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["seconds"],
    "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": MAX_CLOCK_ADVANCE}},
}


RULE_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["outcome"], "additionalProperties": False,
    "properties": {
        "destination": {"type": "string", "minLength": 1, "maxLength": 1000, "default": "*",
                        "description": "an address (phone number, email...) or an fnmatch glob, e.g. 4179*"},
        "channel": {"type": ["string", "null"], "enum": [*CHANNELS, None], "description": "only this channel"},
        "account": {"type": ["string", "null"], "minLength": 1, "description": "only this account's messages"},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "delaySeconds": {"type": ["number", "null"], "minimum": 0, "maximum": 10 * 365 * 86400,
                         "description": "seconds until the outcome (default: DELIVERED after --delivery-delay, "
                                        "the others at once); not for EXPIRED (the validity period decides)"},
        "times": {"type": ["integer", "null"], "minimum": 1, "description": "the next N step attempts; null: until "
                                                                            "removed"},
    },
}


_SNAPSHOT = Path(pattern=SNAPSHOT_NAME.pattern, description="1 to 100 of A-Z a-z 0-9 . _ -")


def build_admin_router(app: MockOmni) -> APIRouter:
    token = app.settings.admin_token

    async def require_token(request: Request) -> None:
        if token is None:
            return
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")):
            raise Unauthorized("Missing or wrong X-Admin-Token.")

    router = APIRouter(prefix=PREFIX, tags=["admin"])
    guarded = APIRouter(dependencies=[Depends(require_token)])
    admin = app.admin

    @router.get("/health")
    async def health() -> Response:
        """200 once the server is ready (no token needed)."""
        return _json({"status": "ok"})

    @guarded.post("/reset")
    async def reset(account: str | None = _ACCOUNT) -> Response:
        """Back to the fixture state (or one account back to its start); clears journal, faults, buckets."""
        admin.reset(account)
        return _json({"reset": account or "all"})

    # --- journal ----------------------------------------------------------------------

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

    # --- faults -----------------------------------------------------------------------

    @guarded.get("/faults")
    async def faults(account: str | None = _ACCOUNT) -> Response:
        """The active fault rules and how often each has hit."""
        return _json({"faults": [rule.to_dict() for rule in app.faults.rules(account)]})

    @guarded.post("/faults", status_code=201, openapi_extra=_body_doc("A fault rule", FAULT_SCHEMA))
    async def add_fault(request: Request) -> Response:
        """Make matching vendor requests fail with a status, wait delayMs, or lose their connection."""
        rule = app.faults.add(_object(await read_json(request)))
        return _json(rule.to_dict(), 201)

    @guarded.delete("/faults")
    async def clear_faults(account: str | None = _ACCOUNT) -> Response:
        """Remove every fault rule (or one account's)."""
        return _json({"removed": app.faults.clear(account)})

    # --- state --------------------------------------------------------------------------

    @guarded.get("/state")
    async def state(account: str | None = _ACCOUNT) -> Response:
        """The whole state (or one account) as a fixture document, messages and delivery rules included."""
        return _json(app.export_state(account))

    @guarded.put("/state", openapi_extra=_body_doc("A fixture document", STATE_SCHEMA))
    async def import_state(request: Request) -> Response:
        """Replace the whole state with a fixture document; a bad one changes nothing."""
        count = admin.import_state(await read_json(request))
        return _json({"accounts": count})

    # --- accounts -----------------------------------------------------------------------

    @guarded.get("/accounts")
    async def accounts() -> Response:
        """Every account with its credentials."""
        return _json({"accounts": admin.accounts()})

    @guarded.post("/accounts", status_code=201,
                  openapi_extra=_body_doc("The new account", ACCOUNT_SCHEMA, required=False))
    async def create_account(request: Request) -> Response:
        """Create a fresh account (optionally seeded) and return its credentials."""
        return _json(admin.create_account(_object(await read_json(request, required=False))), 201)

    @guarded.delete("/accounts/{username:path}")
    async def remove_account(username: str) -> Response:
        """Remove an account with its journal entries, faults and limits."""
        admin.remove_account(username)
        return _json({"removed": username})

    # --- snapshots ----------------------------------------------------------------------

    @guarded.get("/snapshots")
    async def snapshots() -> Response:
        """The saved snapshots."""
        return _json({"snapshots": admin.snapshots()})

    @guarded.post("/snapshots/{name}", status_code=201)
    async def save_snapshot(name: str = _SNAPSHOT, account: str | None = _ACCOUNT) -> Response:
        """Save the current state (or one account) under a name, in memory."""
        admin.save_snapshot(name, account)
        return _json({"saved": name}, 201)

    @guarded.post("/snapshots/{name}/restore")
    async def restore_snapshot(name: str = _SNAPSHOT) -> Response:
        """Restore a saved snapshot."""
        admin.restore_snapshot(name)
        return _json({"restored": name})

    @guarded.delete("/snapshots/{name}")
    async def delete_snapshot(name: str = _SNAPSHOT) -> Response:
        """Forget a saved snapshot."""
        admin.delete_snapshot(name)
        return _json({"deleted": name})

    # --- rate limits and clock ----------------------------------------------------------

    @guarded.get("/rate-limits")
    async def rate_limits() -> Response:
        """The limits in force, per-account overrides and the buckets in use."""
        return _json(admin.rate_limits())

    @guarded.put("/rate-limits", openapi_extra=_body_doc("New limits", LIMITS_SCHEMA))
    async def set_rate_limits(request: Request) -> Response:
        """Change limits at run time, for everyone or one account; "off" or {op: "5/1m" | "off"}."""
        body = _object(await read_json(request))
        account = body.get("account")
        if account is not None and not isinstance(account, str):
            raise BadRequest("account must be a username.")
        admin.set_rate_limits(body.get("limits"), account)
        return _json(admin.rate_limits())

    @guarded.delete("/rate-limits")
    async def reset_rate_limits(account: str | None = _ACCOUNT) -> Response:
        """Back to the start-up limits with full buckets (for everyone or one account)."""
        admin.reset_rate_limits(account)
        return _json(admin.rate_limits())

    @guarded.get("/clock")
    async def clock() -> Response:
        """How far the limiter's clock has been advanced."""
        return _json({"offsetSeconds": app.clock.offset})

    @guarded.post("/clock/advance", openapi_extra=_body_doc("How far", CLOCK_SCHEMA))
    async def advance_clock(request: Request) -> Response:
        """Move the limiter's clock forward, so buckets refill without waiting."""
        body = _object(await read_json(request))
        return _json({"offsetSeconds": admin.advance_clock(body.get("seconds"))})

    # --- messages and delivery rules ------------------------------------------------------

    @guarded.get("/messages")
    async def messages(account: str | None = _ACCOUNT, messageId: str | None = None,
                       bulkId: str | None = None,
                       limit: int | None = Query(None, ge=0, le=100_000, description="only the newest N")) -> Response:
        """Sent messages with each one's walk through its flow (channel, outcome, times), oldest first."""
        return _json({"messages": app.messages.messages(account, messageId, bulkId, limit),
                      "sent": app.messages.sent, "kept": app.messages.count(), "limit": app.messages.limit})

    @guarded.get("/delivery-rules")
    async def delivery_rules(account: str | None = _ACCOUNT) -> Response:
        """The outcome rules in force (first match wins), then the ready-made test destinations."""
        return _json({"rules": [rule.to_dict() for rule in app.delivery_rules.rules(account)],
                      "testDestinations": [test.to_dict() for test in TEST_DESTINATIONS],
                      "defaultDelaySeconds": app.delivery_rules.default_delay})

    @guarded.post("/delivery-rules", status_code=201, openapi_extra=_body_doc("An outcome rule", RULE_SCHEMA))
    async def add_delivery_rule(request: Request) -> Response:
        """Decide the outcome of matching steps: DELIVERED (after delaySeconds), UNDELIVERABLE, REJECTED, EXPIRED."""
        return _json(app.delivery_rules.add(_object(await read_json(request))).to_dict(), 201)

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

    router.include_router(guarded)
    return router
