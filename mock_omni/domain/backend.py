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
    from .accounts import Accounts


@dataclass(slots=True)
class Backend:
    #: Every account with its credentials and scenarios.
    accounts: Accounts
    clock: Clock
    #: Issued tokens and sessions (OAuth2, IBSSO) on ``clock``.
    signin: SignIn
    #: Sent messages walking their flows, their reports and logs.
    messages: Messages
