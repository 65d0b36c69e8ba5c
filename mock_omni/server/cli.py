"""``mock-omni serve``: flags over ``MOCK_OMNI_*`` env vars over defaults.

Every start-up problem (a bad fixture, a bad flag, a port in use) is one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..domain.fixtures import FixtureError
from ..settings import Settings
from ..state import StoreUnreachable
from ..vendor.ratelimit import RateLimitSpecError, parse_profile
from . import collector
from .access_log import AccessLog

if TYPE_CHECKING:
    import uvicorn

    from ..app import MockOmni

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: After stdin closed: uvicorn's graceful shutdown (5 s) plus a margin, then a hard exit.
HARD_STOP_AFTER = 15.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mock-omni", description="A local emulation of Infobip's OMNI scenario API.")
    parser.add_argument("--version", action="version", version=f"mock-omni {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the API (the default command)")
    add_serve_arguments(serve)
    return parser


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", help="address to bind (env MOCK_OMNI_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port, 0 for any free one (env MOCK_OMNI_PORT; default 8080)")
    serve.add_argument("--fixtures", nargs="+", action="extend", metavar="PATH",
                       help="fixture files, JSON or YAML (env MOCK_OMNI_FIXTURES; default: embedded set)")
    serve.add_argument("--rate-limit", action="append", metavar="off|OP=COUNT/DURATION",
                       help="'off', or e.g. update=5/1m; repeatable (env MOCK_OMNI_RATE_LIMIT)")
    serve.add_argument("--journal-limit", type=int, metavar="N",
                       help="requests kept in the journal (env MOCK_OMNI_JOURNAL_LIMIT; default 1000)")
    serve.add_argument("--admin-token", help="require this token on /__admin (env MOCK_OMNI_ADMIN_TOKEN)")
    serve.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                       help="origin browsers may call from: 'local' (default: http(s)://localhost and 127.0.0.1, "
                            "any port), '*', an exact origin, or 'off'; repeatable (env MOCK_OMNI_CORS_ORIGINS)")
    serve.add_argument("--state-file", metavar="PATH",
                       help="load the state from PATH at start and save it after every change "
                            "(env MOCK_OMNI_STATE_FILE)")
    serve.add_argument("--delivery-delay", metavar="DURATION",
                       help="how long each delivery takes where no delivery rule says otherwise, e.g. 2s or 500ms "
                            "(env MOCK_OMNI_DELIVERY_DELAY; default: delivered at once)")
    serve.add_argument("--message-limit", type=int, metavar="N",
                       help="messages kept (all accounts together); the oldest is dropped past it "
                            "(env MOCK_OMNI_MESSAGE_LIMIT; default 10000)")
    serve.add_argument("--webhook-attempts", type=int, metavar="N",
                       help="attempts to push each report to a notifyUrl before giving up "
                            "(env MOCK_OMNI_WEBHOOK_ATTEMPTS; default 4)")
    serve.add_argument("--webhook-backoff", metavar="DURATION",
                       help="wait before the first retry of a push, doubled for each next one, e.g. 500ms "
                            "(env MOCK_OMNI_WEBHOOK_BACKOFF; default 500ms)")
    serve.add_argument("--webhook-timeout", metavar="DURATION",
                       help="how long a notifyUrl has to answer a push (env MOCK_OMNI_WEBHOOK_TIMEOUT; default 5s)")
    serve.add_argument("--token-lifetime", type=int, metavar="SECONDS",
                       help="how long an OAuth2 access token lives on the mock's clock "
                            "(env MOCK_OMNI_TOKEN_LIFETIME; default 3600)")
    serve.add_argument("--session-idle", type=int, metavar="SECONDS",
                       help="how long an IBSSO session lives without a call on the mock's clock "
                            "(env MOCK_OMNI_SESSION_IDLE; default 3600, the vendor's hour)")
    serve.add_argument("--store", metavar="memory|redis://HOST:PORT/DB",
                       help="where the state lives: this process (default), or a Redis shared by several "
                            "replicas (env MOCK_OMNI_STORE)")
    serve.add_argument("--store-prefix", metavar="NAME",
                       help="prefix of every Redis key, so several mocks can share one Redis "
                            "(env MOCK_OMNI_STORE_PREFIX; default mock-omni)")
    serve.add_argument("--quiet", action="store_true", default=None, help="no access log")
    serve.add_argument("--exit-on-stdin-close", action="store_true",
                       help="stop when standard input closes: a test harness holding the other end of a pipe "
                            "then never leaves this server running after it is gone")
    serve.add_argument("--asgi-only", action="store_true", default=None,
                       help="answer the vendor's calls through the ASGI app, as in-process clients see them, "
                            "instead of in the HTTP protocol (same bytes, slower; for comparison)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env(
        host=args.host,
        port=args.port,
        fixtures=args.fixtures,
        rate_limits=parse_profile(args.rate_limit) if args.rate_limit else None,
        journal_limit=args.journal_limit,
        admin_token=args.admin_token,
        cors_origins=args.cors_origin,
        state_file=args.state_file,
        store=args.store,
        store_prefix=args.store_prefix,
        quiet=args.quiet,
        asgi_only=args.asgi_only,
        delivery_delay=args.delivery_delay,
        message_limit=args.message_limit,
        webhook_attempts=args.webhook_attempts,
        webhook_backoff=args.webhook_backoff,
        webhook_timeout=args.webhook_timeout,
        token_lifetime=args.token_lifetime,
        session_idle=args.session_idle,
    )
    return settings



def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: Settings, exit_on_stdin_close: bool = False) -> int:
    import uvicorn

    from ..app import create_app

    try:
        app = create_app(settings)
    except StoreUnreachable as exc:
        print(f"mock-omni: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        sock = bind(settings.host, settings.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"mock-omni: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        return EXIT_FAILURE
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    access = None if settings.quiet else AccessLog()
    server = uvicorn.Server(server_config(app, settings, access))
    if app.state.origin:
        # On stderr, before the URL: stdout's first line is the URL alone (the pytest plugin reads it).
        print(f"mock-omni: {app.state.origin}", file=sys.stderr, flush=True)
    print(f"mock-omni {__version__} serving on http://{shown}:{port}", flush=True)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal under the handler
    # it found; with the default one the process would die by the signal (status -15, which CI
    # and `docker stop` report as a failure). A stop by SIGTERM is a normal end: exit 0.
    signal.signal(signal.SIGTERM, _stop_normally)
    if exit_on_stdin_close:
        stop_when_stdin_closes(server)
    collector.settle()
    try:
        server.run(sockets=[sock])
    finally:
        if access is not None:
            access.flush()
    return 0


def stop_when_stdin_closes(server: uvicorn.Server) -> None:
    """Stop ``server`` once stdin ends: the process holding the pipe's other end is gone, however it went
    (SIGKILL, a crashed xdist worker, the OOM killer), since the kernel closes its end then."""

    def watch() -> None:
        while True:
            try:
                if not os.read(sys.stdin.fileno(), 4096):
                    break
            except (OSError, ValueError):
                break
        server.should_exit = True  # uvicorn looks every 0.1 s, then drains (at most 5 s)
        time.sleep(HARD_STOP_AFTER)
        os._exit(0)  # the drain hung: nobody is left to answer anyway

    threading.Thread(target=watch, name="mock-omni-stdin", daemon=True).start()


def server_config(app: MockOmni, settings: Settings, access: AccessLog | None) -> uvicorn.Config:
    """uvicorn's settings with this package's protocol (http_protocol.py); uvicorn's own protocol,
    after one warning line, where that cannot be used (another uvicorn version, no httptools)."""
    import uvicorn

    options: dict[str, Any] = {
        "lifespan": "on", "server_header": False, "log_level": "warning" if settings.quiet else "info",
        "timeout_graceful_shutdown": 5,
        # No WebSocket route: an Upgrade offer is ignored (http_protocol.py); websockets is never imported.
        "ws": "none",
        # A mock trusts no proxy: X-Forwarded-* would change nothing but the access log's client.
        "proxy_headers": False,
    }
    problem: str | None
    try:
        from .http_protocol import check, protocol_for
    except ImportError as error:
        problem = f"the direct-answer protocol cannot be imported ({error})"
    else:
        protocol = protocol_for(app, direct=not settings.asgi_only, access=access)
        config = uvicorn.Config(app, http=protocol, access_log=False, **options)
        problem = check(config, protocol)
        if problem is None:
            return config
    print(f"mock-omni: warning: {problem}; serving through uvicorn's own protocol", file=sys.stderr, flush=True)
    return uvicorn.Config(app, http="auto", access_log=not settings.quiet, **options)


def _stop_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "serve")
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        return serve(settings, args.exit_on_stdin_close)
    except (FixtureError, RateLimitSpecError, ValueError) as exc:
        print(f"mock-omni: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
