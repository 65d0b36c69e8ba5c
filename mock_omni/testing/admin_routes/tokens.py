"""``/__admin/tokens``: list the tokens and sessions the mock issued; mint one for a test.

``GET /__admin/tokens`` lists live OAuth2 tokens and IBSSO sessions (masked: a listing
never hands out a credential). ``POST /__admin/tokens`` mints one without the secret
dance, as the sign-in calls would have issued it: an OAuth2 token with a client's scopes
(or the account's, or fewer), or the account's session (the live one if there is one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.credentials import Grant
from ...domain.signin import SignIn
from ..admin_models import MintIn, body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin

_SCHEMES = {"oauth2": "Bearer", "ibsso": "IBSSO"}


def issued(account: str, grant: Grant) -> dict[str, object]:
    """A freshly minted token as the admin API answers it: the only time its value is shown."""
    return {"account": account, "kind": grant.kind, "token": grant.token,
            "authorization": f"{_SCHEMES[grant.kind]} {grant.token}", "clientId": grant.client_id,
            "scopes": None if grant.scopes is None else list(grant.scopes), "expiresInSeconds": grant.lifetime}


def mint(signin: SignIn, body: MintIn) -> dict[str, object]:
    """A token or session for ``body.account``."""
    if body.kind == "ibsso":
        return issued(body.account, signin.session_for(body.account))
    scopes = None if body.scopes is None else tuple(body.scopes)
    return issued(body.account, signin.mint_token(body.account, body.client_id, scopes))


def add_routes(router: APIRouter, admin: Admin) -> None:
    signin = admin.state.signin

    @router.get("/tokens")
    async def tokens(account: str | None = account_query()) -> Response:
        """The live OAuth2 tokens and IBSSO sessions the mock issued (masked), of every account or one."""
        return answer({"tokens": signin.issued(account)})

    @router.post("/tokens", status_code=201, openapi_extra=body_doc(MintIn, "What to mint"))
    async def mint_token(request: Request) -> Response:
        """Mint an OAuth2 token or open the account's IBSSO session for a test; answers the token once."""
        body, _ = parse_body(MintIn, await raw_body(request))
        return answer(mint(signin, body), 201)
