"""``python -m bench.compare REV``: the seed PUT of a git revision and of this working tree, side by side.

Both servers run from this venv (same dependencies); the revision's package comes from a
temporary ``git worktree``. Rounds interleave (A, B, A, B, ...) so the shared machine's
drift hits both alike; the ratio is the median of per-round ratios. Goals about "no slower
than before" are judged by this. ``--instructions`` also counts, under valgrind, the CPU
instructions of one seed PUT answered in-process by each tree (bench/instructions.py):
a number the machine's load does not move. ``--in-process`` times one call answered in-process through each tree's
HTTP protocol (bench/inprocess.py), interleaved like the rates: microseconds, not instructions, but with no wrk
and no sockets sharing the CPU. ``--compile`` makes "this tree" a copy of it whose hot modules mypy's compiler
(mypyc) has built into C extensions (``COMPILED``; a C compiler and Python's headers needed, checked first):
what compiling would give, measured.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from . import load, procs
from .load import Request
from .payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH, SEED_XML

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHAPES = {
    "JSON": Request("PUT", (SEED_PATH,), (("Content-Type", "application/json"), ("Accept", "application/json"),
                                          ("Authorization", ALADDIN_BASIC)), SEED_JSON),
    "XML": Request("PUT", (SEED_PATH,), (("Content-Type", "application/xml"), ("Authorization", ALADDIN_BASIC)),
                   SEED_XML),
}
# The same with the scenario's name numbered in every request: no body is seen twice (issue 24).
SHAPES.update({
    f"{shape}, every body new": replace(request, body=request.body.replace("SMS or VIBER", "SMS or VIBER #N"),
                                        counter="#N")
    for shape, request in list(SHAPES.items()) if request.body is not None
})


#: The vendor path's modules that mypyc compiles as they are (``--compile``). Not server/http_protocol.py: its
#: class is subclassed per app at run time and given class attributes there, which a compiled class refuses.
#: The replicas' dispatcher is compiled because it subclasses the vendor's (an interpreted class cannot).
COMPILED = (
    "mock_omni/domain/memo.py", "mock_omni/testing/journal.py", "mock_omni/api/answers.py",
    "mock_omni/api/dispatcher.py", "mock_omni/replication/dispatcher.py", "mock_omni/domain/accounts.py",
    "mock_omni/server/batched_transport.py", "mock_omni/api/codecs.py", "mock_omni/api/bodies.py",
    "mock_omni/api/routing.py", "mock_omni/api/handlers/scenarios.py", "mock_omni/domain/validation.py",
)


def compiled_copy(source: Path, into: Path, modules: Sequence[str] = COMPILED) -> Path:
    """A copy of the package at ``source`` in ``into``, ``modules`` compiled by mypyc in place (its .so files
    beside the .py files, which they shadow); ``into``."""
    shutil.copytree(source / "mock_omni", into / "mock_omni", ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    shutil.copy(source / "pyproject.toml", into / "pyproject.toml")  # mypy's settings, which mypyc reads
    done = subprocess.run([sys.executable, "-m", "mypyc", *modules], cwd=into, capture_output=True, text=True,
                          timeout=1800, check=False)
    if done.returncode != 0:
        output = (done.stdout + done.stderr).strip().splitlines() or ["no output"]
        errors = [line for line in output if "error:" in line]  # mypy's, the compiler's, setuptools' (not -Werror)
        raise RuntimeError(f"mypyc failed: {(errors or output)[0]}" + (f" (and {len(errors) - 1} more errors)"
                                                                       if len(errors) > 1 else ""))
    return into


def missing_for_compiling() -> str | None:
    """What ``compiled_copy`` lacks on this machine (mypyc, a C compiler, Python's headers), as one line; None:
    nothing. Asked before anything is built: mypyc finds out after half a minute, in a page of output."""
    if importlib.util.find_spec("mypyc") is None:
        return "mypyc is not installed in this venv (it comes with mypy: make install)"
    # What setuptools calls, as mypyc builds: $CC, else the compiler Python was built with.
    compiler = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")[0]
    if shutil.which(compiler) is None:
        return f"no C compiler: {compiler!r} is not on PATH (mypyc needs one: apt-get install gcc)"
    headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not headers.is_file():
        return f"no Python headers: {headers} is missing (mypyc needs them: apt-get install python3-dev)"
    return None


def serve_command(extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "mock_omni", "serve", "--rate-limit", "off", *extra]


def instructions_per_call(source: Path, fmt: str, calls: int = 3000, python: str = sys.executable) -> float:
    """valgrind's instruction count for ``calls`` more seed PUTs (``send``: one-destination sends), divided out
    (start-up subtracted); ``python`` the interpreter (a tree's own venv)."""
    totals = []
    for count in (100, 100 + calls):
        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run(
                ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/cg", python,
                 str(HERE / "instructions.py"), str(count), fmt],
                capture_output=True, text=True, check=True, timeout=600,
                env={**os.environ, "PYTHONPATH": str(source), "PYTHONHASHSEED": "0"}, cwd=out)
        match = re.search(r"Collected : (\d+)", done.stderr)
        if match is None:
            raise RuntimeError(f"valgrind gave no count: {done.stderr[-300:]}")
        totals.append(int(match.group(1)))
    return (totals[1] - totals[0]) / calls


def shape_label(fmt: str) -> str:
    """What the rows call a shape of bench/instructions.py and bench/inprocess.py (``json-new``...)."""
    if fmt == "send":
        return "one-destination send"
    return f"seed PUT {fmt.removesuffix('-new').upper()}" + (", every body new" if fmt.endswith("-new") else "")


def microseconds_per_call(source: Path, shape: str, calls: int = 20000, python: str = sys.executable) -> float:
    """bench/inprocess.py's time per call of ``shape`` for the tree at ``source`` (best of its rounds)."""
    done = subprocess.run([python, str(HERE / "inprocess.py"), str(calls), shape], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": str(source)}, cwd=str(source), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench/inprocess.py failed for {source}: {done.stderr[-500:]}")
    return float(done.stdout.split()[-1])


def in_process_line(rev: str, shape: str, trees: Sequence[tuple[str, Path, str]], repeats: int, calls: int) -> str:
    """``shape``'s time per call in-process for the trees (name, source, python: ``base`` and ``this``), in
    ``repeats`` interleaved rounds: one line, the medians and the median of per-round ratios."""
    times: dict[str, list[float]] = {name: [] for name, _, _ in trees}
    for _ in range(repeats):
        for name, source, python in trees:
            times[name].append(microseconds_per_call(source, shape, calls, python))
    speedups = [a / b for a, b in zip(times["base"], times["this"], strict=True)]
    before, after = statistics.median(times["base"]), statistics.median(times["this"])
    return (f"{shape_label(shape)} in-process: {rev} {before:.2f} us per call, this tree {after:.2f} us, "
            f"{statistics.median(speedups):.3f}x as fast (rounds {', '.join(f'{r:.2f}' for r in speedups)})")


def positive(text: str) -> int:
    """An argument counting something (rounds, calls, seconds): 0 failed only later, in a traceback."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare against, e.g. HEAD~3 or a commit id")
    parser.add_argument("--seconds", type=positive, default=3)
    parser.add_argument("--repeats", type=positive, default=5)
    parser.add_argument("--server-args", default="--quiet", help="flags for both servers (default --quiet)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions per call (valgrind)")
    parser.add_argument("--in-process", action="store_true",
                        help="also time each call in-process through the HTTP protocol (bench/inprocess.py)")
    parser.add_argument("--rates", action=argparse.BooleanOptionalAction, default=True,
                        help="the rates under wrk (--no-rates: only what --instructions and --in-process ask)")
    parser.add_argument("--calls", type=positive, default=20000, help="calls per in-process round (default 20000)")
    parser.add_argument("--compile", action="store_true",
                        help="this tree with its hot modules compiled by mypyc (COMPILED; a C compiler and "
                             "Python's headers needed)")
    parser.add_argument("--base-python", default=sys.executable, help="the revision's interpreter (its own venv)")
    args = parser.parse_args(argv)
    if not (args.rates or args.instructions or args.in_process):
        parser.error("--no-rates leaves nothing to measure: add --in-process or --instructions")
    # Checked before anything is made: one line, not a traceback after minutes of work.
    missing = missing_for_compiling() if args.compile else None
    if missing is not None:
        raise SystemExit(f"bench.compare --compile: {missing}")
    if args.instructions and shutil.which("valgrind") is None:
        raise SystemExit("bench.compare --instructions: valgrind is not installed (scripts/system-deps.sh)")
    try:
        return compare(args)
    except RuntimeError as failed:  # a step that failed says what it was (mypyc, a server, a timer)
        raise SystemExit(f"bench.compare: {failed}") from None


def compare(args: argparse.Namespace) -> int:
    extra = args.server_args.split()
    with ExitStack() as stack:
        tree = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "base"
        added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.rev],
                               capture_output=True, text=True, check=False)
        if added.returncode != 0:
            said = added.stderr.strip().splitlines() or [f"exit status {added.returncode}"]
            raise RuntimeError(f"git cannot check out {args.rev!r}: {said[-1]}")
        stack.callback(subprocess.run, ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)
        this = ROOT
        if args.compile:
            this = compiled_copy(ROOT, Path(stack.enter_context(tempfile.TemporaryDirectory())))
            print(f"this tree compiled by mypyc: {len(COMPILED)} modules", flush=True)
        if args.instructions:
            for fmt in ("json", "xml", "send", "json-new", "xml-new"):
                trees = (("base", tree, args.base_python), ("this", this, sys.executable))
                counts = {name: instructions_per_call(source, fmt, python=python) for name, source, python in trees}
                print(f"{shape_label(fmt)} in-process: {args.rev} {counts['base']:,.0f} instructions per call, "
                      f"this tree {counts['this']:,.0f} ({counts['this'] / counts['base']:.3f}x)", flush=True)
        if args.in_process:
            trees = (("base", tree, args.base_python), ("this", this, sys.executable))
            for shape in ("json", "xml", "json-new", "xml-new"):
                print(in_process_line(args.rev, shape, trees, args.repeats, args.calls), flush=True)
        if not args.rates:
            return 0
        servers = {}
        for name, source in (("base", tree), ("this", this)):
            port = procs.free_port()
            servers[name] = stack.enter_context(procs.running(
                name, [*serve_command(extra), "--port", str(port)], port, env={"PYTHONPATH": str(source)},
                cwd=str(source)))
        for shape, request in SHAPES.items():
            rates: dict[str, list[float]] = {"base": [], "this": []}
            for _ in range(args.repeats):
                for name, server in servers.items():
                    rates[name].append(load.run(server.url, request, seconds=args.seconds).rate)
            ratios = [b / a for a, b in zip(rates["base"], rates["this"], strict=True)]
            print(f"seed PUT {shape}: {args.rev} {statistics.median(rates['base']):,.0f} req/s, "
                  f"this tree {statistics.median(rates['this']):,.0f} req/s, ratio {statistics.median(ratios):.2f}x "
                  f"(rounds {', '.join(f'{r:.2f}' for r in ratios)})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
