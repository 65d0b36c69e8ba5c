"""The ``import``, ``verify`` and ``record`` subcommands (docs/upstream.md): flags, and exit statuses.

0: done (verify: no drift); 1: verify found drift, or the upstream's answers could not be used;
2: a usage problem, or the upstream could not be used at all (unreachable, refused credentials,
certificate), each one line on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from . import DEFAULT_RETRIES, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from .client import Upstream

EXIT_DRIFT = 1
EXIT_UNUSABLE = 2
#: The credential can come from the environment instead of the command line (which `ps` shows to anyone).
AUTHORIZATION_ENV = "MOCK_OMNI_UPSTREAM_AUTHORIZATION"
#: An hour for one answer: more than any upstream takes, less than a socket's timeout can hold.
MAX_TIMEOUT = 3600.0


def _common(command: argparse.ArgumentParser, authorization: bool) -> None:
    command.add_argument("--upstream", required=True, metavar="URL",
                         help="the vendor's base URL, e.g. https://xxxxx.api.infobip.com")
    if authorization:
        command.add_argument("--authorization", metavar="HEADER",
                             help=f"the Authorization header's value for the upstream, e.g. 'App KEY' "
                                  f"(or ${AUTHORIZATION_ENV}); never written anywhere")
    command.add_argument("--upstream-ca", metavar="FILE",
                         help="CA bundle to verify the upstream's certificate (default: $SSL_CERT_FILE, "
                              "else the system's)")
    command.add_argument("--allow-http", action="store_true",
                         help="allow a plain http upstream that is not on loopback (credentials in clear)")
    command.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                         help=f"time the upstream has for each answer (default {DEFAULT_TIMEOUT:g})")
    command.add_argument("--retries", type=int, default=DEFAULT_RETRIES, metavar="N",
                         help=f"retries of a call answered 429, each after its Retry-After (default {DEFAULT_RETRIES})")


def add_upstream_commands(commands: argparse._SubParsersAction[Any]) -> None:
    imported = commands.add_parser(
        "import", help="write an account's scenarios at the upstream as a fixture file")
    _common(imported, authorization=True)
    imported.add_argument("--out", required=True, metavar="FILE", help="the fixture file to write (JSON)")
    imported.add_argument("--username", default="imported", metavar="NAME",
                          help="the written account's username (default imported)")
    verify = commands.add_parser(
        "verify", help="compare the mock's answers with the upstream's (read-only by default)")
    _common(verify, authorization=True)
    verify.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    verify.add_argument("--writes", action="store_true",
                        help="also probe writes, on one scenario of verify's own ('mock-omni verify'), created once")
    record = commands.add_parser(
        "record", help="proxy the vendor: forward, journal, compare with the mock, learn")
    _common(record, authorization=False)
    record.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    record.add_argument("--port", type=int, default=8080, metavar="PORT",
                        help="port, 0 for any free one (default 8080)")
    record.add_argument("--out", required=True, metavar="DIR",
                        help="folder for the drift report, fixtures and exchanges")
    record.add_argument("--exit-on-stdin-close", action="store_true", help="stop (and write DIR) when stdin closes")


def run(args: argparse.Namespace) -> int:
    def fail(message: str, status: int = EXIT_UNUSABLE) -> int:
        print(f"mock-omni: {message}", file=sys.stderr)
        return status

    authorization = None
    if args.command in ("import", "verify"):
        authorization = args.authorization or os.environ.get(AUTHORIZATION_ENV)
        if not authorization:
            return fail(f"{args.command}: --authorization (or {AUTHORIZATION_ENV}) is required")
        if not authorization.isascii() or not authorization.isprintable() or " " not in authorization.strip():
            return fail("--authorization: must be a header value such as 'App KEY' or 'Basic BASE64'")
    if args.command == "import" and (not args.username or ":" in args.username or not args.username.isprintable()):
        return fail(f"--username: must be a non-empty printable name without ':', got {args.username!r}")
    # nan passes a comparison, and inf or 1e10 overflow the socket's timeout: each ended in a traceback.
    if not 0 < args.timeout <= MAX_TIMEOUT:
        return fail(f"--timeout: must be more than 0 and at most {MAX_TIMEOUT:g} seconds, got {args.timeout:g}")
    if args.retries < 0:
        return fail(f"--retries: must be 0 or more, got {args.retries}")
    # Imported here, not at the top: `mock-omni serve` builds this parser too, and must not pay for httpx.
    from .client import Upstream, UpstreamUnusable
    from .importer import ImportProblem, OutProblem, run_import

    try:
        upstream = Upstream(args.upstream, ca_file=args.upstream_ca, allow_http=args.allow_http,
                            timeout=args.timeout, retries=args.retries)
    except UpstreamUnusable as error:
        return fail(str(error))
    try:
        with upstream:
            if args.command == "import":
                assert authorization is not None
                return run_import(upstream, authorization, args.out, args.username, sys.stdout)
            if args.command == "verify":
                assert authorization is not None
                return _verify(upstream, authorization, args.json, args.writes)
            return _record(upstream, args)
    except UpstreamUnusable as error:
        return fail(str(error))
    except ImportProblem as error:
        return fail(str(error), EXIT_DRIFT)
    except OutProblem as error:
        return fail(str(error))
    except KeyboardInterrupt:
        return 0


def _verify(upstream: Upstream, authorization: str, as_json: bool, writes: bool) -> int:
    from .compare import table
    from .verify import verify

    outcome = verify(upstream, authorization, writes)
    if as_json:
        sys.stdout.write(orjson.dumps(outcome.to_dict(upstream.url), option=orjson.OPT_INDENT_2).decode() + "\n")
    elif outcome.differences:
        print(table(outcome.differences))
        print(f"{len(outcome.differences)} differences in {len(outcome.probes)} probes", file=sys.stderr)
    else:
        print(f"no drift: {len(outcome.probes)} probes answered alike")
    return EXIT_DRIFT if outcome.differences else 0


def _record(upstream: Upstream, args: argparse.Namespace) -> int:
    from ..settings import SettingsError, check_host
    from .record import OutNotWritten, serve

    out = Path(args.out)
    try:
        check_host("--host", args.host)  # as serve's: '' would bind every interface, a proxy to the vendor
    except SettingsError as error:
        print(f"mock-omni: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    if not 0 <= args.port <= 65535:  # before DIR is made: a refused command leaves nothing behind
        print(f"mock-omni: --port: must be an integer from 0 to 65535, got {args.port}", file=sys.stderr)
        return EXIT_UNUSABLE
    if not out.is_dir():
        try:
            out.mkdir(parents=True)
        except OSError as error:
            print(f"mock-omni: --out: {out}: {error.strerror or error}", file=sys.stderr)
            return EXIT_UNUSABLE
    try:
        counts = serve(upstream, args.host, args.port, out, stop_on_stdin_close=args.exit_on_stdin_close)
    except OutNotWritten as error:
        # Not "cannot listen on", as a folder removed while recording was reported.
        print(f"mock-omni: {error}", file=sys.stderr)
        return EXIT_UNUSABLE
    except OSError as error:
        print(f"mock-omni: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"mock-omni: recorded {counts['calls']} calls ({counts['compared']} compared, "
          f"{counts['differences']} differences, {counts['accounts']} accounts) into {out}", file=sys.stderr)
    return 0
