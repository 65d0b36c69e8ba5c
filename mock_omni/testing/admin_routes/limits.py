"""``/__admin/rate-limits``: the limits in force, changed at run time or back to the baseline's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..admin_models import LimitsIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:

    @router.get("/rate-limits")
    async def rate_limits() -> Response:
        """The limits in force, per-account overrides and the buckets in use."""
        return answer(admin.rate_limits())

    @router.put("/rate-limits", openapi_extra=body_doc(LimitsIn, "New limits"))
    async def set_rate_limits(request: Request) -> Response:
        """Change limits at run time, for everyone or one account; "off" or {op: "5/1m" | "off"}."""
        body, _ = parse_body(LimitsIn, await raw_body(request))
        admin.set_rate_limits(body.limits.rules(), body.account)
        return answer(admin.rate_limits())

    @router.delete("/rate-limits")
    async def reset_rate_limits(account: str | None = account_query()) -> Response:
        """Back to the limits a reset returns to, with full buckets (for everyone or one account)."""
        admin.reset_rate_limits(account)
        return answer(admin.rate_limits())
