"""``/__admin/accounts``: list, create (optionally seeded) and remove accounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..admin_models import NewAccountIn, body_doc, parse_body
from .common import answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:

    @router.get("/accounts")
    async def accounts() -> Response:
        """Every account with its credentials."""
        return answer({"accounts": admin.accounts()})

    @router.post("/accounts", status_code=201,
                 openapi_extra=body_doc(NewAccountIn, "The new account", required=False))
    async def create_account(request: Request) -> Response:
        """Create a fresh account (optionally seeded) and return its credentials."""
        raw = await raw_body(request)
        body, data = parse_body(NewAccountIn, raw) if raw.strip() else (NewAccountIn.model_validate({}), {})
        return answer(admin.create_account(body, data), 201)

    @router.delete("/accounts/{username:path}")
    async def remove_account(username: str) -> Response:
        """Remove an account with its journal entries, faults, limits and snapshots."""
        admin.remove_account(username)
        return answer({"removed": username})
