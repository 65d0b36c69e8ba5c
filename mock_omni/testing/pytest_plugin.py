"""pytest plugin (a ``pytest11`` entry point): the mock is one fixture away.

- ``mock_omni``: a real server (``python -m mock_omni serve``, process.py) started on a
  free loopback port the first time a test of the session (or of the xdist worker) asks
  for it, and reset before every test. Helpers call the admin API through ``AdminClient``.
  The server ends with the process that started it, however that ends.
- ``mock_omni_app``: the same helpers in-process, no port: ``.app`` is the ASGI app for
  ``httpx.ASGITransport``, ``.client`` a Starlette TestClient of the test's own.
- ``@pytest.mark.mock_omni(fixtures=..., rate_limit=...)`` configures one test: it is
  what that test's resets return to.
- A server-side error during a test (a 500 no fault asked for) fails that test with the
  server's message; a failing test's report shows the request journal, the messages sent
  (each with the channels it tried), the callbacks pushed, and what the server logged
  during the test.

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
import warnings
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..app import MockOmni
    from .admin_client import AdminClient, Credentials, IssuedToken
    from .process import ServerProcess
    from .receiver import Receiver

JOURNAL_SHOWN = 50
#: Seconds a server that refused the reset has to be gone (killed by the test before) for a new one to start.
STOP_WAIT = 10.0
MARKER = "mock_omni"
FIXTURES = ("mock_omni", "mock_omni_app")

Fixture = str | os.PathLike[str] | Mapping[str, Any] | Sequence[Any]
Limits = str | Sequence[str] | Mapping[str, str | None]


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
        """Back to this test's starting state (its marker's fixtures and limits), or one account back to its own."""
        self.admin.reset(account)

    def requests(self, method: str | None = None, path: str | None = None, account: str | None = None,
                 status: int | None = None) -> list[dict[str, Any]]:
        return self.admin.requests(method, path, account, status)

    def fault(self, status: int | None = None, **options: Any) -> dict[str, Any]:
        return self.admin.fault(status, **options)

    def load(self, fixture: Fixture) -> None:
        """Replace the state with fixture files (paths relative to the test's folder) or documents.

        The default credentials become those of the first account loaded.
        """
        document = read_fixtures(fixture, self._base)
        self.admin.load(document)
        self.credentials = first_account(document)

    def state(self, account: str | None = None) -> dict[str, Any]:
        return self.admin.state(account)

    def snapshot(self, name: str, account: str | None = None) -> None:
        self.admin.snapshot(name, account)

    def restore(self, name: str, account: str | None = None) -> None:
        self.admin.restore(name, account)

    def rate_limit(self, limits: Limits, account: str | None = None) -> dict[str, Any]:
        return self.admin.rate_limit(limit_spec(limits), account)

    def advance_clock(self, seconds: float, account: str | None = None) -> float:
        return self.admin.advance_clock(seconds, account)

    def messages(self, account: str | None = None, message_id: str | None = None, bulk_id: str | None = None,
                 limit: int | None = None) -> list[dict[str, Any]]:
        """Messages sent to the mock, each with its walk through the flow (``steps``), oldest first."""
        return self.admin.messages(account, message_id, bulk_id, limit)

    def callbacks(self, account: str | None = None, url: str | None = None,
                  state: str | None = None) -> list[dict[str, Any]]:
        """Reports the mock pushed (or tried to push) to notifyUrls, oldest first, with their attempts."""
        return self.admin.callbacks(account, url, state)

    def wait_for_callback(self, count: int = 1, *, url: str | None = None, account: str | None = None,
                          state: str | None = "delivered", timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until ``count`` callbacks (to ``url``, of ``account``) are ``state`` (delivered by default;
        None: any), at most ``timeout`` seconds; returns them, or fails listing the callbacks there were."""
        __tracebackhide__ = True
        return self.admin.wait_for_callback(count, account=account, url=url, state=state, timeout=timeout)

    def delivery_rule(self, destination: str = "*", outcome: str = "DELIVERED", *, channel: str | None = None,
                      account: str | None = None, delay_seconds: float | None = None,
                      times: int | None = None, delay: float | None = None) -> dict[str, Any]:
        """Decide how steps to ``destination`` (an address or a glob such as ``4179*``) end: DELIVERED (after
        ``delay_seconds``, the admin API's ``delaySeconds``; ``delay`` is its older name), UNDELIVERABLE,
        REJECTED or EXPIRED; on one ``channel`` or any; for ``times`` attempts or until the next reset."""
        return self.admin.delivery_rule(destination, outcome, channel=channel, account=account,
                                        delay_seconds=delay if delay_seconds is None else delay_seconds,
                                        times=times)

    def oauth2_token(self, account: str | None = None, *, client_id: str | None = None,
                     scopes: list[str] | None = None) -> IssuedToken:
        """An OAuth2 access token (``.authorization`` is ``Bearer ...``) for the default account or another."""
        return self.admin.oauth2_token(account or self.username, client_id=client_id, scopes=scopes)

    def session(self, account: str | None = None) -> IssuedToken:
        """An IBSSO session (``.authorization`` is ``IBSSO ...``) for the default account or another."""
        return self.admin.session(account or self.username)

    def new_account(self, username: str | None = None, password: str | None = None, *,
                    seed_account: str | None = None, **options: Any) -> Credentials:
        """A fresh account with the default account's scenarios (or ``seed_account``'s, or ``scenarios=``)."""
        if seed_account is None and options.get("scenarios") is None:
            seed_account = self.username
        return self.admin.new_account(username, password, seed_account=seed_account, **options)

    def server_errors(self) -> list[dict[str, Any]]:
        """Unexpected errors inside the server since this test's reset."""
        return self.admin.errors()

    def server_log(self) -> str:
        """What the server logged since this test started ("" in-process: there is no log)."""
        return ""

    def journal_text(self, limit: int = JOURNAL_SHOWN) -> str:
        entries = self.admin.requests()
        if not entries:
            return "(no requests reached the mock)"
        lines = [f"{len(entries)} request(s), newest last" + (f"; the last {limit}:" if len(entries) > limit else ":")]
        for entry in entries[-limit:]:
            query = f"?{entry['query']}" if entry["query"] else ""
            status = entry["status"] or "dropped"
            lines.append(f"{entry['method']} {entry['path']}{query} -> {status} (account {entry['account']})")
            if entry["body"]:
                lines.append(f"    sent: {_cut(entry['body'])}")
            # A refusal says why: the answer the client got and the mock's reason beside it.
            if not 200 <= entry["status"] < 300:
                response = entry.get("response")
                if response and response.get("body"):
                    lines.append(f"    answered: {_cut(response['body'])}")
                if entry.get("reason"):
                    lines.append(f"    why: {entry['reason']}")
        return "\n".join(lines)

    def messages_text(self, limit: int = JOURNAL_SHOWN) -> str:
        """The messages sent, each with the channels it tried ("" when none), for failure reports."""
        lines = []
        for message in self.admin.messages(limit=limit):
            walk = ", ".join(f"{step['channel']} {step['outcome']}" for step in message["steps"]) or "scheduled"
            lines.append(f"{message['messageId']} to {_address(message['to'])} (account {message['account']}): "
                         f"{message['status']['name']} [{walk}]")
        return "\n".join(lines)

    def callbacks_text(self, limit: int = JOURNAL_SHOWN) -> str:
        """The callbacks pushed, each with its attempts ("" when none), for failure reports."""
        from .admin_client import callback_line

        return "\n".join(callback_line(callback) for callback in self.admin.callbacks()[-limit:])


def _address(to: Mapping[str, str]) -> str:
    return to.get("phoneNumber") or to.get("emailAddress") or next(iter(to.values()), "?")


def limit_spec(limits: Limits) -> str | dict[str, str | None]:
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


def read_fixtures(fixture: Fixture, base: Path | None) -> dict[str, Any]:
    """One fixture document from paths and/or documents, checked here so errors name the file(s)."""
    from ..domain.fixtures import FixtureError, merge_documents, read_document

    items = [fixture] if isinstance(fixture, str | os.PathLike | Mapping) else list(fixture)
    documents: list[tuple[str, Any]] = []
    problem = None
    try:
        for item in items:
            if isinstance(item, Mapping):
                documents.append(("fixture document", dict(item)))
            else:
                path = Path(item)
                tried = [path] if path.is_absolute() or base is None else [base / path, path]
                found = next((candidate for candidate in tried if candidate.exists()), None)
                if found is None:
                    places = " and ".join(str(candidate.resolve()) for candidate in tried)
                    raise FixtureError(str(item), "", f"file not found: tried {places}")
                documents.append((str(found.resolve()), read_document(str(found.resolve()))))
        merge_documents(documents)
    except FixtureError as exc:
        problem = f"mock-omni: {exc}"
    if problem is not None:  # failed outside any except block: one line, no chained traceback
        pytest.fail(problem, pytrace=False)
    merged: dict[str, Any] = {"accounts": [account for _, document in documents for account in document["accounts"]]}
    rules = [rule for _, document in documents for rule in document.get("deliveryRules", [])]
    if rules:
        merged["deliveryRules"] = rules
    faults = [rule for _, document in documents for rule in document.get("faults", [])]
    if faults:
        merged["faults"] = faults
    return merged


def first_account(document: Mapping[str, Any]) -> Credentials:
    from .admin_client import Credentials

    if not document["accounts"]:
        pytest.fail("mock-omni: the fixtures define no account", pytrace=False)
    return Credentials.of(document["accounts"][0])


def _marker_baseline(request: pytest.FixtureRequest) -> tuple[dict[str, Any], Credentials | None]:
    """What the test's resets return to (``{}``: the server's start-up state), and its default account."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None:
        return {}, None
    unknown = set(marker.kwargs) - {"fixtures", "rate_limit"}
    if marker.args or unknown:
        pytest.fail(f"@pytest.mark.{MARKER} takes only fixtures= and rate_limit=", pytrace=False)
    baseline: dict[str, Any] = {}
    credentials = None
    if marker.kwargs.get("fixtures") is not None:
        baseline["fixtures"] = read_fixtures(marker.kwargs["fixtures"], request.path.parent)
        credentials = first_account(baseline["fixtures"])
    limits = marker.kwargs.get("rate_limit")
    if limits is not None:
        problem = None
        try:
            baseline["rateLimits"] = limit_spec(limits)
        except ValueError as exc:
            problem = str(exc)
        if problem is not None:
            pytest.fail(f"mock-omni: @pytest.mark.{MARKER}(rate_limit={limits!r}): {problem}", pytrace=False)
    return baseline, credentials


def _refused(request: pytest.FixtureRequest, error: Exception) -> str:
    """One line for a marker the server refused, naming what in it is wrong."""
    details = getattr(error, "validation_errors", None) or {}
    marker = request.node.get_closest_marker(MARKER)
    given = ", ".join(f"{name}={value!r}" for name, value in (marker.kwargs.items() if marker else ()))
    reasons = "; ".join(f"{field}: {', '.join(messages)}" for field, messages in details.items())
    return f"mock-omni: @pytest.mark.{MARKER}({given}): {reasons or getattr(error, 'text', error)}"


# --- the live server --------------------------------------------------------------------------


class MockOmniServer:
    """One ``mock-omni serve`` process on a free loopback port, with an admin token of its own; started again,
    on the same port, when a test left it dead (``ensure_running``)."""

    def __init__(self, fixtures: Sequence[str] = (), rate_limit: Sequence[str] = ()) -> None:
        # A random admin token: other local users cannot reset or fault this suite's server.
        self._token = secrets.token_urlsafe(16)
        # The environment as the session started: a server started again after a test killed it must not take
        # what that test had set (a proxy, SSL_CERT_FILE, by monkeypatch).
        self._env = {name: value for name, value in os.environ.items() if not name.startswith("MOCK_OMNI_")}
        self._env["MOCK_OMNI_ADMIN_TOKEN"] = self._token
        self._args = ["--quiet"]
        if fixtures:
            self._args += ["--fixtures", *fixtures]
        for spec in rate_limit:
            self._args += ["--rate-limit", spec]
        self._start()

    def _start(self, port: int = 0) -> None:
        from .admin_client import AdminClient, Credentials
        from .process import ServerProcess

        self.process: ServerProcess = ServerProcess.serve([*self._args, "--port", str(port)], self._env)
        self.url = self.process.url
        self.admin = AdminClient(self.url, token=self._token)
        try:
            accounts = self.admin.accounts()
        except BaseException:
            self.stop()
            raise
        if not accounts:
            self.stop()
            raise RuntimeError("mock-omni: the fixtures define no account")
        self.credentials = Credentials.from_dict(accounts[0])

    def ensure_running(self, wait: float = 0.0) -> bool:
        """A server that a test killed (or that crashed) is started again before the next test, on its port
        if that is still free (a URL a session-scoped fixture keeps stays right), else on another: without
        this, every later test of the session failed on a refused connection. ``wait``: seconds to give a
        process that is dying (a SIGKILL just sent) to be gone. Whether it was started again."""
        import subprocess

        if self.process.exit_status() is None:
            try:
                self.process.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                return False
        port = self.process.port
        self.stop()  # what is left of it: its pipes, its log, the admin client's connections
        try:
            self._start(port)
        except RuntimeError:
            self._start()  # the port was taken meanwhile
        return True

    def stop(self) -> None:
        if getattr(self, "admin", None) is not None:
            self.admin.close()
        self.process.stop()


_AT_SESSION_END = pytest.StashKey[list[Callable[[], object]]]()


def _at_session_end(config: pytest.Config, stop: Callable[[], object]) -> None:
    """Stop a server when the session ends, not when its fixture is torn down: the last test's teardown
    runs the session's finalizers before its report is made, and a failing teardown's report reads the
    journal. (Killed sessions need none of this: the server ends with its parent, process.py.)"""
    config.stash.setdefault(_AT_SESSION_END, []).append(stop)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    stops: list[Callable[[], object]] = session.config.stash.get(_AT_SESSION_END, [])
    for stop in reversed(stops):
        stop()
    session.config.stash[_AT_SESSION_END] = []


@pytest.fixture(scope="session")
def mock_omni_server(pytestconfig: pytest.Config) -> MockOmniServer:
    """The session's (or xdist worker's) mock-omni process; started on first use."""
    fixtures = [str(path) for path in pytestconfig.getini("mock_omni_fixtures")]
    server = MockOmniServer(fixtures, pytestconfig.getini("mock_omni_rate_limit"))
    _at_session_end(pytestconfig, server.stop)
    return server


class LiveMockOmni(MockOmniFixture):
    """The facade over the session's server; knows where the server's log stood when the test began."""

    def __init__(self, server: MockOmniServer, credentials: Credentials, base: Path | None) -> None:
        super().__init__(server.url, server.admin, credentials, base)
        self.server = server
        self._log_start = server.process.log_size()

    def server_errors(self) -> list[dict[str, Any]]:
        # Every recorded error is also logged (server_errors.py): a log that did not grow saves the call.
        if self.server.process.log_size() == self._log_start:
            return []
        return super().server_errors()

    def server_log(self) -> str:
        from .process import tail

        text = self.server.process.output(self._log_start)
        status = self.server.process.exit_status()
        if status is not None:
            text += f"\n(the mock-omni server exited with status {status})"
        return tail(text)


def _reset(server: MockOmniServer, baseline: dict[str, Any]) -> None:
    admin = server.admin
    # A body only when there is a baseline to set or to undo: a plain reset is the cheaper call.
    admin.reset(baseline=baseline if baseline or admin.custom_baseline else None)


@pytest.fixture
def mock_omni(mock_omni_server: MockOmniServer, request: pytest.FixtureRequest) -> MockOmniFixture:
    """A live mock-omni server in its fixture state: ``url``, credentials and admin helpers."""
    import httpx

    from .admin_client import AdminError

    baseline, credentials = _marker_baseline(request)
    mock_omni_server.ensure_running()
    problem = None
    try:
        _reset(mock_omni_server, baseline)
    except AdminError as exc:
        problem = _refused(request, exc)
    except httpx.TransportError:
        # Killed by the test before, and not yet gone when ensure_running looked: started again, then reset.
        if not mock_omni_server.ensure_running(wait=STOP_WAIT):
            raise
        _reset(mock_omni_server, baseline)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return LiveMockOmni(mock_omni_server, credentials or mock_omni_server.credentials, request.path.parent)


# --- in-process -------------------------------------------------------------------------------


class InProcessMockOmni(MockOmniFixture):
    """The helpers without a port: ``app`` (ASGI) and ``client`` (the test's own TestClient, default account)."""

    def __init__(self, app: MockOmni, client: Any, admin: AdminClient, credentials: Credentials,
                 base: Path | None = None) -> None:
        super().__init__(str(client.base_url), admin, credentials, base)
        self.app = app
        self.client = client
        client.headers["authorization"] = credentials.basic

    def load(self, fixture: Fixture) -> None:
        super().load(fixture)
        self.client.headers["authorization"] = self.credentials.basic

    def server_errors(self) -> list[dict[str, Any]]:
        return [error.to_dict() for error in self.app.state.errors.entries()]


class InProcessServer:
    """One app for the session, driven on one event loop (an anyio portal) in a thread of its own, running
    as under a server (its ticker, its callbacks) until the session ends.

    The per-test reset is a direct call on that loop: a request through Starlette's TestClient
    costs milliseconds (a handful of thread hand-offs), a call on the portal a tenth of one.
    """

    def __init__(self, app: MockOmni, portal: Any, test_client: type[Any]) -> None:
        from .admin_client import AdminClient, Credentials

        self.app = app
        self.portal = portal
        self._running = portal.wrap_async_context_manager(app.running())
        self._running.__enter__()
        self._test_client = test_client
        try:
            # The helpers' own client: nothing a test sets on its client (headers, cookies) reaches them.
            self.admin = AdminClient("http://testserver", http=self.client())
            self.credentials = Credentials.from_dict(self.admin.accounts()[0])
        except BaseException:
            self.stop()  # its ticker would otherwise keep the loop, and so pytest, running
            raise

    def client(self) -> Any:
        """A fresh TestClient on the session's loop (the loop is shared, the client state is not)."""
        client = self._test_client(self.app)
        client.portal = self.portal
        return client

    def stop(self) -> None:
        """Nothing happens by itself after this, and no callback goes out."""
        self._running.__exit__(None, None, None)

    def reset(self, baseline: Mapping[str, Any]) -> None:
        from .admin_models import ResetIn, validated

        admin = self.app.admin
        chosen = admin.baseline_from(validated(ResetIn, baseline), baseline)
        self.portal.call(admin.reset, None, chosen)  # on the app's loop: in line with its requests


@pytest.fixture(scope="session")
def _mock_omni_in_process(pytestconfig: pytest.Config) -> InProcessServer:
    import anyio.from_thread

    from ..api.ratelimit import parse_profile
    from ..app import create_app
    from ..settings import Settings
    from .real_time import RealTimeEventLoop

    with warnings.catch_warnings():
        # Starlette warns when it falls back to httpx without httpx2; that is its concern, not the user's.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    settings = Settings(fixtures=[str(path) for path in pytestconfig.getini("mock_omni_fixtures")],
                        rate_limits=parse_profile(pytestconfig.getini("mock_omni_rate_limit")))
    app = create_app(settings)
    # A loop on real time: a test that freezes time (freezegun) must not stop the app's delays and waits.
    portal_context = anyio.from_thread.start_blocking_portal(backend_options={"loop_factory": RealTimeEventLoop})
    portal = portal_context.__enter__()
    problem = None
    try:
        server = InProcessServer(app, portal, TestClient)
    except Exception as exc:  # noqa: BLE001 - one line for the user, and the loop's thread must not outlive it
        problem = f"mock-omni: the in-process app did not start: {type(exc).__name__}: {exc}"
        # Left running, the portal's thread would keep pytest from ever exiting (the error cancels its tasks).
        portal_context.__exit__(type(exc), exc, exc.__traceback__)
    if problem is not None:
        pytest.fail(f"{problem}\n(If time was frozen before this fixture was set up, as freezegun does, modules "
                    "imported meanwhile can break: set the fixture up first, or use the mock_omni fixture, which "
                    "runs in a process of its own.)", pytrace=False)

    def stop() -> None:
        server.admin.close()
        server.stop()
        portal_context.__exit__(None, None, None)

    _at_session_end(pytestconfig, stop)
    return server


