"""``/__admin/snapshots``: save, restore, list and forget named copies of the state (or of one account)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from ..admin_models import SNAPSHOT_NAME
from .common import account_query, answer

if TYPE_CHECKING:
    from ..admin import Admin


def snapshot_name() -> Any:
    return Path(pattern=SNAPSHOT_NAME, description="1 to 100 of A-Z a-z 0-9 . _ -")


def add_routes(router: APIRouter, admin: Admin) -> None:

    @router.get("/snapshots")
    async def snapshots() -> Response:
        """The saved snapshots."""
        return answer({"snapshots": admin.snapshots()})

    @router.delete("/snapshots")
    async def clear_snapshots(account: str | None = account_query()) -> Response:
        """Forget every snapshot (or one account's)."""
        return answer({"removed": admin.clear_snapshots(account)})

    @router.post("/snapshots/{name}/restore")
    async def restore_snapshot(name: str = snapshot_name(), account: str | None = account_query()) -> Response:
        """Restore a saved snapshot (one account's, if saved with account)."""
        admin.restore_snapshot(name, account)
        return answer({"restored": name})

    @router.post("/snapshots/{name}", status_code=201)
    async def save_snapshot(name: str = snapshot_name(), account: str | None = account_query()) -> Response:
        """Save the current state (or one account's, under that account's names) in memory."""
        admin.save_snapshot(name, account)
        return answer({"saved": name}, 201)

    @router.delete("/snapshots/{name}")
    async def delete_snapshot(name: str = snapshot_name(), account: str | None = account_query()) -> Response:
        """Forget a saved snapshot."""
        admin.delete_snapshot(name, account)
        return answer({"deleted": name})
