"""The package's own static files (dashboard, Swagger UI), served under ``/static``: no CDN anywhere."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_URL = "/static"
STATIC_DIR = Path(__file__).parent.parent / "static"


def mount_static(web: FastAPI, headers: dict[str, str] | None = None) -> None:
    """``headers``: added to every static file's answer (who may frame them: ``/static/dashboard.html`` is the
    dashboard itself, its Reset button included, so it takes the dashboard's frame-ancestors)."""
    files: ASGIApp = StaticFiles(directory=STATIC_DIR)
    if headers:
        files = WithHeaders(files, headers)
    web.mount(STATIC_URL, files, name="static")


class WithHeaders:
    """An ASGI app whose answers carry ``headers`` too."""

    def __init__(self, app: ASGIApp, headers: dict[str, str]) -> None:
        self.app = app
        self.headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *self.headers]}
            await send(message)

        await self.app(scope, receive, sending)
