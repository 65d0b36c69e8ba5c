"""The pytest plugin as users meet it: installed suites run in pytester subprocesses (entry point loading,
``filterwarnings = error``, ``--strict-markers``), plus our own suite using the fixture directly."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import httpx
import pytest

from mock_omni.testing.admin_client import AdminClient, AdminError
from mock_omni.testing.pytest_plugin import MockOmniFixture

from .conftest import SEED_KEY

pytestmark = pytest.mark.slow

# The heavy plugins of our own dev environment stay out of the suites run here (schemathesis alone
# costs seconds per start, and each xdist worker starts again); nothing here uses them.
STRICT_INI = """
[pytest]
filterwarnings = error
addopts = --strict-markers -p no:cacheprovider -p no:schemathesis -p no:hypothesispytest -p no:pytest_cov
"""

HELPERS = """
import asyncio, base64
import httpx
import pytest

LIST = "/omni/1/scenarios"
SEED = LIST + "/CD265875E3A6EA43478D5F37A635BE4A"

def call(mock_omni, method, path, auth=None, **kwargs):
    headers = {"Authorization": auth or mock_omni.authorization}
    return httpx.request(method, mock_omni.url + path, headers=headers, trust_env=False, **kwargs)

def basic(username, password):
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
"""

TESTER_FIXTURE = {"accounts": [{"username": "Tester", "password": "pw", "scenarios": [
    {"key": "0123456789ABCDEF0123456789ABCDEF", "name": "only", "flow": [{"channel": "SMS"}], "default": True}]}]}


def test_fixture_marker_helpers_and_in_process_variant(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makefile(".json", accounts=json.dumps(TESTER_FIXTURE))
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        def test_url_and_default_credentials(mock_omni):
            assert mock_omni.url.startswith("http://127.0.0.1:")
            assert (mock_omni.username, mock_omni.password) == ("Aladdin", "open sesame")
            assert call(mock_omni, "GET", SEED).json()["default"] is True

        def test_a_change(mock_omni):
            response = call(mock_omni, "POST", LIST, json={"name": "mine", "flow": [{"channel": "SMS"}]})
            assert response.status_code == 201

        def test_the_next_test_starts_fresh(mock_omni):
            assert len(call(mock_omni, "GET", LIST).json()["scenarios"]) == 3
            assert [(e["method"], e["path"]) for e in mock_omni.requests()] == [("GET", LIST)]

        def test_fault_and_journal(mock_omni):
            mock_omni.fault(503, method="GET", path=LIST + "/*")
            assert call(mock_omni, "GET", SEED).status_code == 503
            assert call(mock_omni, "GET", SEED).status_code == 200
            assert call(mock_omni, "GET", LIST).status_code == 200
            assert [e["status"] for e in mock_omni.requests(path=LIST + "/*")] == [503, 200]

        @pytest.mark.mock_omni(fixtures="accounts.json", rate_limit="update=1/1m")
        def test_marker(mock_omni):
            assert [a["username"] for a in mock_omni.state()["accounts"]] == ["Tester"]
            assert mock_omni.username == "Tester"
            auth = basic("Tester", "pw")
            assert mock_omni.authorization == auth
            key = LIST + "/0123456789ABCDEF0123456789ABCDEF"
            assert call(mock_omni, "PUT", key, auth, json={"name": "a"}).status_code == 200
            assert call(mock_omni, "PUT", key, auth, json={"name": "b"}).status_code == 429
            mock_omni.advance_clock(60)
            assert call(mock_omni, "PUT", key, auth, json={"name": "c"}).status_code == 200

        def test_marker_does_not_outlive_its_test(mock_omni):
            assert "Aladdin" in [a["username"] for a in mock_omni.state()["accounts"]]

        def test_snapshot_restore_and_new_account(mock_omni):
            mock_omni.snapshot("clean")
            call(mock_omni, "PUT", SEED, json={"name": "changed"})
            mock_omni.restore("clean")
            assert call(mock_omni, "GET", SEED).json()["name"] == "Test SMS or VIBER"
            other = mock_omni.new_account(seed_account="Aladdin")
            assert call(mock_omni, "GET", SEED, other.basic).status_code == 200
            mock_omni.rate_limit("off")
            for _ in range(25):
                assert call(mock_omni, "POST", LIST, json={"flow": [{"channel": "SMS"}]}).status_code == 201

        def test_in_process(mock_omni_app):
            assert mock_omni_app.client.get(SEED).json()["default"] is True
            mock_omni_app.fault(500, times=1)
            assert mock_omni_app.client.get(SEED).status_code == 500

            async def over_asgi_transport():
                transport = httpx.ASGITransport(app=mock_omni_app.app)
                async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
                    response = await client.get(SEED, headers={"Authorization": mock_omni_app.authorization})
                    return response.status_code
            assert asyncio.run(over_asgi_transport()) == 200
            assert [e["status"] for e in mock_omni_app.requests()] == [200, 500, 200]

        def test_in_process_starts_fresh(mock_omni_app):
            assert mock_omni_app.requests() == []
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=9)


def test_failing_test_shows_the_journal_and_a_bad_marker_fixture_names_the_file(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    bad = json.loads(json.dumps(TESTER_FIXTURE))
    bad["accounts"][0]["scenarios"][0]["flow"][0]["channel"] = "PIGEON"
    pytester.makefile(".json", bad=json.dumps(bad))
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        def test_fails(mock_omni):
            call(mock_omni, "PUT", SEED, json={"default": False})
            assert False, "the client should have handled the 400"

        @pytest.mark.mock_omni(fixtures="bad.json")
        def test_bad_fixture(mock_omni):
            pass

        def test_fails_in_process(mock_omni_app):
            mock_omni_app.client.get(LIST + "/0123456789ABCDEF0123456789ABCDEF")
            assert False
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=2, errors=1)
    result.stdout.fnmatch_lines([
        "*_ test_fails_in_process _*",
        "*- mock-omni requests -*",
        "GET /omni/1/scenarios/0123456789ABCDEF0123456789ABCDEF -> 404 (account Aladdin)",
    ])
    result.stdout.fnmatch_lines([
        "*- mock-omni requests -*",
        "1 request(s), newest last:",
        f"PUT /omni/1/scenarios/{SEED_KEY} -> 400 (account Aladdin)",
        '    sent: {"default":false}',
        '    answered: {"requestError":{"serviceException":{"messageId":"INVALID_ARGUMENT",*',
        f"    why: {SEED_KEY} is Aladdin's default scenario: make another one the default instead *",
    ])
    result.stdout.fnmatch_lines([
        "GET /omni/1/scenarios/0123456789ABCDEF0123456789ABCDEF -> 404 (account Aladdin)",
        '    answered: {"requestError":{"serviceException":{"messageId":"NOT_FOUND",*',
        "    why: Aladdin has no scenario with key '0123456789ABCDEF0123456789ABCDEF'",
    ])
    result.stdout.fnmatch_lines(["mock-omni: *bad.json: account 'Tester': scenarios[[]0[]].flow[[]0[]].channel: *"])
    result.stdout.no_fnmatch_line("*During handling*")


def test_xdist_workers_have_their_own_server_and_state(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        import json, os, pathlib

        @pytest.mark.parametrize("n", range(6))
        def test_isolated(mock_omni, n):
            call(mock_omni, "POST", LIST, json={"name": str(n), "flow": [{"channel": "SMS"}]})
            assert len(call(mock_omni, "GET", LIST).json()["scenarios"]) == 4
            record = {"worker": os.environ["PYTEST_XDIST_WORKER"], "url": mock_omni.url}
            pathlib.Path(f"seen-{n}.json").write_text(json.dumps(record))
    '''))
    result = pytester.runpytest_subprocess("-n", "2")
    result.assert_outcomes(passed=6)
    seen = [json.loads((pytester.path / f"seen-{n}.json").read_text()) for n in range(6)]
    url_of = {}
    for record in seen:
        assert url_of.setdefault(record["worker"], record["url"]) == record["url"]
    assert len(url_of) == 2
    assert len(set(url_of.values())) == 2


def test_unused_plugin_costs_nothing_and_keeps_warnings_strict(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile('''
        import sys

        def test_nothing_of_mock_omni_loaded(pytestconfig):
            assert pytestconfig.pluginmanager.has_plugin("mock_omni")
            loaded = [name for name in sys.modules if name.startswith("mock_omni")]
            assert sorted(loaded) == ["mock_omni", "mock_omni.testing", "mock_omni.testing.pytest_plugin"]
    ''')
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.mock_omni(fixtures=None, rate_limit=None):*"])


# --- our own suite uses the fixture too ---------------------------------------------------------

def test_live_fixture_from_our_own_suite(mock_omni: MockOmniFixture) -> None:
    response = httpx.get(f"{mock_omni.url}/omni/1/scenarios/{SEED_KEY}", trust_env=False,
                         headers={"Authorization": mock_omni.authorization})
    assert response.json()["key"] == SEED_KEY
    assert [entry["status"] for entry in mock_omni.requests()] == [200]


def test_admin_client_errors_name_the_field(mock_omni: MockOmniFixture) -> None:
    before = mock_omni.state()
    with pytest.raises(AdminError) as caught:
        mock_omni.admin.load({"accounts": "none"})
    assert caught.value.status == 400
    assert caught.value.validation_errors == {"accounts": ["Input should be a valid list"]}
    assert mock_omni.state() == before


def test_plugin_server_needs_its_admin_token(mock_omni: MockOmniFixture) -> None:
    with AdminClient(mock_omni.url) as stranger, pytest.raises(AdminError) as caught:
        stranger.reset()
    assert caught.value.status == 401
    assert caught.value.message_id == "UNAUTHORIZED"


def test_readme_pytest_example_runs_as_written(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    example = readme.split("### pytest", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    pytester.makeini(STRICT_INI)
    (pytester.path / "fixtures").mkdir()
    (pytester.path / "fixtures" / "team.json").write_text(json.dumps(TESTER_FIXTURE))
    pytester.makepyfile(test_readme=example)
    pytester.runpytest_subprocess().assert_outcomes(passed=2)


def test_messages_and_delivery_rules_helpers_and_the_failure_report(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        SEND = {"destinations": [{"messageId": "M-1", "to": {"phoneNumber": "41793026727"}}],
                "sms": {"text": "SMS"}, "viber": {"text": "Viber"}}

        def test_rule_then_walk(mock_omni):
            rule = mock_omni.delivery_rule("4179*", "UNDELIVERABLE", channel="SMS", times=1)
            assert rule["outcome"] == "UNDELIVERABLE" and rule["times"] == 1
            assert call(mock_omni, "POST", "/omni/1/advanced", json=SEND).status_code == 200
            (message,) = mock_omni.messages()
            assert [(s["channel"], s["outcome"]) for s in message["steps"]] == [
                ("SMS", "UNDELIVERABLE"), ("VIBER", "DELIVERED")]
            assert mock_omni.messages(message_id="M-1")[0]["status"]["name"] == "DELIVERED_TO_HANDSET"

        def test_the_next_test_starts_fresh(mock_omni):
            assert mock_omni.messages() == []
            assert mock_omni.admin.delivery_rules()["rules"] == []

        def test_delay_on_the_clock_in_process(mock_omni_app):
            mock_omni_app.delivery_rule("41793026727", delay_seconds=30)
            # The older name still works, and says the same.
            assert mock_omni_app.delivery_rule("4100*", delay=5)["delaySeconds"] == 5
            assert mock_omni_app.client.post("/omni/1/advanced", json=SEND).status_code == 200
            assert mock_omni_app.client.get("/omni/1/reports").json()["results"] == []
            mock_omni_app.advance_clock(30)
            assert len(mock_omni_app.client.get("/omni/1/reports").json()["results"]) == 1

        def test_fails_after_a_send(mock_omni):
            mock_omni.delivery_rule("41793026727", "EXPIRED", channel="SMS")
            call(mock_omni, "POST", "/omni/1/advanced", json=SEND)
            assert False, "look at the messages"

        RULED = {"accounts": [{"username": "Aladdin", "password": "open sesame", "scenarios": [
            {"flow": [{"channel": "SMS"}, {"channel": "VIBER"}], "default": True}]}],
            "deliveryRules": [{"destination": "41793026727", "channel": "SMS", "outcome": "REJECTED"}]}

        @pytest.mark.mock_omni(fixtures=RULED)
        def test_a_markers_fixture_brings_its_delivery_rules(mock_omni):
            for _ in range(2):  # the test's own reset keeps its marker's rules
                assert call(mock_omni, "POST", "/omni/1/advanced", json=SEND).status_code == 200
                (message,) = mock_omni.messages()
                assert [(s["channel"], s["outcome"]) for s in message["steps"]] == [
                    ("SMS", "REJECTED"), ("VIBER", "DELIVERED")]
                mock_omni.reset()
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*- mock-omni messages -*",
        "M-1 to 41793026727 (account Aladdin): PENDING_ENROUTE [[]SMS PENDING[]]",
    ])


RECEIVER = """
import http.server, json, threading

