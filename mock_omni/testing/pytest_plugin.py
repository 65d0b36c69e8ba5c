"""pytest plugin (a ``pytest11`` entry point): the mock is one fixture away.

- ``mock_omni``: a real server (``python -m mock_omni serve``) started on a free
  loopback port the first time a test of the session (or of the xdist worker) asks for
  it, and reset before every test. Helpers call the admin API through ``AdminClient``.
- ``mock_omni_app``: the same helpers in-process, no port: ``.app`` is the ASGI app
  for ``httpx.ASGITransport``, ``.client`` a Starlette TestClient.
- ``@pytest.mark.mock_omni(fixtures=..., rate_limit=...)`` configures one test.
- A failing test that used either fixture shows the server's request journal and the messages sent,
  each with the channels it tried.

Fresh state per test is one reset call, not a fresh account: the benchmark
(bench/fixture_cost.py) measures both, and a reset keeps the fixture's credentials
valid, so tests can use the accounts they know. Accounts remain the way to share one
server between suites (``new_account``).

Nothing here imports more than pytest until a fixture is used: every pytest run on a
machine where mock-omni is installed loads this module.
"""

from __future__ import annotations

import os
import secrets
import selectors
import subprocess
import sys
import time
import warnings
from collections.abc import Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..app import MockOmni
    from .admin_client import AdminClient, Credentials

START_TIMEOUT = 30.0
JOURNAL_SHOWN = 50
MARKER = "mock_omni"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("mock_omni_fixtures", "fixture files for the mock_omni server (default: embedded set)",
                  type="paths", default=[])
    parser.addini("mock_omni_rate_limit", "rate limits of the mock_omni server, e.g. 'off' or 'update=5/1m'",
                  type="args", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fixtures=None, rate_limit=None): state and rate limits of the mock_omni fixture for one test",
    )


# --- the facade tests use -------------------------------------------------------------------


