"""``/__admin/requests`` (the journal of vendor requests) and ``/__admin/errors`` (mock-omni's own 500s)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query
from fastapi.responses import Response

from .common import account_query, answer

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    journal, server_errors = admin.state.journal, admin.state.errors

    @router.get("/requests")
    async def requests(
        method: str | None = None, path: str | None = Query(None, description="exact, or an fnmatch pattern"),
        account: str | None = account_query(), status: int | None = None,
    ) -> Response:
        """The vendor requests received, newest last (bounded by --journal-limit)."""
        found = admin.requests(method, path, account, status)
        return answer({"requests": [entry.to_dict() for entry in found], "recorded": journal.recorded,
                       "limit": journal.limit})

    @router.delete("/requests")
    async def clear_requests(account: str | None = account_query()) -> Response:
        """Empty the journal (or one account's part of it)."""
        journal.clear(account)
        return answer({"cleared": account or "all"})

    @router.get("/errors")
    async def errors() -> Response:
        """Unexpected errors inside mock-omni (500s no fault asked for) since the last reset, newest last."""
        return answer({"errors": [error.to_dict() for error in server_errors.entries()],
                       "recorded": server_errors.recorded})

    @router.delete("/errors")
    async def clear_errors() -> Response:
        """Forget the recorded server errors."""
        server_errors.clear()
        return answer({"cleared": "all"})