class Receiver(http.server.BaseHTTPRequestHandler):
    status = 200
    received = []

    def do_POST(self):
        type(self).received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(type(self).status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

@pytest.fixture
def receiver():
    Receiver.received, Receiver.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Receiver, f"http://127.0.0.1:{server.server_address[1]}/reports"
    server.shutdown()
    server.server_close()

def pushed(url, message_id):
    return {"destinations": [{"messageId": message_id, "to": {"phoneNumber": "41793026727"}}],
            "sms": {"text": "SMS"}, "viber": {"text": "Viber"}, "notifyUrl": url, "callbackData": "mine"}
"""


def test_a_test_that_freezes_time_neither_hangs_nor_stops_the_mock(pytester: pytest.Pytester) -> None:
    """freezegun freezes time.monotonic for everyone, asyncio's loops included: before, an in-process delay fault
    and every wait_for_callback that was not reached in time hung for ever (the toolkit now keeps real time)."""
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + RECEIVER + textwrap.dedent('''
        from freezegun import freeze_time

        @pytest.mark.parametrize("name", ["mock_omni", "mock_omni_app"])
        def test_frozen(name, request, receiver):
            mock = request.getfixturevalue(name)
            handler, url = receiver
            with freeze_time("2020-01-01"):
                mock.fault(delay_ms=100, method="GET", times=1)  # ends, on real time
                assert call(mock, "GET", LIST).status_code == 200 if name == "mock_omni" else (
                    mock.client.get(LIST).status_code == 200)
                send = (lambda body: call(mock, "POST", "/omni/1/advanced", json=body)) if name == "mock_omni" else (
                    lambda body: mock.client.post("/omni/1/advanced", json=body))
                assert send(pushed(url, "F-1")).status_code == 200
                (callback,) = mock.wait_for_callback(url=url)
                assert callback["messageId"] == "F-1"
                handler.status = 503
                assert send(pushed(url, "F-2")).status_code == 200
                with pytest.raises(AssertionError, match="within 0.5 s"):  # fails on time, not never
                    mock.wait_for_callback(url=url, count=2, timeout=0.5)
                assert mock.advance_clock(60) == 60  # the mock's own clock still moves as asked
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=2)


def test_time_frozen_before_the_toolkit_is_set_up(pytester: pytest.Pytester) -> None:
    """freezegun started for the whole session, before any fixture (as a conftest or pytest-freezer may): the
    plugin imports its parts lazily, so they are imported while time is frozen. The server fixture keeps real
    time all the same; the in-process app, whose libraries break when imported under freezegun, fails its setup
    with one message saying so (before, that failure left its event loop's thread running: pytest never ended)."""
    pytester.makeini(STRICT_INI)
    pytester.makeconftest(textwrap.dedent('''
        import pytest
        from freezegun import freeze_time

        @pytest.fixture(scope="session", autouse=True)
        def frozen():
            with freeze_time("2020-01-01"):
                yield
    '''))
    pytester.makepyfile(HELPERS + RECEIVER + textwrap.dedent('''
        def test_server_fixture(mock_omni, receiver):
            handler, url = receiver
            handler.status = 503
            mock_omni.fault(delay_ms=100, method="GET", times=1)
            assert call(mock_omni, "GET", LIST).status_code == 200
            assert call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "Z-1")).status_code == 200
            with pytest.raises(AssertionError, match="within 0.5 s"):
                mock_omni.wait_for_callback(url=url, timeout=0.5)

        def test_in_process_fixture(mock_omni_app):
            pass
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*mock-omni: the in-process app did not start: *",
                                 "*If time was frozen before this fixture was set up*"])


def test_callbacks_helpers_wait_for_callbacks_and_failures_show_them(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + RECEIVER + textwrap.dedent('''
        def test_wait_for_callback(mock_omni, receiver):
            handler, url = receiver
            assert call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "M-1")).status_code == 200
            (callback,) = mock_omni.wait_for_callback(url=url)
            assert (callback["messageId"], callback["state"], callback["attempts"][0]["status"]) == (
                "M-1", "delivered", 200)
            assert [r["results"][0]["callbackData"] for r in handler.received] == ["mine"]
            assert mock_omni.callbacks(state="delivered") == [callback]

        def test_the_next_test_starts_fresh(mock_omni):
            assert mock_omni.callbacks() == []

        def test_in_process(mock_omni_app, receiver):
            handler, url = receiver
            assert mock_omni_app.client.post("/omni/1/advanced", json=pushed(url, "M-2")).status_code == 200
            (callback,) = mock_omni_app.wait_for_callback()
            assert callback["messageId"] == "M-2" and len(handler.received) == 1

        def test_not_reached_in_time(mock_omni, receiver):
            handler, url = receiver
            handler.status = 503
            call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "M-3"))
            mock_omni.wait_for_callback(url=url, timeout=0.3)

        def test_a_push_that_failed_fails_the_wait_at_once(mock_omni, receiver):
            import time
            handler, url = receiver
            handler.status = 503
            call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "M-4"))
            started = time.monotonic()
            with pytest.raises(AssertionError, match="can no longer come") as failure:
                mock_omni.wait_for_callback(url=url, timeout=60)
            # Four attempts with backoff take about 3.5 s; the wait does not sit out its 60.
            assert time.monotonic() - started < 30, time.monotonic() - started
            assert "failed, 4 attempt(s): 503, 503, 503, 503" in str(failure.value)
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_not_reached_in_time _*",
        "E * mock-omni: expected 1 delivered callback(s) to http://127.0.0.1:*/reports within 0.3 s, got 0. "
        "The callbacks to http://127.0.0.1:*/reports:",
        "E * #* POST http://127.0.0.1:*/reports (account Aladdin, message M-3): pending, * attempt(s): 503*",
        "*- mock-omni callbacks -*",
        "#* POST http://127.0.0.1:*/reports (account Aladdin, message M-3): *",
    ])