@pytest.fixture
def mock_omni_app(
    _mock_omni_in_process: InProcessServer, request: pytest.FixtureRequest,
) -> Iterator[InProcessMockOmni]:
    """mock-omni in-process, in its fixture state: ``app``, ``client`` and the admin helpers."""
    from ..domain.errors import OmniError

    server = _mock_omni_in_process
    baseline, credentials = _marker_baseline(request)
    problem = None
    try:
        server.reset(baseline)
    except OmniError as exc:
        problem = _refused(request, exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    client = server.client()
    try:
        yield InProcessMockOmni(server.app, client, server.admin, credentials or server.credentials,
                                request.path.parent)
    finally:
        client.close()



@pytest.fixture
def mock_omni_receiver() -> Iterator[Receiver]:
    """A receiver for pushed reports on a free loopback port (testing/receiver.py): give its ``url`` as the
    ``notifyUrl``; ``received`` and ``reports()`` are what it got. Stopped after the test."""
    from .receiver import Receiver

    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


# --- server errors fail the test; failure reports show the journal and the log --------------------


def _cut(text: str, shown: int = 300) -> str:
    return text if len(text) <= shown else text[:shown] + "..."


def _fixture_of(item: pytest.Item) -> MockOmniFixture | None:
    funcargs: dict[str, object] = getattr(item, "funcargs", {})
    for name in FIXTURES:
        fixture = funcargs.get(name)
        if isinstance(fixture, MockOmniFixture):
            return fixture
    return None


def _errors_text(errors: list[dict[str, Any]]) -> str:
    lines = [f"mock-omni had {len(errors)} unexpected error(s) (answered 500; no fault rule asked for them):"]
    for error in errors:
        lines += [f"{error['request']}: {error['error']}", error["traceback"]]
    return "\n".join(lines)


_FAILED_BY_SERVER = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield  # the test's own failure goes first; its report then shows the errors too
    fixture = _fixture_of(item)
    if fixture is not None:
        errors = fixture.server_errors()
        if errors:
            item.stash[_FAILED_BY_SERVER] = True
            pytest.fail(_errors_text(errors), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None],
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    fixture = _fixture_of(item) if report.failed else None
    if fixture is not None:
        for title, read in (("mock-omni requests", fixture.journal_text),
                            ("mock-omni messages", fixture.messages_text),
                            ("mock-omni callbacks", fixture.callbacks_text),
                            ("mock-omni server log", fixture.server_log)):
            try:
                text = read()
            except Exception as exc:  # the report must not fail because the server did
                text = f"(could not read it: {exc})"
            if text:
                report.sections.append((title, text))
        if not item.stash.get(_FAILED_BY_SERVER, False):
            try:
                errors = fixture.server_errors()
            except Exception:  # noqa: BLE001 - as above
                errors = []
            if errors:
                report.sections.append(("mock-omni server errors", _errors_text(errors)))
    return report
