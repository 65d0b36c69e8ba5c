"""The plugin's isolation, proved as a user would meet it: a suite that mixes client timeouts across a delay
fault, failing tests, a crashing xdist worker, clock advances, snapshots, rate limits, markers and new
accounts runs under ``-n 4`` in a random order (a new seed each run, printed on failure), three times. Every
test first checks that it starts from the fixture state and last that the journal holds exactly its own
requests: one cross-test effect fails the run. Afterwards no server is left listening.

Replay an order: ``MOCK_OMNI_ISOLATION_SEEDS=1,2,3 pytest tests/test_plugin_isolation.py``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from . import server
from .test_pytest_plugin import STRICT_INI, TESTER_FIXTURE

pytestmark = pytest.mark.slow

RUNS = 3
#: Seeds to replay; otherwise each run draws its own (in the test, not here: xdist workers must collect the
#: same test ids).
REPLAY = [int(s) for s in os.environ.get("MOCK_OMNI_ISOLATION_SEEDS", "").split(",") if s.strip()]

CONFTEST = '''
import os, pathlib, random, time
import httpx
import pytest

LIST = "/omni/1/scenarios"
SEED = LIST + "/CD265875E3A6EA43478D5F37A635BE4A"
#: How long a fault holds the requests a test leaves behind. Longer than the test that leaves them takes on a
#: loaded machine (two timed-out calls and a fault between them): at 0.4 s the first one landed within that test.
HELD_S = 1.0


def pytest_collection_modifyitems(items):
    # The same seed on every xdist worker: they must collect the same order.
    random.Random(int(os.environ["ISOLATION_SEED"])).shuffle(items)


@pytest.fixture(scope="session")
def http():
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture(scope="session")
def fixture_state(mock_omni_server):
    mock_omni_server.admin.reset(baseline={})
    return mock_omni_server.admin.state()


class Omni:
    """The fixture, plus the requests this test made (the journal must hold exactly those)."""

    def __init__(self, mock, http):
        self.mock, self.http, self.made = mock, http, []

    def __getattr__(self, name):
        return getattr(self.mock, name)

    def call(self, method, path, auth=None, **kwargs):
        self.made.append((method, path))
        headers = {"Authorization": auth or self.mock.authorization}
        if hasattr(self.mock, "client"):
            return self.mock.client.request(method, path, headers=headers, **kwargs)
        return self.http.request(method, self.mock.url + path, headers=headers, **kwargs)


def check_fresh(mock, fixture_state):
    admin = mock.admin
    assert admin.requests() == []
    assert admin.state() == fixture_state
    assert admin.faults() == []
    assert admin.snapshots() == []
    assert admin.clock() == 0.0
    assert admin.clock("Genie") == 0.0
    limits = admin.rate_limits()
    assert limits == {"rules": {"create": "20/10m", "update": "40/10m", "logs": "120/1m"}, "accounts": [],
                      "buckets": []}
    assert mock.server_errors() == []
    assert [a["username"] for a in admin.accounts()] == ["Aladdin", "Genie"]


def isolated(request, mock, http, fixture_state):
    if request.node.get_closest_marker("mock_omni") is None:
        check_fresh(mock, fixture_state)
    if not hasattr(mock, "client"):  # the live server: the outer test checks it is gone afterwards
        pathlib.Path("servers").mkdir(exist_ok=True)
        (pathlib.Path("servers") / str(os.getpid())).write_text(mock.url)
    omni = Omni(mock, http)
    yield omni
    assert [(e["method"], e["path"]) for e in omni.admin.requests()] == omni.made


@pytest.fixture(params=["mock_omni", "mock_omni_app"])
def omni(request, http, fixture_state):
    yield from isolated(request, request.getfixturevalue(request.param), http, fixture_state)


@pytest.fixture
def live(request, mock_omni, http, fixture_state):
    """For what needs a socket: client timeouts, dropped connections."""
    yield from isolated(request, mock_omni, http, fixture_state)
'''

SUITE = '''
import os, time
import httpx
import pytest
from conftest import HELD_S, LIST, SEED

NEW = {"name": "new", "flow": [{"channel": "SMS"}]}
GENIE = "Basic R2VuaWU6dGhyZWUgd2lzaGVz"
GENIE_KEY = LIST + "/E6829A141B902776020F736D3FBE16A5"
N = range(6)


@pytest.mark.parametrize("n", N)
def test_changes(omni, n):
    assert omni.call("POST", LIST, json=NEW).status_code == 201
    assert omni.call("PUT", SEED, json={"name": f"changed {n}"}).status_code == 200
    assert omni.call("PUT", GENIE_KEY, GENIE, json={"name": "genie's"}).status_code == 200


@pytest.mark.parametrize("n", N)
def test_client_timeout_leaves_a_request_held(live, n):
    live.fault(delay_ms=int(HELD_S * 1000), method="POST", times=1)
    with pytest.raises(httpx.ReadTimeout):
        live.http.post(live.url + LIST, json=NEW, headers={"Authorization": live.authorization}, timeout=0.1)
    live.fault(delay_ms=int(HELD_S * 1000), method="PUT", times=1, account="Genie")
    with pytest.raises(httpx.ReadTimeout):
        live.http.put(live.url + GENIE_KEY, json=NEW, headers={"Authorization": GENIE}, timeout=0.1)
    # Held on: the next tests of this worker must never see them.


@pytest.mark.parametrize("n", N)
def test_observes_long_enough_for_held_requests_to_land(omni, n):
    assert omni.call("GET", LIST).status_code == 200
    time.sleep(HELD_S + 0.2)
    assert [s["name"] for s in omni.call("GET", LIST).json()["scenarios"]][:1] == ["Test SMS or VIBER"]


@pytest.mark.parametrize("n", N)
def test_clock_and_limits(omni, n):
    omni.rate_limit("update=1/1h")
    assert omni.call("PUT", SEED, json={"name": "a"}).status_code == 200
    assert omni.call("PUT", SEED, json={"name": "b"}).status_code == 429
    omni.advance_clock(3600)
    assert omni.call("PUT", SEED, json={"name": "c"}).status_code == 200
    omni.advance_clock(7200, account="Genie")
    omni.rate_limit({"create": "off"}, account="Genie")


@pytest.mark.parametrize("n", N)
def test_snapshots(omni, n):
    omni.snapshot("before")
    omni.snapshot("before", account="Genie")
    assert omni.call("POST", LIST, json=NEW).status_code == 201
    omni.restore("before")
    omni.snapshot(f"unique-{n}")


@pytest.mark.parametrize("n", N)
def test_faults_and_new_accounts(omni, n):
    omni.fault(503, method="GET", times=None)
    assert omni.call("GET", SEED).status_code == 503
    account = omni.new_account()
    assert omni.call("GET", LIST, account.basic).status_code == 503


@pytest.mark.mock_omni(fixtures="team.json", rate_limit="off")
@pytest.mark.parametrize("n", N)
def test_marker(omni, n):
    assert omni.username == "Tester"
    assert omni.call("GET", LIST).status_code == 200
    omni.reset()
    omni.made.clear()


@pytest.mark.parametrize("n", N)
def test_drop(live, n):
    live.fault(drop=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        live.call("GET", SEED)


@pytest.mark.xfail(strict=True, raises=RuntimeError)
@pytest.mark.parametrize("n", N)
def test_fails_half_way(omni, n):
    omni.call("POST", LIST, json=NEW)
    omni.advance_clock(60)
    omni.snapshot("half")
    omni.fault(500, times=None)
    raise RuntimeError("the test crashed half way")


def test_worker_dies_half_way(live):
    live.fault(500, times=None)
    live.advance_clock(60)
    os._exit(1)
'''

# Per run: 6 functions x 6 x both fixtures, 2 x 6 live only, 6 x 2 failing on purpose, one crashing worker.
EXPECTED = {"passed": 6 * 6 * 2 + 2 * 6, "xfailed": 6 * 2, "failed": 1}


@pytest.mark.parametrize("run", range(len(REPLAY) or RUNS))
def test_isolation_suite_in_random_order_under_xdist(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                                                       run: int) -> None:
    seed = REPLAY[run] if REPLAY else random.randrange(2**32)
    pytester.makeini(STRICT_INI)
    pytester.makefile(".json", team=json.dumps(TESTER_FIXTURE))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("ISOLATION_SEED", str(seed))
    result = pytester.runpytest_subprocess("-n", "4", "-p", "no:randomly", timeout=600)
    outcomes = {kind: count for kind, count in result.parseoutcomes().items() if kind in EXPECTED or count}
    assert outcomes == EXPECTED, f"seed {seed}:\n{result.stdout.str()[-6000:]}"
    result.stdout.fnmatch_lines(["*crashed while running*test_worker_dies_half_way*"])
    urls = [path.read_text() for path in (pytester.path / "servers").iterdir()]
    assert len(set(urls)) >= 4  # one per worker (the crashed one's replacement starts its own)
    for url in set(urls):
        assert server.refuses_connections(int(url.rsplit(":", 1)[1])), f"seed {seed}: {url} outlived its session"


KILLED = '''
import pathlib, time

def test_waits(mock_omni):
    pathlib.Path("url").write_text(mock_omni.url)
    time.sleep(600)
'''


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_killed_pytest_leaves_no_server(pytester: pytest.Pytester, how: signal.Signals) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_killed=KILLED)
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:randomly"], cwd=pytester.path,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url_file = pytester.path / "url"
        deadline = time.monotonic() + 120
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        port = int(url_file.read_text().rsplit(":", 1)[1])
        assert not server.refuses_connections(port)
        run.send_signal(how)
        run.wait(timeout=30)
        assert server.wait_until_refused(port), f"the server outlived pytest killed by {how.name}"
    finally:
        run.kill()
        run.wait()


CRASHING_WORKER = '''
import os, pathlib, socket, time

def test_crashes(mock_omni):
    pathlib.Path("url").write_text(mock_omni.url)
    os._exit(1)

def test_sees_the_crashed_workers_server_gone():
    port = int(pathlib.Path("url").read_text().rsplit(":", 1)[1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the crashed worker's server is still listening")
'''


def test_a_crashed_xdist_worker_leaves_no_server(pytester: pytest.Pytester) -> None:
    pytester.makeini(STRICT_INI)
    pytester.makepyfile(test_crash=textwrap.dedent(CRASHING_WORKER))
    result = pytester.runpytest_subprocess("-n", "1", "-p", "no:randomly", timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*crashed while running*test_crashes*"])
