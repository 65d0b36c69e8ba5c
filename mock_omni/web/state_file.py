"""``--state-file``: the state survives a restart. Opt-in; nothing here runs without it.

The file is a fixture document (``Accounts.export()``), so it can also be used as a
fixture. It is saved after every change, before the response that acknowledges the
change is sent (the middleware holds back ``http.response.start`` until the save is
done), and always atomically: a temporary file in the same directory, fsync, rename,
fsync of the directory. A process killed at any moment leaves the old file or the
new one, never a torn or empty one, and no acknowledged change is missing.

A folder that does not exist or cannot take the file stops start-up. A save that fails
later (a full disk) answers that request with the vendor's 500 envelope; the change stays
in memory, reads go on as before, and the whole state is saved with the next change
(or at shutdown).
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import secrets
import stat
import sys
import tempfile
import threading
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..api.answers import error_answer
from ..api.codecs import JSON, Negotiator
from ..api.dispatcher import VendorRequest
from ..domain.accounts import Account, Accounts, KeyFactory
from ..domain.errors import GeneralError, OmniError
from ..domain.fixtures import FixtureError, accounts_from_document, json_document, not_a_file

log = logging.getLogger("mock_omni")

#: What a lock held by another process answers (``claim``); any other error is a file system without locks.
HELD = (errno.EACCES, errno.EAGAIN)


class StateFileError(ValueError):
    """The state file cannot be kept where it was asked for; ``str()`` is the one-line message."""


class StateFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        #: The file as this server last read or wrote it (``_signature``): another change is someone else's.
        self._seen: tuple[int, int, int] | None = None
        #: The descriptor holding the claim on the file (``claim``).
        self._claim: int | None = None
        #: The accounts' revision last written; nothing to do while it is unchanged.
        self.saved_revision: int | None = None
        #: The revision whose save failed: not tried again until the state changes once more.
        self.failed_revision: int | None = None

    def check_folder(self) -> None:
        """Raise StateFileError unless a file can be created beside PATH (done at start-up, so that a
        wrong path stops the server at once instead of failing its first change)."""
        # Where a save writes: beside the file a symlink names (replace_whole keeps the link).
        folder = Path(os.path.realpath(self.path)).parent
        where = f"{self.path.absolute()}: cannot keep the state file there"
        if not folder.exists():
            raise StateFileError(f"{where}: folder {folder} does not exist")
        if not folder.is_dir():
            raise StateFileError(f"{where}: {folder} is not a folder")
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".probe", dir=folder)
        except OSError as exc:
            raise StateFileError(f"{where}: folder {folder} is not writable ({exc.strerror or exc})") from None
        os.close(fd)
        os.unlink(probe)
        if _mount_point(Path(os.path.realpath(self.path))):
            # A file mounted by itself (docker's `-v ./state.json:/data/state.json`) cannot be replaced by a rename
            # (EBUSY): the server started, then answered every change 500, 'Device or resource busy'.
            raise StateFileError(f"{where}: it is mounted by itself (as `-v ./state.json:/data/state.json` does), "
                                 f"and a save replaces it; mount its folder instead (`-v ./data:/data`)")

    def claim(self) -> None:
        """Raise StateFileError if another process keeps this state file; else keep it until this one ends.

        Two servers on one file each saved their own state over the other's: every change of one was lost at
        the other's next save, silently. The claim is a POSIX lock on ``.NAME.lock`` beside the file (beside the
        file a symlink names): the kernel drops it when the process ends, however it ends, and it holds across
        containers sharing the folder. Per process, so apps built in one process (tests) do not refuse each
        other."""
        import fcntl

        target = Path(os.path.realpath(self.path))
        lock_path = target.parent / f".{target.name}.lock"
        where = f"{self.path.absolute()}: cannot keep the state file there: {lock_path}"
        try:
            # O_NOFOLLOW: a link planted there (a shared folder, /tmp) had the claim truncate and overwrite the
            # file it named, anywhere this process may write.
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o666)
        except OSError as exc:
            reason = "a symbolic link, not mock-omni's lock file" if exc.errno == errno.ELOOP else exc.strerror
            raise StateFileError(f"{where}: {reason or exc}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO or a device: no file of ours, not to be written into
            os.close(fd)
            raise StateFileError(f"{where}: not a regular file, not mock-omni's lock file")
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in HELD:
                # A file system that takes no locks (NFS without its lock daemon, some FUSE and container
                # mounts): no other server holds the file, so it is served as before the claim, and said.
                os.close(fd)
                log.warning("mock-omni: %s: cannot lock %s (%s): another server given the same state file would "
                            "not be refused", self.path.absolute(), lock_path, exc.strerror or exc)
                return
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StateFileError(f"{self.path.absolute()}: in use by another mock-omni (process {holder}); give "
                                 f"each server a state file of its own") from None
        with contextlib.suppress(OSError):  # who holds it, for the message above; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._claim = fd  # open as long as this object: closing it would drop the lock

    def load(self, key_factory: KeyFactory) -> list[Account] | None:
        """The saved accounts, or None when there is no file yet; a bad file is a FixtureError.

        The folder is checked first (``check_folder``), and the file claimed for this process (``claim``)."""
        self.check_folder()
        self.claim()
        source = str(self.path)
        problem = not_a_file(self.path, pipes=False)  # a save replaces it with a file: it must be one
        if problem:
            raise FixtureError(source, "", f"cannot read state file: {problem}")
        self._seen = _signature(self.path)
        try:
            text = self.path.read_text("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise FixtureError(source, "", f"cannot read state file: {exc}") from None
        return accounts_from_document(json_document(text, source, "state file is not valid JSON"), source, key_factory)

    def needs_save(self, accounts: Accounts) -> bool:
        """Whether the state changed since the last save (or the last failed one)."""
        return accounts.revision != self.saved_revision and accounts.revision != self.failed_revision

    def save_if_changed(self, accounts: Accounts) -> None:
        """Write the state unless this revision is written; a failure raises, and is remembered so
        that requests which change nothing do not try (and fail) again."""
        # One writer at a time; a save that finds the revision already written does nothing.
        with self._lock:
            revision = accounts.revision
            if revision == self.saved_revision:
                return
            if _signature(self.path) != self._seen:
                # An edit by hand (or another program) since this server read or saved the file: it is about to
                # be replaced; said, since it was lost without a word.
                log.warning("mock-omni: %s was changed by another program since mock-omni read or saved it; the "
                            "server's state is saved over it (edit it with the server stopped, or send it to PUT "
                            "/__admin/state)", self.path)
            try:
                document = accounts.export()
                self.write(json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8"))
            except BaseException:
                self.failed_revision = revision
                self._seen = _signature(self.path)  # whatever is there now: not warned about again
                raise
            self._seen = _signature(self.path)
            self.saved_revision = revision
            self.failed_revision = None

    def write(self, content: bytes) -> None:
        # Never written into: a FIFO put in the file's place while the server ran blocked the save, in the event
        # loop, until some reader came (the whole server hung, SIGTERM too); a device (a link to /dev/null) took
        # the state and kept nothing. Load refuses them (``not_a_file``); a save does too.
        replace_whole(self.path, content, into_special=False)


def _mount_point(path: Path) -> bool:
    """Whether ``path`` (resolved) is a mount point, by /proc/self/mountinfo (Linux; elsewhere: not known, False)."""
    try:
        with open("/proc/self/mountinfo", "rb") as mounts:
            lines = mounts.read().splitlines()
    except OSError:
        return False
    wanted = os.fsencode(path)
    for line in lines:
        fields = line.split(b" ")
        # The fifth field is the mount point, with space, tab, newline and backslash escaped in octal.
        if len(fields) > 4 and _unescape(fields[4]) == wanted:
            return True
    return False


def _unescape(field: bytes) -> bytes:
    return re.sub(rb"\\([0-7]{3})", lambda match: bytes([int(match.group(1), 8)]), field)


def _signature(path: Path) -> tuple[int, int, int] | None:
    """Which file is at ``path``, and as of when: inode, size and modification time; None if there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def replace_whole(path: Path, content: bytes, mode: int | None = 0o600, *, into_special: bool = True) -> None:
    """``path`` replaced by ``content`` atomically and durably: written beside it, then renamed over it, so a process
    killed meanwhile (or a full disk) leaves the old file as it was (the state file; ``record``'s files; ``import
    --out``).

    Through a symlink, as ``open(path, "wb")`` would write (the file it names is replaced, the link kept), unless
    the link is another user's in a sticky folder such as /tmp: the kernel would not follow it for ``open()``
    (fs.protected_symlinks), and a link planted there must not choose which of this user's files is replaced.
    ``mode``: the file's permission bits whatever they were (0600: the state file and ``record``'s files hold
    credentials); None as ``open()`` would (the replaced file's bits, and owner where this process may set it,
    kept; a new file 0666 less the umask: ``import --out``). What is not a regular file (``/dev/stdout``, a pipe, a
    FIFO) has nothing to keep and cannot be replaced: it is written into (one of this process's descriptors,
    ``/dev/stdout``, ``/dev/fd/N``, through the descriptor itself, whatever it is open on: ``_own_descriptor``),
    or, unless ``into_special``, refused with an OSError saying what it is."""
    descriptor = _own_descriptor(path) if into_special else None
    if descriptor is not None:
        _write_into(descriptor, content)
        return
    try:
        previous: os.stat_result | None = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        previous = None
    if previous is not None and not stat.S_ISREG(previous.st_mode) and not stat.S_ISDIR(previous.st_mode):
        if not into_special:
            problem = not_a_file(path, pipes=False) or "not a regular file"
            raise OSError(errno.EINVAL, f"{path} is {problem}; nothing was written (put a file back, or remove it)")
        with open(path, "wb") as stream:
            stream.write(content)
        return
    target = Path(os.path.realpath(path)) if _followable(path) else path
    directory = target.parent
    temporary = directory / f".{target.name}.{secrets.token_hex(4)}.tmp"
    # O_EXCL: never a file someone else put there; the kernel takes the umask off, as for open().
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                 0o666 if mode is None and previous is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            if mode is not None:
                os.fchmod(stream.fileno(), mode)
            elif previous is not None:
                os.fchmod(stream.fileno(), stat.S_IMODE(previous.st_mode))
                if (previous.st_uid, previous.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(OSError):  # only root may give a file away
                        os.fchown(stream.fileno(), previous.st_uid, previous.st_gid)
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class PersistMiddleware:
    """Saves the state before any response that follows a change is started.

    When the save fails, that response is replaced by the vendor's 500 envelope in the format
    the request negotiated (the app's own response is dropped), and one line is logged.
    """

    def __init__(self, app: ASGIApp, accounts: Accounts, state_file: StateFile) -> None:
        self.app = app
        self.accounts = accounts
        self.state_file = state_file
        self.negotiator = Negotiator()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._saving_at_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        replaced = False

        async def send_after_saving(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return  # the rest of the app's own response, which the 500 replaced
            if message["type"] == "http.response.start" and self.state_file.needs_save(self.accounts):
                # Synchronous on purpose: the acknowledgement must not leave before the bytes are on disk.
                if not self._save():
                    replaced = True
                    await self._send_failure(scope, send)
                    return
            await send(message)

        await self.app(scope, receive, send_after_saving)

    def _save(self) -> bool:
        try:
            self.state_file.save_if_changed(self.accounts)
        except Exception as exc:  # noqa: BLE001 - any failure is answered, never a traceback to the client
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
            log.error("mock-omni: could not save the state file %s: %s; the change is kept in memory and "
                      "saved with the next one", self.state_file.path, reason)
            return False
        return True

    def _saving_at_shutdown(self, receive: Receive) -> Receive:
        async def receive_then_save() -> Message:
            message = await receive()
            # A last try for a change whose save failed (needs_save would wait for another change).
            if message["type"] == "lifespan.shutdown" and self.accounts.revision != self.state_file.saved_revision:
                self._save()
            return message

        return receive_then_save

    async def _send_failure(self, scope: Scope, send: Send) -> None:
        request = VendorRequest.read(scope["method"], scope["path"], scope["query_string"], scope["headers"])
        try:
            fmt = self.negotiator.response_format(request.accept, request.content_type)
        except OmniError:
            fmt = JSON
        answer = error_answer(GeneralError(), fmt)
        await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
        await send({"type": "http.response.body", "body": answer.content})


def _followable(path: Path) -> bool:
    """Whether ``path``, when it is a symlink, is one the kernel would follow for this user: its own, or in a folder
    without the sticky bit (fs.protected_symlinks' rule; /tmp is sticky and everyone's)."""
    try:
        link = os.lstat(path)
    except OSError:
        return True  # nothing there yet (or nothing to read): realpath resolves the folders' links alone
    if not stat.S_ISLNK(link.st_mode) or link.st_uid == os.geteuid():
        return True
    folder = os.stat(path.parent)
    return not folder.st_mode & stat.S_ISVTX or link.st_uid == folder.st_uid


#: A path naming an open descriptor: /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N (PID: group 1; N: group 2).
_DESCRIPTOR = re.compile(r"/(?:dev|proc/(?:self|thread-self|(\d+)))/fd/(\d+)")


def _own_descriptor(path: Path) -> int | None:
    """The descriptor of this process ``path`` names through its links (``/dev/stdout`` is one to
    ``/proc/self/fd/1``), else None. A descriptor open on a regular file (``--out /dev/stdout >> log``) must not be
    replaced like the file: the rename took the file away from under the shell's redirection (what it held
    before and what was written to the descriptor after were lost), and opening it again truncated it."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's bound on a chain of links
        match = _DESCRIPTOR.fullmatch(current)
        if match:
            pid, number = match.groups()
            return int(number) if pid is None or int(pid) == os.getpid() else None
        try:
            link = os.readlink(current)
        except OSError:
            return None  # not a link (a file, a FIFO, nothing yet): not a descriptor
        current = os.path.normpath(os.path.join(os.path.dirname(current), link))
    return None


def _write_into(descriptor: int, content: bytes) -> None:
    """``content`` written to ``descriptor`` where it stands (its offset, its O_APPEND), after what this process's
    own streams on it still hold."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):  # replaced, closed or without a descriptor
            if stream.fileno() == descriptor:
                stream.flush()
    view = memoryview(content)
    while view:
        view = view[os.write(descriptor, view):]
