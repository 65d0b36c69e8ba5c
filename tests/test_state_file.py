"""--state-file: loaded at start, saved atomically before every change is acknowledged, survives SIGKILL."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from mock_omni.server.cli import main
from mock_omni.settings import Settings
from mock_omni.testing.process import ServerProcess
from mock_omni.web.state_file import StateFile, replace_whole

from . import server
from .conftest import ALADDIN_BASIC, OTHER_KEY, SEED_KEY, make_app

SEED_PATH = f"/omni/1/scenarios/{SEED_KEY}"


def saved_names(path: Path) -> dict[str, str]:
    return names_in(json.loads(path.read_text("utf-8")))


def left_in(folder: Path) -> list[str]:
    """The files in ``folder`` but the claim's lock file (``StateFile.claim``), which stays."""
    return sorted(path.name for path in folder.iterdir() if not path.name.endswith(".lock"))


def names_in(document: dict[str, Any]) -> dict[str, str]:
    return {s["key"]: s["name"] for a in document["accounts"] for s in a["scenarios"]}


def test_no_file_means_fixtures_and_reads_write_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.get(SEED_PATH).json()["name"] == "Test SMS or VIBER"
        assert client.get("/omni/1/scenarios").status_code == 200
    assert not state.exists()


def test_every_change_is_saved_and_loaded_by_the_next_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.put(SEED_PATH, json={"name": "renamed"}).status_code == 200
        assert saved_names(state)[SEED_KEY] == "renamed"
        created = client.post("/omni/1/scenarios", json={"name": "new", "flow": [{"channel": "SMS"}],
                                                         "default": True}).json()
        assert saved_names(state)[created["key"]] == "new"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.get(SEED_PATH).json() == {**client.get(SEED_PATH).json(), "name": "renamed", "default": False}
        assert client.get(f"/omni/1/scenarios/{created['key']}").json()["default"] is True
    assert left_in(tmp_path) == ["state.json"]  # no temporary file left behind


