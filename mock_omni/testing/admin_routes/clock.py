"""``/__admin/clock``: how far the mock's clock was advanced, and advancing it (everyone's or one account's)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..admin_models import ClockIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:

    @router.get("/clock")
    async def clock(account: str | None = account_query()) -> Response:
        """How far the mock's clock (everyone's, or one account's) has been advanced."""
        admin.require_account(account)
        return answer({"offsetSeconds": admin.clock_offset(account)})

    @router.post("/clock/advance", openapi_extra=body_doc(ClockIn, "How far"))
    async def advance_clock(request: Request) -> Response:
        """Move the mock's clock (everyone's, or one account's): buckets refill, messages walk on, tokens expire."""
        body, _ = parse_body(ClockIn, await raw_body(request))
        return answer({"offsetSeconds": admin.advance_clock(body.seconds, body.account)})
