"""Run-time settings, from CLI flags over environment variables over defaults.

Each setting is declared once, as a field of ``Settings`` whose metadata (``declare(...)``) holds its help
text, its check, the kind of value it takes and, where they are not derived from its name, its flag and
variable. Everything else is derived from that table (``SETTINGS``): the checks ``Settings(...)`` runs,
``from_env``, the flags of ``mock-omni serve`` (server/cli.py) and their help, default included.

Values are checked here, wherever they come from (flags, ``MOCK_OMNI_*`` variables, a
``Settings(...)`` in code): a bad one is a ``SettingsError`` whose text is one line naming
the flag or variable it came from. No HTTP code is imported here (a test checks).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .api.ratelimit import VENDOR_LIMITS, Rule, parse_profile
from .api.webhook_targets import is_address, parse_allow
from .api.webhooks import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, DEFAULT_TIMEOUT
from .domain.delivery import MAX_DELAY, parse_duration
from .domain.fixtures import header_secret_problem
from .domain.messages import DEFAULT_BYTE_LIMIT, MIN_BYTE_LIMIT
from .domain.messages import DEFAULT_LIMIT as DEFAULT_MESSAGE_LIMIT
from .domain.signin import SESSION_IDLE, TOKEN_LIFETIME
from .testing.journal import DEFAULT_LIMIT

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
#: The largest request body the vendor API reads (the same bound as api/dispatcher.py's default).
MAX_BODY_BYTES = 1024 * 1024
#: Each journal entry keeps up to 64 KiB of body: a million of them is already more memory than a mock should take.
MAX_JOURNAL_LIMIT = 1_000_000
MAX_PORT = 65535
MEMORY_STORE = "memory"
DEFAULT_STORE_PREFIX = "mock-omni"
#: Messages kept: about a kilobyte each, so ten million is already more memory than a mock should take.
MAX_MESSAGE_LIMIT = 10_000_000
#: Bytes kept in messages: past 64 GiB a mock is no longer a mock.
MAX_MESSAGE_BYTES = 64 * 1024**3
#: The suffixes a size takes (binary units); a bare number is bytes.
SIZE_UNITS = {"": 1, "b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


#: Ten years: a token or session lifetime past it is a typo (and the clock advances at most that far).
MAX_LIFETIME = 10 * 365 * 86400
#: Attempts per callback: more would keep a dead receiver's queue busy for hours of backoff.
MAX_WEBHOOK_ATTEMPTS = 20
#: A first retry later than a minute, or a receiver given more than five minutes, would outlast any test.
MAX_WEBHOOK_BACKOFF = 60.0
MAX_WEBHOOK_TIMEOUT = 300.0
#: A request's headers given longer than this: the client is stalling, not slow (nginx's default is 60 s).
MAX_HEADER_TIMEOUT = 300.0
DEFAULT_HEADER_TIMEOUT = 10.0
#: ``--allowed-host`` values that allow any Host at all.
ALL_HOSTS = ("all", "*")
#: An ``--allowed-host`` name: labels of letters, digits, hyphens and underscores (container names have them);
#: a leading dot allows the name and its subdomains.
HOST_NAME = re.compile(r"\.?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*\.?", re.I)
MAX_HOST_NAME = 253
#: Every variable is this prefix and the setting's name in capitals, unless its declaration names another.
ENV_PREFIX = "MOCK_OMNI_"


class SettingsError(ValueError):
    """A setting out of range; ``str()`` is the one-line message, naming where the value came from."""

    def __init__(self, name: str, problem: str) -> None:
        self.name, self.problem = name, problem
        super().__init__(f"{name}: {problem}")


#: A setting's check: its name (for the error) and a value in, the value to keep out; SettingsError otherwise.
Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Kind:
    """How a kind of value is given outside code: as a variable's text, as a flag, and shown as a default."""

    #: A variable's text and the variable's name (for errors) to the value, or None for "not given".
    read: Callable[[str, str], object]
    #: argparse keywords of the flag.
    argument: Mapping[str, Any]
    #: The flag's parsed value to the setting's value.
    convert: Callable[[Any], object] = lambda value: value
    #: The default as the help text and docs/cli.md show it.
    show: Callable[[Any], str] = str
    metavar: str | None = None
    #: What the variable is set to, in help, when its value is not the setting's ("=1" for a switch).
    env_hint: str = ""


