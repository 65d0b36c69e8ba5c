"""``mock-omni serve``: flags over ``MOCK_OMNI_*`` env vars over defaults.

Every start-up problem (a bad fixture, a bad flag, a port in use) is one line on
stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

from ..api.ratelimit import RateLimitSpecError
from ..domain.fixtures import FixtureError
from ..settings import BY_NAME, SETTINGS, SWITCH, Settings
from ..state import StoreUnreachable
from ..version import __version__
from . import collector
from .access_log import AccessLog

if TYPE_CHECKING:
    import uvicorn

    from ..app import MockOmni

EXIT_USAGE = 2
EXIT_FAILURE = 1
#: After stdin closed: uvicorn's graceful shutdown (5 s) plus a margin, then a hard exit.
HARD_STOP_AFTER = 15.0


#: Flags ``serve`` takes besides the settings' own.
OWN_FLAGS = ("--exit-on-stdin-close", "--help", "--version")


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose error for a flag it does not know names the closest one it does."""

    def error(self, message: str) -> NoReturn:
        unknown = "unrecognized arguments: "
        if message.startswith(unknown):
            flags = [setting.flag for setting in SETTINGS if setting.flag] + list(OWN_FLAGS)
            for word in message[len(unknown):].split():
                close = difflib.get_close_matches(word.split("=")[0], flags, n=1) if word.startswith("-") else []
                if close:
                    message += f" (did you mean {close[0]}?)"
                    break
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="mock-omni", description="A local emulation of Infobip's OMNI scenario API.")
    parser.add_argument("--version", action="version", version=f"mock-omni {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="serve the API (the default command)")
    add_serve_arguments(serve)
    from ..upstream.commands import add_upstream_commands

    add_upstream_commands(commands)
    return parser


def add_serve_arguments(serve: argparse.ArgumentParser) -> None:
    """A flag for each setting that has one, as settings.py declares it (help, variable and default included);
    the switches last, as docs/cli.md lists them."""
    for setting in sorted(SETTINGS, key=lambda setting: setting.kind is SWITCH):
        if setting.flag:
            options = dict(setting.kind.argument)
            metavar = setting.metavar or setting.kind.metavar
            if metavar:
                options["metavar"] = metavar
            serve.add_argument(setting.flag, dest=setting.name, help=setting.help_text, **options)
    serve.add_argument("--exit-on-stdin-close", action="store_true",
                       help="stop when standard input closes: a test harness holding the other end of a pipe "
                            "then never leaves this server running after it is gone")


def settings_from_args(args: argparse.Namespace) -> Settings:
    """Flags over ``MOCK_OMNI_*`` variables over defaults."""
    given = {setting.name: getattr(args, setting.name) for setting in SETTINGS if setting.flag}
    return Settings.from_env(None, **{name: BY_NAME[name].kind.convert(value)
                                      for name, value in given.items() if value is not None})


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

    from ..app import create_app

    try:
        app = create_app(settings, listening=True)
        app.serve_first = True
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
    server = stopping_server(app, server_config(app, settings, access))
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
    try:
        server.run(sockets=[sock])
    finally:
        if access is not None:
            access.flush()
    return 0


def stopping_server(app: MockOmni, config: uvicorn.Config) -> uvicorn.Server:
    """uvicorn's server, which builds the app's web side once it listens, and tells the app it stops before
    draining the requests in flight: a request waiting (for callbacks, on a fault's delay) ends at once with
    an answer instead of holding the drain for its 5 s and being cancelled with a traceback."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            # Serving: the vendor API answers now, and the admin API, the dashboard and the docs (FastAPI) are
            # built beside it (docs/performance.md, cold start), then the models left for their first use; then
            # the collector is set for serving.
            app.build_web_in_background(then=_built)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app.stop_waiting()
            await super().shutdown(sockets)

    return Server(config)


def _built() -> None:
    """The end of start-up, on the thread that built the web app (``stopping_server``)."""
    from ..domain.deferred import build_all

    try:
        build_all()
    finally:
        collector.settle()


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
    # uvicorn's own protocol has no header timeout: a client that stalls keeps its connection (said once, here).
    print(f"mock-omni: warning: {problem}; serving through uvicorn's own protocol (without --header-timeout)",
          file=sys.stderr, flush=True)
    return uvicorn.Config(app, http="auto", access_log=not settings.quiet, **options)


def _stop_normally(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv.insert(0, "serve")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        collector.resume()  # paused for start-up (mock_omni/__main__.py): this command does not serve
        from ..upstream.commands import run

        return run(args)
    try:
        settings = settings_from_args(args)
        return serve(settings, args.exit_on_stdin_close)
    except (FixtureError, RateLimitSpecError, ValueError) as exc:
        print(f"mock-omni: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 0
