"""mock-omni: a local, faithful emulation of Infobip's OMNI scenario API."""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["MockOmni", "Settings", "__version__", "create_app"]

if TYPE_CHECKING:
    from .app import MockOmni, create_app
    from .settings import Settings
    from .version import __version__


def __getattr__(name: str) -> object:
    # Imported on first use: the pytest plugin (a pytest11 entry point, so loaded by every
    # pytest run where mock-omni is installed) must cost nothing until a test asks for it.
    if name in ("MockOmni", "create_app"):
        from . import app

        return getattr(app, name)
    if name == "__version__":
        from .version import __version__

        return __version__
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module 'mock_omni' has no attribute {name!r}")
