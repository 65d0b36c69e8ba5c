"""The domain services one mock server's vendor handlers call (moto's "backend"), bundled.

Handlers get this, never the app: they see accounts, scenarios and the clock, no HTTP.
Resources added later become fields here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .clock import Clock
from .messages import Messages
from .signin import SignIn
from .store import Store


@dataclass(slots=True)
class Backend:
    store: Store
    clock: Clock
    #: Issued tokens and sessions (OAuth2, IBSSO) on ``clock``.
    signin: SignIn
    #: Sent messages walking their flows, their reports and logs.
    messages: Messages
