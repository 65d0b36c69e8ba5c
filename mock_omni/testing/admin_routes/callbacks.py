"""``/__admin/callbacks``: the reports pushed to notifyUrls, each with its attempts; waiting for them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ...domain.errors import ServiceUnavailable
from ..admin_models import CallbacksQuery
from .common import account_query, answer

#: The 503's text: the wait did not end, the server did (asking again reaches nobody).
SHUTTING_DOWN = "The server is shutting down."

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    hooks = admin.state.webhooks

    @router.get("/callbacks")
    async def callbacks(query: Annotated[CallbacksQuery, Query()], request: Request) -> Response:
        """Reports pushed to notifyUrls, oldest first, each with its attempts; wait=SECONDS waits for count of them."""
        admin.require_account(query.account)
        if query.wait:
            # A client that hangs up (a killed test run) ends its wait: it would poll for nobody until the timeout.
            # So does a server that stops: a wait would hold its drain (then be cancelled, with a traceback).
            async def gone() -> bool:
                return admin.stopping.is_set() or await request.is_disconnected()

            # The wait also ends when what it waits for can no longer come (``settled``).
            await hooks.wait(lambda: hooks.count(query.account, query.url, query.state) >= query.count
                             or settled(query), query.wait, gone=gone)
            if admin.stopping.is_set():
                raise ServiceUnavailable(SHUTTING_DOWN)
        found = hooks.records(query.account, query.url, query.state)
        reached = len(found) >= query.count
        return answer({"callbacks": [callback.to_dict() for callback in found], "reached": reached,
                       "settled": not reached and settled(query),
                       "pending": hooks.pending, "recorded": hooks.recorded, "limit": hooks.keep})

    def settled(query: CallbacksQuery) -> bool:
        """Whether ``count`` delivered callbacks can no longer come: some matching ones failed or were dropped,
        none is queued or on the wire, and no message on its walk will push more (a wait for them fails at once)."""
        if query.state != "delivered":
            return False
        given_up = hooks.count(query.account, query.url, "failed") + hooks.count(query.account, query.url, "dropped")
        if not given_up or hooks.count(query.account, query.url, "pending"):
            return False
        if admin.state.messages.will_push(query.account, query.url):
            return False
        return hooks.count(query.account, query.url, query.state) < query.count

    @router.delete("/callbacks")
    async def clear_callbacks(account: str | None = account_query()) -> Response:
        """Forget the callbacks (or one account's); those still queued are not sent."""
        hooks.clear(account)
        return answer({"cleared": account or "all"})
