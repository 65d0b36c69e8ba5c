"""wrk (Debian's package) over loopback: one request shape per run, results parsed from its output."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
_LATENCY = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_MAX = re.compile(r"^\s*Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)\s", re.M)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_STATUS = re.compile(r"^STATUS (\d+) (\d+)$", re.M)

# Counts every response's status per thread and prints the totals at the end. Only used
# where the statuses matter: a response() callback makes wrk itself slower.
_COUNT_STATUSES = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) counts = {} end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do total[status] = (total[status] or 0) + n end
  end
  for status, n in pairs(total) do io.write(string.format("STATUS %d %d\\n", status, n)) end
end
"""


@dataclass(frozen=True)
class Request:
    method: str
    paths: tuple[str, ...]
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    #: If set, this text in the body is replaced by a counter: every request's body differs.
    counter: str | None = None


@dataclass
class Result:
    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int
    statuses: dict[int, int] = field(default_factory=dict)
    #: The slowest request of the run (wrk's Max), in ms.
    max_ms: float = float("nan")


def available() -> bool:
    return shutil.which("wrk") is not None


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def lua_script(request: Request, count_statuses: bool = False) -> str:
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    if request.body is not None:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    lines += [f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}" for name, value in request.headers]
    if request.counter is not None:
        assert request.body is not None and len(request.paths) == 1, "a counter varies one path's body"
        before, _, after = request.body.partition(request.counter)
        lines.append("local n = 0")
        lines.append(f"local before, after = {_lua_string(before)}, {_lua_string(after)}")
        lines.append("request = function() n = n + 1; return wrk.format(nil, nil, nil, before .. n .. after) end")
    elif len(request.paths) > 1:
        # Rotates through the paths; one path stays a static request (cheaper for wrk).
        lines.append("local paths = {" + ", ".join(_lua_string(p) for p in request.paths) + "}")
        lines.append("local i = 0")
        lines.append("request = function() i = i % #paths + 1; return wrk.format(nil, paths[i]) end")
    else:
        lines.append(f"wrk.path = {_lua_string(request.paths[0])}")
    if count_statuses:
        lines.append(_COUNT_STATUSES)
    return "\n".join(lines) + "\n"


def parse(output: str) -> Result:
    rate = _RATE.search(output)
    total = _TOTAL.search(output)
    if rate is None or total is None:
        raise RuntimeError(f"unexpected wrk output: {output[-400:]!r}")
    latency = {int(p): float(v) * _UNITS[u] for p, v, u in _LATENCY.findall(output)}
    non_2xx = _NON_2XX.search(output)
    errors = _SOCKET_ERRORS.search(output)
    slowest = _MAX.search(output)
    return Result(
        rate=float(rate.group(1)),
        p50_ms=latency.get(50, float("nan")),
        p99_ms=latency.get(99, float("nan")),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(map(int, errors.groups())) if errors else 0,
        statuses={int(s): int(n) for s, n in _STATUS.findall(output)},
        max_ms=float(slowest.group(1)) * _UNITS[slowest.group(2)] if slowest else float("nan"),
    )


def run(
    url: str, request: Request, *, seconds: int = 5, connections: int = 32, threads: int = 1,
    count_statuses: bool = False, extra: Sequence[str] = (),
) -> Result:
    """One wrk run against ``url`` (scheme, host and port); bounded by ``seconds`` plus a margin."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(lua_script(request, count_statuses))
        script.flush()
        command = [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "--latency",
            "-s", script.name, *extra, url + request.paths[0],
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-400:]}")
    return parse(done.stdout)