def test_a_new_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """It holds the accounts' passwords, API keys and tokens: 0600 whatever the umask (import --out, a fixture
    file to share, gets the umask's)."""
    state = tmp_path / "state.json"
    umask = os.umask(0o022)
    try:
        with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
            assert client.put(SEED_PATH, json={"name": "renamed"}).status_code == 200
    finally:
        os.umask(umask)
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_a_symlinked_state_file_is_saved_through_the_link_and_made_owner_only(tmp_path: Path) -> None:
    # A volume's file linked into place (/data/state.json -> /volume/state.json): a save replaces the file the
    # link names, as open() writes, and the link stays. A file seeded world-readable (cp) holds credentials
    # once saved: 0600, as every save made it before links were followed.
    volume = tmp_path / "volume"
    volume.mkdir()
    with server.running(["--state-file", str(volume / "state.json")]) as first:
        assert httpx.put(f"{first.url}{SEED_PATH}", json={"name": "first"},
                         headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    (volume / "state.json").chmod(0o644)
    link = tmp_path / "state.json"
    link.symlink_to(volume / "state.json")
    with server.running(["--state-file", str(link)]) as second:
        assert httpx.get(f"{second.url}{SEED_PATH}", headers={"Authorization": ALADDIN_BASIC}).json()["name"] == "first"
        assert httpx.put(f"{second.url}{SEED_PATH}", json={"name": "second"},
                         headers={"Authorization": ALADDIN_BASIC}).status_code == 200
        assert link.is_symlink() and saved_names(volume / "state.json")[SEED_KEY] == "second"
    assert (volume / "state.json").stat().st_mode & 0o777 == 0o600
    assert left_in(volume) == ["state.json"]


def test_refused_changes_write_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.put(SEED_PATH, json={"default": False}).status_code == 400
        assert client.put(SEED_PATH, content=b"{", headers={"Content-Type": "application/json"}).status_code == 400
    assert not state.exists()


def test_the_file_is_written_before_the_response_starts(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    app = make_app(state_file=str(state))
    body = json.dumps({"name": "before the ack"}).encode()
    seen_at_response_start: list[str] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen_at_response_start.append(saved_names(state)[SEED_KEY])

    scope = {"type": "http", "method": "PUT", "path": SEED_PATH, "query_string": b"", "headers": [
        (b"authorization", ALADDIN_BASIC.encode()), (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode())]}
    asyncio.run(app(scope, receive, send))
    assert seen_at_response_start == ["before the ack"]


def test_a_failed_write_keeps_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = StateFile(tmp_path / "state.json")
    state.write(b'{"accounts": []}')

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        state.write(b'{"accounts": [{"half')
    assert (tmp_path / "state.json").read_bytes() == b'{"accounts": []}'
    assert left_in(tmp_path) == ["state.json"]


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "state file is not valid JSON"),
    ("", "state file is not valid JSON"),
    ('{"accounts": [{"username": "x"}]}', "password"),
])
def test_a_bad_state_file_is_a_one_line_error_naming_it(
    tmp_path: Path, content: str, message: str, capsys: pytest.CaptureFixture[str],
) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    assert main(["serve", "--port", "0", "--state-file", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(state) in err and message in err and "Traceback" not in err


# --- a folder that cannot take the file, and saves that fail later ----------------------------------


@pytest.mark.parametrize("where", ["missing folder", "file as folder", "read-only file system"])
def test_a_folder_that_cannot_take_the_file_stops_start_up_in_one_line(where: str, tmp_path: Path) -> None:
    if where == "missing folder":
        state, reason = tmp_path / "nowhere" / "state.json", f"folder {tmp_path / 'nowhere'} does not exist"
    elif where == "file as folder":
        (tmp_path / "plain").write_text("")
        state, reason = tmp_path / "plain" / "state.json", f"{tmp_path / 'plain'} is not a folder"
    else:
        # Not even root can create a file in /proc: an unwritable folder whoever runs the tests.
        state, reason = Path("/proc/mock-omni-state.json"), "folder /proc is not writable"
    result = serve_and_stop(["--state-file", str(state)])
    assert result.returncode == 2
    assert result.stderr.startswith(f"mock-omni: {state}: cannot keep the state file there: {reason}")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stdout == ""  # it never started serving


def test_a_relative_state_file_is_named_by_its_absolute_path(tmp_path: Path) -> None:
    result = serve_and_stop(["--state-file", "gone/state.json"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"mock-omni: {tmp_path / 'gone' / 'state.json'}: ")


def serve_and_stop(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``mock-omni serve ARGS`` expected to stop at start-up (a server that starts instead times out)."""
    return subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--quiet", *args],
                          capture_output=True, text=True, timeout=20, cwd=cwd)


class FlakyDisk:
    """StateFile.write that fails with ENOSPC while ``full``; counts the attempts."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = True
        self.attempts = 0
        real_write = StateFile.write

        def write(state_file: StateFile, content: bytes) -> None:
            self.attempts += 1
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_write(state_file, content)

        monkeypatch.setattr(StateFile, "write", write)


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> FlakyDisk:
    return FlakyDisk(monkeypatch)


def test_a_failed_save_is_the_vendors_500_and_reads_go_on(
    tmp_path: Path, disk: FlakyDisk, caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        failed = client.put(SEED_PATH, json={"name": "on a full disk"})
        assert failed.status_code == 500
        assert failed.headers["content-type"] == "application/json"
        assert failed.json() == {"requestError": {"serviceException": {
            "messageId": "GENERAL_ERROR", "text": "Something went wrong. Please contact support."}}}
        assert disk.attempts == 1
        # Reads are answered as before and do not try the disk again; the change is in memory.
        for _ in range(3):
            read = client.get(SEED_PATH)
            assert read.status_code == 200 and read.json()["name"] == "on a full disk"
        assert client.get("/__admin/health").status_code == 200
        assert disk.attempts == 1
    assert not state.exists()
    assert any("could not save the state file" in r.getMessage() and "No space left on device" in r.getMessage()
               for r in caplog.records)
    assert not any(r.exc_info for r in caplog.records)


def test_a_failed_save_answers_in_the_negotiated_format(tmp_path: Path, disk: FlakyDisk) -> None:
    with TestClient(make_app(state_file=str(tmp_path / "state.json")),
                    headers={"Authorization": ALADDIN_BASIC}) as client:
        body = b"<scenario><name>xml on a full disk</name></scenario>"
        failed = client.put(SEED_PATH, content=body, headers={"Content-Type": "application/xml"})
        assert failed.status_code == 500 and failed.headers["content-type"] == "application/xml"
        assert int(failed.headers["content-length"]) == len(failed.content)
        root = ElementTree.fromstring(failed.content)
        assert root.tag == "ApiException" and root.findtext("requestError/serviceException/messageId") == \
            "GENERAL_ERROR"
        # The admin API's changes are saved (and fail) the same way.
        reset = client.post("/__admin/reset", headers={"Accept": "application/json"})
        assert reset.status_code == 500 and reset.json()["requestError"]["serviceException"]["messageId"] == \
            "GENERAL_ERROR"


def test_the_next_change_saves_everything_after_a_failure(tmp_path: Path, disk: FlakyDisk) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.put(SEED_PATH, json={"name": "lost for now"}).status_code == 500
        disk.full = False
        assert client.put(f"/omni/1/scenarios/{OTHER_KEY}", json={"name": "saved"}).status_code == 200
        assert saved_names(state)[SEED_KEY] == "lost for now"
        assert saved_names(state)[OTHER_KEY] == "saved"
    assert left_in(tmp_path) == ["state.json"]


def test_a_change_whose_save_failed_is_saved_at_shutdown(tmp_path: Path, disk: FlakyDisk) -> None:
    state = tmp_path / "state.json"
    with TestClient(make_app(state_file=str(state)), headers={"Authorization": ALADDIN_BASIC}) as client:
        assert client.put(SEED_PATH, json={"name": "kept until shutdown"}).status_code == 500
        disk.full = False
        assert not state.exists()
    assert saved_names(state)[SEED_KEY] == "kept until shutdown"


# A full disk for real: a 64 KiB tmpfs in a mount namespace of the server's own (the machine's mounts are not
# touched), filled up before the server starts; the test frees it through /proc/PID/root.
CAN_MOUNT = shutil.which("unshare") is not None and subprocess.run(
    ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"], capture_output=True).returncode == 0


@pytest.fixture
def server_on_a_full_disk(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str, Path, ServerProcess]]:
    mount = tmp_path / "disk"
    mount.mkdir()
    script = (f'mount -t tmpfs -o size=64k none "{mount}" && '
              f'(dd if=/dev/zero of="{mount}/filler" bs=4k 2>/dev/null; true) && '
              f'exec "{sys.executable}" -m mock_omni serve --port 0 --quiet --state-file "{mount}/state.json"')
    server = ServerProcess(["unshare", "-m", "sh", "-c", script])
    try:
        # The server's view of its mount, from outside its namespace.
        yield server.process, server.url, Path(f"/proc/{server.process.pid}/root") / mount.relative_to("/"), server
    finally:
        server.stop()


@pytest.mark.slow
@pytest.mark.skipif(not CAN_MOUNT, reason="needs `unshare -m` and tmpfs mounts (root); the fault-injected "
                                          "tests above cover the same code")
@pytest.mark.parametrize("saved_by", ["the next change", "SIGTERM"])
def test_a_really_full_disk(
    saved_by: str, server_on_a_full_disk: tuple[subprocess.Popen[bytes], str, Path, ServerProcess],
) -> None:
    process, url, disk, server = server_on_a_full_disk
    with httpx.Client(base_url=url, headers={"Authorization": ALADDIN_BASIC}, timeout=10) as client:
        failed = client.put(SEED_PATH, json={"name": "no room"})
        assert failed.status_code == 500
        assert failed.json()["requestError"]["serviceException"]["messageId"] == "GENERAL_ERROR"
        assert client.get(SEED_PATH).json()["name"] == "no room"
        assert left_in(disk) == ["filler"]  # no temporary file left behind
        (disk / "filler").unlink()
        if saved_by == "SIGTERM":
            # An open descriptor keeps the tmpfs readable after the process, and its namespace, are gone.
            folder = os.open(disk, os.O_RDONLY)
            try:
                process.send_signal(signal.SIGTERM)
                assert process.wait(timeout=10) == 0
                with os.fdopen(os.open("state.json", os.O_RDONLY, dir_fd=folder), "rb") as saved:
                    document = json.loads(saved.read())
            finally:
                os.close(folder)
            assert names_in(document)[SEED_KEY] == "no room"
            return
        assert client.put(f"/omni/1/scenarios/{OTHER_KEY}", json={"name": "room again"}).status_code == 200
        assert saved_names(disk / "state.json")[SEED_KEY] == "no room"
        assert saved_names(disk / "state.json")[OTHER_KEY] == "room again"
    text = server.output()
    assert "could not save the state file" in text and "No space left on device" in text
    assert "Traceback" not in text


def test_env_var() -> None:
    assert Settings.from_env({"MOCK_OMNI_STATE_FILE": "/tmp/x.json"}).state_file == "/tmp/x.json"
    assert Settings.from_env({}).state_file is None


# --- SIGKILL in the middle of a stream of changes, against a real server -------------------------------

WORKERS = 4
MAX_REQUESTS_PER_WORKER = 500
KILL_AFTER_ACKS = 60
DEADLINE_SECONDS = 60


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_change(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    args = ["--state-file", str(state), "--rate-limit", "off"]
    created: dict[str, str] = {}  # key -> name, acknowledged creates
    last_update: dict[int, int] = {}  # worker -> last acknowledged counter in its own scenario's name
    own: dict[int, str] = {}  # worker -> the scenario it keeps updating
    failures: list[str] = []  # threads cannot fail the test themselves
    lock = threading.Lock()
    acks = threading.Semaphore(0)
    stop = threading.Event()

    first = server.start(args)
    try:
        def work(worker: int) -> None:
            with httpx.Client(base_url=first.url, headers={"Authorization": ALADDIN_BASIC}, timeout=10) as client:
                target = client.post("/omni/1/scenarios", json={"name": f"w{worker}-update-0",
                                                                "flow": [{"channel": "SMS"}]})
                if target.status_code != 201:
                    failures.append(f"{target.status_code} {target.text}")
                    return
                with lock:
                    own[worker] = target.json()["key"]
                    last_update[worker] = 0
                for n in range(1, MAX_REQUESTS_PER_WORKER):
                    if stop.is_set():
                        return
                    try:
                        if n % 2:
                            name = f"w{worker}-created-{n}"
                            response = client.post("/omni/1/scenarios", json={"name": name,
                                                                              "flow": [{"channel": "SMS"}]})
                            if response.status_code == 201:
                                with lock:
                                    created[response.json()["key"]] = name
                        else:
                            response = client.put(f"/omni/1/scenarios/{own[worker]}",
                                                  json={"name": f"w{worker}-update-{n}"})
                            if response.status_code == 200:
                                with lock:
                                    last_update[worker] = n
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code not in (200, 201):
                        failures.append(f"{response.status_code} {response.text}")
                        return
                    acks.release()

        threads = [threading.Thread(target=work, args=(w,)) for w in range(WORKERS)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + DEADLINE_SECONDS
        for _ in range(KILL_AFTER_ACKS):
            assert acks.acquire(timeout=max(0.1, deadline - time.monotonic())), "the stream stalled"
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        server.stop(first)

    assert not failures
    assert created and len(last_update) == WORKERS
    document = json.loads(state.read_text("utf-8"))  # parses: never torn
    assert {a["username"] for a in document["accounts"]} == {"Aladdin", "Genie"}
    with server.running(args) as second:
        with httpx.Client(base_url=second.url, headers={"Authorization": ALADDIN_BASIC}, timeout=10) as client:
            scenarios = {s["key"]: s for s in client.get("/omni/1/scenarios?limit=100000").json()["scenarios"]}
    for key, name in created.items():
        assert scenarios[key]["name"] == name
    assert sum(s["default"] for s in scenarios.values()) == 1
    # Each worker's scenario holds its last acknowledged update, or the one in flight at the kill.
    for worker, n in last_update.items():
        counter = int(scenarios[own[worker]]["name"].removeprefix(f"w{worker}-update-"))
        assert counter in (n, n + 2)
    assert scenarios[SEED_KEY]["name"] == "Test SMS or VIBER" and OTHER_KEY in scenarios


def test_a_second_server_on_the_same_state_file_is_refused_until_the_first_is_gone(tmp_path: Path) -> None:
    """Two servers on one file each saved their whole state over the other's: every change of one was lost at
    the other's next save, and both went on answering 200."""
    state = tmp_path / "state.json"
    link = tmp_path / "same.json"
    link.symlink_to(state)
    first = server.start(["--state-file", str(state)])
    try:
        assert httpx.put(f"{first.url}{SEED_PATH}", json={"name": "first"},
                         headers={"Authorization": ALADDIN_BASIC}).status_code == 200
        for path in (state, link):
            refused = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--state-file",
                                      str(path)], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            assert refused.returncode == 2
            assert refused.stderr == (f"mock-omni: {path}: in use by another mock-omni (process "
                                      f"{first.process.pid}); give each server a state file of its own\n")
    finally:
        first.process.kill()  # SIGKILL: the kernel drops the claim with the process
        first.stop()
    with server.running(["--state-file", str(state)]) as second:
        assert httpx.get(f"{second.url}{SEED_PATH}", headers={"Authorization": ALADDIN_BASIC}).json()["name"] == "first"


def test_a_file_edited_by_hand_while_the_server_runs_is_said_to_be_saved_over(tmp_path: Path) -> None:
    """An edit of the file while the server ran was lost at its next save without a word."""
    state = tmp_path / "state.json"
    with server.running(["--state-file", str(state)]) as running, \
            httpx.Client(base_url=running.url, headers={"Authorization": ALADDIN_BASIC}) as client:
        for name in ("one", "two"):
            assert client.put(SEED_PATH, json={"name": name}).status_code == 200
        assert "changed by another program" not in running.output()  # its own saves are not someone else's
        edited = json.loads(state.read_text())
        edited["accounts"][0]["scenarios"][0]["name"] = "edited by hand"
        state.write_text(json.dumps(edited))
        for name in ("three", "four"):
            assert client.put(SEED_PATH, json={"name": name}).status_code == 200
        assert saved_names(state)[SEED_KEY] == "four"
        output = running.output()
    assert output.count(f"mock-omni: {state} was changed by another program since mock-omni read or saved it; "
                        "the server's state is saved over it") == 1, output


@pytest.mark.parametrize("code", [errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL])
def test_a_folder_whose_file_system_takes_no_locks_is_served_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, code: int) -> None:
    """NFS without its lock daemon (ENOLCK) and some FUSE or container mounts refuse every lock: the claim took
    that for another server holding the file ('in use by another mock-omni (process unknown)', exit 2), so a
    state file there, served before the claim existed, stopped start-up."""
    import fcntl

    def no_locks(fd: int, command: int, *args: Any) -> None:
        raise OSError(code, os.strerror(code))

    state = tmp_path / "state.json"
    state.write_text(json.dumps({"accounts": [{"username": "Aladdin", "password": "open sesame"}]}))
    monkeypatch.setattr(fcntl, "lockf", no_locks)
    with caplog.at_level("WARNING", logger="mock_omni"):
        accounts = StateFile(state).load(lambda: "k")
    assert accounts is not None and [account.username for account in accounts] == ["Aladdin"]
    assert f"{state}: cannot lock {tmp_path / '.state.json.lock'} ({os.strerror(code)})" in caplog.text


@pytest.mark.parametrize("code", [errno.EACCES, errno.EAGAIN])
def test_a_lock_held_elsewhere_is_still_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    import fcntl

    from mock_omni.web.state_file import StateFileError

    def held(fd: int, command: int, *args: Any) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(fcntl, "lockf", held)
    with pytest.raises(StateFileError, match="in use by another mock-omni"):
        StateFile(tmp_path / "state.json").load(lambda: "k")


def test_a_link_planted_by_another_user_in_a_sticky_folder_is_not_followed(tmp_path: Path) -> None:
    """/tmp/state.json -> ~/.bashrc, planted by another user before the first save: the kernel would not follow
    it for open() (fs.protected_symlinks), and the save must not either (it replaced the file the link named)."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)  # sticky and everyone's, as /tmp
    victim = tmp_path / "bashrc"
    victim.write_text("the victim's own\n")
    planted = shared / "state.json"
    planted.symlink_to(victim)
    os.lchown(planted, 4242, 4242)  # another user's link (the tests run as root, who may give it away)
    replace_whole(planted, b"{}\n")
    assert victim.read_text() == "the victim's own\n"
    assert not planted.is_symlink() and planted.read_bytes() == b"{}\n"
    # One's own link is followed, as open() would: the file it names is replaced, the link kept.
    own = shared / "own.json"
    own.symlink_to(victim)
    replace_whole(own, b"{}\n")
    assert own.is_symlink() and victim.read_bytes() == b"{}\n"


@pytest.mark.parametrize("put_there", ["fifo", "link to /dev/null"])
def test_a_fifo_or_device_put_in_the_state_files_place_is_not_written_into(put_there: str, tmp_path: Path) -> None:
    """A FIFO put where the state file was blocked the next save in the event loop until a reader came: the
    whole server hung (health, SIGTERM); a link to /dev/null took every save and kept none, all answered 200."""
    state = tmp_path / "state.json"
    with server.running(["--state-file", str(state)]) as running, \
            httpx.Client(base_url=running.url, headers={"Authorization": ALADDIN_BASIC}, timeout=30) as client:
        assert client.put(SEED_PATH, json={"name": "one"}).status_code == 200
        state.unlink()
        if put_there == "fifo":
            os.mkfifo(state)
        else:
            state.symlink_to("/dev/null")
        refused = client.put(SEED_PATH, json={"name": "two"})
        assert refused.status_code == 500 and refused.json()["requestError"]["serviceException"]["messageId"] == \
            "GENERAL_ERROR"
        assert client.get("/__admin/health").status_code == 200
        assert client.get(SEED_PATH).json()["name"] == "two"  # kept in memory, as on a full disk
        what = "a pipe" if put_there == "fifo" else "a character device"
        assert f"could not save the state file {state}: {state} is {what}, not a file" in running.output()
        state.unlink()  # the file put back (here: none): the next change saves everything
        assert client.put(SEED_PATH, json={"name": "three"}).status_code == 200
    assert saved_names(state)[SEED_KEY] == "three"


@pytest.mark.parametrize("planted", ["link to a file", "fifo"])
def test_what_is_planted_as_the_lock_file_is_refused_and_left_alone(planted: str, tmp_path: Path) -> None:
    """A symlink put at .NAME.lock (a shared folder) had the claim truncate the file it named and write a pid
    into it; a FIFO there was taken as a lock file."""
    state = tmp_path / "state.json"
    lock = tmp_path / ".state.json.lock"
    precious = tmp_path / "precious.txt"
    precious.write_text("precious data\n")
    if planted == "fifo":
        os.mkfifo(lock)
        reason = "not a regular file, not mock-omni's lock file"
    else:
        lock.symlink_to(precious)
        reason = "a symbolic link, not mock-omni's lock file"
    refused = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--state-file", str(state)],
                             capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (refused.returncode, refused.stderr) == (
        2, f"mock-omni: {state}: cannot keep the state file there: {lock}: {reason}\n")
    assert precious.read_text() == "precious data\n"


@pytest.mark.skipif(not CAN_MOUNT, reason="needs `unshare -m` and bind mounts (root)")
def test_a_state_file_mounted_by_itself_stops_start_up_in_one_line(tmp_path: Path) -> None:
    """docker-compose's `- ./state.json:/data/state.json` mounts the file alone: a rename cannot replace it
    (EBUSY). The server started, then answered every change 500 ('Device or resource busy')."""
    host, data = tmp_path / "host.json", tmp_path / "data"
    host.write_text('{"accounts": []}')
    data.mkdir()
    state = data / "state.json"
    state.touch()
    script = f'mount --bind "{host}" "{state}" && exec "{sys.executable}" -m mock_omni serve --port 0 ' \
             f'--state-file "{state}"'
    refused = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60,
                             stdin=subprocess.DEVNULL)
    assert (refused.returncode, refused.stderr) == (2, (
        f"mock-omni: {state}: cannot keep the state file there: it is mounted by itself (as `-v "
        f"./state.json:/data/state.json` does), and a save replaces it; mount its folder instead (`-v ./data:/data`)"
        "\n"))
    # A file in a mounted folder is fine.
    folder_script = f'mount --bind "{data}" "{data}" && exec "{sys.executable}" -m mock_omni serve --port 0 ' \
                    f'--state-file "{data}/other.json"'
    running = ServerProcess(["unshare", "-m", "sh", "-c", folder_script])
    try:
        assert httpx.put(f"{running.url}{SEED_PATH}", json={"name": "kept"},
                         headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    finally:
        running.stop()
    assert saved_names(data / "other.json")[SEED_KEY] == "kept"
