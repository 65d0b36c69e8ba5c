"""mock-omni: a local, faithful emulation of Infobip's OMNI scenario API."""

from __future__ import annotations

__version__ = "0.1.0"

from .app import MockOmni, create_app  # noqa: E402
from .settings import Settings  # noqa: E402

__all__ = ["MockOmni", "Settings", "__version__", "create_app"]
