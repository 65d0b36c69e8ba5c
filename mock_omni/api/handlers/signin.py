"""Handlers of the sign-in calls: OAuth2 client credentials (``/auth/1/oauth2/token``) and IBSSO sessions.

The token endpoint speaks RFC 6749 (section 4.4 for the grant, 2.3.1 for client
authentication, 3.1 and 3.2 for parameters, 5.1 and 5.2 for answers): a form body,
the client's id and secret in it or by HTTP Basic (never both; ``client_id`` may come with
Basic if it names the same client), each parameter at most once, unknown ones ignored,
errors as ``{"error", "error_description"}``. The session calls answer in the vendor's
envelope like every other call.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote_plus

from ...domain.backend import Backend
from ...domain.errors import InvalidClient, InvalidTokenRequest, Unauthorized, UnsupportedGrantType
from ...domain.signin import SessionIn
from ..auth import parse_basic
from ..routing import Call

_PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")
# A token request has four parameters; far more is no client's request (and parsing it costs).
_MAX_FIELDS = 100


def create_token(backend: Backend, call: Call) -> dict[str, object]:
    params = _form(call.body)
    client_id, client_secret = _client(params, call.authorization)
    try:
        account, client = backend.signin.client(client_id, client_secret)
    except InvalidClient as error:
        # RFC 6749 5.2: a client that tried HTTP Basic is answered with a Basic challenge.
        error.challenge = call.authorization is not None
        raise
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise InvalidTokenRequest("grant_type is required.")
    if grant_type != "client_credentials":
        raise UnsupportedGrantType()
    grant = backend.signin.issue_token(account, client, params.get("scope"))
    call.account = account.username
    return {"access_token": grant.token, "token_type": "Bearer", "expires_in": int(grant.lifetime)}


def _form(body: bytes) -> dict[str, str]:
    """The form's parameters; an empty one counts as absent (RFC 6749 3.1), a repeated one is invalid (3.2)."""
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, encoding="utf-8", errors="strict",
                          max_num_fields=_MAX_FIELDS)
    except ValueError:  # not ASCII (a form is percent-encoded), bad UTF-8 behind %-escapes, too many fields
        raise InvalidTokenRequest("The body is not a valid application/x-www-form-urlencoded form.") from None
    params: dict[str, str] = {}
    given: set[str] = set()
    for name, value in pairs:
        if name in _PARAMETERS:  # an empty one too: "grant_type=&grant_type=client_credentials" is two
            if name in given:
                raise InvalidTokenRequest(f"{name} is given more than once.").because(
                    f"the form gives {name} twice (RFC 6749 3.1), once empty or not")
            given.add(name)
        if value:
            params[name] = value
    return params


def _client(params: dict[str, str], authorization: str | None) -> tuple[str, str]:
    """The client's id and secret, from HTTP Basic or the body (RFC 6749 2.3.1: one method only).

    With Basic, ``client_secret`` in the body is a second method (invalid_request); ``client_id`` alone
    only identifies the client (RFC 6749 3.2.1 lets a client send it), so it may come with Basic if it
    names the client Basic authenticates, and is invalid_request if it names another.
    """
    if authorization is None:
        if "client_id" not in params or "client_secret" not in params:
            raise InvalidClient("Client authentication is required: client_id and client_secret, or HTTP Basic.")
        return params["client_id"], params["client_secret"]
    if "client_secret" in params:
        raise InvalidTokenRequest("Authenticate the client one way: HTTP Basic or client_id and client_secret.")
    scheme, _, credentials = authorization.strip().partition(" ")
    pair = parse_basic(credentials) if scheme.lower() == "basic" else None
    if pair is None:
        raise InvalidClient(challenge=True).because(
            f"the Authorization header is not HTTP Basic of client_id:client_secret (scheme {scheme!r})")
    # RFC 6749 2.3.1: the id and secret are form-encoded before Basic encodes them.
    client_id, client_secret = unquote_plus(pair[0]), unquote_plus(pair[1])
    if params.get("client_id", client_id) != client_id:
        raise InvalidTokenRequest("client_id names another client than the one HTTP Basic authenticates.").because(
            f"client_id {params['client_id']!r} in the form, client {client_id!r} by HTTP Basic")
    return client_id, client_secret


def create_session(backend: Backend, call: Call) -> dict[str, object]:
    body: SessionIn = call.body
    grant = backend.signin.open_session(body.username, body.password)
    call.account = body.username
    return {"token": grant.token}


def end_session(backend: Backend, call: Call) -> dict[str, object]:
    scheme, _, token = (call.authorization or "").strip().partition(" ")
    if scheme.lower() != "ibsso":
        raise Unauthorized()  # only a session can be ended: App, Basic and Bearer credentials have none
    backend.signin.end_session(call.account, token.strip())
    return {}
