"""What every admin route module shares: the token guard, the account filter, the bounded body, the answer."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import Query, Request
from fastapi.responses import Response

from ...domain.errors import PayloadTooLarge, Unauthorized
from .. import ADMIN_TOKEN_HEADER, admin_models
from ..admin_models import read_body

if TYPE_CHECKING:
    from ..admin import Admin

def account_query() -> Any:
    """The ``account`` query parameter of the routes that can be scoped to one account. A new one for each
    route of each app: FastAPI writes into a parameter's declaration, and a shared one read by a second app
    makes pydantic warn (which FastAPI silences in a way that is not thread-safe)."""
    return Query(None, description="only this account")


def answer(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


def require_admin_token(admin: Admin, request: Request) -> None:
    """401 unless the request carries the admin token (when one is set), compared in constant time as the
    header's raw bytes (settings allow printable ASCII tokens only). A change a replica applies from the log
    was let in by the replica that took it (replicas may be given different tokens)."""
    given = request.headers.get(ADMIN_TOKEN_HEADER)
    if not admin.trusted() and not admin_token_given(admin.settings.admin_token, given):
        raise Unauthorized("Missing or wrong X-Admin-Token.")


def admin_token_given(token: str | None, given: str | None) -> bool:
    """Whether ``given`` (the header's value) is the admin token, or none is set."""
    return token is None or hmac.compare_digest((given or "").encode("latin-1"), token.encode())


async def raw_body(request: Request) -> bytes:
    limit = admin_models.ADMIN_MAX_BODY  # read at call time: tests lower it
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limit:  # isdigit alone takes "²"
        # 413 before the body is read, as the vendor API answers: a client waiting for 100 Continue is not
        # asked to send megabytes only to be refused.
        raise PayloadTooLarge()
    return await read_body(request.stream(), limit)
