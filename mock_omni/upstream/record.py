"""``mock-omni record``: a pass-through proxy in front of the upstream that journals, compares and learns.

Each call is forwarded as it came (but ``Host`` and hop-by-hop headers) and the upstream's answer
goes back unchanged (its bytes, its encoding). Calls go one at a time, so the mock beside it sees
them in the upstream's order: before a call, the mock holds what was learned so far; the mock's
own answer to the call is computed there (in process, never through any admin API) and compared
with the upstream's; then what the upstream's answer shows of the account's scenarios is learned.

The first call with a credential reads that account's scenarios (``GET /omni/1/scenarios``, every
page) so the mock starts in the upstream's state; the mock's account gets credentials of its own.
Sign-in calls (``/auth/...``) are forwarded but not compared: the mock never holds the upstream's
secrets. ``/__admin`` is never forwarded, in any spelling (404: ``is_admin``). The journal keeps
the last ``DEFAULT_JOURNAL`` calls. Into ``DIR``: ``drift.jsonl`` as it happens; on
stop ``drift.json``, ``fixtures.json`` (what was learned) and ``exchanges.json`` (the journal,
credentials masked as the journal masks them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import IO, Any
from urllib.parse import urlsplit

import orjson

from ..api.answers import error_answer
from ..api.codecs import JSON
from ..api.dispatcher import VendorApi
from ..domain.errors import Forbidden
from ..testing.admin_paths import reaches_admin
from ..testing.journal import Journal, KeptResponse
from ..testing.redaction import redact_query
from ..web.hosts import HostPolicy
from ..web.state_file import replace_whole
from .client import HOP_BY_HOP, Reply, Upstream, UpstreamUnusable
from .compare import Difference, compare
from .importer import CredentialsRefused, fixture_scenario, new_credentials, read_scenarios
from .local import LocalMock
from .verify import local_authorization

SCENARIOS = "/omni/1/scenarios"
DEFAULT_JOURNAL = 10_000
MAX_BODY = 16 * 1024 * 1024
#: A chunk's size line (with its extensions) and a trailer line: longer is not HTTP a client sends.
MAX_CHUNK_LINE = 8192
#: Trailer lines after the last chunk: more is not a client's body.
MAX_TRAILERS = 64
#: A chunk's size: hexadecimal digits only (Python's int(x, 16) also takes '0x', '+', '_' and spaces).
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


class BodyTooLarge(Exception):
    """A request body over ``MAX_BODY``: answered 413, never read whole."""


class Stopped(Exception):
    """SIGTERM: stop recording, and write DIR."""


class _StopSignals:
    """SIGTERM and Ctrl-C end the recording; once it is ending (by either, or by stdin closing), more are ignored
    while DIR is written. One that came then (``ServerProcess.stop`` closes stdin, then sends SIGTERM; a user
    presses Ctrl-C twice) was raised inside the writing: a traceback, exit 1 and a file cut short."""

    def __init__(self) -> None:
        self.stopping = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped


class Learned:
    """One upstream account seen through a credential: the mock's credentials for it and its scenarios."""

    def __init__(self, username: str, authorization: str) -> None:
        self.credentials = new_credentials(username)
        self.local_authorization = local_authorization(authorization, self.credentials)
        self.scenarios: dict[str, dict[str, object]] = {}

    def learn(self, raw: object) -> None:
        if not isinstance(raw, dict) or not isinstance(raw.get("key"), str):
            return
        scenario = fixture_scenario(raw)
        if scenario["default"]:
            for other in self.scenarios.values():
                other["default"] = False
        old = self.scenarios.get(raw["key"])
        if old is not None and "default" not in raw and "defaultScenario" not in raw:
            scenario["default"] = old["default"]
        self.scenarios[raw["key"]] = scenario

    def document(self) -> dict[str, object]:
        scenarios = [dict(item) for item in self.scenarios.values()]
        if scenarios and not any(item["default"] for item in scenarios):
            scenarios[0]["default"] = True  # a partial view (isDefault=false pages only): fixtures need one
        return {**self.credentials, "scenarios": scenarios}


class OutNotWritten(Exception):
    """A file of ``--out DIR`` could not be written (at the start, or when the recording stopped); ``str()`` names
    each."""