# --- server-side errors fail the test that caused them ------------------------------------------

SERVER_BUG = '''
from mock_omni.domain import accounts

_get = accounts.Accounts.get


def get(self, username, key):
    if key == "0" * 32:
        raise ZeroDivisionError("injected server bug")
    return _get(self, username, key)


accounts.Accounts.get = get
'''


def test_an_unexpected_server_error_fails_the_test_with_the_servers_message(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    (pytester.path / "inject").mkdir()
    (pytester.path / "inject" / "sitecustomize.py").write_text(SERVER_BUG)
    # Only the server process gets the bug: the plugin starts it with this environment.
    pytester.makeconftest(f"import os\nos.environ['PYTHONPATH'] = {str(pytester.path / 'inject')!r}\n")
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        BUG = LIST + "/" + "0" * 32

        def test_swallows_a_server_bug(mock_omni):
            assert call(mock_omni, "GET", BUG).status_code == 500

        def test_fails_and_the_report_shows_the_bug_too(mock_omni):
            call(mock_omni, "GET", BUG)
            assert False, "its own failure"

        def test_an_injected_500_is_no_bug(mock_omni):
            mock_omni.fault(500, times=1)
            assert call(mock_omni, "GET", SEED).status_code == 500

        def test_the_next_test_is_not_blamed(mock_omni):
            assert call(mock_omni, "GET", SEED).status_code == 200

        def test_in_process_too(mock_omni_app, monkeypatch):
            def broken(*args):
                raise KeyError("in-process bug")
            monkeypatch.setattr(mock_omni_app.app.state.accounts, "get", broken)
            assert mock_omni_app.client.get(SEED).status_code == 500
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines([
        "*_ test_swallows_a_server_bug _*",
        "mock-omni had 1 unexpected error(s) (answered 500; no fault rule asked for them):",
        "GET /omni/1/scenarios/00000000000000000000000000000000: ZeroDivisionError: injected server bug",
        "Traceback (most recent call last):",
    ])
    result.stdout.fnmatch_lines([
        "*_ test_fails_and_the_report_shows_the_bug_too _*",
        "*AssertionError: its own failure*",
        "*- mock-omni server errors -*",
        "GET /omni/1/scenarios/00000000000000000000000000000000: ZeroDivisionError: injected server bug",
    ])
    result.stdout.fnmatch_lines(["*_ test_in_process_too _*",
                                 f"GET /omni/1/scenarios/{SEED_KEY}: KeyError: 'in-process bug'"])
    result.stdout.fnmatch_lines(["FAILED *test_swallows_a_server_bug*", "FAILED *test_fails_and_the_report*",
                                 "FAILED *test_in_process_too*"])


# --- the marker is what the test's resets return to ---------------------------------------------

def test_reset_and_new_accounts_inside_a_marked_test_keep_the_marker(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makefile(".json", accounts=json.dumps(TESTER_FIXTURE))
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        TESTER = basic("Tester", "pw")
        KEY = LIST + "/0123456789ABCDEF0123456789ABCDEF"

        @pytest.fixture(params=["mock_omni", "mock_omni_app"])
        def mock(request):
            return request.getfixturevalue(request.param)

        def get(mock, path, auth):
            if hasattr(mock, "client"):
                return mock.client.get(path, headers={"Authorization": auth})
            return call(mock, "GET", path, auth)

        def put(mock, path, auth, body):
            if hasattr(mock, "client"):
                return mock.client.put(path, json=body, headers={"Authorization": auth})
            return call(mock, "PUT", path, auth, json=body)

        @pytest.mark.mock_omni(fixtures="accounts.json", rate_limit="update=1/1h")
        def test_marked(mock):
            assert put(mock, KEY, TESTER, {"name": "changed"}).status_code == 200
            mock.reset()
            assert get(mock, KEY, TESTER).json()["name"] == "only"  # the marker's fixtures, credentials valid
            assert put(mock, KEY, TESTER, {"name": "a"}).status_code == 200
            assert put(mock, KEY, TESTER, {"name": "b"}).status_code == 429  # and its limits
            mock.reset(account="Tester")
            assert get(mock, KEY, TESTER).json()["name"] == "only"
            seeded = mock.new_account(seed_account="Tester")
            assert [s["name"] for s in get(mock, LIST, seeded.basic).json()["scenarios"]] == ["only"]
            default_seeded = mock.new_account()  # the default account's scenarios
            assert [s["name"] for s in get(mock, LIST, default_seeded.basic).json()["scenarios"]] == ["only"]
            empty = mock.new_account(scenarios=[])
            assert get(mock, LIST, empty.basic).json() == {"scenarios": []}

        def test_unmarked_after_it(mock):
            assert get(mock, SEED, basic("Aladdin", "open sesame")).status_code == 200
            assert mock.admin.rate_limit({"update": "40/10m"})["rules"]["update"] == "40/10m"
            aladdin = get(mock, LIST, basic("Aladdin", "open sesame")).json()["scenarios"]
            assert get(mock, LIST, mock.new_account().basic).json()["scenarios"] == aladdin
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=4)


def test_a_bad_marker_is_one_line_naming_what_is_wrong(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makefile(".json", a=json.dumps(TESTER_FIXTURE), b=json.dumps(TESTER_FIXTURE))
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        @pytest.mark.mock_omni(rate_limit="update=5/1x")
        def test_bad_limit(mock_omni):
            pass

        @pytest.mark.mock_omni(rate_limit="update=5/1x")
        def test_bad_limit_in_process(mock_omni_app):
            pass

        @pytest.mark.mock_omni(fixtures=["a.json", "b.json"])
        def test_clashing_files(mock_omni):
            pass
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines([
        "mock-omni: @pytest.mark.mock_omni(rate_limit='update=5/1x'): rateLimits.update: COUNT/DURATION such as 5/1m*"])
    # Each setup error is that one line (the summary repeats it after "ERROR ...", in full under CI=true).
    marker_lines = [line for line in result.stdout.lines
                    if line.startswith("mock-omni: @pytest.mark.mock_omni(rate_limit='update=5/1x')")]
    assert len(marker_lines) == 2
    result.stdout.fnmatch_lines(["mock-omni: */b.json: account 'Tester': username already defined in */a.json"])
    assert "AdminError" not in result.stdout.str() and "Traceback" not in result.stdout.str()


# --- in-process: nothing of one test reaches the next --------------------------------------------

def test_in_process_client_state_does_not_leak_into_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        from mock_omni.testing.admin_client import AdminError

        def test_sets_client_state(mock_omni_app):
            mock_omni_app.client.headers["Accept"] = "application/xml"
            mock_omni_app.client.cookies.set("session", "1")
            assert mock_omni_app.client.get(SEED).headers["content-type"] == "application/xml"
            with pytest.raises(AdminError):  # the helpers have a client of their own
                mock_omni_app.fault(status=999)

        def test_the_next_client_is_fresh(mock_omni_app):
            assert mock_omni_app.client.headers["accept"] == "*/*"
            assert not mock_omni_app.client.cookies
            assert mock_omni_app.client.get(SEED).headers["content-type"] == "application/json"
            with pytest.raises(AdminError):
                mock_omni_app.fault(status=999)
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)


# --- failure reports: the journal for setup and teardown failures too ---------------------------

def test_setup_and_teardown_failures_show_the_journal(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        @pytest.fixture
        def breaks_in_setup(mock_omni):
            call(mock_omni, "GET", SEED)
            raise RuntimeError("setup broke")

        @pytest.fixture
        def breaks_in_teardown(mock_omni):
            yield
            raise RuntimeError("teardown broke")

        def test_setup(mock_omni, breaks_in_setup):
            pass

        def test_teardown(mock_omni, breaks_in_teardown):
            call(mock_omni, "GET", LIST)
    '''))
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines([
        "*ERROR at setup of test_setup*", "*RuntimeError: setup broke*", "*- mock-omni requests -*",
        f"GET /omni/1/scenarios/{SEED_KEY} -> 200 (account Aladdin)",
        "*ERROR at teardown of test_teardown*", "*RuntimeError: teardown broke*", "*- mock-omni requests -*",
        "GET /omni/1/scenarios -> 200 (account Aladdin)",
    ])


def test_the_server_log_of_the_test_is_in_its_report(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        import socket

        def test_sends_garbage(mock_omni):
            port = int(mock_omni.url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port)) as conn:
                conn.sendall(b"GARBAGE\\\\r\\\\n\\\\r\\\\n")
                conn.recv(1024)
            assert False
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*- mock-omni server log -*", "*Invalid HTTP request received.*"])


def test_per_test_state_never_accumulates(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        @pytest.mark.parametrize("n", range(260))  # more than the 256 snapshots a server holds
        def test_snapshot_and_clock(mock_omni, n):
            assert mock_omni.admin.clock() == 0.0
            assert mock_omni.admin.snapshots() == []
            mock_omni.snapshot(f"mine-{n}")
            mock_omni.advance_clock(3600)
    '''))
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=260)


