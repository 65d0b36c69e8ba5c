"""What one vendor call carries into its script (call.lua): who it claims to be, the failures
found locally, the token to take, the journal entry. The dispatcher (vendor.py) opens a gate
for the call; the store's operation, run by the handler, takes it along in the same script,
so the whole call is one round trip. Outside a vendor call there is no gate, and the store's
operations run their scripts without the checks.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from ..domain.errors import GeneralError, InvalidArgument, NotFound, OmniError, TooManyRequests
from ..domain.store import EXACTLY_ONE_DEFAULT

# Indexes into the script's ARGV (call.lua), counted from 0.
POST_STATUS = 10
ARGV_LENGTH = 22
STATUSES = (str(TooManyRequests.status), str(NotFound.status), str(InvalidArgument.status))
#: The arguments of a script run outside a vendor call: no credentials, checks or journal entry.
UNGATED: tuple[str, ...] = ("", "", "", "", "", "", "", "", "", "0", "", "", *STATUSES, "", "", "", "", "", "", "")


class Stale(Exception):
    """The account's configuration epoch is newer than this replica's cache: reload, run again."""


class Unproven(Exception):
    """The credentials did not prove the account (or it does not exist)."""


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
    raise AssertionError(f"unknown refusal {kind!r}")


#: The gate of the vendor call running in this context (thread, task), if any.
CURRENT: ContextVar[Gate | None] = ContextVar("mock_omni_gate", default=None)
