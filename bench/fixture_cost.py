"""Per-test cost of the ``mock_omni`` pytest fixture over a bare shared server (goal: 3 ms or less).

    python bench/fixture_cost.py            # 400 tests of each kind, plus admin call latencies
    python bench/fixture_cost.py --smoke    # 5 of each: checks the benchmark runs (used by the tests)

Method: one pytest run in a subprocess holds four kinds of test that make the same
vendor request: "fixture" tests take ``mock_omni`` (a reset per test), "bare" tests take
the session's server as it is (``mock_omni_server``, no reset); in-process, "app" tests
take ``mock_omni_app`` and "appbare" tests a session-wide TestClient on an app of their
own. A hook in the generated conftest times each test's whole protocol (setup, call,
teardown, report); the first test of each kind is left out (it starts the server). A
fixture's cost is the difference of the means. Then, on a server of its own, the latency
of the calls that could give each test fresh state: a reset, or a fresh account (create +
remove).

Self-contained: nothing else under bench/ is needed (issue 5 owns the rest of it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_MS = 3.0

CONFTEST = '''
import json, os, time
import httpx
import pytest

TIMES = {"fixture": [], "bare": [], "app": [], "appbare": []}

@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    result = yield
    if nextitem is not None:  # the last test's teardown stops the session's server
        TIMES[item.name.split("_")[1]].append(time.perf_counter() - start)
    return result

def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_COST_OUT"], "w") as out:
        json.dump(TIMES, out)

@pytest.fixture(scope="session")
def http():
    with httpx.Client(trust_env=False) as client:
        yield client

@pytest.fixture(scope="session")
def bare_app_client():
    import warnings
    from mock_omni import create_app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    with TestClient(create_app()) as client:
        yield client
'''

# The two kinds alternate, so warm-up and drift touch both alike.
TEST_PAIR = '''
def test_fixture_{n}(mock_omni, http):
    response = http.get(mock_omni.url + "/omni/1/scenarios", headers={{"authorization": mock_omni.authorization}})
    assert response.status_code == 200

def test_bare_{n}(mock_omni_server, http):
    response = http.get(mock_omni_server.url + "/omni/1/scenarios",
                        headers={{"authorization": mock_omni_server.credentials.basic}})
    assert response.status_code == 200

def test_app_{n}(mock_omni_app):
    assert mock_omni_app.client.get("/omni/1/scenarios").status_code == 200

def test_appbare_{n}(bare_app_client):
    response = bare_app_client.get("/omni/1/scenarios",
                                   headers={{"authorization": "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}})
    assert response.status_code == 200
'''


def per_test_costs(count: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="fixture-cost-") as folder:
        root = Path(folder)
        (root / "conftest.py").write_text(CONFTEST)
        (root / "test_cost.py").write_text("".join(TEST_PAIR.format(n=n) for n in range(count)))
        out = root / "times.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                   "-W", "error", str(root)]
        subprocess.run(command, cwd=root, check=True, env={**os.environ, "FIXTURE_COST_OUT": str(out)},
                       stdout=subprocess.DEVNULL, timeout=600)
        times: dict[str, list[float]] = json.loads(out.read_text())
        return {kind: values[1:] for kind, values in times.items()}


def call_latencies(count: int) -> dict[str, list[float]]:
    from mock_omni.testing.pytest_plugin import MockOmniServer

    server = MockOmniServer()
    try:
        admin = server.admin
        results: dict[str, list[float]] = {"reset": [], "new account + remove": []}
        for _ in range(count):
            start = time.perf_counter()
            admin.reset()
            results["reset"].append(time.perf_counter() - start)
            start = time.perf_counter()
            account = admin.new_account(seed_account=server.credentials.username)
            admin.remove_account(account.username)
            results["new account + remove"].append(time.perf_counter() - start)
        return results
    finally:
        server.stop()


def median_cost(costs: dict[str, list[float]], kind: str, bare: str) -> float:
    return (statistics.median(costs[kind]) - statistics.median(costs[bare])) * 1000


def summary(values: list[float]) -> str:
    return f"mean {statistics.fmean(values) * 1000:6.2f} ms, median {statistics.median(values) * 1000:6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a handful of tests: checks that it runs")
    parser.add_argument("--count", type=int, help="tests of each kind (default 400; 5 with --smoke)")
    args = parser.parse_args()
    count = args.count or (5 if args.smoke else 400)

    costs = per_test_costs(count)
    fixture, bare = statistics.fmean(costs["fixture"]), statistics.fmean(costs["bare"])
    print(f"per test, {count} tests of each kind (the first and the last left out: they start and stop the server):")
    print(f"  bare shared server:      {summary(costs['bare'])}")
    print(f"  mock_omni fixture:       {summary(costs['fixture'])}")
    cost_ms = (fixture - bare) * 1000
    verdict = "met" if cost_ms <= GOAL_MS else "NOT met"
    print(f"fixture cost per test: {cost_ms:.2f} ms (goal <= {GOAL_MS:.0f} ms: {verdict}); "
          f"by medians {median_cost(costs, 'fixture', 'bare'):.2f} ms (steadier on a busy machine)")
    print("in-process, per test:")
    print(f"  bare shared TestClient:  {summary(costs['appbare'])}")
    print(f"  mock_omni_app fixture:   {summary(costs['app'])}")
    app_ms = (statistics.fmean(costs["app"]) - statistics.fmean(costs["appbare"])) * 1000
    app_median = median_cost(costs, "app", "appbare")
    print(f"in-process fixture cost per test: {app_ms:.2f} ms; by medians {app_median:.2f} ms")

    print("admin calls for fresh state, per test:")
    for name, values in call_latencies(count).items():
        print(f"  {name:22s} {summary(values)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