class Recorder:
    def __init__(self, upstream: Upstream, out: Path, journal_limit: int = DEFAULT_JOURNAL,
                 bound: str | None = None) -> None:
        self.upstream = upstream
        self.out = out
        self.lock = threading.Lock()
        self.local = LocalMock({"accounts": []})
        self.journal = Journal(journal_limit)
        self.hosts = HostPolicy(bound=bound)
        self.accounts: dict[str, Learned | None] = {}  # digest of the Authorization -> learned (None: refused)
        self.differences: list[Difference] = []
        self.calls = 0
        self.compared = 0
        # A new recording replaces an earlier one's files in the same folder.
        try:
            self._drift: IO[bytes] = open(out / "drift.jsonl", "wb")  # noqa: SIM115 - closed by close()
        except OSError as error:
            raise OutNotWritten(f"--out: {out / 'drift.jsonl'}: {error.strerror or error}") from None
        self._drift_failed = False

    # --- one call --------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> Reply:
        parts = urlsplit(target)
        path, query = parts.path or "/", parts.query
        with self.lock:
            self.calls += 1
            if is_admin(path):
                reply = self.local.call(method, path, query, [], b"")  # the vendor's 404: never forwarded
                self._journal(method, path, query, headers, body, reply, None, "not forwarded: the admin API")
                return reply
            authorization = next((value for name, value in headers if name.lower() == "authorization"), None)
            emulated = VendorApi.handles(path) and not path.startswith("/auth/")
            learned = self._account(authorization) if emulated and authorization else None
            mock_reply = None
            if emulated:
                ours = [(name, learned.local_authorization if learned and name.lower() == "authorization" else value)
                        for name, value in headers]
                mock_reply = self.local.call(method, path, query, ours, body)
            try:
                # Never retried here: a 429 is the app's to handle, as it would be without the proxy.
                reply = self.upstream.call(method, path, query, headers, body, raw=True, retries=0)
            except UpstreamUnusable as error:
                reply = Reply(502, (("content-type", "text/plain"),), f"mock-omni record: {error}\n".encode())
                self._journal(method, path, query, headers, body, reply, None, str(error))
                return reply
            decoded = _decoded(reply)
            account = learned.credentials["username"] if learned else None
            why = "forwarded" if emulated else "forwarded (not emulated by the mock: not compared)"
            self._journal(method, path, query, headers, body, decoded, str(account) if account else None, why)
            if learned is not None and 200 <= reply.status < 300 and path.startswith(SCENARIOS):
                self._learn(learned, decoded)
            if mock_reply is not None:
                self.compared += 1
                shown = f"{method} {path}" + (f"?{redact_query(query)}" if query else "")
                found = compare(shown, decoded, mock_reply)
                self.differences.extend(found)
                self._log_drift(found)
            return reply

    def _log_drift(self, found: list[Difference]) -> None:
        """``found`` appended to drift.jsonl as it comes. A write that fails (a full disk) is said once, on stderr,
        and the call's answer still goes back: the app under test must not lose a call the upstream carried out
        because the proxy's log could not be written (it was answered 502)."""
        if self._drift_failed:
            return
        try:
            for difference in found:
                self._drift.write(orjson.dumps({"at": time.time(), **difference.to_dict()}) + b"\n")
            self._drift.flush()
        except OSError as error:
            self._drift_failed = True
            print(f"mock-omni: --out: {self.out / 'drift.jsonl'}: {error.strerror or error}; differences are no "
                  f"longer appended there (drift.json gets them all at the end)", file=sys.stderr, flush=True)

    def _account(self, authorization: str) -> Learned | None:
        digest = hashlib.sha256(authorization.encode("latin-1", "replace")).hexdigest()
        if digest not in self.accounts:
            try:
                scenarios = read_scenarios(self.upstream, authorization)
            except CredentialsRefused as refused:
                if refused.status == 401:
                    self.accounts[digest] = None  # the mock gets the credential as it came, and refuses it too
                    return None
                scenarios = []  # 403: a key without the scenarios' scope; its sends are still compared
            except UpstreamUnusable:
                return None  # not known yet (the upstream failed): the next call with it tries again
            learned = Learned(f"recorded-{sum(1 for item in self.accounts.values() if item) + 1}", authorization)
            for raw in scenarios:
                learned.learn(raw)
            self.accounts[digest] = learned
            self._reload()
        return self.accounts[digest]

    def _learn(self, learned: Learned, reply: Reply) -> None:
        try:
            data = orjson.loads(reply.content)
        except orjson.JSONDecodeError:
            return  # XML answers teach nothing here: the next JSON read will
        before = [(key, dict(item)) for key, item in learned.scenarios.items()]
        if isinstance(data, dict) and isinstance(data.get("scenarios"), list):
            for raw in data["scenarios"]:
                learned.learn(raw)
        else:
            learned.learn(data)
        if [(key, dict(item)) for key, item in learned.scenarios.items()] != before:
            self._reload()  # only when something new was learned: a reload replaces the mock's whole state

    def document(self) -> dict[str, object]:
        return {"accounts": [learned.document() for learned in self.accounts.values() if learned is not None]}

    def _reload(self) -> None:
        """The mock's accounts as learned, its messages (what it was sent) kept."""
        exported = self.local.app.export_state()
        messages = {item["username"]: item for item in exported["accounts"]}  # type: ignore[attr-defined]
        document = self.document()
        for account in document["accounts"]:  # type: ignore[attr-defined]
            before = messages.get(account["username"], {})
            for name in ("messages", "callbacks"):
                if name in before:
                    account[name] = before[name]
        self.local.load(document)

    def _journal(self, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes,
                 reply: Reply, account: str | None, why: str) -> None:
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        response = KeptResponse(reply.status, reply.content,
                                [(name.encode("latin-1"), value.encode("latin-1")) for name, value in reply.headers],
                                why)
        self.journal.record(method, path, query.encode("latin-1"), raw, body, response, account)

    # --- stop --------------------------------------------------------------------------

    def close(self) -> dict[str, int]:
        """Write drift.json, fixtures.json and exchanges.json; the counts written."""
        with self.lock:
            with contextlib.suppress(OSError):  # its failure was said when it failed
                self._drift.close()
            summary = {"upstream": self.upstream.url, "calls": self.calls, "compared": self.compared,
                       "differences": [difference.to_dict() for difference in self.differences]}
            problems = []
            # Each file on its own: one that cannot be written (a full disk, a folder removed) leaves the others.
            for name, data in (("drift.json", lambda: summary), ("fixtures.json", self.document),
                               ("exchanges.json", lambda: [entry.to_dict() for entry in self.journal.entries()])):
                try:
                    _write(self.out / name, data())
                except OSError as error:
                    problems.append(f"{self.out / name}: {error.strerror or error}")
            self.local.close()
            if problems:
                raise OutNotWritten(f"--out: {'; '.join(problems)}")
            return {"calls": self.calls, "compared": self.compared, "differences": len(self.differences),
                    "accounts": len([item for item in self.accounts.values() if item])}


