"""Settings: every value checked wherever it comes from, one line naming the flag or variable; no HTTP imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mock_omni import create_app
from mock_omni.api import dispatcher as api
from mock_omni.api.ratelimit import VENDOR_LIMITS, Rule
from mock_omni.server.cli import build_parser, settings_from_args
from mock_omni.settings import (
    BY_NAME,
    MAX_BODY_BYTES,
    MAX_JOURNAL_LIMIT,
    SETTINGS,
    SWITCH,
    Setting,
    Settings,
    SettingsError,
)


def serve(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``mock-omni serve`` expected to stop at start-up (a server that starts instead times out)."""
    return subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--quiet", *args], capture_output=True,
                          text=True, timeout=20, env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.mark.parametrize(("args", "env", "message"), [
    (["--journal-limit", "-5"], {}, "--journal-limit: must be an integer from 0 to 1000000, got -5"),
    ([], {"MOCK_OMNI_JOURNAL_LIMIT": "-5"},
     "MOCK_OMNI_JOURNAL_LIMIT: must be an integer from 0 to 1000000, got -5"),
    (["--journal-limit", "1000001"], {}, "--journal-limit: must be an integer from 0 to 1000000, got 1000001"),
    ([], {"MOCK_OMNI_JOURNAL_LIMIT": "lots"}, "MOCK_OMNI_JOURNAL_LIMIT: expected an integer, got 'lots'"),
    (["--port", "99999"], {}, "--port: must be an integer from 0 to 65535, got 99999"),
    (["--port", "-1"], {}, "--port: must be an integer from 0 to 65535, got -1"),
    ([], {"MOCK_OMNI_PORT": "65536"}, "MOCK_OMNI_PORT: must be an integer from 0 to 65535, got 65536"),
    ([], {"MOCK_OMNI_PORT": "9" * 5000}, "MOCK_OMNI_PORT: expected an integer, got '999"),
    (["--admin-token", "geheim-ö"], {},
     "--admin-token: must be printable ASCII (HTTP headers carry it byte for byte)"),
    ([], {"MOCK_OMNI_ADMIN_TOKEN": "tok\x7fen"}, "MOCK_OMNI_ADMIN_TOKEN: must be printable ASCII"),
    (["--admin-token", " padded "], {}, "--admin-token: must have no spaces around it"),
    (["--message-limit", "0"], {}, "--message-limit: must be an integer from 1 to 10000000, got 0"),
    ([], {"MOCK_OMNI_MESSAGE_LIMIT": "many"}, "MOCK_OMNI_MESSAGE_LIMIT: expected an integer, got 'many'"),
    (["--delivery-delay", "soon"], {}, "--delivery-delay: bad duration 'soon': expected e.g. 2s, 500ms"),
    ([], {"MOCK_OMNI_DELIVERY_DELAY": "2 weeks"}, "MOCK_OMNI_DELIVERY_DELAY: bad duration '2 weeks'"),
    (["--webhook-attempts", "0"], {}, "--webhook-attempts: must be an integer from 1 to 20, got 0"),
    ([], {"MOCK_OMNI_WEBHOOK_ATTEMPTS": "3x"}, "MOCK_OMNI_WEBHOOK_ATTEMPTS: expected an integer, got '3x'"),
    (["--webhook-backoff", "2m"], {}, "--webhook-backoff: must be from 0 to 60 seconds, got 120.0"),
    ([], {"MOCK_OMNI_WEBHOOK_BACKOFF": "later"}, "MOCK_OMNI_WEBHOOK_BACKOFF: bad duration 'later'"),
    (["--webhook-timeout", "0s"], {}, "--webhook-timeout: must be from 0.001 to 300 seconds, got 0.0"),
    (["--allowed-host", "mock:8080"], {},
     "--allowed-host: expected a host name without a scheme or port (like mock or .example.com), 'all' or '*', "
     "got 'mock:8080'"),
    ([], {"MOCK_OMNI_ALLOWED_HOSTS": "mock,http://mock"}, "MOCK_OMNI_ALLOWED_HOSTS: expected a host name without a "
     "scheme or port (like mock or .example.com), 'all' or '*', got 'http://mock'"),
    ([], {"MOCK_OMNI_ALLOWED_HOSTS": "my host"}, "MOCK_OMNI_ALLOWED_HOSTS: expected a host name (like mock or "
     ".example.com), 'all' or '*', got 'my host'"),
])
def test_a_bad_value_is_one_line_naming_its_flag_or_variable(
    args: list[str], env: dict[str, str], message: str,
) -> None:
    result = serve(["--port", "0", *args] if "--port" not in args and "MOCK_OMNI_PORT" not in env else args, env)
    assert result.returncode == 2
    assert result.stderr.startswith(f"mock-omni: {message}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert len(result.stderr) < 200  # a 5,000-digit value is not echoed whole
    assert result.stdout == ""


@pytest.mark.parametrize(("field", "value"), [
    ("port", -1), ("port", 65536), pytest.param("port", 10**5000, id="port-5001-digits"),
    ("journal_limit", -5), ("journal_limit", True),
    ("journal_limit", "10"), ("max_body", 0), ("admin_token", "clé"), ("admin_token", ""),
    ("message_limit", 0), ("message_bytes", 1024), ("message_bytes", "64 MB"), ("message_bytes", 2.5),
    ("message_bytes", True), ("delivery_delay", -1.0), ("delivery_delay", "soon"), ("delivery_delay", True),
    ("webhook_attempts", 21), ("webhook_attempts", 2.0), ("webhook_backoff", -0.1), ("webhook_backoff", float("nan")),
    ("webhook_timeout", 0), ("webhook_timeout", 301), ("webhook_timeout", "forever"),
    ("header_timeout", 0.05), ("header_timeout", 301), ("header_timeout", "never"),
])
def test_settings_in_code_are_checked_too(field: str, value: object) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"{field}: ") and "\n" not in str(caught.value)


