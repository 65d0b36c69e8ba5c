"""The admin API's sign-in part: list the tokens and sessions the mock issued; mint one for a test.

``GET /__admin/tokens`` lists live OAuth2 tokens and IBSSO sessions (masked: a listing
never hands out a credential). ``POST /__admin/tokens`` mints one without the secret
dance, as the sign-in calls would have issued it: an OAuth2 token with a client's scopes
(or the account's, or fewer), or the account's session (the live one if there is one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..domain.credentials import Grant
from ..domain.errors import InvalidArgument
from ..domain.signin import SignIn
from .admin_api import _ACCOUNT, _body_doc, _json, _object, read_json

if TYPE_CHECKING:
    from ..app import MockOmni

MINT_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["account"], "additionalProperties": False,
    "properties": {
        "account": {"type": "string", "minLength": 1, "description": "the account the token signs in to"},
        "kind": {"enum": ["oauth2", "ibsso"], "default": "oauth2",
                 "description": "an OAuth2 access token (Bearer) or an IBSSO session"},
        "clientId": {"type": ["string", "null"],
                     "description": "oauth2: the account's client whose scopes the token carries "
                                    "(default: the account's own, every scope)"},
        "scopes": {"type": ["array", "null"], "items": {"type": "string", "minLength": 1},
                   "description": "oauth2: fewer scopes than the client's"},
    },
    # A session has its account's scopes: no client, no scopes.
    "if": {"required": ["kind"], "properties": {"kind": {"const": "ibsso"}}},
    "then": {"properties": {"clientId": {"type": "null"}, "scopes": {"type": "null"}}},
}
_SCHEMES = {"oauth2": "Bearer", "ibsso": "IBSSO"}


def issued(account: str, grant: Grant) -> dict[str, object]:
    """A freshly minted token as the admin API answers it: the only time its value is shown."""
    return {"account": account, "kind": grant.kind, "token": grant.token,
            "authorization": f"{_SCHEMES[grant.kind]} {grant.token}", "clientId": grant.client_id,
            "scopes": None if grant.scopes is None else list(grant.scopes), "expiresInSeconds": grant.lifetime}


def mint(signin: SignIn, data: dict[str, object]) -> dict[str, object]:
    """A token or session from the admin API's JSON, every field checked first."""
    errors: dict[str, list[str]] = {name: ["unknown field"] for name in sorted(set(data) - set(
        MINT_SCHEMA["properties"]))}
    account, kind = data.get("account"), data.get("kind", "oauth2")
    client_id, scopes = data.get("clientId"), data.get("scopes")
    if not isinstance(account, str) or not account:
        errors["account"] = ["must be a username"]
    if not isinstance(kind, str) or kind not in _SCHEMES:
        errors["kind"] = ['must be "oauth2" or "ibsso"']
    if client_id is not None and not isinstance(client_id, str):
        errors["clientId"] = ["must be a client id of the account"]
    if scopes is not None and (not isinstance(scopes, list)
                               or not all(isinstance(scope, str) and scope for scope in scopes)):
        errors["scopes"] = ["must be a list of scope names"]
    if kind == "ibsso" and (client_id is not None or scopes is not None):
        errors["kind"] = ["a session has its account's scopes: no clientId or scopes"]
    if errors:
        raise InvalidArgument(validation_errors=errors)
    assert isinstance(account, str)
    if kind == "ibsso":
        return issued(account, signin.session_for(account))
    names = tuple(str(scope) for scope in scopes) if isinstance(scopes, list) else None
    return issued(account, signin.mint_token(account, client_id if isinstance(client_id, str) else None, names))


def signin_router(app: MockOmni) -> APIRouter:
    router = APIRouter()
    signin = app.backend.signin

    @router.get("/tokens")
    async def tokens(account: str | None = _ACCOUNT) -> Response:
        """The live OAuth2 tokens and IBSSO sessions the mock issued (masked), of every account or one."""
        return _json({"tokens": signin.issued(account)})

    @router.post("/tokens", status_code=201, openapi_extra=_body_doc("What to mint", MINT_SCHEMA))
    async def mint_token(request: Request) -> Response:
        """Mint an OAuth2 token or open the account's IBSSO session for a test; answers the token once."""
        return _json(mint(signin, _object(await read_json(request))), 201)

    return router
