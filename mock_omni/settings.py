"""Run-time settings, from CLI flags over environment variables over defaults.

Values are checked here, wherever they come from (flags, ``MOCK_OMNI_*`` variables, a
``Settings(...)`` in code): a bad one is a ``SettingsError`` whose text is one line naming
the flag or variable it came from. No HTTP code is imported here (a test checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from .domain.delivery import MAX_DELAY, parse_duration
from .domain.fixtures import header_secret_problem
from .domain.messages import DEFAULT_LIMIT as DEFAULT_MESSAGE_LIMIT
from .domain.signin import SESSION_IDLE, TOKEN_LIFETIME
from .testing.journal import DEFAULT_LIMIT
from .vendor.ratelimit import VENDOR_LIMITS, Rule, parse_profile
from .vendor.webhooks import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, DEFAULT_TIMEOUT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: The largest request body the vendor API reads (the same bound as vendor/api.py's default).
MAX_BODY_BYTES = 1024 * 1024
#: Each journal entry keeps up to 64 KiB of body: a million of them is already more memory than a mock should take.
MAX_JOURNAL_LIMIT = 1_000_000
MAX_PORT = 65535
MEMORY_STORE = "memory"
DEFAULT_STORE_PREFIX = "mock-omni"
#: URL schemes redis-py connects with (TCP, TLS, a Unix socket).
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
#: Messages kept: about a kilobyte each, so ten million is already more memory than a mock should take.
MAX_MESSAGE_LIMIT = 10_000_000


#: Ten years: a token or session lifetime past it is a typo (and the clock advances at most that far).
MAX_LIFETIME = 10 * 365 * 86400
#: Attempts per callback: more would keep a dead receiver's queue busy for hours of backoff.
MAX_WEBHOOK_ATTEMPTS = 20
#: A first retry later than a minute, or a receiver given more than five minutes, would outlast any test.
MAX_WEBHOOK_BACKOFF = 60.0
MAX_WEBHOOK_TIMEOUT = 300.0


class SettingsError(ValueError):
    """A setting out of range; ``str()`` is the one-line message, naming where the value came from."""

    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem
        super().__init__(f"{name}: {problem}")


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
    #: Seconds from a step's start to its delivery where no rule says otherwise (0: delivered at once);
    #: given as text ("2s", "500ms"), it is read as a duration.
    delivery_delay: float = 0.0
    #: Messages kept across accounts; past it, the oldest is dropped with its report.
    message_limit: int = DEFAULT_MESSAGE_LIMIT
    #: Pushed reports (``notifyUrl``): attempts per callback, seconds before the first retry (doubled for each
    #: next one) and seconds a receiver has to answer; durations may be given as text ("500ms").
    webhook_attempts: int = DEFAULT_ATTEMPTS
    webhook_backoff: float = DEFAULT_BACKOFF
    webhook_timeout: float = DEFAULT_TIMEOUT
    #: Seconds an OAuth2 access token lives, on the mock's clock.
    token_lifetime: int = int(TOKEN_LIFETIME)
    #: Seconds without a call after which an IBSSO session ends, on the mock's clock.
    session_idle: int = int(SESSION_IDLE)
    #: Where the state lives: ``memory`` (this process) or a Redis URL shared by replicas (shared/).
    store: str = MEMORY_STORE
    #: Prefix of every Redis key, so several independent mocks can share one Redis.
    store_prefix: str = DEFAULT_STORE_PREFIX

    def __post_init__(self) -> None:
        _check_range("port", self.port, 0, MAX_PORT)
        _check_range("journal_limit", self.journal_limit, 0, MAX_JOURNAL_LIMIT)
        _check_range("max_body", self.max_body, 1, None)
        _check_range("message_limit", self.message_limit, 1, MAX_MESSAGE_LIMIT)
        self.delivery_delay = _duration("delivery_delay", self.delivery_delay, 0, MAX_DELAY)
        _check_range("webhook_attempts", self.webhook_attempts, 1, MAX_WEBHOOK_ATTEMPTS)
        self.webhook_backoff = _duration("webhook_backoff", self.webhook_backoff, 0, MAX_WEBHOOK_BACKOFF)
        self.webhook_timeout = _duration("webhook_timeout", self.webhook_timeout, 0.001, MAX_WEBHOOK_TIMEOUT)
        _check_range("token_lifetime", self.token_lifetime, 1, MAX_LIFETIME)
        _check_range("session_idle", self.session_idle, 1, MAX_LIFETIME)
        if self.admin_token is not None:
            problem = header_secret_problem(self.admin_token)
            if problem:
                raise SettingsError("admin_token", problem)
        if self.store != MEMORY_STORE and not self.store.startswith(REDIS_SCHEMES):
            raise SettingsError("store", f"expected 'memory' or a Redis URL such as redis://127.0.0.1:6379/0, "
                                         f"got {_shown(self.store)}")
        if not self.store_prefix or any(c in self.store_prefix for c in "{}*?[] "):
            raise SettingsError("store_prefix", f"expected a non-empty name without braces, wildcards or spaces, "
                                                f"got {_shown(self.store_prefix)}")
        if self.shared and self.state_file:
            raise SettingsError("state_file", "keeps one process's state; with a Redis store (--store) the state "
                                              "is Redis's (use Redis persistence instead)")

    @property
    def shared(self) -> bool:
        """Whether the state is shared with other replicas on Redis."""
        return self.store != MEMORY_STORE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``MOCK_OMNI_*`` variables; keyword overrides (CLI flags) win when not None.

        A bad value is a SettingsError naming its variable (``MOCK_OMNI_PORT``) or flag (``--port``).
        """
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        #: Where each value came from, for error messages.
        sources: dict[str, str] = {}

        def take(name: str, variable: str, value: object) -> None:
            values[name] = value
            sources[name] = variable

        if env.get("MOCK_OMNI_HOST"):
            take("host", "MOCK_OMNI_HOST", env["MOCK_OMNI_HOST"])
        if env.get("MOCK_OMNI_PORT"):
            take("port", "MOCK_OMNI_PORT", _int(env["MOCK_OMNI_PORT"], "MOCK_OMNI_PORT"))
        if env.get("MOCK_OMNI_FIXTURES"):
            take("fixtures", "MOCK_OMNI_FIXTURES", split_paths(env["MOCK_OMNI_FIXTURES"]))
        if env.get("MOCK_OMNI_RATE_LIMIT"):
            take("rate_limits", "MOCK_OMNI_RATE_LIMIT", parse_profile([env["MOCK_OMNI_RATE_LIMIT"]]))
        if env.get("MOCK_OMNI_JOURNAL_LIMIT"):
            take("journal_limit", "MOCK_OMNI_JOURNAL_LIMIT",
                 _int(env["MOCK_OMNI_JOURNAL_LIMIT"], "MOCK_OMNI_JOURNAL_LIMIT"))
        if env.get("MOCK_OMNI_ADMIN_TOKEN"):
            take("admin_token", "MOCK_OMNI_ADMIN_TOKEN", env["MOCK_OMNI_ADMIN_TOKEN"])
        if env.get("MOCK_OMNI_CORS_ORIGINS"):
            take("cors_origins", "MOCK_OMNI_CORS_ORIGINS",
                 [o.strip() for o in env["MOCK_OMNI_CORS_ORIGINS"].split(",") if o.strip()])
        if env.get("MOCK_OMNI_STATE_FILE"):
            take("state_file", "MOCK_OMNI_STATE_FILE", env["MOCK_OMNI_STATE_FILE"])
        if env.get("MOCK_OMNI_MESSAGE_LIMIT"):
            take("message_limit", "MOCK_OMNI_MESSAGE_LIMIT",
                 _int(env["MOCK_OMNI_MESSAGE_LIMIT"], "MOCK_OMNI_MESSAGE_LIMIT"))
        for name, variable in (("token_lifetime", "MOCK_OMNI_TOKEN_LIFETIME"),
                               ("session_idle", "MOCK_OMNI_SESSION_IDLE"),
                               ("webhook_attempts", "MOCK_OMNI_WEBHOOK_ATTEMPTS")):
            if env.get(variable):
                take(name, variable, _int(env[variable], variable))
        for name, variable in (("store", "MOCK_OMNI_STORE"), ("store_prefix", "MOCK_OMNI_STORE_PREFIX"),
                               ("delivery_delay", "MOCK_OMNI_DELIVERY_DELAY"),
                               ("webhook_backoff", "MOCK_OMNI_WEBHOOK_BACKOFF"),
                               ("webhook_timeout", "MOCK_OMNI_WEBHOOK_TIMEOUT")):
            if env.get(variable):
                take(name, variable, env[variable])
        if env.get("MOCK_OMNI_QUIET", "").lower() in ("1", "true", "yes"):
            take("quiet", "MOCK_OMNI_QUIET", True)
        for name, value in overrides.items():
            if value is not None:
                take(name, "--" + name.replace("_", "-"), value)
        try:
            return cls(**values)  # type: ignore[arg-type]
        except SettingsError as exc:
            raise SettingsError(sources.get(exc.name, exc.name), exc.problem) from None


def _check_range(name: str, value: int, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise SettingsError(name, f"must be an integer {bound}, got {_shown(value)}")


def _duration(name: str, value: object, low: float, high: float) -> float:
    """Seconds, given as a number or as text ("2s", "500ms": as flags and variables give it)."""
    if isinstance(value, str):
        try:
            value = parse_duration(value)
        except ValueError as exc:
            raise SettingsError(name, str(exc)) from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SettingsError(name, f"must be from {low:g} to {high:.0f} seconds, got {_shown(value)}")
    return float(value)


def _shown(value: object) -> str:
    # repr of an int over 4,300 digits raises; a value that long is no use in a message anyway.
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a number of over 40 digits"
    return text if len(text) <= 60 else text[:57] + "..."


def split_paths(text: str) -> list[str]:
    """Fixture paths from an env var: separated by commas or the OS path separator."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(name, f"expected an integer, got {_shown(text)}") from None

