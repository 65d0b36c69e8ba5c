"""``/__admin/health``: whether the server is ready and its store answers; needs no admin token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from fastapi.responses import Response

from .common import answer

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    @router.get("/health")
    async def health() -> Response:
        """200 once the server is ready and its store answers (no token needed)."""
        admin.state.check()
        return answer({"status": "ok"})