def _text(text: str, variable: str) -> str:
    return text


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise SettingsError(name, f"expected an integer, got {_shown(text)}") from None


def split_paths(text: str, variable: str = "") -> list[str]:
    """Fixture paths from an env var: separated by commas or the OS path separator."""
    parts = text.replace(os.pathsep, ",").split(",")
    return [part.strip() for part in parts if part.strip()]


def _items(text: str, variable: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _switch(text: str, variable: str) -> bool | None:
    return True if text.lower() in ("1", "true", "yes") else None


def _show_duration(seconds: float) -> str:
    if seconds == 0:
        return "0"
    return f"{seconds * 1000:g}ms" if seconds < 1 else f"{seconds:g}s"


def _show_size(size: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        whole, rest = divmod(size, SIZE_UNITS[unit.lower()])
        if whole and not rest:
            return f"{whole}{unit}"
    return str(size)


TEXT = Kind(read=_text, argument={})
INTEGER = Kind(read=_int, argument={"type": int}, metavar="N")
#: Seconds, given as text ("2s", "500ms") by flags and variables; the check reads the text.
DURATION = Kind(read=_text, argument={}, show=_show_duration, metavar="DURATION")
#: Bytes, given as text ("64MiB", "512KiB", "1048576") by flags and variables; the check reads the text.
SIZE = Kind(read=_text, argument={}, show=_show_size, metavar="SIZE")
PATHS = Kind(read=split_paths, argument={"nargs": "+", "action": "extend"}, metavar="PATH")
#: A repeatable flag; the variable separates the items with commas.
ITEMS = Kind(read=_items, argument={"action": "append"})
RATE_LIMITS = Kind(read=lambda text, variable: parse_profile([text]), argument={"action": "append"},
                   convert=parse_profile)
#: A flag without a value; the variable turns it on with 1, true or yes.
SWITCH = Kind(read=_switch, argument={"action": "store_true", "default": None}, env_hint="=1")

#: ``flag`` and ``env`` left as this are derived from the setting's name.
DERIVED = "derived"


@dataclass(frozen=True)
class Setting:
    """One setting's declaration; ``name`` and ``default`` are its field's, filled in by ``SETTINGS``."""

    #: What it does, as the flag's help says it (the variable and the default are added, from the declaration).
    help: str
    kind: Kind = TEXT
    check: Check | None = None
    #: ``--host``, derived from the name; None: not a flag.
    flag: str | None = DERIVED
    #: ``MOCK_OMNI_HOST``, derived from the name; None: no variable.
    env: str | None = DERIVED
    metavar: str | None = None
    #: The default in words, where its value says nothing (an empty list meaning the embedded fixtures).
    described: str | None = None
    name: str = ""
    default: object = None

    @property
    def default_text(self) -> str | None:
        """The default as help and docs/cli.md show it; None where it is nothing at all (off, none)."""
        if self.described is not None:
            return self.described
        if self.default is None or self.kind is SWITCH:
            return None
        return self.kind.show(self.default)

    @property
    def help_text(self) -> str:
        """The flag's help: what it does, then its variable and its default."""
        notes = []
        if self.env:
            notes.append(f"env {self.env}{self.kind.env_hint}")
        if self.default_text is not None:
            notes.append(f"default: {self.default_text}" if self.described else f"default {self.default_text}")
        return f"{self.help} ({'; '.join(notes)})" if notes else self.help

    def take(self, value: object) -> object:
        """``value`` as checked (and read, for a duration) by the declaration's check."""
        return value if self.check is None else self.check(self.name, value)


def declare(help: str, kind: Kind = TEXT, check: Check | None = None, *, flag: str | None = DERIVED,
            env: str | None = DERIVED, metavar: str | None = None, described: str | None = None,
            ) -> dict[str, Setting]:
    """A field's metadata declaring it a setting (see ``Setting``)."""
    return {"setting": Setting(help, kind, check, flag, env, metavar, described)}


def integer(low: int, high: int | None) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f"{low} or more"
            raise SettingsError(name, f"must be an integer {bound}, got {_shown(value)}")
        return value
    return check


def duration(low: float, high: float) -> Check:
    """Seconds, given as a number or as text ("2s", "500ms": as flags and variables give it)."""
    def check(name: str, value: Any) -> float:
        if isinstance(value, str):
            try:
                value = parse_duration(value)
            except ValueError as exc:
                raise SettingsError(name, str(exc)) from None
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise SettingsError(name, f"must be from {low:g} to {high:.0f} seconds, got {_shown(value)}")
        return float(value)
    return check


def size(low: int, high: int) -> Check:
    """Bytes, given as a number or as text: a whole number with an optional KiB, MiB or GiB (or B)."""
    def check(name: str, value: Any) -> int:
        if isinstance(value, str):
            text = value.strip()
            digits = text.rstrip("bBkKmMgGiI")
            unit, digits = SIZE_UNITS.get(text[len(digits):].lower()), digits.rstrip()
            if unit is None or not digits.isdigit() or not digits.isascii() or len(digits) > 20:
                raise SettingsError(name, f"expected a size such as 64MiB, 512KiB or 1048576 (bytes), "
                                          f"got {_shown(value)}")
            value = int(digits) * unit
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise SettingsError(name, f"must be from {_show_size(low)} to {_show_size(high)}, got "
                                      f"{_shown(value) if not isinstance(value, int) else _show_size(value)}")
        return value
    return check


def _header_secret(name: str, value: Any) -> Any:
    problem = None if value is None else header_secret_problem(value)
    if problem:
        raise SettingsError(name, problem)
    return value


def _webhook_allow(name: str, value: Any) -> Any:
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        raise SettingsError(name, f"expected a list of destinations, got {_shown(value)}")
    items = [part.strip() for item in value for part in item.split(",") if part.strip()]
    try:
        parse_allow(items)
    except ValueError as exc:
        raise SettingsError(name, str(exc)) from None
    return items


def _allowed_hosts(name: str, value: Any) -> Any:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(name, f"expected a list of host names, got {_shown(value)}")
    for item in value:
        spec = item.strip()
        if spec.lower() in ALL_HOSTS or (len(spec) <= MAX_HOST_NAME and HOST_NAME.fullmatch(spec)):
            continue
        shape = "without a scheme or port " if ":" in spec or "/" in spec else ""
        raise SettingsError(name, f"expected a host name {shape}(like mock or .example.com), 'all' or '*', "
                                  f"got {_shown(spec)}")
    return value


def _store(name: str, value: Any) -> Any:
    if value == MEMORY_STORE:
        return value
    if not isinstance(value, str):
        raise SettingsError(name, f"expected 'memory' or a Redis URL such as redis://127.0.0.1:6379/0, "
                                  f"got {_shown(value)}")
    # Only a Redis store pays for reading the URL the way redis-py will.
    from .replication.urls import store_url_problem

    problem = store_url_problem(value)
    if problem:
        raise SettingsError(name, problem)
    return value


def check_host(name: str, value: Any) -> Any:
    # An empty --host bound every interface (the socket's '' is INADDR_ANY), and a name that cannot be encoded
    # ended in a traceback: only an address or a host name, as the bind will read it.
    if isinstance(value, str) and (HOST_NAME.fullmatch(value) and not value.startswith(".")
                                   and len(value) <= MAX_HOST_NAME or is_address(value)):
        return value
    raise SettingsError(name, f"expected an address to bind (127.0.0.1, ::1, 0.0.0.0 for every interface) or a "
                              f"host name, got {_shown(value)}")


def _store_prefix(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not value or any(c in value for c in "{}*?[] "):
        raise SettingsError(name, f"expected a non-empty name without braces, wildcards or spaces, "
                                  f"got {_shown(value)}")
    return value


@dataclass
class Settings:
    host: str = field(default=DEFAULT_HOST, metadata=declare("address to bind", check=check_host))
    port: int = field(default=DEFAULT_PORT, metadata=declare(
        "port, 0 for any free one", INTEGER, integer(0, MAX_PORT), metavar="PORT"))
    fixtures: list[str] = field(default_factory=list, metadata=declare(
        "fixture files, JSON or YAML", PATHS, described="the embedded set"))
    rate_limits: dict[str, Rule] = field(default_factory=lambda: dict(VENDOR_LIMITS), metadata=declare(
        "'off', or e.g. update=5/1m; repeatable", RATE_LIMITS, flag="--rate-limit", env="MOCK_OMNI_RATE_LIMIT",
        metavar="off|OP=COUNT/DURATION", described="the vendor's limits"))
    quiet: bool = field(default=False, metadata=declare("no access log", SWITCH))
    max_body: int = field(default=MAX_BODY_BYTES, metadata=declare(
        "the largest request body the vendor API reads, in bytes (in code only)", INTEGER, integer(1, None),
        flag=None, env=None))
    journal_limit: int = field(default=DEFAULT_LIMIT, metadata=declare(
        "requests kept in the journal", INTEGER, integer(0, MAX_JOURNAL_LIMIT)))
    admin_token: str | None = field(default=None, metadata=declare(
        "require this token on /__admin", check=_header_secret))
    cors_origins: list[str] | None = field(default=None, metadata=declare(
        "origin browsers may call from: 'local' (http(s)://localhost and 127.0.0.1, any port), '*', an exact "
        "origin, or 'off'; repeatable", ITEMS, flag="--cors-origin", metavar="ORIGIN", described="local"))
    allowed_hosts: list[str] = field(default_factory=list, metadata=declare(
        "another Host requests may name (DNS rebinding protection): a name, .example.com for it and its "
        "subdomains, or 'all'; repeatable", ITEMS, check=_allowed_hosts, flag="--allowed-host", metavar="HOST",
        described="loopback names, IP addresses and the --host name"))
    state_file: str | None = field(default=None, metadata=declare(
        "load the state from PATH at start and save it after every change", metavar="PATH"))
    #: True: vendor calls go through the ASGI app only, never answered in the protocol (http_protocol.py).
    asgi_only: bool = field(default=False, metadata=declare(
        "answer the vendor's calls through the ASGI app, as in-process clients see them, instead of in the HTTP "
        "protocol (same bytes, slower; for comparison)", SWITCH, env=None))
    #: Seconds from a step's start to its delivery where no rule says otherwise (0: delivered at once).
    delivery_delay: float = field(default=0.0, metadata=declare(
        "how long each delivery takes where no delivery rule says otherwise, e.g. 2s or 500ms", DURATION,
        duration(0, MAX_DELAY)))
    #: Past it, the oldest message is dropped with its report.
    message_limit: int = field(default=DEFAULT_MESSAGE_LIMIT, metadata=declare(
        "messages kept (all accounts together); the oldest is dropped past it", INTEGER,
        integer(1, MAX_MESSAGE_LIMIT)))
    #: Past it too, the oldest message is dropped with its report (domain/messages.py: ``own_size``, ``shared_size``).
    message_bytes: int = field(default=DEFAULT_BYTE_LIMIT, metadata=declare(
        "bytes of texts, senders, addresses, IDs and options kept in messages (all accounts together; what one "
        "send's messages share counted once), e.g. 64MiB; the oldest message is dropped past it", SIZE,
        size(MIN_BYTE_LIMIT, MAX_MESSAGE_BYTES)))
    #: Pushed reports (``notifyUrl``): attempts per callback, seconds before the first retry (doubled for each
    #: next one) and seconds a receiver has to answer.
    webhook_attempts: int = field(default=DEFAULT_ATTEMPTS, metadata=declare(
        "attempts to push each report to a notifyUrl before giving up", INTEGER,
        integer(1, MAX_WEBHOOK_ATTEMPTS)))
    webhook_backoff: float = field(default=DEFAULT_BACKOFF, metadata=declare(
        "wait before the first retry of a push, doubled for each next one, e.g. 500ms", DURATION,
        duration(0, MAX_WEBHOOK_BACKOFF)))
    webhook_timeout: float = field(default=DEFAULT_TIMEOUT, metadata=declare(
        "how long a notifyUrl has to answer a push", DURATION, duration(0.001, MAX_WEBHOOK_TIMEOUT)))
    #: Where pushes may go, checked against the addresses a notifyUrl resolves to (api/webhook_targets.py).
    webhook_allow: list[str] = field(default_factory=list, metadata=declare(
        "where reports may be pushed: '*', a host name, '*.suffix', an address or a CIDR network, each with an "
        "optional :PORT or :LOW-HIGH; repeatable", ITEMS, _webhook_allow, metavar="SPEC", described="anywhere"))
    token_lifetime: int = field(default=int(TOKEN_LIFETIME), metadata=declare(
        "how long an OAuth2 access token lives on the mock's clock", INTEGER, integer(1, MAX_LIFETIME),
        metavar="SECONDS"))
    session_idle: int = field(default=int(SESSION_IDLE), metadata=declare(
        "how long an IBSSO session lives without a call on the mock's clock; the vendor's is an hour", INTEGER,
        integer(1, MAX_LIFETIME), metavar="SECONDS"))
    #: server/http_protocol.py: a request's head must be in within this long of the connection's start, of its
    #: first byte or of the response it was pipelined behind, and its body must not stall this long; else 408.
    header_timeout: float = field(default=DEFAULT_HEADER_TIMEOUT, metadata=declare(
        "how long a request's headers may take to arrive, and its body may stall, before it is answered 408 and "
        "the connection closed, e.g. 10s", DURATION, duration(0.1, MAX_HEADER_TIMEOUT)))
    #: Redis is the store of replicas sharing the state (replication/).
    store: str = field(default=MEMORY_STORE, metadata=declare(
        "where the state lives: 'memory' (this process) or a Redis URL shared by several replicas", check=_store,
        metavar="memory|redis://HOST:PORT/DB"))
    store_prefix: str = field(default=DEFAULT_STORE_PREFIX, metadata=declare(
        "prefix of every Redis key, so several mocks can share one Redis", check=_store_prefix, metavar="NAME"))

    def __post_init__(self) -> None:
        for setting in SETTINGS:
            setattr(self, setting.name, setting.take(getattr(self, setting.name)))
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
        for setting in SETTINGS:
            variable = setting.env
            text = env.get(variable) if variable else None
            if variable and text:
                value = setting.kind.read(text, variable)
                if value is not None:
                    values[setting.name], sources[setting.name] = value, variable
        for name, value in overrides.items():
            if value is not None:
                declared = BY_NAME.get(name)  # an unknown name is Settings' TypeError
                values[name], sources[name] = value, (declared.flag if declared else None) or name
        try:
            return cls(**values)  # type: ignore[arg-type]
        except SettingsError as exc:
            raise SettingsError(sources.get(exc.name, exc.name), exc.problem) from None


def _declared(name: str, setting: Setting, default: object) -> Setting:
    flag = "--" + name.replace("_", "-") if setting.flag == DERIVED else setting.flag
    env = ENV_PREFIX + name.upper() if setting.env == DERIVED else setting.env
    return replace(setting, name=name, default=default, flag=flag, env=env)


#: Every setting, in the order of Settings' fields (and of the flags in ``mock-omni serve --help``).
SETTINGS: tuple[Setting, ...] = tuple(
    _declared(f.name, f.metadata["setting"], f.default_factory() if callable(f.default_factory) else f.default)
    for f in fields(Settings))
BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}


def _shown(value: object) -> str:
    # repr of an int over 4,300 digits raises; a value that long is no use in a message anyway.
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a number of over 40 digits"
    return text if len(text) <= 60 else text[:57] + "..."