@pytest.mark.parametrize(("field", "value"), [
    ("port", 0), ("port", 65535), ("journal_limit", 0), ("journal_limit", MAX_JOURNAL_LIMIT),
    ("admin_token", "A-token_with.every~printable!char"),
])
def test_values_at_the_bounds_are_taken(field: str, value: object) -> None:
    assert getattr(Settings(**{field: value}), field) == value  # type: ignore[arg-type]


def test_a_flag_is_named_even_when_an_env_var_set_the_same_setting() -> None:
    with pytest.raises(SettingsError, match=r"^--journal-limit: "):
        Settings.from_env({"MOCK_OMNI_JOURNAL_LIMIT": "10"}, journal_limit=-1)
    with pytest.raises(SettingsError, match=r"^MOCK_OMNI_JOURNAL_LIMIT: "):
        Settings.from_env({"MOCK_OMNI_JOURNAL_LIMIT": "-1"})


def test_the_body_limit_is_the_vendor_apis() -> None:
    assert MAX_BODY_BYTES == api.MAX_BODY_BYTES


IMPORT_CHECK = """
import importlib, json, pkgutil, sys
import mock_omni.domain, mock_omni.settings
for module in pkgutil.iter_modules(mock_omni.domain.__path__, "mock_omni.domain."):
    importlib.import_module(module.name)
print(json.dumps(sorted(sys.modules)))
"""


