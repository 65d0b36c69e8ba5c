"""``--state-file``: the state survives a restart. Opt-in; nothing here runs without it.

The file is a fixture document (``Store.export()``), so it can also be used as a
fixture. It is saved after every change, before the response that acknowledges the
change is sent (the middleware holds back ``http.response.start`` until the save is
done), and always atomically: a temporary file in the same directory, fsync, rename,
fsync of the directory. A process killed at any moment leaves the old file or the
new one, never a torn or empty one, and no acknowledged change is missing.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.fixtures import FixtureError, accounts_from_document
from ..domain.store import Account, KeyFactory, Store


class StateFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        #: The store revision last written; nothing to do while it is unchanged.
        self.saved_revision: int | None = None

    def load(self, key_factory: KeyFactory) -> list[Account] | None:
        """The saved accounts, or None when there is no file yet; a bad file is a FixtureError."""
        source = str(self.path)
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise FixtureError(source, "", f"cannot read state file: {exc}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FixtureError(source, "", f"state file is not valid JSON: {exc.msg} at line {exc.lineno}, "
                                           f"column {exc.colno}") from None
        return accounts_from_document(document, source, key_factory)

    def save_if_changed(self, store: Store) -> None:
        # One writer at a time; a save that finds the revision already written does nothing.
        with self._lock:
            revision = store.revision
            if revision == self.saved_revision:
                return
            document = store.export()
            self.write(json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
            self.saved_revision = revision

    def write(self, content: bytes) -> None:
        """Replace the file atomically and durably."""
        directory = self.path.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class PersistMiddleware:
    """Saves the state before any response that follows a change is started."""

    def __init__(self, app: ASGIApp, store: Store, state_file: StateFile) -> None:
        self.app = app
        self.store = store
        self.state_file = state_file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_after_saving(message: Message) -> None:
            if message["type"] == "http.response.start" and self.store.revision != self.state_file.saved_revision:
                # Synchronous on purpose: the acknowledgement must not leave before the bytes are on disk.
                self.state_file.save_if_changed(self.store)
            await send(message)

        await self.app(scope, receive, send_after_saving)
