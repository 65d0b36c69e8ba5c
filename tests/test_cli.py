"""The CLI: flags, env vars, one-line errors, and a real uvicorn process."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from mock_omni.api.ratelimit import Rule
from mock_omni.server import collector
from mock_omni.server.cli import add_serve_arguments, build_parser, main, settings_from_args
from mock_omni.settings import SETTINGS, SWITCH

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY


def settings_for(argv: list[str], env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> object:
    for name in ("MOCK_OMNI_HOST", "MOCK_OMNI_PORT", "MOCK_OMNI_FIXTURES", "MOCK_OMNI_RATE_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return settings_from_args(build_parser().parse_args(["serve", *argv]))


def test_defaults_bind_loopback_with_vendor_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_for([], {}, monkeypatch)
    assert (settings.host, settings.port, settings.fixtures) == ("127.0.0.1", 8080, [])  # type: ignore[attr-defined]
    assert settings.rate_limits == {"create": Rule(20, 600), "update": Rule(40, 600), "logs": Rule(120, 60)}  # type: ignore[attr-defined]


def test_env_vars_then_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"MOCK_OMNI_HOST": "0.0.0.0", "MOCK_OMNI_PORT": "9000", "MOCK_OMNI_FIXTURES": "a.json,b.yaml",
           "MOCK_OMNI_RATE_LIMIT": "off"}
    settings = settings_for([], env, monkeypatch)
    assert (settings.host, settings.port, settings.fixtures, settings.rate_limits) == (  # type: ignore[attr-defined]
        "0.0.0.0", 9000, ["a.json", "b.yaml"], {})
    settings = settings_for(["--host", "127.0.0.2", "--port", "7000", "--fixtures", "c.json",
                             "--rate-limit", "update=5/1m", "--rate-limit", "create=1/1s"], env, monkeypatch)
    assert (settings.host, settings.port, settings.fixtures) == ("127.0.0.2", 7000, ["c.json"])  # type: ignore[attr-defined]
    assert settings.rate_limits == {"create": Rule(1, 1), "update": Rule(5, 60), "logs": Rule(120, 60)}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fixtures", "/nonexistent/f.json"], "mock-omni: /nonexistent/f.json: file not found"),
        (["--rate-limit", "update=lots"], "mock-omni: bad rate limit 'update=lots'"),
    ],
)
def test_bad_start_up_is_one_line_and_non_zero(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


@pytest.mark.parametrize(("argv", "env", "message"), [
    (["--port", "99999"], {}, "mock-omni: --port: must be an integer from 0 to 65535, got 99999\n"),
    (["--port", "-1"], {}, "mock-omni: --port: must be an integer from 0 to 65535, got -1\n"),
    ([], {"MOCK_OMNI_PORT": "65536"}, "mock-omni: MOCK_OMNI_PORT: must be an integer from 0 to 65535, got 65536\n"),
    ([], {"MOCK_OMNI_PORT": "-5"}, "mock-omni: MOCK_OMNI_PORT: must be an integer from 0 to 65535, got -5\n"),
])
def test_a_port_out_of_range_is_one_line_and_exit_2(argv: list[str], env: dict[str, str], message: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", *argv], capture_output=True, text=True,
                            timeout=30, env={**os.environ, "MOCK_OMNI_PORT": "", **env})
    assert (result.returncode, result.stderr, result.stdout) == (2, message, "")


STORE_MISTAKES = [
    ("redis://127.0.0.1:6379/0?socket_timout=2",
     "unknown option 'socket_timout' in 'redis://127.0.0.1:6379/0?socket_timout=2' (did you mean 'socket_timeout'?)"),
    ("redis://127.0.0.1:6379/O", "database 'O' in 'redis://127.0.0.1:6379/O' is not a number (redis://host:6379/0)"),
    ("redis://127.0.0.1:6379/abc",
     "database 'abc' in 'redis://127.0.0.1:6379/abc' is not a number (redis://host:6379/0)"),
    # str.isdigit takes a superscript two, which int() then refuses (a traceback at start-up).
    ("redis://127.0.0.1:6379/%C2%B2",
     "database '\u00b2' in 'redis://127.0.0.1:6379/%C2%B2' is not a number (redis://host:6379/0)"),
    ("redis://127.0.0.1:99999/0", "port '99999' in 'redis://127.0.0.1:99999/0' is not a number from 1 to 65535"),
    ("redis://127.0.0.1:six/0", "port 'six' in 'redis://127.0.0.1:six/0' is not a number from 1 to 65535"),
    ("redis://127.0.0.1:0/0", "port 0 in 'redis://127.0.0.1:0/0' is not a number from 1 to 65535"),
    ("redis://me:hunter2@127.0.0.1/0?socket_timeout=soon",
     "option socket_timeout='soon' in 'redis://me:***@127.0.0.1/0?socket_timeout=soon' is not a valid value"),
    ("redis://127.0.0.1/0?db=1&db=2", "option 'db' is given twice in 'redis://127.0.0.1/0?db=1&db=2'"),
    ("unix://", "a unix:// URL names the socket's path (unix:///run/redis.sock), got 'unix://'"),
    # A host the connection cannot encode ended with the codec's words, naming no flag: "encoding with 'idna'
    # codec failed (UnicodeError: label empty or too long)".
    ("redis://a..b:6379/0", "host 'a..b' in 'redis://a..b:6379/0' is not a host name or address"),
    (f"redis://{'a' * 64}:6379/0", f"host '{'a' * 64}' in 'redis://{'a' * 64}:6379/0' is not a host name or address"),
    ("http://127.0.0.1:6379", "expected 'memory' or a Redis URL such as redis://127.0.0.1:6379/0, "
                              "got 'http://127.0.0.1:6379'"),
]


@pytest.mark.parametrize(("url", "problem"), STORE_MISTAKES)
@pytest.mark.parametrize("given", ["flag", "variable"])
def test_a_store_url_mistake_is_one_line_naming_store_and_exit_2(url: str, problem: str, given: str) -> None:
    """Before, an unknown option was a 56-line traceback, a database not a number silently database 0."""
    argv, env = (["--store", url], {}) if given == "flag" else ([], {"MOCK_OMNI_STORE": url})
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", *argv], capture_output=True, text=True,
                            timeout=30, env={**os.environ, **env})
    name = "--store" if given == "flag" else "MOCK_OMNI_STORE"
    assert (result.returncode, result.stderr, result.stdout) == (2, f"mock-omni: {name}: {problem}\n", "")
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize("url", ["redis://127.0.0.1:6379/0", "redis://127.0.0.1", "redis://127.0.0.1:6379/",
                                 "rediss://u:p@host:6380/15?socket_timeout=2&ssl_cert_reqs=none&client_name=x",
                                 "unix:///run/redis.sock?db=2", "redis://[::1]:6379/3?health_check_interval=5"])
def test_store_urls_redis_reads_as_written_are_taken(url: str) -> None:
    from mock_omni.replication.urls import store_url_problem
    from mock_omni.settings import Settings

    assert store_url_problem(url) is None
    assert Settings(store=url).store == url


@pytest.mark.parametrize(("argv", "suggestion"), [
    (["--stroe", "memory"], "unrecognized arguments: --stroe memory (did you mean --store?)"),
    (["--jounral-limit=4"], "unrecognized arguments: --jounral-limit=4 (did you mean --journal-limit?)"),
    (["--exit-on-stdn-close"], "(did you mean --exit-on-stdin-close?)"),
])
def test_a_mistyped_flag_suggests_the_close_one(argv: list[str], suggestion: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", *argv], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2 and result.stdout == ""
    assert suggestion in result.stderr.splitlines()[-1], result.stderr


def test_bad_fixture_file_names_file_account_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "two-defaults.json"
    scenario = {"flow": [{"channel": "SMS"}], "default": True}
    bad.write_text(json.dumps({"accounts": [{"username": "u", "password": "p", "scenarios": [scenario, scenario]}]}))
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--fixtures", str(bad)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr == (f"mock-omni: {bad}: account 'u': scenarios[1].default: scenarios[0] is already the "
                             "default; exactly one scenario must be default\n")
    assert "Traceback" not in result.stdout + result.stderr


def test_port_in_use_is_one_line_and_non_zero() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", str(port)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert result.stderr.startswith(f"mock-omni: cannot listen on 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1


def test_serve_on_port_zero_prints_the_url_and_answers_the_seed_put() -> None:
    with server.running() as srv:
        assert srv.url.startswith("http://127.0.0.1:") and srv.port > 0
        response = httpx.put(f"{srv.url}/omni/1/scenarios/{SEED_KEY}", json={"default": True},
                             headers={"Authorization": ALADDIN_BASIC})
        assert response.status_code == 200 and response.json()["default"] is True
        assert "server" not in response.headers  # uvicorn's Server header is off: the vendor's is not ours to fake


def test_absolute_form_request_lines_are_routed_by_path() -> None:
    """The official Python 2.x client sends `PUT http://host:port/omni/... HTTP/1.1`."""
    with server.running() as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            request = (f"GET {srv.url}/omni/1/scenarios/{SEED_KEY} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n"
                       f"Authorization: {ALADDIN_BASIC}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
            conn.sendall(request.encode())
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        assert json.loads(body)["key"] == SEED_KEY


def test_python_dash_m_and_env_fixtures(tmp_path: Path) -> None:
    fixture = tmp_path / "one.json"
    fixture.write_text(json.dumps({"accounts": [{"username": "u", "password": "p", "scenarios": [
        {"key": "A" * 32, "flow": [{"channel": "SMS"}], "default": True}]}]}))
    with server.running(env={"MOCK_OMNI_FIXTURES": str(fixture)}) as srv:
        response = httpx.get(f"{srv.url}/omni/1/scenarios", auth=("u", "p"))
        assert [s["key"] for s in response.json()["scenarios"]] == ["A" * 32]


def test_the_serving_process_keeps_what_it_built_out_of_the_collectors_walks() -> None:
    """server/collector.py: paused from the command's first line, and once the app is built (its web side too,
    in the background once serving), frozen, young collections spaced out and every model built (a third of a
    1,000-destination send went to the collector walking the live objects again and again)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unused_port = probe.getsockname()[1]
    code = textwrap.dedent(f"""
        import gc, json, os, signal, sys, threading, time, urllib.request
        from mock_omni import __main__ as command
        from mock_omni.domain.deferred import deferred_models
        seen = {{}}
        def watch():
            while True:
                try:
                    urllib.request.urlopen("http://127.0.0.1:{unused_port}/__admin/health", timeout=10).read()
                    break
                except OSError:
                    time.sleep(0.02)
            for thread in threading.enumerate():
                if thread.name == "mock-omni-web":
                    thread.join()
            seen.update(threshold=gc.get_threshold()[0], frozen=gc.get_freeze_count(), enabled=gc.isenabled(),
                        unbuilt=[model.__name__ for model in deferred_models() if not model.__pydantic_complete__])
            print(json.dumps(seen), flush=True)
            os.kill(os.getpid(), signal.SIGTERM)  # a normal end: exit status 0
        import uvicorn
        startup = uvicorn.Server.startup
        async def serving(self, sockets=None):
            seen["paused while starting"] = not gc.isenabled()
            await startup(self, sockets)
        uvicorn.Server.startup = serving
        threading.Thread(target=watch, daemon=True).start()
        sys.argv = ["mock-omni", "serve", "--port", "{unused_port}", "--quiet"]
        command.main()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["paused while starting"]
    assert seen["enabled"] and seen["threshold"] == collector.YOUNG_THRESHOLD
    assert seen["frozen"] > 10_000  # the modules, routes and models the app was built from
    assert seen["unbuilt"] == []


def serve_flags() -> dict[str, argparse.Action]:
    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    return {action.option_strings[0]: action for action in parser._actions if action.option_strings != ["-h", "--help"]}


#: Flags of serve that are not settings: how the process runs, not what it serves.
NOT_SETTINGS = {"--exit-on-stdin-close"}


def test_every_flag_is_a_declared_setting_whose_help_names_its_variable_and_default() -> None:
    flags = serve_flags()
    declared = {setting.flag: setting for setting in SETTINGS if setting.flag}
    assert set(flags) == set(declared) | NOT_SETTINGS
    for flag, setting in declared.items():
        action = flags[flag]
        assert action.dest == setting.name and action.help is not None and action.help.startswith(setting.help)
        if setting.env:
            assert f"env {setting.env}" in action.help, flag
        if setting.default_text is not None:
            assert action.help.endswith(f"default {setting.default_text})") or action.help.endswith(
                f"default: {setting.default_text})"), flag
        else:
            assert "default" not in action.help, flag  # a switch is off, a token or a state file is none
    assert flags["--port"].help == "port, 0 for any free one (env MOCK_OMNI_PORT; default 8080)"
    assert flags["--webhook-backoff"].help is not None and flags["--webhook-backoff"].help.endswith(
        "(env MOCK_OMNI_WEBHOOK_BACKOFF; default 500ms)")
    assert flags["--quiet"].help == "no access log (env MOCK_OMNI_QUIET=1)"


def test_the_help_lists_the_flags_with_their_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--help"])
    assert stopped.value.code == 0
    shown = "".join(capsys.readouterr().out.split())  # argparse wraps the help (after hyphens too)
    for setting in SETTINGS:
        if setting.flag:
            assert "".join(setting.help_text.split()) in shown, setting.flag
    assert "MOCK_OMNI_JOURNAL_LIMIT;default1000)" in shown and "default:theembeddedset" in shown


CLI_DOC = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_docs_cli_lists_every_flag_with_its_variable_and_default() -> None:
    """docs/cli.md's synopsis and table, against the parser and the declarations."""
    text = CLI_DOC.read_text("utf-8").split(UPSTREAM_SECTION, 1)[0]
    synopsis = text.split("```sh", 1)[1].split("```", 1)[0]
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `--"):
            rows[re.match(r"`(--[a-z-]+)", cells[0]).group(1)] = cells  # type: ignore[union-attr]
    flags = serve_flags()
    assert set(rows) == set(flags)
    assert set(re.findall(r"\[(--[a-z-]+)", synopsis)) == set(flags)
    for setting in SETTINGS:
        if not setting.flag:
            continue
        _, variable, default, _ = rows[setting.flag]
        assert (f"`{setting.env}" in variable) if setting.env else variable == "", setting.flag
        shown = default.replace("`", "")
        if setting.default_text is None:
            assert shown == ("off" if setting.kind is SWITCH else "none"), setting.flag
        else:
            assert shown == setting.default_text, setting.flag


UPSTREAM_SECTION = "## Checking against the vendor"
UPSTREAM_COMMANDS = ("import", "verify", "record")


def subcommand_flags(name: str) -> set[str]:
    parser = build_parser()
    commands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    sub = commands.choices[name]
    return {action.option_strings[-1] for action in sub._actions if action.option_strings != ["-h", "--help"]}


def test_docs_cli_lists_every_flag_of_the_upstream_commands() -> None:
    """docs/cli.md's synopsis and table of import, verify and record, against their parsers."""
    text = CLI_DOC.read_text("utf-8").split(UPSTREAM_SECTION, 1)[1]
    synopsis = text.split("```sh", 1)[1].split("```", 1)[0]
    lines = dict.fromkeys(UPSTREAM_COMMANDS, "")
    current = None
    for line in synopsis.splitlines():
        words = line.split()
        if not words:
            continue
        if words[:1] == ["mock-omni"]:
            current = words[1]
        assert current is not None
        lines[current] += line
    documented: dict[str, set[str]] = {name: set() for name in UPSTREAM_COMMANDS}
    for line in text.splitlines():
        if line.startswith("| `--"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            flags = set(re.findall(r"`(--[a-z-]+)", cells[0]))
            names = UPSTREAM_COMMANDS if cells[1] == "all three" else tuple(
                word.strip() for word in cells[1].replace("/", ",").split(","))
            for name in names:
                documented[name] |= flags
    for name in UPSTREAM_COMMANDS:
        flags = subcommand_flags(name)
        assert set(re.findall(r"(--[a-z-]+)", lines[name])) == flags, name
        # "--out FILE / --out DIR" documents one flag for two commands.
        assert documented[name] == flags, name


def test_the_upstream_commands_are_subcommands_and_serve_stays_the_default() -> None:
    assert build_parser().parse_args(["serve"]).command == "serve"
    for name in UPSTREAM_COMMANDS:
        assert "--upstream" in subcommand_flags(name)
    done = subprocess.run([sys.executable, "-m", "mock_omni", "verify"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2 and "--upstream" in done.stderr and "Traceback" not in done.stderr