def test_a_push_stalled_in_one_test_does_not_hold_the_next_tests_push_under_xdist(pytester: pytest.Pytester) -> None:
    """One receiver for the session (per worker): test A's push stalls there; the reset before test B abandons
    that attempt, so B's push to the same URL is received at once, not after the stalled attempt's 5 s timeout."""
    pytester.makeini(STRICT_INI)
    pytester.makeconftest(textwrap.dedent('''
        import http.server, threading
        import pytest

        @pytest.fixture(scope="session")
        def stalling_receiver():
            """The first POST stalls until the session ends; later ones are answered at once."""
            arrived, release = threading.Event(), threading.Event()

            class Handler(http.server.BaseHTTPRequestHandler):
                count = 0

                def do_POST(self):
                    self.rfile.read(int(self.headers["content-length"]))
                    type(self).count += 1
                    if type(self).count == 1:
                        arrived.set()
                        release.wait(timeout=60)
                    self.send_response(200)
                    self.send_header("content-length", "0")
                    self.end_headers()

                def log_message(self, *args):
                    pass

            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()
            yield f"http://127.0.0.1:{server.server_address[1]}/reports", arrived
            release.set()
            server.shutdown()
            server.server_close()
    '''))
    sends = '''
        def pushed(url, message_id):
            return {"destinations": [{"messageId": message_id, "to": {"phoneNumber": "41793026727"}}],
                    "sms": {"text": "SMS"}, "viber": {"text": "Viber"}, "notifyUrl": url}
    '''
    pytester.makepyfile(test_stall=HELPERS + textwrap.dedent(sends + '''
        def test_a_stalls(mock_omni, stalling_receiver):
            url, arrived = stalling_receiver
            assert call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "A")).status_code == 200
            assert arrived.wait(timeout=20)  # on the wire, stalled: the test ends with it in flight

        def test_b_is_received(mock_omni, stalling_receiver):
            url, _ = stalling_receiver
            assert call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "B")).status_code == 200
            # Before: B waited for A's attempt to time out (5 s) and this failed.
            (callback,) = mock_omni.wait_for_callback(url=url, timeout=3)
            assert callback["messageId"] == "B"

        def test_c_credentials_are_masked_in_the_report(mock_omni, stalling_receiver):
            url = stalling_receiver[0].replace("http://", "http://hook:pl41n-s3cret@")
            assert call(mock_omni, "POST", "/omni/1/advanced", json=pushed(url, "C")).status_code == 200
            (callback,) = mock_omni.wait_for_callback(url=url, timeout=10)
            assert callback["url"].startswith("http://hook:***@")
            assert False, "fails on purpose: the report lists the callbacks"
    '''), test_other=HELPERS + textwrap.dedent('''
        def test_other_worker(mock_omni):
            assert call(mock_omni, "GET", LIST).status_code == 200
    '''))
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*mock-omni callbacks*", "*POST http://hook:***@127.0.0.1:*"])
    result.stdout.no_fnmatch_line("*pl41n-s3cret@127.0.0.1*")  # (the test's own source shows it, unjoined)


