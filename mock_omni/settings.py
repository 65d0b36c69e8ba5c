"""Run-time settings, from CLI flags over environment variables over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .domain.signin import SESSION_IDLE, TOKEN_LIFETIME
from .testing.journal import DEFAULT_LIMIT
from .vendor.api import MAX_BODY_BYTES
from .vendor.ratelimit import VENDOR_LIMITS, Rule, parse_profile

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Fixture files; empty means the embedded default set.
    fixtures: list[str] = field(default_factory=list)
    rate_limits: dict[str, Rule] = field(default_factory=lambda: dict(VENDOR_LIMITS))
    quiet: bool = False
    max_body: int = MAX_BODY_BYTES
    journal_limit: int = DEFAULT_LIMIT
    admin_token: str | None = None
    cors_origins: list[str] | None = None
    state_file: str | None = None
    #: Serve vendor calls through the ASGI app only, never answered in the protocol (http_protocol.py).
    asgi_only: bool = False
    #: Seconds an OAuth2 access token lives, on the mock's clock.
    token_lifetime: int = int(TOKEN_LIFETIME)
    #: Seconds without a call after which an IBSSO session ends, on the mock's clock.
    session_idle: int = int(SESSION_IDLE)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MOCK_OMNI_*`` variables; keyword overrides (CLI flags) win when not None."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        if env.get("MOCK_OMNI_HOST"):
            values["host"] = env["MOCK_OMNI_HOST"]
        if env.get("MOCK_OMNI_PORT"):
            values["port"] = _int(env["MOCK_OMNI_PORT"], "MOCK_OMNI_PORT")
        if env.get("MOCK_OMNI_FIXTURES"):
            values["fixtures"] = split_paths(env["MOCK_OMNI_FIXTURES"])
        if env.get("MOCK_OMNI_RATE_LIMIT"):
            values["rate_limits"] = parse_profile([env["MOCK_OMNI_RATE_LIMIT"]])
        if env.get("MOCK_OMNI_JOURNAL_LIMIT"):
            values["journal_limit"] = _int(env["MOCK_OMNI_JOURNAL_LIMIT"], "MOCK_OMNI_JOURNAL_LIMIT")
        if env.get("MOCK_OMNI_ADMIN_TOKEN"):
            values["admin_token"] = env["MOCK_OMNI_ADMIN_TOKEN"]
        if env.get("MOCK_OMNI_CORS_ORIGINS"):
            values["cors_origins"] = [o.strip() for o in env["MOCK_OMNI_CORS_ORIGINS"].split(",") if o.strip()]
        if env.get("MOCK_OMNI_STATE_FILE"):
            values["state_file"] = env["MOCK_OMNI_STATE_FILE"]
        for name, variable in (("token_lifetime", "MOCK_OMNI_TOKEN_LIFETIME"),
                               ("session_idle", "MOCK_OMNI_SESSION_IDLE")):
            if env.get(variable):
                values[name] = seconds(env[variable], variable)
        if env.get("MOCK_OMNI_QUIET", "").lower() in ("1", "true", "yes"):
            values["quiet"] = True
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


def split_paths(text: str) -> list[str]:
    """Fixture paths from an env var: separated by commas or the OS path separator."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def seconds(text: str, name: str) -> int:
    """A lifetime in whole seconds, at least 1."""
    value = _int(text, name)
    if value < 1:
        raise ValueError(f"{name}: expected a number of seconds of at least 1, got {text!r}")
    return value


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {text!r}") from None
