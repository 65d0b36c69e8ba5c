"""The mock's own answer to a call: an in-process mock server whose state is a fixture document.

Calls go through the vendor API's dispatcher (``VendorApi.answer``), the same code the server's
direct path runs; the state is replaced in Python (``Admin.import_state``), never through an
admin API over HTTP. Its event loop never runs: pushed reports are queued, never sent.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..api.dispatcher import VendorRequest
from ..app import MockOmni, create_app
from ..settings import Settings
from .client import Reply


class LocalMock:
    def __init__(self, document: dict[str, object] | None = None) -> None:
        # No journal: the comparison keeps what it needs.
        self.app: MockOmni = create_app(Settings(journal_limit=0))
        if document is not None:
            self.load(document)

    def load(self, document: dict[str, object]) -> None:
        """Replace the whole state with ``document`` (checked as fixtures are)."""
        self.app.admin.import_state(document)

    def call(self, method: str, path: str, query: str = "", headers: Iterable[tuple[str, str]] = (),
             body: bytes = b"") -> Reply:
        raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if body and not any(name == b"content-length" for name, _ in raw):
            raw.append((b"content-length", b"%d" % len(body)))
        request = VendorRequest.read(method, path, query.encode("latin-1"), raw)
        too_large = len(body) > self.app.settings.max_body
        answer = self.app.vendor.answer(request, None if too_large else body)
        if answer is None:  # only a fault drops a connection, and this mock has none
            return Reply(0, (), b"")
        return Reply(answer.status,
                     tuple((name.decode("latin-1"), value.decode("latin-1")) for name, value in answer.headers),
                     answer.content)

    def close(self) -> None:
        self.app.close()
