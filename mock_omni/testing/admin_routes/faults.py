"""``/__admin/faults``: rules that make matching vendor requests fail, wait or lose their connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..admin_models import FaultIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    @router.get("/faults")
    async def faults(account: str | None = account_query()) -> Response:
        """The active fault rules and how often each has hit."""
        return answer({"faults": [rule.to_dict() for rule in admin.state.faults.rules(account)]})

    @router.post("/faults", status_code=201, openapi_extra=body_doc(FaultIn, "A fault rule"))
    async def add_fault(request: Request) -> Response:
        """Make matching vendor requests fail with a status, wait delayMs, or lose their connection."""
        rule, _ = parse_body(FaultIn, await raw_body(request))
        return answer(admin.add_fault(rule).to_dict(), 201)

    @router.delete("/faults")
    async def clear_faults(account: str | None = account_query()) -> Response:
        """Remove every fault rule (or one account's)."""
        return answer({"removed": admin.state.faults.clear(account)})
