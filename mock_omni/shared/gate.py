"""What one vendor call carries into its script (call.lua): who it claims to be, the scopes the operation
takes, its reset-fence ticket, the failures found locally, the token to take, the journal entry. The
dispatcher (vendor.py) opens a gate for the call; the operation its handler runs (the store's, or the
sign-in's) takes it along in the same script, so the whole call is one round trip. Outside a vendor call
there is no gate, and operations run their scripts without the checks.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ..domain.errors import (
    Forbidden,
    GeneralError,
    InvalidArgument,
    NotFound,
    OmniError,
    TooManyRequests,
    Unauthorized,
)
from ..domain.store import EXACTLY_ONE_DEFAULT
from . import scripts
from .journal import RECORD
from .link import Link
from .scripts import Script

# Indexes into the script's ARGV (call.lua), counted from 0.
TICKET = 5
JOURNAL = 19
LIMIT_SLICE = slice(7, 12)
POST_STATUS = 12
ARGV_LENGTH = 26
#: The statuses of call.lua's refusals, in its order: rate limit, not found, invalid argument, forbidden, unauthorized.
STATUSES = tuple(str(error.status) for error in (TooManyRequests, NotFound, InvalidArgument, Forbidden, Unauthorized))
#: The arguments of a script run outside a vendor call: no credentials, checks or journal entry.
UNGATED: tuple[str, ...] = ("",) * 11 + ("0", "", "", *STATUSES) + ("",) * 7
assert len(UNGATED) == ARGV_LENGTH


class Stale(Exception):
    """The account's configuration epoch is newer than this replica's cache: reload, run again."""


class Unproven(Exception):
    """The credentials did not prove the account (or it does not exist)."""

    def __init__(self, dropped: bool = False) -> None:
        super().__init__()
        #: An expired issued token was dropped: its {g} index entry can go too.
        self.dropped = dropped


class Fenced(Exception):
    """The account was reset since the call's ticket (testing/fence.py): nothing was done; drop the call."""


class KeyTaken(Exception):
    """A new scenario's key is already in use: draw another."""


def status_of(error: BaseException) -> int:
    return error.status if isinstance(error, OmniError) else GeneralError.status


@dataclass(slots=True)
class Gate:
    argv: list[str | bytes]
    #: The failure found before the rate limit (415) and after it (400), if any.
    pre: BaseException | None = None
    post: BaseException | None = None
    #: The script got past the credentials: it decided the call and journaled it.
    done: bool = False
    #: The checks passed, the journal entry waits for the operation's end (``hold``).
    held: bool = False

    def fail_after_limit(self, error: BaseException) -> None:
        """A failure found locally after the token is taken (the handler's own checks)."""
        self.post = error
        self.argv[POST_STATUS] = str(status_of(error))

    def error(self, kind: bytes) -> BaseException:
        """The error a script's refusal stands for."""
        if kind == b"pre" and self.pre is not None:
            return self.pre
        if kind == b"post" and self.post is not None:
            return self.post
        return refusal(kind)


def refusal(kind: bytes) -> OmniError:
    if kind == b"limit":
        return TooManyRequests()
    if kind == b"notfound":
        return NotFound()
    if kind == b"onedefault":
        return InvalidArgument(EXACTLY_ONE_DEFAULT)
    if kind == b"forbidden":
        return Forbidden()
    if kind == b"unauthorized":
        return Unauthorized()
    raise AssertionError(f"unknown refusal {kind!r}")


HOLD = scripts.call("hold")

#: The gate of the vendor call running in this context (thread, task), if any.
CURRENT: ContextVar[Gate | None] = ContextVar("mock_omni_gate", default=None)


def hold(link: Link, account: str) -> None:
    """The current vendor call's checks (credentials, scopes, fence, 415, 429, 400) now, its journal entry
    when it ends (vendor.py writes it): what an operation of several scripts does before its first change.
    Refusals are journaled as in every call. Nothing to check outside a vendor call."""
    gate = CURRENT.get()
    if gate is None:
        return
    # Called once per run of the handler: a step run again replays the same scripts (link.py).
    run_call(link, HOLD, account, [])
    gate.held = True


def journal_held(link: Link, gate: Gate, account: str, status: int) -> None:
    """The journal entry of a call whose checks were held: its status now that it is known."""
    link.run(RECORD, link.keys.account(account)[5:7], [gate.argv[JOURNAL], str(status), *gate.argv[JOURNAL + 1:]])


def run_call(link: Link, script: Script, account: str, args: list[str | bytes]) -> list[Any]:
    """An operation's script (scripts.call) on ``account``, with the current call's gate if there is one:
    its reply when done; the refusal's error (journaled by the script), or what the call must do next."""
    gate = CURRENT.get()
    argv = [*(UNGATED if gate is None else gate.argv), *args]
    reply: list[Any] = link.run(script, link.keys.account(account), argv)
    code = reply[0]
    if code == b"O":
        if gate is not None:
            gate.done = True
        return reply
    if code == b"E":
        if gate is None:
            raise refusal(reply[1])
        gate.done = True
        raise gate.error(reply[1])
    if code == b"U":
        if gate is None:
            raise NotFound(f"Account {account} not found.")
        raise Unproven(len(reply) > 1)
    if code == b"S":
        raise Stale()
    if code == b"F":
        raise Fenced()
    if code == b"K":
        raise KeyTaken()
    raise AssertionError(f"unexpected reply {code!r}")