def test_the_receiver_fixture_records_what_the_mock_pushes(pytester: pytest.Pytester) -> None:
    """docs/sending.md's example, with the plugin's own receiver instead of one the user must write."""
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        SEND = {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "Hi"},
                "viber": {"text": "Hi"}, "callbackData": "order-7"}

        def test_the_app_records_the_delivery(mock_omni, mock_omni_receiver):
            sent = call(mock_omni, "POST", "/omni/1/advanced", json={**SEND, "notifyUrl": mock_omni_receiver.url})
            assert sent.status_code == 200
            (callback,) = mock_omni.wait_for_callback(url=mock_omni_receiver.url)
            (report,) = mock_omni_receiver.reports()
            assert report["messageId"] == sent.json()["messages"][0]["messageId"] == callback["messageId"]
            assert report["callbackData"] == "order-7" and report["status"]["groupName"] == "DELIVERED"
            # The record has the body as sent and parsed.
            assert callback["json"] == {"results": [report]} and '"order-7"' in callback["body"]

        def test_a_failing_receiver_is_retried(mock_omni, mock_omni_receiver):
            mock_omni_receiver.status = 503
            call(mock_omni, "POST", "/omni/1/advanced", json={**SEND, "notifyUrl": mock_omni_receiver.url})
            mock_omni.wait_for_callback(url=mock_omni_receiver.url, state="failed", timeout=30)
            assert len(mock_omni_receiver.received) == 4  # the default attempts
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


