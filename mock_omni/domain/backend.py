"""The domain services one mock server's vendor handlers call (moto's "backend"), bundled.

Handlers get this, never the app: they see accounts, scenarios and the clock, no HTTP.
Resources added later become fields here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clock import Clock
from .messages import Messages
from .signin import SignIn

if TYPE_CHECKING:
    from ..state import ScenarioStore


@dataclass(slots=True)
class Backend:
    #: In memory (store.Store) or on Redis (shared/store.py): the same methods.
    store: ScenarioStore
    clock: Clock
    #: Issued tokens and sessions (OAuth2, IBSSO) on ``clock``; on Redis, shared/signin.py's subclass.
    signin: SignIn
    #: Sent messages walking their flows, their reports and logs.
    messages: Messages
