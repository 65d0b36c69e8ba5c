"""Part 7: the state shared on Redis. One replica on Redis against the memory store, call by call (the
seed PUT, the same with every body new, one- and 1,000-destination sends, report and log reads; goal: at
least 0.3x for the PUT with new bodies and the one-destination send), and two replicas of one store loaded
together against one alone.

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

from . import load, procs, scale, sending
from .load import Request, Result

if TYPE_CHECKING:
    from .__main__ import Plan, Report

START_TIMEOUT = 10.0
#: Messages preloaded for the reads (the default message bound).
READ_MESSAGES = 10_000


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


def together(urls: list[str], plan: Plan, connections: int, request: Request | None = None) -> Result:
    """Each URL loaded by its own wrk at once; the rates added (latencies: the first one's)."""
    from .__main__ import seed_request

    shape = request or seed_request("json")
    results: list[Result] = []

    def run(url: str) -> None:
        results.append(load.run(url, shape, seconds=plan.seconds, connections=connections))

    threads = [threading.Thread(target=run, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = results[0]
    return Result(rate=sum(r.rate for r in results), p50_ms=first.p50_ms, p99_ms=first.p99_ms,
                  requests=sum(r.requests for r in results), non_2xx=sum(r.non_2xx for r in results),
                  socket_errors=sum(r.socket_errors for r in results))


#: The calls measured on both stores side by side: (name, server kind, request); each Redis row is paired with
#: the memory row of the same name. Servers: "plain" (sends and PUTs), "bulk" (1,000-destination sends: their
#: in-flight requests at the end of a run must not land in another row's), "read" (preloaded messages).
def side_by_side_calls(plan: Plan) -> list[tuple[str, str, Request]]:
    from .__main__ import seed_request

    queries = sending.queries(read_count(plan))
    return [
        ("seed PUT JSON, every body new", "plain", seed_request("json", distinct=True)),
        ("send, 1 destination", "plain", sending.send_request(1)),
        (f"send, {sending.BULK:,} destinations", "bulk", sending.send_request(sending.BULK)),
        ("GET logs by messageId", "read", queries["GET logs by messageId"]),
        ("GET reports by messageId", "read", queries["GET reports by messageId"]),
        ("GET reports by bulkId", "read", queries["GET reports by bulkId"]),
    ]


def read_count(plan: Plan) -> int:
    """Messages preloaded for the report and log reads (the memory store's default bound at most)."""
    return min(plan.scale_count, READ_MESSAGES)


def section(plan: Plan, report: Report) -> None:
    from .__main__ import fmt_rate, interleaved, latency_row, median, mock_command, paired_ratio, seed_request

    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        print("7. shared store: redis-server not installed (scripts/system-deps.sh installs it), skipped", flush=True)
        report.sections.append("## 7. Replicas on Redis\n\nNot measured: `redis-server` is not installed.\n")
        return
    print("7. replicas sharing one store on Redis", flush=True)
    calls = side_by_side_calls(plan)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as scratch:
        url = stack.enter_context(redis_server(Path(scratch)))

        def start(name: str, prefix: str | None) -> procs.Server:
            extra = ("--rate-limit", "off", *(("--store", url, "--store-prefix", prefix) if prefix else ()))
            port = procs.free_port()
            return stack.enter_context(procs.running(name, mock_command(port, *extra), port))

        # Each Redis server has a store (prefix) of its own: a second replica of a store applies every entry
        # the first appends (within a tick), which would take the cores the first one is measured on.
        servers = {"memory": start("memory", None), "redis": start("redis", "bench")}
        for kind in ("bulk", "read"):
            servers[f"memory-{kind}"] = start(f"memory-{kind}", None)
            servers[f"redis-{kind}"] = start(f"redis-{kind}", f"bench-{kind}")
        for name in ("memory-read", "redis-read"):
            sending.preload(servers[name].url, read_count(plan))
        targets = [("mock-omni JSON, memory store", "memory", seed_request("json")),
                   ("mock-omni JSON, one replica on Redis", "redis", seed_request("json"))]
        for call, kind, request in calls:
            suffix = "" if kind == "plain" else f"-{kind}"
            targets += [(f"{call}, memory store", f"memory{suffix}", request),
                        (f"{call}, one replica on Redis", f"redis{suffix}", request)]
        results = interleaved(targets, servers, plan)
        # Two replicas of one store (a store of their own, begun now) against one: 32 connections in all
        # either way. "Alone" loads one replica while the other follows the log, as two replicas run.
        for name in ("pair-1", "pair-2"):
            servers[name] = start(name, "bench-pair")
        pairs: dict[str, list[Result]] = {}
        for shape, request in (("seed PUT JSON", seed_request("json")), ("send, 1 destination",
                                                                             sending.send_request(1))):
            alone, pair = pairs.setdefault(f"{shape}, alone", []), pairs.setdefault(f"{shape}, pair", [])
            for _ in range(plan.repeats):
                alone.append(together([servers["pair-1"].url], plan, 32, request))
                pair.append(together([servers["pair-1"].url, servers["pair-2"].url], plan, 16, request))
    memory = results["mock-omni JSON, memory store"]
    results["one replica on Redis alone, 32 connections"] = pairs["seed PUT JSON, alone"]
    results["two replicas on Redis together, 16 connections each (rates added)"] = pairs["seed PUT JSON, pair"]
    results["one-destination send, one replica of two alone, 32 connections"] = pairs["send, 1 destination, alone"]
    results["one-destination send, two replicas together, 16 connections each (rates added)"] = \
        pairs["send, 1 destination, pair"]
    rows = [latency_row(name, runs, memory if "send" not in name else None)
            for name, runs in results.items()
            if name.startswith(("mock-omni JSON", "one replica", "two replicas", "one-destination"))]
    report.section(
        "7. Replicas on Redis", ["server", "req/s (median)", "vs memory store", "p50 ms", "p99 ms", "failed"], rows,
        f"The seed PUT (its body repeated), wrk -t1, {plan.repeats} rounds of {plan.seconds} s; rate limit off. On "
        "Redis each call is an entry of the store's log: the calls of one turn of the event loop are appended by "
        "one script (one round trip), which brings back the entries this replica has not applied yet; every "
        "replica applies every entry with the memory store's own steps. The pair rows load two replicas of one "
        "store (begun for them) at once, the 'alone' rows one of the two while the other follows the log: every "
        "replica applies every call, so a second replica adds the cores for the HTTP work (parse, answer, "
        "socket), not for the state's. On this machine the two replicas, Redis and both wrk processes share 2 "
        "cores, so the pair cannot be faster than one replica; see docs/performance.md for what 4 cores show.",
    )
    side_rows = []
    ratios: dict[str, float] = {}
    for call, _, _ in calls:
        mem, red = results[f"{call}, memory store"], results[f"{call}, one replica on Redis"]
        ratios[call] = paired_ratio(red, mem)
        side_rows.append([call, fmt_rate(median([r.rate for r in mem])), fmt_rate(median([r.rate for r in red])),
                          f"{ratios[call]:.2f}x", f"{median([r.p50_ms for r in red]):.2f}",
                          f"{median([r.p99_ms for r in red]):.2f}",
                          sum(r.non_2xx + r.socket_errors for r in mem + red)])
    report.section(
        "7b. One replica on Redis against the memory store, call by call",
        ["call", "memory req/s", "Redis req/s", "Redis vs memory", "Redis p50 ms", "Redis p99 ms", "failed"],
        side_rows,
        f"wrk -t1 -c32, {plan.repeats} interleaved rounds of {plan.seconds} s; rate limit off; each pair of "
        "servers (memory, one replica on a Redis of its own store) measured back to back, the ratio the median "
        "of per-round ratios. The PUT numbers the scenario's name in every request (every body new: no parse "
        f"reused, a new entry every call); the reads rotate over {scale.SPREAD} IDs (or their bulks) of "
        f"{read_count(plan):,} preloaded messages (reports are one-time on both stores).",
    )
    ratio = paired_ratio(results["mock-omni JSON, one replica on Redis"], memory)
    report.goal("seed PUT JSON, one replica on Redis vs memory store", f"{ratio:.2f}x", ">= 0.3x", ratio >= 0.3)
    for call, _, _ in calls:
        goal = call in ("seed PUT JSON, every body new", "send, 1 destination")
        report.goal(f"one replica on Redis vs memory store: {call}", f"{ratios[call]:.2f}x",
                    ">= 0.3x" if goal else "", (ratios[call] >= 0.3) if goal else None)
    scaling = paired_ratio(pairs["seed PUT JSON, pair"], pairs["seed PUT JSON, alone"])
    report.goal("two replicas on Redis together vs one alone", f"{scaling:.2f}x")
    scaling = paired_ratio(pairs["send, 1 destination, pair"], pairs["send, 1 destination, alone"])
    report.goal("one-destination send, two replicas on Redis together vs one alone", f"{scaling:.2f}x")
