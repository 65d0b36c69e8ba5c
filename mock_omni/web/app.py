"""The FastAPI side: OpenAPI document, docs and the admin API; never the vendor's hot path.

Errors here use the vendor's envelope too, so an unknown path answers like the
vendor would rather than with FastAPI's ``{"detail": ...}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from ..api.answers import error_answer
from ..api.codecs import CONTENT_TYPES, JSON, Negotiator
from ..api.openapi import merge_vendor_spec
from ..domain.errors import BY_STATUS, GeneralError, InvalidArgument, NotFound, OmniError
from ..testing import ADMIN_PREFIX
from ..testing.admin_models import field_errors
from ..version import __version__

if TYPE_CHECKING:
    from ..testing.admin import Admin


def error_response(admin: Admin, negotiator: Negotiator, request: Request, error: BaseException) -> Response:
    """A failure in the vendor's envelope, in the format the client accepts (api/answers.py renders it)."""
    try:
        fmt = negotiator.response_format(
            request.headers.get("accept"), request.headers.get("content-type")
        )
    except OmniError:
        fmt = JSON
    # An unexpected exception is logged (before the answer: the pytest plugin looks for log growth) and recorded.
    answer = error_answer(error, fmt, f"{request.method} {request.url.path}", admin.state.errors)
    headers = {name.decode(): value.decode() for name, value in answer.extra}
    return Response(answer.content, status_code=answer.status, media_type=CONTENT_TYPES[fmt].decode(),
                    headers=headers or None)


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(web: FastAPI, request: Request) -> tuple[str, ...]:
    """Every method some route serves on this path (the Allow header of a 405).

    Starlette's own 405 names only the first route that matched the path, so a path served by
    several routes (GET, POST and DELETE /__admin/faults) would advertise one method of three.
    Each method is tried against the router (included routers too), so only 405s pay for it.
    HEAD is listed wherever GET is: web/head.py answers it.
    """
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        # HEAD is answered wherever GET is (web/head.py).
        if any(route.matches(scope)[0] == Match.FULL for route in web.router.routes) or (
                method == "HEAD" and "GET" in allowed):
            allowed.append(method)
    return tuple(allowed)


def build_web_app(admin: Admin) -> FastAPI:
    """Everything that is not the vendor's API: the admin API, the OpenAPI document, the dashboard, the docs."""
    negotiator = Negotiator()
    web = FastAPI(
        title="mock-omni",
        version=__version__,
        description=f"A local emulation of Infobip's OMNI scenario API. The admin API (`{ADMIN_PREFIX}`) is "
                    "mock-omni's own and is not part of the vendor's API.",
        docs_url=None, redoc_url=None,
    )

    @web.exception_handler(OmniError)
    async def omni_error(request: Request, exc: OmniError) -> Response:
        return error_response(admin, negotiator, request, exc)

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 404:
            error: OmniError = NotFound("Resource not found.")
        else:
            error = BY_STATUS.get(exc.status_code, GeneralError)()
        if exc.status_code == 405:
            error.allowed = allowed_methods(web, request)  # type: ignore[attr-defined]
        return error_response(admin, negotiator, request, error)

    @web.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = field_errors(exc.errors(), located=True)
        return error_response(admin, negotiator, request, InvalidArgument(validation_errors=errors))

    @web.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client left mid-body (an admin call's body cut short, or the server stopping while it waited):
        # nobody to answer and nothing was done, as on the vendor API (api/dispatcher.py). The server writes
        # nothing to a gone client (uvicorn's send, and the protocol's, drop it): no error, no log line.
        return Response(status_code=400)

    @web.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        return error_response(admin, negotiator, request, exc)

    def openapi() -> dict[str, Any]:
        if web.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(title=web.title, version=web.version, description=web.description,
                               routes=web.routes)
            web.openapi_schema = merge_vendor_spec(spec)
        return web.openapi_schema

    web.openapi = openapi  # type: ignore[method-assign]

    from ..testing.admin_routes import build_admin_router

    web.include_router(build_admin_router(admin))
    add_pages(admin, web)
    return web


def add_pages(admin: Admin, web: FastAPI) -> None:
    """The dashboard, the offline docs and their static files (health is the admin API's)."""
    from .assets import mount_static
    from .dashboard import dashboard_router, page_headers
    from .docs import docs_router

    framing = page_headers(admin)
    web.include_router(dashboard_router(admin))
    web.include_router(docs_router(web.title, framing))
    mount_static(web, framing)  # /static/dashboard.html is the dashboard too