def test_settings_and_the_domain_import_no_http_code() -> None:
    result = subprocess.run([sys.executable, "-c", IMPORT_CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    modules = json.loads(result.stdout)
    assert "mock_omni.domain.fixtures" in modules and "mock_omni.settings" in modules  # the check ran
    http = [m for m in modules if m.split(".")[0] in ("fastapi", "starlette", "uvicorn", "httptools", "h11")]
    assert http == []
    assert "mock_omni.api.dispatcher" not in modules


def test_delivery_delay_and_message_limit_from_variables_and_flags() -> None:
    from mock_omni.server.cli import build_parser, settings_from_args

    found = Settings.from_env({"MOCK_OMNI_DELIVERY_DELAY": "500ms", "MOCK_OMNI_MESSAGE_LIMIT": "7"})
    assert (found.delivery_delay, found.message_limit) == (0.5, 7)
    args = build_parser().parse_args(["serve", "--delivery-delay", "2s", "--message-limit", "100"])
    flags = settings_from_args(args)
    assert (flags.delivery_delay, flags.message_limit) == (2.0, 100)
    assert Settings(delivery_delay="1.5m").delivery_delay == 90.0


@pytest.mark.parametrize(("text", "size"), [
    ("64MiB", 64 * 1024**2), ("64mib", 64 * 1024**2), ("4 MiB", 4 * 1024**2), ("8192KiB", 8 * 1024**2),
    ("1GiB", 1024**3), ("4194304", 4 * 1024**2), ("5000000B", 5_000_000), (" 64GiB ", 64 * 1024**3),
])
def test_message_bytes_take_binary_units_or_plain_bytes(text: str, size: int) -> None:
    assert Settings.from_env({"MOCK_OMNI_MESSAGE_BYTES": text}).message_bytes == size
    assert Settings(message_bytes=text).message_bytes == size  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "problem"), [
    ("64MB", "expected a size such as 64MiB, 512KiB or 1048576 (bytes), got '64MB'"),
    ("1.5GiB", "expected a size such as 64MiB, 512KiB or 1048576 (bytes), got '1.5GiB'"),
    ("0x10MiB", "expected a size such as 64MiB, 512KiB or 1048576 (bytes), got '0x10MiB'"),
    ("MiB", "expected a size such as 64MiB, 512KiB or 1048576 (bytes), got 'MiB'"),
    ("1MiB", "must be from 4MiB to 64GiB, got 1MiB"),
    ("65GiB", "must be from 4MiB to 64GiB, got 65GiB"),
    ("9" * 5000, "expected a size such as 64MiB, 512KiB or 1048576 (bytes), got '99999"),
])
def test_a_bad_message_bytes_is_one_line_naming_the_variable_or_flag(text: str, problem: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"MOCK_OMNI_MESSAGE_BYTES": text})
    assert str(caught.value).startswith(f"MOCK_OMNI_MESSAGE_BYTES: {problem}")
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 200
    with pytest.raises(SettingsError) as caught:
        settings_from_args(build_parser().parse_args(["serve", "--message-bytes", text]))
    assert str(caught.value).startswith(f"--message-bytes: {problem}")


def test_webhook_settings_from_variables_and_flags() -> None:
    from mock_omni.server.cli import build_parser, settings_from_args

    found = Settings.from_env({"MOCK_OMNI_WEBHOOK_ATTEMPTS": "2", "MOCK_OMNI_WEBHOOK_BACKOFF": "100ms",
                               "MOCK_OMNI_WEBHOOK_TIMEOUT": "1.5s"})
    assert (found.webhook_attempts, found.webhook_backoff, found.webhook_timeout) == (2, 0.1, 1.5)
    args = build_parser().parse_args(["serve", "--webhook-attempts", "20", "--webhook-backoff", "0",
                                      "--webhook-timeout", "5m"])
    flags = settings_from_args(args)
    assert (flags.webhook_attempts, flags.webhook_backoff, flags.webhook_timeout) == (20, 0.0, 300.0)
    hooks = create_app(flags).state.webhooks
    assert (hooks.attempts, hooks.backoff, hooks.timeout, hooks.keep) == (20, 0.0, 300.0, flags.message_limit)


#: For every setting given outside code: a text its flag and its variable take, the value that text gives, and a
#: text they refuse (None: nothing is refused at start-up: any path, a rate limit's own error).
SAMPLES: dict[str, tuple[str, object, str | None]] = {
    "host": ("127.0.0.2", "127.0.0.2", "a b"),
    "port": ("7000", 7000, "70000"),
    "fixtures": ("a.json", ["a.json"], None),
    "rate_limits": ("update=5/1m", {**VENDOR_LIMITS, "update": Rule(5, 60)}, None),
    "quiet": ("1", True, None),
    "journal_limit": ("5", 5, "-1"),
    "admin_token": ("s3cret", "s3cret", " padded "),
    "cors_origins": ("off", ["off"], None),
    "allowed_hosts": ("mock", ["mock"], "mock:8080"),
    "state_file": ("/tmp/state.json", "/tmp/state.json", None),
    "asgi_only": ("1", True, None),
    "delivery_delay": ("2s", 2.0, "soon"),
    "message_limit": ("7", 7, "0"),
    "message_bytes": ("8MiB", 8 * 1024 * 1024, "1MiB"),
    "webhook_attempts": ("2", 2, "21"),
    "webhook_backoff": ("100ms", 0.1, "2m"),
    "webhook_timeout": ("1.5s", 1.5, "0s"),
    "header_timeout": ("2s", 2.0, "0s"),
    "webhook_allow": ("10.0.0.0/8:8000-8999", ["10.0.0.0/8:8000-8999"], "10.0.0.0/33"),
    "token_lifetime": ("60", 60, "0"),
    "session_idle": ("90", 90, str(10 * 365 * 86400 + 1)),
    "store": ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", "mysql://db"),
    "store_prefix": ("team-a", "team-a", "a b"),
}
#: Settings only code gives (Settings(max_body=...)), and flags with no variable.
CODE_ONLY = {"max_body"}
NO_VARIABLE = {"asgi_only"}


