"""Part 7: the state shared on Redis. The seed PUT through one replica on Redis against the memory
store (goal: at least 0.3x), and two replicas of one store loaded together against one alone.

Redis is Debian's ``redis-server`` on a free loopback port in a temporary folder, with no
persistence (a load test's Redis). Every replica runs with ``--rate-limit off``, as part 1.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from . import load, procs
from .load import Result

if TYPE_CHECKING:
    from .__main__ import Plan, Report

START_TIMEOUT = 10.0


@contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A Redis on a free port; its URL."""
    port = procs.free_port()
    command = ["redis-server", "--port", str(port), "--bind", procs.HOST, "--dir", str(folder), "--save", "",
               "--appendonly", "no", "--logfile", str(folder / "redis.log")]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, check=False,
                             timeout=5).stdout.strip() != b"PONG":
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start: {(folder / 'redis.log').read_text()[-500:]}")
            time.sleep(0.05)
        yield f"redis://{procs.HOST}:{port}/0"
    finally:
        procs.stop(process)


def together(urls: list[str], plan: Plan, connections: int) -> Result:
    """Each URL loaded by its own wrk at once; the rates added (latencies: the first one's)."""
    from .__main__ import seed_request

    results: list[Result] = []

    def run(url: str) -> None:
        results.append(load.run(url, seed_request("json"), seconds=plan.seconds, connections=connections))

    threads = [threading.Thread(target=run, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = results[0]
    return Result(rate=sum(r.rate for r in results), p50_ms=first.p50_ms, p99_ms=first.p99_ms,
                  requests=sum(r.requests for r in results), non_2xx=sum(r.non_2xx for r in results),
                  socket_errors=sum(r.socket_errors for r in results))


def section(plan: Plan, report: Report) -> None:
    from .__main__ import interleaved, latency_row, mock_command, paired_ratio, seed_request

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        print("7. shared store: redis-server not installed (scripts/system-deps.sh installs it), skipped", flush=True)
        report.sections.append("## 7. Replicas on Redis\n\nNot measured: `redis-server` is not installed.\n")
        return
    print("7. replicas sharing one store on Redis", flush=True)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        url = stack.enter_context(redis_server(Path(scratch)))
        servers = {}
        shared = ("--rate-limit", "off", "--store", url, "--store-prefix", "bench")
        for name, extra in (("memory", ("--rate-limit", "off")), ("redis", shared), ("redis-2", shared)):
            port = procs.free_port()
            servers[name] = stack.enter_context(procs.running(name, mock_command(port, *extra), port))
        targets = [("mock-omni JSON, memory store", "memory", seed_request("json")),
                   ("mock-omni JSON, one replica on Redis", "redis", seed_request("json"))]
        results = interleaved(targets, servers, plan)
        # One replica alone against two of one store at once, 32 connections in all either way.
        alone: list[Result] = []
        pair: list[Result] = []
        for _ in range(plan.repeats):
            alone.append(together([servers["redis"].url], plan, 32))
            pair.append(together([servers["redis"].url, servers["redis-2"].url], plan, 16))
    results["one replica on Redis alone, 32 connections"] = alone
    results["two replicas on Redis together, 16 connections each (rates added)"] = pair
    memory = results["mock-omni JSON, memory store"]
    rows = [latency_row(name, runs, memory) for name, runs in results.items()]
    report.section(
        "7. Replicas on Redis", ["server", "req/s (median)", "vs memory store", "p50 ms", "p99 ms", "failed"], rows,
        f"The seed PUT, wrk -t1, {plan.repeats} rounds of {plan.seconds} s; rate limit off. On Redis each call is "
        "one script (credentials, operation, journal entry) and one round trip to a Redis on the same machine. "
        "The pair rows load two replicas of one store at once; on this machine the two replicas, Redis and both "
        "wrk processes share 2 cores, so the pair cannot be faster than one replica: with a core per replica "
        "(4 or more cores, Redis on its own) the rate grows with the replicas until Redis's one thread is busy "
        "(tens of thousands of these scripts a second).",
    )
    ratio = paired_ratio(results["mock-omni JSON, one replica on Redis"], memory)
    report.goal("seed PUT JSON, one replica on Redis vs memory store", f"{ratio:.2f}x", ">= 0.3x", ratio >= 0.3)
    scaling = paired_ratio(pair, alone)
    report.goal("two replicas on Redis together vs one alone", f"{scaling:.2f}x")
