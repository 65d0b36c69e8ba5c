"""The admin API under ``/__admin``: mock-omni's own, tagged "admin", never part of the vendor's API.

One module per resource, each adding its routes to a router with ``add_routes``; ``build_admin_router``
composes them. Handlers read the body (bounded), validate it with its model (admin_models.py, also its
published schema), call ``Admin`` (admin.py) or the state component, and answer JSON; errors use the
vendor's envelope like the rest of the server.

    module        paths under /__admin
    health.py     /health (the only one without the admin token)
    reset.py      /reset
    journal.py    /requests, /errors
    faults.py     /faults
    state.py      /state
    accounts.py   /accounts
    snapshots.py  /snapshots
    limits.py     /rate-limits
    clock.py      /clock
    messages.py   /messages
    callbacks.py  /callbacks
    delivery.py   /delivery-rules
    tokens.py     /tokens (sign-in: tokens and sessions)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request

from .. import ADMIN_PREFIX
from . import (
    accounts,
    callbacks,
    clock,
    delivery,
    faults,
    health,
    journal,
    limits,
    messages,
    reset,
    snapshots,
    state,
    tokens,
)
from .common import require_admin_token

if TYPE_CHECKING:
    from ..admin import Admin

__all__ = ["build_admin_router", "require_admin_token"]

#: The resources behind the admin token, in the order the OpenAPI document lists them.
GUARDED = (reset, journal, faults, state, accounts, snapshots, limits, clock, messages, callbacks, delivery, tokens)


def build_admin_router(admin: Admin) -> APIRouter:
    async def token(request: Request) -> None:
        require_admin_token(admin, request)

    router = APIRouter(prefix=ADMIN_PREFIX, tags=["admin"])
    health.add_routes(router, admin)
    guarded = APIRouter(dependencies=[Depends(token)])
    for resource in GUARDED:
        resource.add_routes(guarded, admin)
    router.include_router(guarded)
    return router
