"""The operational surface attacked (the CLI's flags and files): one test per defect found, through the real CLI.

Each bad input must be one line on stderr naming the flag, variable or file, exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def mock_omni(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_omni", *args], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})


def one_line(done: subprocess.CompletedProcess[str], expected: str) -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr == f"mock-omni: {expected}\n"
    assert done.returncode == 2


DEEP = 100_000


@pytest.mark.parametrize(("name", "text", "kind"), [
    ("arrays.json", "[" * DEEP + "]" * DEEP, "JSON"),
    ("objects.json", '{"accounts":' * DEEP + "[]" + "}" * DEEP, "JSON"),
    ("flow.yaml", "[" * DEEP + "]" * DEEP, "YAML"),
])
@pytest.mark.parametrize("flag", ["--fixtures", "--state-file"])
def test_a_deeply_nested_fixture_or_state_file_is_one_line_not_a_recursion_error(
        tmp_path: Path, name: str, text: str, kind: str, flag: str) -> None:
    """A file nested 100,000 deep ended start-up with a RecursionError traceback (json's and yaml's recursion)."""
    if flag == "--state-file" and kind == "YAML":
        name = name.replace(".yaml", ".json")  # a state file is read as JSON whatever its name
        kind = "JSON"
    path = tmp_path / name
    path.write_text(text)
    what = "state file is not valid JSON" if flag == "--state-file" else f"not valid {kind}"
    one_line(mock_omni("serve", "--port", "0", flag, str(path)), f"{path}: {what}: nested too deeply")


@pytest.mark.parametrize(("value", "shown"), [("nan", "nan"), ("inf", "inf"), ("1e400", "inf"), ("1e10", "1e+10")])
@pytest.mark.parametrize("command", [["verify"], ["import", "--out", "x.json"], ["record", "--out", "rec"]])
def test_an_upstream_timeout_that_is_not_a_number_of_seconds_is_one_line(
        tmp_path: Path, command: list[str], value: str, shown: str) -> None:
    """--timeout nan passed the check (nan <= 0 is false), inf and 1e10 overflowed the socket's: a traceback
    at the first connection (ValueError, OverflowError)."""
    args = [command[0], "--upstream", "http://127.0.0.1:1", "--timeout", value,
            *(arg if not arg.endswith(("json", "rec")) else str(tmp_path / arg) for arg in command[1:])]
    if command[0] != "record":
        args += ["--authorization", "App key"]
    one_line(mock_omni(*args), f"--timeout: must be more than 0 and at most 3600 seconds, got {shown}")
    assert list(tmp_path.iterdir()) == []


def test_record_refuses_a_bad_port_before_making_its_folder(tmp_path: Path) -> None:
    """record --port 99999 --out DIR made DIR, then refused the port."""
    out = tmp_path / "recording"
    one_line(mock_omni("record", "--upstream", "http://127.0.0.1:1", "--port", "99999", "--out", str(out)),
             "--port: must be an integer from 0 to 65535, got 99999")
    assert not out.exists()


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["record", "--upstream", "http://127.0.0.1:1",
                                                                 "--port", "0", "--out", "rec"]])
@pytest.mark.parametrize("host", ["", " ", "\udcff", "[::1]", "-"])
def test_a_host_that_is_not_an_address_or_name_is_one_line_never_every_interface(
        tmp_path: Path, command: list[str], host: str) -> None:
    """--host '' bound 0.0.0.0 (every interface: for record, a proxy to the vendor others could use), and a
    name that cannot be encoded (bytes of another encoding in the shell) ended in a TypeError traceback."""
    args = [str(tmp_path / arg) if arg == "rec" else arg for arg in command]
    done = subprocess.run([os.fsencode(sys.executable), b"-m", b"mock_omni", *map(os.fsencode, args), b"--host",
                           os.fsencode(host)], capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
    shown = repr(host)
    assert done.stderr.decode("utf-8", "backslashreplace") == (
        f"mock-omni: --host: expected an address to bind (127.0.0.1, ::1, 0.0.0.0 for every interface) or a host "
        f"name, got {shown}\n")
    assert done.returncode == 2 and done.stdout == b""
    assert list(tmp_path.iterdir()) == []


def test_an_empty_host_variable_is_unset_as_every_empty_variable_is() -> None:
    done = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--exit-on-stdin-close"],
                          input="", capture_output=True, text=True, timeout=60, env={**os.environ,
                                                                                   "MOCK_OMNI_HOST": ""})
    assert " serving on http://127.0.0.1:" in done.stdout, done.stdout + done.stderr


def test_record_on_a_full_disk_still_answers_the_app_and_says_which_files_it_could_not_write(tmp_path: Path) -> None:
    """drift.jsonl failing to take a difference (here: a link to /dev/full, which answers every write 'No space
    left on device') answered the app's call 502, though the upstream had carried it out; a file of DIR
    that could not be written at the end (or a DIR removed meanwhile) was 'cannot listen on 127.0.0.1:0', exit 1."""
    import httpx

    from mock_omni.testing.process import ServerProcess
    from tests.server import running
    from tests.test_upstream import BASIC
    from tests.upstream_stand_ins import DRIFT_FIELD, drifting_proxy

    out = tmp_path / "rec"
    out.mkdir()
    for name in ("drift.jsonl", "fixtures.json"):
        (out / name).symlink_to("/dev/full")
    with running() as upstream, drifting_proxy(upstream.url) as proxy:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", proxy.url,
                                  "--port", "0", "--out", str(out), "--exit-on-stdin-close"])
        try:
            with httpx.Client(base_url=recorder.url, headers={"Authorization": BASIC}) as via:
                created = via.post("/omni/1/scenarios", json={"name": "n", "flow": [{"channel": "SMS"}]})
                assert created.status_code == 201
                for _ in range(2):  # each drifts (a field the mock lacks); the second finds the log given up
                    got = via.get(f"/omni/1/scenarios/{created.json()['key']}")
                    assert got.status_code == 200 and got.json()[DRIFT_FIELD] is True
        finally:
            recorder.stop()
    log = recorder.output()
    assert "Traceback" not in log, log
    assert log.count(f"mock-omni: --out: {out / 'drift.jsonl'}: No space left on device; ") == 1, log
    assert log.endswith(f"mock-omni: --out: {out / 'fixtures.json'}: No space left on device\n"), log
    assert recorder.exit_status() == 2
    assert json.loads((out / "drift.json").read_text())["differences"]  # the other files are written
    assert len(json.loads((out / "exchanges.json").read_text())) == 3


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
@pytest.mark.parametrize("flag", ["--fixtures", "--state-file"])
def test_a_device_as_fixture_or_state_file_is_one_line_not_all_the_memory_there_is(flag: str, device: str) -> None:
    """/dev/zero never ends: reading it whole took 8 GB in 10 s (here the address space is capped at 3 GiB, so
    that the process fails instead of the machine), with no word said."""
    import resource

    def capped() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))

    done = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", flag, device],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL, preexec_fn=capped)
    what = "cannot read state file" if flag == "--state-file" else "cannot read"
    one_line(done, f"{device}: {what}: a character device, not a file")


def _exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        try:
            sock.sendall(body)
        except OSError:
            pass  # answered and closed before the rest was taken
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer


def test_record_bounds_a_chunked_body_as_it_bounds_a_content_length(tmp_path: Path) -> None:
    """The recording proxy took chunks without a bound: a chunk size of FFFFFFFFFF was a MemoryError traceback
    and a dropped connection, endless chunks grew it without end (300 MB sent, 384 MB resident). Past 16 MiB a
    body is now 413 and the connection closed, however it is framed."""
    from mock_omni.testing.process import ServerProcess

    recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", "http://127.0.0.1:1",
                              "--port", "0", "--out", str(tmp_path / "rec"), "--exit-on-stdin-close"])
    try:
        post = b"POST /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        chunked = post + b"Transfer-Encoding: chunked\r\n\r\n"
        mib = b"100000\r\n" + b"x" * (1 << 20) + b"\r\n"
        for head, body in [(chunked + b"FFFFFFFFFF\r\n", b"x" * 1000), (chunked, mib * 17 + b"0\r\n\r\n"),
                           (post + f"Content-Length: {17 << 20}\r\n\r\n".encode(), b"")]:
            answer = _exchange(recorder.port, head, body)
            assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
            assert b"request body over 16 MiB" in answer
        # A chunked body within the bound is read and forwarded (here to an upstream that is not there: 502).
        small = post + b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        assert _exchange(recorder.port, small, b"2\r\n{}\r\n0\r\n\r\n").startswith(b"HTTP/1.1 502 ")
        # A Content-Length of a superscript two (str.isdigit takes it, int() does not): 400, no traceback.
        odd = post + b"Content-Length: \xb2\r\nConnection: close\r\n\r\n"
        assert _exchange(recorder.port, odd, b"").startswith(b"HTTP/1.1 400 ")
    finally:
        recorder.stop()
    assert "Traceback" not in recorder.output(), recorder.output()


def test_record_reads_chunk_sizes_as_http_does_not_as_python_does(tmp_path: Path) -> None:
    """int(size, 16) took '0x2', '+2', '0_2' and an empty size line (the last chunk, the rest read as trailers);
    bytes past a chunk's declared size were dropped: bodies the vendor's front refuses were forwarded."""
    from mock_omni.testing.process import ServerProcess

    recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", "http://127.0.0.1:1",
                              "--port", "0", "--out", str(tmp_path / "rec"), "--exit-on-stdin-close"])
    try:
        head = (b"POST /omni/1/scenarios HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                b"Connection: close\r\n\r\n")
        for body in [b"0x2\r\n{}\r\n0\r\n\r\n", b"+2\r\n{}\r\n0\r\n\r\n", b"0_2\r\n{}\r\n0\r\n\r\n",
                     b" 2\r\n{}\r\n0\r\n\r\n", b"\r\n{}\r\n\r\n", b"2\r\n{}xx\r\n0\r\n\r\n",
                     b"0\r\n" + b"x: y\r\n" * 65 + b"\r\n"]:
            answer = _exchange(recorder.port, head, body)
            assert answer.startswith(b"HTTP/1.1 400 "), (body[:40], answer[:200])
        # What HTTP allows is read and forwarded (here to an upstream that is not there: 502).
        for body in [b"2\r\n{}\r\n0\r\n\r\n", b"2;ext=1\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n", b"2 ;a\n{}\n0\n\n"]:
            assert _exchange(recorder.port, head, body).startswith(b"HTTP/1.1 502 "), body
    finally:
        recorder.stop()
    assert "Traceback" not in recorder.output(), recorder.output()
