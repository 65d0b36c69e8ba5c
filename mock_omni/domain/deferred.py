"""Models built on first use, not at import: start-up builds only what the first call needs.

``mock-omni serve`` answers the vendor API before most models are needed (the first call is usually a
scenario's, whose models are built at import); building the others at import was about 40 ms of its start
(docs/performance.md, cold start). A ``Deferred`` model is built on its first use, or by ``build_all`` once
the server listens (server/cli.py, beside the web app), whichever comes first: its validation, its errors
and its schema are the same either way.

pydantic serialises these builds with a lock (``pydantic.main._rebuild_lock``), so a model first used on
two threads at once (the event loop, FastAPI's worker threads, that warm-up) is built once, and no thread
sees half of it. A pydantic without that lock builds every model at import, as before.
"""

from __future__ import annotations

import pydantic.main
from pydantic import BaseModel, ConfigDict

#: Whether this pydantic builds a deferred model under a lock (pydantic/main.py); else nothing is deferred.
DEFER = hasattr(pydantic.main, "_rebuild_lock")


class Deferred(BaseModel):
    """A model built on first use (or by ``build_all``); its subclasses inherit it."""

    model_config = ConfigDict(defer_build=DEFER)


def deferred_models() -> list[type[Deferred]]:
    """Every subclass of ``Deferred`` defined so far (the modules imported), bases first."""
    found: list[type[Deferred]] = []
    waiting: list[type[Deferred]] = [Deferred]
    while waiting:
        model = waiting.pop(0)
        for subclass in model.__subclasses__():
            if subclass not in found:
                found.append(subclass)
                waiting.append(subclass)
    return found


def build_all() -> int:
    """Build every deferred model not built yet (each under pydantic's lock); how many were built."""
    built = 0
    for model in deferred_models():
        if not model.__pydantic_complete__:
            model.model_rebuild()
            built += 1
    return built