class MockOmniFixture:
    """What a test gets: the URL, the default account's credentials, and the admin helpers."""

    def __init__(self, url: str, admin: AdminClient, credentials: Credentials, base: Path | None = None) -> None:
        self.url = url
        self.admin = admin
        #: The first account of the fixtures (Aladdin / open sesame with the embedded set).
        self.credentials = credentials
        self._base = base

    @property
    def username(self) -> str:
        return self.credentials.username

    @property
    def password(self) -> str:
        return self.credentials.password

    @property
    def authorization(self) -> str:
        """The default account's ``Authorization: Basic ...`` header value."""
        return self.credentials.basic

    def reset(self, account: str | None = None) -> None:
        self.admin.reset(account)

    def requests(self, method: str | None = None, path: str | None = None, account: str | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        return self.admin.requests(method, path, account, status)

    def fault(self, status: int | None = None, **options: Any) -> dict[str, Any]:
        return self.admin.fault(status, **options)

    def load(self, fixture: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]) -> None:
        """Replace the state with fixture files (paths relative to the test's folder) or documents.

        The default credentials become those of the first account loaded.
        """
        self.admin.load(read_fixtures(fixture, self._base))
        self.credentials = _default_credentials(self.admin)

    def state(self, account: str | None = None) -> dict[str, Any]:
        return self.admin.state(account)

    def snapshot(self, name: str, account: str | None = None) -> None:
        self.admin.snapshot(name, account)

    def restore(self, name: str) -> None:
        self.admin.restore(name)

    def rate_limit(self, limits: str | Sequence[str] | Mapping[str, str | None],
                   account: str | None = None) -> dict[str, Any]:
        return self.admin.rate_limit(limit_spec(limits), account)

    def advance_clock(self, seconds: float) -> float:
        return self.admin.advance_clock(seconds)

    def messages(self, account: str | None = None, message_id: str | None = None, bulk_id: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
        """Messages sent to the mock, each with its walk through the flow (``steps``), oldest first."""
        return self.admin.messages(account, message_id, bulk_id, limit)

    def delivery_rule(self, destination: str = "*", outcome: str = "DELIVERED", *, channel: str | None = None,
                      account: str | None = None, delay: float | None = None,
                      times: int | None = None) -> dict[str, Any]:
        """Decide how steps to ``destination`` (an address or glob such as ``4179*``) end: DELIVERED (after
        ``delay`` seconds), UNDELIVERABLE, REJECTED or EXPIRED; on one ``channel`` or any; for ``times``
        attempts or until the next reset."""
        return self.admin.delivery_rule(destination, outcome, channel=channel, account=account, delay=delay,
                                        times=times)

    def messages_text(self, limit: int = JOURNAL_SHOWN) -> str:
        """The messages sent, each with the channels it tried, for failure reports."""
        found = self.admin.messages(limit=limit)
        lines = []
        for message in found:
            walk = ", ".join(f"{step['channel']} {step['outcome']}" for step in message["steps"]) or "scheduled"
            lines.append(f"{message['messageId']} to {_address(message['to'])} (account {message['account']}): "
                         f"{message['status']['name']} [{walk}]")
        return "\n".join(lines)

    def new_account(self, username: str | None = None, password: str | None = None, **options: Any) -> Credentials:
        return self.admin.new_account(username, password, **options)

    def journal_text(self, limit: int = JOURNAL_SHOWN) -> str:
        entries = self.admin.requests()
        if not entries:
            return "(no requests reached the mock)"
        lines = [f"{len(entries)} request(s), newest last" + (f"; the last {limit}:" if len(entries) > limit else ":")]
        for entry in entries[-limit:]:
            query = f"?{entry['query']}" if entry["query"] else ""
            status = entry["status"] or "dropped"
            body = entry["body"] if len(entry["body"]) <= 200 else entry["body"][:200] + "..."
            lines.append(f"{entry['method']} {entry['path']}{query} -> {status} (account {entry['account']})")
            if body:
                lines.append(f"    {body}")
        return "\n".join(lines)


def _address(to: Mapping[str, str]) -> str:
    return to.get("phoneNumber") or to.get("emailAddress") or next(iter(to.values()), "?")


def limit_spec(limits: str | Sequence[str] | Mapping[str, str | None]) -> str | dict[str, str | None]:
    """"off", "update=5/1m", ["update=5/1m", ...] or {"update": "5/1m"} as the admin API's form."""
    if isinstance(limits, Mapping):
        return dict(limits)
    items = [limits] if isinstance(limits, str) else list(limits)
    if items == ["off"]:
        return "off"
    spec: dict[str, str | None] = {}
    for item in items:
        op, sep, rule = item.partition("=")
        if not sep:
            raise ValueError(f"bad rate limit {item!r}: expected 'off' or OP=COUNT/DURATION, e.g. update=5/1m")
        spec[op.strip()] = rule.strip()
    return spec


def read_fixtures(fixture: Any, base: Path | None) -> dict[str, Any]:
    """One fixture document from paths and/or documents, checked here so errors name the file."""
    items = [fixture] if isinstance(fixture, str | os.PathLike | Mapping) else list(fixture)
    accounts: list[Any] = []
    for item in items:
        document, problem = _checked_document(item, base)
        if problem is not None:  # failed outside any except block: one line, no chained traceback
            pytest.fail(problem, pytrace=False)
        accounts.extend(document["accounts"])
    return {"accounts": accounts}


def _checked_document(item: Any, base: Path | None) -> tuple[Any, str | None]:
    from ..domain.fixtures import FixtureError, accounts_from_document, read_document

    try:
        if isinstance(item, Mapping):
            document: Any = dict(item)
            source = "fixture document"
        else:
            path = Path(item)
            if not path.is_absolute() and base is not None and (base / path).exists():
                path = base / path
            source = str(path)
            document = read_document(source)
        accounts_from_document(document, source)
    except FixtureError as exc:
        return None, f"mock-omni: {exc}"
    return document, None


def _apply_marker(fixture: MockOmniFixture, request: pytest.FixtureRequest) -> None:
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return
    unknown = set(marker.kwargs) - {"fixtures", "rate_limit"}
    if marker.args or unknown:
        pytest.fail(f"@pytest.mark.{MARKER} takes only fixtures= and rate_limit=", pytrace=False)
    if marker.kwargs.get("fixtures") is not None:
        fixture.load(marker.kwargs["fixtures"])
    if marker.kwargs.get("rate_limit") is not None:
        fixture.rate_limit(marker.kwargs["rate_limit"])


def _default_credentials(admin: AdminClient) -> Credentials:
    from .admin_client import Credentials

    accounts = admin.accounts()
    if not accounts:
        raise RuntimeError("mock-omni: the fixtures define no account")
    return Credentials.from_dict(accounts[0])


# --- the live server --------------------------------------------------------------------------


class MockOmniServer:
    """One ``mock-omni serve`` process on a free loopback port, with an admin token of its own."""

    def __init__(self, fixtures: Sequence[str] = (), rate_limit: Sequence[str] = ()) -> None:
        from .admin_client import AdminClient

        # A random admin token: other local users cannot reset or fault this suite's server.
        token = secrets.token_urlsafe(16)
        env = {name: value for name, value in os.environ.items() if not name.startswith("MOCK_OMNI_")}
        env["MOCK_OMNI_ADMIN_TOKEN"] = token
        command = [sys.executable, "-m", "mock_omni", "serve", "--host", "127.0.0.1", "--port", "0", "--quiet"]
        if fixtures:
            command += ["--fixtures", *fixtures]
        for spec in rate_limit:
            command += ["--rate-limit", spec]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            self.url = read_serving_url(self.process)
        except BaseException:
            self.stop()
            raise
        self.admin = AdminClient(self.url, token=token)
        self.credentials = _default_credentials(self.admin)

    def stop(self) -> None:
        if getattr(self, "admin", None) is not None:
            self.admin.close()
        stop_process(self.process)


@pytest.fixture(scope="session")
def mock_omni_server(pytestconfig: pytest.Config) -> Iterator[MockOmniServer]:
    """The session's (or xdist worker's) mock-omni process; started on first use."""
    fixtures = [str(path) for path in pytestconfig.getini("mock_omni_fixtures")]
    server = MockOmniServer(fixtures, pytestconfig.getini("mock_omni_rate_limit"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mock_omni(mock_omni_server: MockOmniServer, request: pytest.FixtureRequest) -> MockOmniFixture:
    """A live mock-omni server in its fixture state: ``url``, credentials and admin helpers."""
    mock_omni_server.admin.reset()
    fixture = MockOmniFixture(mock_omni_server.url, mock_omni_server.admin, mock_omni_server.credentials,
                              request.path.parent)
    _apply_marker(fixture, request)
    return fixture


# --- in-process -------------------------------------------------------------------------------


class InProcessMockOmni(MockOmniFixture):
    """The helpers without a port: ``app`` (ASGI) and ``client`` (TestClient, default account)."""

    def __init__(self, app: MockOmni, client: Any, admin: AdminClient, credentials: Credentials,
                 base: Path | None = None) -> None:
        super().__init__(str(client.base_url), admin, credentials, base)
        self.app = app
        self.client = client
        client.headers["authorization"] = credentials.basic

    def load(self, fixture: str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]) -> None:
        super().load(fixture)
        self.client.headers["authorization"] = self.credentials.basic


@pytest.fixture(scope="session")
def _mock_omni_in_process(pytestconfig: pytest.Config) -> Iterator[tuple[Any, Any, Any, Any]]:
    from ..app import create_app
    from ..settings import Settings
    from ..vendor.ratelimit import parse_profile
    from .admin_client import AdminClient

    with warnings.catch_warnings():
        # Starlette warns when it falls back to httpx without httpx2; that is its concern, not the user's.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    settings = Settings(fixtures=[str(path) for path in pytestconfig.getini("mock_omni_fixtures")],
                        rate_limits=parse_profile(pytestconfig.getini("mock_omni_rate_limit")))
    app = create_app(settings)
    with TestClient(app) as client:
        admin = AdminClient(str(client.base_url), http=client)
        yield app, client, admin, _default_credentials(admin)


@pytest.fixture
def mock_omni_app(_mock_omni_in_process: tuple[Any, Any, Any, Any],
                  request: pytest.FixtureRequest) -> InProcessMockOmni:
    """mock-omni in-process, in its fixture state: ``app``, ``client`` and the admin helpers."""
    app, client, admin, credentials = _mock_omni_in_process
    admin.reset()
    fixture = InProcessMockOmni(app, client, admin, credentials, request.path.parent)
    _apply_marker(fixture, request)
    return fixture


# --- the journal in failure reports -----------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when == "call":
        funcargs: dict[str, object] = getattr(item, "funcargs", {})
        for name in ("mock_omni", "mock_omni_app"):
            fixture = funcargs.get(name)
            if isinstance(fixture, MockOmniFixture):
                try:
                    text = fixture.journal_text()
                    messages = fixture.messages_text()
                except Exception as exc:  # the report must not fail because the server did
                    text, messages = f"(could not read the journal: {exc})", ""
                report.sections.append(("mock-omni requests", text))
                if messages:
                    report.sections.append(("mock-omni messages", messages))
    return report


def read_serving_url(process: subprocess.Popen[Any], timeout: float = START_TIMEOUT) -> str:
    """The URL a starting ``mock-omni serve`` prints on its first stdout line; RuntimeError if none in time."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            if selector.select(timeout=max(0.0, deadline - time.monotonic())):
                chunk = os.read(process.stdout.fileno(), 1024)
                if not chunk:
                    break
                line += chunk
    text = line.decode("utf-8", "replace").strip()
    if " serving on " not in text:
        error: bytes | str = b""
        if process.poll() is not None and process.stderr is not None:
            error = process.stderr.read()
        if isinstance(error, bytes):
            error = error.decode("utf-8", "replace")
        reason = error.strip() or text or "no answer in time"
        raise RuntimeError(f"mock-omni server did not start: {reason}")
    return text.rsplit(" ", 1)[1]


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s; close the pipes."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()
