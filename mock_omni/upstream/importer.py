"""``mock-omni import``: an account's scenarios, every page, as a fixture document ``serve --fixtures`` loads.

Only ``GET /omni/1/scenarios`` is sent (pages of ``PAGE_SIZE``, until one comes back short). The
document keeps each scenario's key, name, flow and default flag; its account gets credentials of
its own (never the upstream's), which the caller prints once.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import orjson

from ..domain.fixtures import FixtureError, accounts_from_document
from ..web.state_file import replace_whole
from .client import Upstream, UpstreamUnusable

PAGE_SIZE = 100
#: A bound on pages read, so an upstream that never returns a short page cannot loop forever.
MAX_PAGES = 10_000
SCENARIOS = "/omni/1/scenarios"
_STEP_FIELDS = ("from", "channel")


class CredentialsRefused(UpstreamUnusable):
    """The upstream answered 401 or 403 to the credential given."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ImportProblem(Exception):
    """The upstream answered, but not with what an import can use (exit status 1)."""


class OutProblem(Exception):
    """``--out`` cannot be written (exit status 2, a usage problem)."""


def refused(status: int, content: bytes) -> str:
    """The upstream's refusal in one sentence: its messageId and text when it sent the envelope."""
    try:
        error = orjson.loads(content)["requestError"]["serviceException"]
        detail = f"{error.get('messageId')}: {error.get('text')}"
    except (orjson.JSONDecodeError, KeyError, TypeError):
        detail = content[:200].decode("utf-8", "replace").strip() or "no body"
    return f"{status} ({detail})"


def read_scenarios(upstream: Upstream, authorization: str,
                   progress: Callable[[int, int], None] | None = None) -> list[dict[str, object]]:
    """Every scenario of the account, in the upstream's order; ``progress(pages, scenarios)`` after each page."""
    scenarios: list[dict[str, object]] = []
    for page in range(MAX_PAGES):
        reply = upstream.call("GET", SCENARIOS, f"limit={PAGE_SIZE}&page={page}",
                              {"Authorization": authorization, "Accept": "application/json",
                               "User-Agent": "mock-omni-import"})
        if reply.status in (401, 403):
            raise CredentialsRefused(f"{upstream.url}: credentials refused: {refused(reply.status, reply.content)}",
                                     reply.status)
        if reply.status != 200:
            raise UpstreamUnusable(f"{upstream.url}: GET {SCENARIOS} answered {refused(reply.status, reply.content)}")
        try:
            items = orjson.loads(reply.content)["scenarios"]
            if not isinstance(items, list):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            # Not the API (a web page, a portal, another service): nothing could be read, so nothing could be
            # checked either (exit 2, not verify's 1 for drift).
            kind = reply.header("content-type") or "no Content-Type"
            raise UpstreamUnusable(f"{upstream.url}: GET {SCENARIOS} page {page} answered {reply.status} but not a "
                                   f"scenario list ({kind}): is --upstream the API's base URL?") from None
        scenarios.extend(item for item in items if isinstance(item, dict))
        if progress is not None:
            progress(page + 1, len(scenarios))
        if len(items) < PAGE_SIZE:
            break
    return scenarios


def fixture_scenario(raw: dict[str, object]) -> dict[str, object]:
    """A scenario as fixtures hold it: key, name, flow (from and channel per step), default."""
    scenario: dict[str, object] = {}
    if "key" in raw:
        scenario["key"] = raw["key"]
    if raw.get("name") is not None:
        scenario["name"] = raw["name"]
    flow = raw.get("flow")
    scenario["flow"] = [{name: step[name] for name in _STEP_FIELDS if name in step and step[name] is not None}
                        for step in flow if isinstance(step, dict)] if isinstance(flow, list) else flow
    default = raw.get("default", raw.get("defaultScenario", False))
    scenario["default"] = default is True
    return scenario


def new_credentials(username: str) -> dict[str, object]:
    return {"username": username, "password": secrets.token_urlsafe(18),
            "apiKeys": [secrets.token_hex(16) + "-" + secrets.token_hex(8)]}


def fixture_document(accounts: list[tuple[dict[str, object], list[dict[str, object]]]]) -> dict[str, object]:
    """``{"accounts": [...]}`` from (credentials, upstream scenarios) pairs, checked as ``serve`` checks it."""
    document: dict[str, object] = {"accounts": [
        {**credentials, "scenarios": [fixture_scenario(raw) for raw in scenarios]}
        for credentials, scenarios in accounts]}
    try:
        accounts_from_document(document, "the imported document")
    except FixtureError as error:
        raise ImportProblem(f"the upstream's scenarios do not make a valid fixture: {error}") from None
    return document


def write_document(document: dict[str, object], out: str) -> None:
    try:
        # Whole or not at all (a full disk, an import killed meanwhile leave the file that was there as it was);
        # through a symlink, into /dev/stdout or a pipe, as open() would write.
        # As open() gave before (a new file 0666 less the umask, a file's mode kept): a fixture file is shared.
        replace_whole(Path(out), orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n", mode=None)
    except OSError as error:
        raise OutProblem(f"--out: {out}: {error.strerror or error}") from None


def check_out(out: str) -> None:
    """Refuse at once, before the upstream is read, an ``--out`` that cannot be written: a folder, or a path
    whose folder does not exist."""
    path = Path(out)
    if path.is_dir():
        raise OutProblem(f"--out: {out}: is a folder; give the fixture file to write")
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise OutProblem(f"--out: {out}: folder {folder} does not exist")


class Progress:
    """One stderr line, rewritten in place on a terminal (a line per 10 pages otherwise)."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.shown = False

    def __call__(self, pages: int, scenarios: int) -> None:
        line = f"mock-omni: import: {pages} page{'s' * (pages != 1)}, {scenarios} scenarios"
        if self.tty:
            self.stream.write(f"\r{line}")
            self.shown = True
        elif pages % 10 == 0:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def run_import(upstream: Upstream, authorization: str, out: str, username: str, stream: TextIO) -> int:
    check_out(out)
    progress = Progress()
    try:
        scenarios = read_scenarios(upstream, authorization, progress)
    finally:
        progress.done()
    credentials = new_credentials(username)
    write_document(fixture_document([(credentials, scenarios)]), out)
    print(f"mock-omni: wrote {len(scenarios)} scenarios to {out}", file=stream)
    print(f"mock-omni: its account (use it against the mock; printed only now): username {credentials['username']}, "
          f"password {credentials['password']}, API key {credentials['apiKeys'][0]}", file=stream)  # type: ignore[index]
    return 0
