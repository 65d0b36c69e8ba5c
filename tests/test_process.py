"""Server processes (mock_omni/testing/process.py, used by the pytest plugin and tests/server.py): no pipe left
unread however much the server logs, failures show the log, and a server never outlives its parent."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time

import httpx
import pytest

from mock_omni.testing.process import ServerProcess

from . import server

pytestmark = pytest.mark.slow

MALFORMED = 2000  # each is one uvicorn warning on stderr: ~80 KiB, more than a pipe holds


def test_a_server_that_logs_a_lot_keeps_answering() -> None:
    srv = ServerProcess.serve(["--quiet"])
    try:
        for _ in range(MALFORMED):
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
                conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                while conn.recv(4096):
                    pass
        response = httpx.get(f"{srv.url}/__admin/health", timeout=10, trust_env=False)
        assert response.status_code == 200
        assert srv.output().count("Invalid HTTP request received.") == MALFORMED
    finally:
        srv.stop()


def test_the_access_log_on_stdout_is_read_too() -> None:
    srv = ServerProcess.serve()  # access log on: every request is a line on stdout
    try:
        with httpx.Client(base_url=srv.url, timeout=10, trust_env=False) as client:
            for _ in range(MALFORMED):
                assert client.get("/__admin/health").status_code == 200
        deadline = time.monotonic() + 10
        while srv.output().count('"GET /__admin/health HTTP/1.1" 200') < MALFORMED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert srv.output().count('"GET /__admin/health HTTP/1.1" 200') == MALFORMED
    finally:
        srv.stop()
    assert srv.exit_status() == 0


def test_a_server_that_cannot_start_says_why() -> None:
    with pytest.raises(RuntimeError) as caught:
        ServerProcess.serve(["--fixtures", "/nonexistent/team.json"])
    assert str(caught.value) == "mock-omni server did not start: mock-omni: /nonexistent/team.json: file not found"


def test_output_since_and_after_stop() -> None:
    srv = ServerProcess.serve(["--quiet"])
    start = srv.log_size()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
        conn.sendall(b"BAD\r\n\r\n")
        conn.recv(4096)
    srv.stop()
    assert srv.output(start).strip().endswith("Invalid HTTP request received.")
    assert srv.output(srv.log_size()) == ""
    srv.stop()  # idempotent


PARENT = textwrap.dedent("""
    import sys, time
    from mock_omni.testing.process import ServerProcess
    srv = ServerProcess.serve(["--quiet"])
    print(srv.port, flush=True)
    time.sleep(600)
""")


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_the_server_ends_when_its_parent_dies(how: signal.Signals) -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        port = int(parent.stdout.readline())
        assert not server.refuses_connections(port)
        parent.send_signal(how)
        parent.wait(timeout=10)
        assert server.wait_until_refused(port), "the server outlived its parent"
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
