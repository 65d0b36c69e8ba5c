"""The package's own static files (dashboard, Swagger UI), served under ``/static``: no CDN anywhere."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_URL = "/static"
STATIC_DIR = Path(__file__).parent.parent / "static"


def mount_static(web: FastAPI) -> None:
    web.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="static")
