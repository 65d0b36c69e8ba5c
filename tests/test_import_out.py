"""``mock-omni import --out FILE``: the file is written whole or not at all, and as ``open()`` would write it.

A full disk (here a file-size limit, ``RLIMIT_FSIZE``: the same ``write()`` failing part-way) leaves the
fixture file that was there as it was; a symlink is written through (the link kept), the file's permission
bits kept; ``/dev/stdout`` and a FIFO are written into. A real import from a second mock-omni process,
through the CLI.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import Server, running
from tests.test_upstream import APP, many_scenarios

#: The old file, which an import that cannot finish must leave as it was.
PRECIOUS = '{"accounts": []}\n'
#: Smaller than the document of 135 scenarios (about 30 KB), bigger than nothing.
FILE_SIZE_LIMIT = 4096


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    fixture = many_scenarios(tmp_path_factory.mktemp("upstream") / "big.json", 135)
    with running(["--fixtures", str(fixture)]) as server:
        yield server


def import_to(upstream: Server, out: str, *, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limited() -> None:
        # A write past the limit fails with EFBIG (Python ignores SIGXFSZ): a full disk's ENOSPC takes that path.
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "mock_omni", "import", "--upstream", upstream.url, "--out", out],
                          capture_output=True, text=True, timeout=300, preexec_fn=limited,
                          env={**os.environ, "MOCK_OMNI_UPSTREAM_AUTHORIZATION": APP})


def scenarios_in(text: str) -> int:
    return len(json.loads(text)["accounts"][0]["scenarios"])


def test_an_import_that_cannot_finish_writing_leaves_the_old_file_whole(upstream: Server, tmp_path: Path) -> None:
    out = tmp_path / "mine.json"
    out.write_text(PRECIOUS)
    done = import_to(upstream, str(out), limit=FILE_SIZE_LIMIT)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"mock-omni: --out: {out}: File too large\n"
    assert out.read_text() == PRECIOUS
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine.json"]  # nothing left beside it


def test_a_symlink_is_written_through_and_the_files_mode_kept(upstream: Server, tmp_path: Path) -> None:
    real = tmp_path / "shared" / "team.json"
    real.parent.mkdir()
    real.write_text(PRECIOUS)
    real.chmod(0o640)
    link = tmp_path / "fixtures.json"
    link.symlink_to(Path("shared") / "team.json")
    done = import_to(upstream, str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and os.readlink(link) == str(Path("shared") / "team.json")
    assert scenarios_in(real.read_text()) == 135
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(path.name for path in real.parent.iterdir()) == ["team.json"]


def test_a_new_file_gets_the_umasks_mode_as_open_would_give(upstream: Server, tmp_path: Path) -> None:
    out = tmp_path / "new.json"
    done = import_to(upstream, str(out))
    assert done.returncode == 0, done.stderr
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_dev_stdout_and_a_fifo_are_written_into(upstream: Server, tmp_path: Path) -> None:
    done = import_to(upstream, "/dev/stdout")
    assert done.returncode == 0, done.stderr
    document, end = json.JSONDecoder().raw_decode(done.stdout)
    assert len(document["accounts"][0]["scenarios"]) == 135
    assert "wrote 135 scenarios to /dev/stdout" in done.stdout[end:]

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    read: list[bytes] = []
    reader = threading.Thread(target=lambda: read.append(fifo.read_bytes()), daemon=True)
    reader.start()
    done = import_to(upstream, str(fifo))
    reader.join(60)
    assert done.returncode == 0, done.stderr
    assert scenarios_in(read[0].decode()) == 135
    assert stat.S_ISFIFO(fifo.stat().st_mode)


@pytest.mark.parametrize("where", ["folder", "missing-folder"])
def test_an_out_that_cannot_be_written_is_refused_before_the_upstream_is_read(
        upstream: Server, tmp_path: Path, where: str) -> None:
    out = tmp_path if where == "folder" else tmp_path / "no" / "x.json"
    before = len(upstream_journal(upstream))
    done = import_to(upstream, str(out))
    assert done.returncode == 2
    expected = "is a folder; give the fixture file to write" if where == "folder" else \
        f"folder {tmp_path / 'no'} does not exist"
    assert done.stderr == f"mock-omni: --out: {out}: {expected}\n"
    assert len(upstream_journal(upstream)) == before


def upstream_journal(server: Server) -> list[object]:
    return httpx.get(f"{server.url}/__admin/requests").json()["requests"]  # type: ignore[no-any-return]


def test_dev_stdout_redirected_to_a_file_is_written_into_not_renamed_over(upstream: Server, tmp_path: Path) -> None:
    """``--out /dev/stdout >> log`` (a CI step's output, a script's): /dev/stdout names the process's descriptor,
    which the shell opened on ``log``. Replaced by a rename like a named file, ``log`` lost what was written to it
    before, and what the process wrote after (its 'wrote N scenarios' line) went to the file renamed away."""
    log = tmp_path / "log.txt"
    log.write_text("earlier lines\n")
    with open(log, "ab") as stdout:
        done = subprocess.run([sys.executable, "-m", "mock_omni", "import", "--upstream", upstream.url,
                               "--out", "/dev/stdout"], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=300,
                              env={**os.environ, "MOCK_OMNI_UPSTREAM_AUTHORIZATION": APP})
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert text.startswith("earlier lines\n"), text[:200]
    document, end = json.JSONDecoder().raw_decode(text, len("earlier lines\n"))
    assert len(document["accounts"][0]["scenarios"]) == 135
    assert "wrote 135 scenarios to /dev/stdout" in text[end:]
    assert [path.name for path in tmp_path.iterdir()] == ["log.txt"]