def is_admin(path: str) -> bool:
    """Whether ``path`` may reach an admin API, as a server on the way would read it (testing/admin_paths.py:
    decoded, its dot segments resolved as httpx resolves them before sending, slashes merged, any case)."""
    return reaches_admin(path)


def _write(path: Path, data: object) -> None:
    """``data`` as JSON in ``path``, whole or not at all."""
    replace_whole(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def _decoded(reply: Reply) -> Reply:
    """The reply with its body decoded (gzip, deflate), for the journal and the comparison."""
    encoding = (reply.header("content-encoding") or "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            content = zlib.decompress(reply.content, 47 if "gzip" in encoding else zlib.MAX_WBITS)
        except zlib.error:
            try:
                content = zlib.decompress(reply.content, -zlib.MAX_WBITS)
            except zlib.error:
                return reply
        return Reply(reply.status, tuple(item for item in reply.headers if item[0] != "content-encoding"), content)
    return reply


def handler_for(recorder: Recorder) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "mock-omni-record"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def setup(self) -> None:
            super().setup()
            # The head and the body go in two writes: without this, Nagle's algorithm holds the body until
            # the client's delayed ACK (40 ms a call on Linux).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _body(self) -> bytes | None:
            """The request's body; None when it cannot be read; ``BodyTooLarge`` past ``MAX_BODY``, chunked too
            (chunks were taken without a bound: a chunk size of FFFFFFFFFF was a MemoryError, endless chunks all
            the memory there was)."""
            if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
                # RFC 9112 section 7.1, strictly, as the vendor's front reads it: int(x, 16) also took '0x10',
                # '+1_0' and an empty line (as the last chunk), and bytes past a chunk's size were dropped.
                chunks: list[bytes] = []
                total = 0
                while True:
                    line = self.rfile.readline(MAX_CHUNK_LINE)
                    size_text = line.rstrip(b"\r\n").split(b";", 1)[0].rstrip(b" \t")
                    if not line.endswith(b"\n") or not CHUNK_SIZE.fullmatch(size_text):
                        return None
                    size = int(size_text, 16)
                    if size == 0:
                        for _ in range(MAX_TRAILERS):
                            trailer = self.rfile.readline(MAX_CHUNK_LINE)
                            if not trailer.endswith(b"\n"):
                                return None
                            if trailer in (b"\r\n", b"\n"):
                                return b"".join(chunks)
                        return None
                    total += size
                    if total > MAX_BODY:
                        raise BodyTooLarge()
                    chunks.append(self.rfile.read(size))
                    if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                        return None  # the chunk was longer than its size said, or cut short
            length = self.headers.get("content-length")
            if length is None:
                return b""
            if not length.isdigit():
                return None
            if int(length) > MAX_BODY:
                raise BodyTooLarge()
            return self.rfile.read(int(length))

        def _reply(self, body: bytes) -> Reply:
            host = self.headers.get("host")
            raw_host = None if host is None else host.encode("latin-1", "replace")
            if not recorder.hosts.allows(raw_host):
                # DNS rebinding (web/hosts.py): a page of another site must not reach the vendor through here.
                refused = Forbidden(f"Host {str(host)[:80]!r} is not allowed (DNS rebinding protection): the "
                                    "recording proxy answers loopback names and IP addresses only")
                answer = error_answer(refused, JSON, f"{self.command} {self.path}")
                return Reply(answer.status, tuple((name.decode(), value.decode()) for name, value in answer.headers),
                             answer.content)
            try:
                return recorder.handle(self.command, self.path, list(self.headers.items()), body)
            except Exception as error:  # noqa: BLE001 - one line, never a traceback; the app gets a 502
                print(f"mock-omni: record: {self.command} {urlsplit(self.path).path}: "
                      f"{error.__class__.__name__}: {error}", file=sys.stderr, flush=True)
                return Reply(502, (("content-type", "text/plain"),),
                             f"mock-omni record: {error.__class__.__name__}\n".encode())

        def _any(self) -> None:
            try:
                body = self._body()
            except ValueError:
                body = None
            except BodyTooLarge:
                self.send_error(413, f"request body over {MAX_BODY >> 20} MiB: the recording proxy does not forward it")
                self.close_connection = True
                return
            if body is None:
                self.send_error(400, "unreadable body")
                self.close_connection = True
                return
            reply = self._reply(body)
            self.send_response_only(reply.status)
            for name, value in reply.headers:
                if name not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(reply.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.content)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _any  # noqa: N815

    return Handler


def serve(upstream: Upstream, host: str, port: int, out: Path, stdout: IO[str] = sys.stdout,
          stop_on_stdin_close: bool = False) -> dict[str, int]:
    recorder = Recorder(upstream, out, bound=host)
    stop = _StopSignals()
    server = ThreadingHTTPServer((host, port), handler_for(recorder))
    server.daemon_threads = True
    bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    from ..version import __version__

    def watch() -> None:
        try:
            while os.read(sys.stdin.fileno(), 4096):
                pass
        except (OSError, ValueError):
            pass
        stop.stopping = True  # before the loop ends: a signal from now on finds it ending
        server.shutdown()

    handles_signals = threading.current_thread() is threading.main_thread()
    try:
        # Within the try, and before the line that says it is ready: a SIGTERM sent on seeing that line is a stop.
        if handles_signals:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        print(f"mock-omni {__version__} serving on http://{shown}:{bound_port}", file=stdout, flush=True)
        print(f"mock-omni: recording {upstream.url} into {out}", file=sys.stderr, flush=True)
        if stop_on_stdin_close:
            threading.Thread(target=watch, name="mock-omni-stdin", daemon=True).start()
        server.serve_forever(poll_interval=0.2)
    except (KeyboardInterrupt, Stopped):
        pass  # Ctrl-C and SIGTERM are the ordinary ways to stop a recording: DIR is written below
    finally:
        stop.stopping = True
        if handles_signals:
            # Ignored from here to the exit: Python puts a handler of its own back to the default as it finalizes,
            # and a SIGTERM then ended a recording already written with -15 (SIG_IGN stays).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.server_close()
        counts = recorder.close()
    return counts