def test_a_missing_fixture_file_names_every_place_it_was_looked_for(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        @pytest.mark.mock_omni(fixtures="nowhere.json")
        def test_missing(mock_omni):
            pass
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)
    here = str(pytester.path)
    result.stdout.fnmatch_lines([f"*mock-omni: nowhere.json: file not found: tried {here}/nowhere.json and *"])


def test_fault_takes_the_network_kinds_on_the_server_and_in_process(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        from mock_omni.testing.faults import ConnectionDropped

        def test_on_the_server(mock_omni):
            mock_omni.fault(connection="reset", method="GET")
            with pytest.raises(httpx.ReadError):
                call(mock_omni, "GET", LIST)
            mock_omni.fault(503, probability=0.5, seed=3, times=None)
            first = [call(mock_omni, "GET", LIST).status_code for _ in range(20)]
            mock_omni.reset()
            mock_omni.fault(503, probability=0.5, seed=3, times=None)
            assert [call(mock_omni, "GET", LIST).status_code for _ in range(20)] == first
            assert set(first) == {200, 503}

        def test_in_process(mock_omni_app):
            mock_omni_app.fault(connection="truncate", jitter_ms=5)
            with pytest.raises(ConnectionDropped, match="truncated the answer"):
                mock_omni_app.client.get(SEED)
            mock_omni_app.fault(malformed=True, bytes_per_second=100_000)
            assert mock_omni_app.client.get(SEED).status_code == 200
            assert [e["status"] for e in mock_omni_app.requests()] == [200, 200]
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=2)


