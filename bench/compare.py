"""``python -m bench.compare REV``: the seed PUT of a git revision and of this working tree, side by side.

Both servers run from this venv (same dependencies); the revision's package comes from a
temporary ``git worktree``. Rounds interleave (A, B, A, B, ...) so the shared machine's
drift hits both alike; the ratio is the median of per-round ratios. Goals about "no slower
than before" are judged by this.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

from . import load, procs
from .load import Request
from .payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH, SEED_XML

ROOT = Path(__file__).resolve().parent.parent
SHAPES = {
    "JSON": Request("PUT", (SEED_PATH,), (("Content-Type", "application/json"), ("Accept", "application/json"),
                                          ("Authorization", ALADDIN_BASIC)), SEED_JSON),
    "XML": Request("PUT", (SEED_PATH,), (("Content-Type", "application/xml"), ("Authorization", ALADDIN_BASIC)),
                   SEED_XML),
}


def serve_command(extra: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "mock_omni", "serve", "--rate-limit", "off", *extra]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare against, e.g. HEAD~3 or a commit id")
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--server-args", default="--quiet", help="flags for both servers (default --quiet)")
    args = parser.parse_args(argv)
    extra = args.server_args.split()
    with ExitStack() as stack:
        tree = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "base"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.rev],
                       check=True, capture_output=True)
        stack.callback(subprocess.run, ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                       capture_output=True)
        servers = {}
        for name, source in (("base", tree), ("this", ROOT)):
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
