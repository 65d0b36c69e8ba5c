"""Starting and stopping ``mock-omni serve`` processes: the one place that does, so no pipe is left unread.

A child's pipe that nobody reads fills up (64 KiB on Linux), and then the child blocks
on its next write: a server whose log pipe is full stops answering. So:

- stderr goes straight into a log file (a temporary file, already unlinked: nothing
  is left behind however this process ends); failure messages show its tail;
- stdout's first line names the URL; a thread copies whatever follows (the access
  log, when it is on) into the same log;
- stdin is a pipe that only this process holds. The server is started with
  ``--exit-on-stdin-close``, so when this process goes away, however it goes (SIGKILL,
  a crashed xdist worker, the OOM killer), the kernel closes the pipe and the server
  stops: no orphan keeps its port and memory.

The pytest plugin's server and the project's own tests (tests/server.py) both use it.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence

from .real_time import real_monotonic

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
#: How much of the log a failure message shows (its end).
SHOWN = 4000
#: How much of the log is kept in memory once the process is stopped (its end).
KEPT = 256 * 1024


def serve_command(args: Sequence[str] = ()) -> list[str]:
    """``python -m mock_omni serve`` on a free loopback port, ending with this process."""
    return [sys.executable, "-m", "mock_omni", "serve", "--host", "127.0.0.1", "--port", "0",
            "--exit-on-stdin-close", *args]


class ServerProcess:
    """A child process that prints ``... serving on URL`` on its first stdout line, then serves."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str] | None = None,
                 timeout: float = START_TIMEOUT) -> None:
        fd, path = tempfile.mkstemp(prefix="mock-omni-", suffix=".log")
        self._log = fd
        self._log_append = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.unlink(path)
        self._copier: threading.Thread | None = None
        #: Once stopped: where the kept end of the log starts, and its bytes.
        self._kept: tuple[int, bytes] | None = None
        self.url = ""
        self.process = subprocess.Popen(
            list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log_append,
            env=None if env is None else dict(env),
        )
        try:
            self.url = self._read_url(timeout)
        except BaseException:
            self.stop()
            raise

    @classmethod
    def serve(cls, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
              timeout: float = START_TIMEOUT) -> ServerProcess:
        return cls(serve_command(args), env, timeout)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def _read_url(self, timeout: float) -> str:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = real_monotonic() + timeout
        data = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while b"\n" not in data and real_monotonic() < deadline:
                if selector.select(timeout=max(0.0, deadline - real_monotonic())):
                    chunk = os.read(stdout.fileno(), 4096)
                    if not chunk:
                        break
                    data += chunk
        line, _, rest = data.partition(b"\n")
        text = line.decode("utf-8", "replace").strip()
        if "serving on " not in text:
            try:
                self.process.wait(timeout=2)  # it may be writing why it stopped
            except subprocess.TimeoutExpired:
                pass
            reason = self.output().strip() or text or f"no answer within {timeout:.0f} s"
            raise RuntimeError(f"mock-omni server did not start: {tail(reason)}")
        os.write(self._log_append, rest)
        self._copier = threading.Thread(target=self._copy_stdout, name="mock-omni-stdout", daemon=True)
        self._copier.start()
        return text.rsplit(" ", 1)[1]

    def _copy_stdout(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while chunk := os.read(stdout.fileno(), 65536):
                os.write(self._log_append, chunk)
        except OSError:
            pass  # stopped: the pipe or the log was closed under us

    def log_size(self) -> int:
        """Where the log ends now: ``output(since=...)`` later shows only what came after."""
        if self._kept is not None:
            return self._kept[0] + len(self._kept[1])
        return os.fstat(self._log).st_size

    def output(self, since: int = 0) -> str:
        """What the server wrote (stderr, and stdout after the URL line), from byte ``since`` on."""
        if self._kept is not None:
            start, kept = self._kept
            return kept[max(0, since - start):].decode("utf-8", "replace")
        if self.process.poll() is not None and self._copier is not None:
            self._copier.join(timeout=5)  # the last of stdout
        return self._read(since).decode("utf-8", "replace")

    def _read(self, since: int) -> bytes:
        return os.pread(self._log, max(0, os.fstat(self._log).st_size - since), since)

    def exit_status(self) -> int | None:
        return self.process.poll()

    def stop(self) -> None:
        """Close its stdin (it stops by itself) and SIGTERM it; SIGKILL after 10 s. Idempotent."""
        if self._kept is not None:
            return
        process = self.process
        if process.poll() is None:
            if process.stdin is not None:
                process.stdin.close()
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if self._copier is not None:
            self._copier.join(timeout=5)
        start = max(0, os.fstat(self._log).st_size - KEPT)
        self._kept = (start, self._read(start))
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        os.close(self._log)
        os.close(self._log_append)


def tail(text: str, limit: int = SHOWN) -> str:
    """The end of a log, whole lines where it can."""
    if len(text) <= limit:
        return text
    cut = text[-limit:]
    return "...\n" + cut.split("\n", 1)[-1]