def test_every_setting_given_outside_code_is_sampled_and_every_checked_one_refuses_a_value() -> None:
    outside = {setting.name for setting in SETTINGS if setting.flag or setting.env}
    assert set(SAMPLES) == outside and outside | CODE_ONLY == {setting.name for setting in SETTINGS}
    assert {name for name, (_, _, bad) in SAMPLES.items() if bad} == {
        setting.name for setting in SETTINGS if setting.check and setting.name not in CODE_ONLY}


def from_flag(setting: Setting, text: str) -> Settings:
    argv = [setting.flag] if setting.kind is SWITCH else [setting.flag, text]
    return settings_from_args(build_parser().parse_args(["serve", *argv]))  # type: ignore[list-item]


@pytest.mark.parametrize("name", SAMPLES)
def test_each_setting_is_taken_from_its_flag_and_its_variable(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in {setting.env for setting in SETTINGS if setting.env}:
        monkeypatch.delenv(variable, raising=False)
    setting, (text, value, _) = BY_NAME[name], SAMPLES[name]
    assert getattr(Settings(), name) != value  # the sample changes something
    assert setting.flag == "--" + name.replace("_", "-") or (setting.flag, name) in (
        ("--rate-limit", "rate_limits"), ("--cors-origin", "cors_origins"), ("--allowed-host", "allowed_hosts"))
    assert getattr(from_flag(setting, text), name) == value
    if name in NO_VARIABLE:
        assert setting.env is None
    else:
        assert setting.env is not None and setting.env.startswith("MOCK_OMNI_")
        assert getattr(Settings.from_env({setting.env: text}), name) == value


@pytest.mark.parametrize("name", [name for name, (_, _, bad) in SAMPLES.items() if bad])
def test_a_bad_value_names_the_flag_or_the_variable_it_came_from(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    setting, (good, _, bad) = BY_NAME[name], SAMPLES[name]
    assert setting.flag and setting.env and bad
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({setting.env: bad})
    assert str(caught.value).startswith(f"{setting.env}: ") and "\n" not in str(caught.value)
    monkeypatch.setenv(setting.env, good)  # the flag's value wins, and it is the flag that is named
    with pytest.raises(SettingsError) as caught:
        from_flag(setting, bad)
    assert str(caught.value).startswith(f"{setting.flag}: ") and "\n" not in str(caught.value)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.default_text and not s.described], ids=lambda s: s.name)
def test_the_default_a_help_text_shows_is_the_default(setting: Setting) -> None:
    """Read back as its variable would give it, the default shown is the default Settings() has."""
    assert setting.default_text is not None
    assert setting.default_text in setting.help_text
    if setting.env:
        assert getattr(Settings.from_env({setting.env: setting.default_text}), setting.name) == getattr(
            Settings(), setting.name)
    else:
        assert setting.default_text == str(getattr(Settings(), setting.name))


def test_a_default_in_words_is_one_the_setting_has_in_code() -> None:
    described = {setting.name: setting.described for setting in SETTINGS if setting.described}
    assert described == {"fixtures": "the embedded set", "rate_limits": "the vendor's limits", "cors_origins": "local",
                         "webhook_allow": "anywhere",
                         "allowed_hosts": "loopback names, IP addresses and the --host name"}
    defaults = Settings()
    assert (defaults.fixtures, defaults.rate_limits, defaults.cors_origins, defaults.webhook_allow,
            defaults.allowed_hosts) == (
        [], VENDOR_LIMITS, None, [], [])
