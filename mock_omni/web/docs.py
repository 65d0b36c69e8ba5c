"""``/docs``: Swagger UI served from the package, so the page works with no internet.

The assets are swagger-ui-dist's (Apache-2.0; LICENSE and NOTICE beside them in
``static/swagger-ui/``), vendored unchanged: FastAPI's default page loads them from a CDN.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from .assets import STATIC_URL

SWAGGER = f"{STATIC_URL}/swagger-ui"


def docs_router(title: str, headers: dict[str, str] | None = None) -> APIRouter:
    """``headers``: the pages' own (who may frame them: web/dashboard.py ``page_headers``)."""
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    def docs() -> HTMLResponse:
        """Interactive API documentation (Swagger UI), served offline."""
        page = get_swagger_ui_html(
            openapi_url="/openapi.json", title=f"{title} - API docs",
            swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js", swagger_css_url=f"{SWAGGER}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER}/favicon-32x32.png",
            # The online validator badge would be a request to the internet.
            swagger_ui_parameters={"validatorUrl": None, "tryItOutEnabled": False},
        )
        page.headers.update(headers or {})
        return page

    return router
