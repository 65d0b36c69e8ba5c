"""What the server sends back: an ``Answer``, and the one place an error becomes the vendor's envelope.

The vendor API, the FastAPI side (docs, admin API) and the HTTP protocol's own
failures all render errors through ``error_answer``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..domain.errors import GeneralError, OmniError
from ..domain.validation import problems_sentence
from ..testing.server_errors import ErrorLog
from .codecs import CONTENT_TYPES, Format, render

if TYPE_CHECKING:
    from ..testing.faults import Wire

log = logging.getLogger("mock_omni")


@dataclass(slots=True)
class Answer:
    status: int
    content: bytes
    fmt: Format
    #: Headers beyond content-type and content-length (``allow`` on a 405).
    extra: tuple[tuple[bytes, bytes], ...] = ()
    #: Why this answer, for the journal (never sent): the operation that answered, or what refused the call.
    reason: str | None = None
    #: How a fault rule has it sent (testing/faults.py): truncated, slowly, or not at all (status 0).
    wire: Wire | None = None

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.status == 204:
            return list(self.extra)  # no body: no type, and RFC 9110 8.6 forbids Content-Length on a 204
        return [(b"content-type", CONTENT_TYPES[self.fmt]), (b"content-length", b"%d" % len(self.content)),
                *self.extra]

    def head(self) -> bytes:
        """``headers`` as HTTP/1.1 header lines, each ending in CRLF (one formatting, for the direct path)."""
        extra = b"".join([b"%s: %s\r\n" % pair for pair in self.extra]) if self.extra else b""
        if self.status == 204:
            return extra
        return b"content-type: %s\r\ncontent-length: %d\r\n%s" % (CONTENT_TYPES[self.fmt], len(self.content), extra)


def error_answer(error: BaseException, fmt: Format, where: str = "", errors: ErrorLog | None = None) -> Answer:
    """The vendor's envelope for an OmniError; the 500 envelope (and a log line with the traceback) otherwise,
    recorded in ``errors`` (testing/server_errors.py: the pytest plugin fails the test with it)."""
    if not isinstance(error, OmniError):
        log.error("unexpected error%s", f" on {where}" if where else "", exc_info=error)
        if errors is not None:
            errors.record(where, error)
        error = GeneralError().because(f"a defect in mock-omni: {type(error).__name__}: {error} "
                                       "(logged with its traceback; GET /__admin/errors lists it)")
    return Answer(error.status, render(error.envelope(), fmt, "ApiException"), fmt, error.headers(),
                  error.reason or default_reason(error))


def default_reason(error: OmniError) -> str:
    """The reason of an error raised without one: its fields' problems, or its text."""
    if error.validation_errors:
        return problems_sentence(error.validation_errors)
    return f"{error.message_id}: {error.text}"
