"""``/__admin/messages``: the sent messages, each with its walk through its flow."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Query
from fastapi.responses import Response

from .common import account_query, answer

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    sent = admin.state.messages

    @router.get("/messages")
    async def messages(account: str | None = account_query(), messageId: str | None = None,
                       bulkId: str | None = None,
                       limit: int | None = Query(None, ge=0, le=1_000_000, description="the newest N")) -> Response:
        """Sent messages with each one's walk through its flow (channel, outcome, times), oldest first."""
        return answer({"messages": sent.messages(account, messageId, bulkId, limit),
                       "sent": sent.sent, "kept": sent.count(), "limit": sent.limit,
                       "dropped": sent.dropped, "bytes": sent.bytes, "byteLimit": sent.byte_limit})