def test_a_test_that_kills_the_server_leaves_the_next_tests_a_fresh_one_on_the_same_url(
        pytester: pytest.Pytester) -> None:
    """A test that killed the session's server (SIGKILL: a crash, an OOM kill; or a stop) made every later
    test of the session error on a refused connection, a page of httpx traceback each."""
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(HELPERS + textwrap.dedent('''
        import os, signal

        @pytest.fixture(scope="session")
        def app_base_url(mock_omni_server):
            return mock_omni_server.url  # what an app under test is configured with, once

        def test_a_kills_it(mock_omni, app_base_url):
            assert call(mock_omni, "PUT", SEED, json={"name": "changed"}).status_code == 200
            os.environ["SET_BY_A_TEST"] = "1"  # a test's own change: not the new server's environment
            os.kill(mock_omni.server.process.process.pid, signal.SIGKILL)

        def test_b_gets_a_fresh_server(mock_omni, app_base_url):
            assert mock_omni.url == app_base_url
            assert call(mock_omni, "GET", SEED).json()["name"] == "Test SMS or VIBER"
            assert mock_omni.requests() == [mock_omni.requests()[0]]
            with open(f"/proc/{mock_omni.server.process.process.pid}/environ", "rb") as environ:
                assert b"SET_BY_A_TEST=" not in environ.read()

        def test_c_stops_it(mock_omni):
            mock_omni.server.process.stop()

        def test_d_gets_one_too(mock_omni, app_base_url):
            assert mock_omni.url == app_base_url
            assert call(mock_omni, "GET", SEED).status_code == 200
    '''))
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=4)
