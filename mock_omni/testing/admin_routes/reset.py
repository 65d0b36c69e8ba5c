"""``/__admin/reset``: the one reset, of everything or of one account (admin.py's ``Admin.reset``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import InvalidArgument
from ..admin_models import ResetIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:

    @router.post("/reset", openapi_extra=body_doc(ResetIn, "Fixtures and/or limits for later resets too",
                                                  required=False))
    async def reset(request: Request, account: str | None = account_query()) -> Response:
        """Back to the fixture state (or one account to its start); a body sets what resets return to."""
        raw = await raw_body(request)
        if raw.strip() and account is not None:
            raise InvalidArgument(validation_errors={"account": ["give account or a body, not both"]})
        baseline = admin.baseline_from(*parse_body(ResetIn, raw)) if raw.strip() else None
        admin.reset(account, baseline)
        return answer({"reset": account or "all"})
