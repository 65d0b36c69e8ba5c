"""The domain services one mock server's vendor handlers call (moto's "backend"), bundled.

Handlers get this, never the app: they see accounts, scenarios and the clock, no HTTP.
Resources added later (sessions) become fields here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock
from .messages import Messages
from .store import Store


@dataclass(slots=True)
class Backend:
    store: Store
    clock: Clock
    messages: Messages
