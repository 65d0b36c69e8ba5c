"""``/__admin/state``: the whole state (or one account's) as a fixture document, read or replaced."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..admin_models import StateIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    @router.get("/state")
    async def state(account: str | None = account_query()) -> Response:
        """The whole state (or one account) as a fixture document, messages and delivery rules included."""
        return answer(admin.export_state(account))

    @router.put("/state", openapi_extra=body_doc(StateIn, "A fixture document"))
    async def import_state(request: Request) -> Response:
        """Replace the whole state with a fixture document; a bad one changes nothing."""
        _, data = parse_body(StateIn, await raw_body(request))
        return answer({"accounts": admin.import_state(data)})
