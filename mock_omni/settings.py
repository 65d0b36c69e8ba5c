"""Run-time settings, from CLI flags over environment variables over defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .testing.journal import DEFAULT_LIMIT
from .vendor.api import MAX_BODY_BYTES
from .vendor.ratelimit import VENDOR_LIMITS, Rule, parse_profile

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
MEMORY_STORE = "memory"
DEFAULT_STORE_PREFIX = "mock-omni"
#: URL schemes redis-py connects with (TCP, TLS, a Unix socket).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


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
    #: Where the state lives: ``memory`` (this process) or a Redis URL shared by replicas (shared/).
    store: str = MEMORY_STORE
    #: Prefix of every Redis key, so several independent mocks can share one Redis.
    store_prefix: str = DEFAULT_STORE_PREFIX

    def __post_init__(self) -> None:
        if self.store != MEMORY_STORE and not self.store.startswith(REDIS_SCHEMES):
            raise ValueError(f"store: expected 'memory' or a Redis URL such as redis://127.0.0.1:6379/0, "
                             f"got {self.store!r}")
        if not self.store_prefix or any(c in self.store_prefix for c in "{}*?[] "):
            raise ValueError(f"store prefix: expected a non-empty name without braces, wildcards or spaces, "
                             f"got {self.store_prefix!r}")
        if self.shared and self.state_file:
            raise ValueError("--state-file keeps one process's state; with a Redis store the state is Redis's "
                             "(use Redis persistence instead)")

    @property
    def shared(self) -> bool:
        """Whether the state is shared with other replicas on Redis."""
        return self.store != MEMORY_STORE

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
        if env.get("MOCK_OMNI_STORE"):
            values["store"] = env["MOCK_OMNI_STORE"]
        if env.get("MOCK_OMNI_STORE_PREFIX"):
            values["store_prefix"] = env["MOCK_OMNI_STORE_PREFIX"]
        if env.get("MOCK_OMNI_QUIET", "").lower() in ("1", "true", "yes"):
            values["quiet"] = True
        values.update({name: value for name, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


def split_paths(text: str) -> list[str]:
    """Fixture paths from an env var: separated by commas or the OS path separator."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: expected an integer, got {text!r}") from None
