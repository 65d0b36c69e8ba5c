"""mock-omni import, verify and record against stand-ins on loopback (docs/upstream.md).

The upstream is a second mock-omni process; a drifting proxy in front of it changes a few answers on
purpose (plain and over TLS with a throwaway CA); Prism serves the vendor's own OpenAPI.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mock_omni.testing.process import ServerProcess
from mock_omni.upstream.client import Reply, Upstream, UpstreamUnusable, retry_after
from mock_omni.upstream.compare import compare
from mock_omni.upstream.importer import Progress
from mock_omni.upstream.record import _decoded
from tests.server import running
from tests.upstream_stand_ins import DRIFT_404_TEXT, DRIFT_FIELD, drifting_proxy, prism, throwaway_ca

KEY = "003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9"
APP = f"App {KEY}"
BASIC = "Basic " + base64.b64encode(b"Aladdin:open sesame").decode()
SECRETS = (KEY, BASIC.split()[1], "open sesame")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mock_omni", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def many_scenarios(path: Path, count: int) -> Path:
    scenarios = [{"key": f"{index:032X}", "name": f"scenario {index}",
                  "flow": [{"from": f"sender{index}", "channel": "SMS"}, {"from": "x", "channel": "VIBER"}],
                  "default": index == 77} for index in range(1, count + 1)]
    path.write_text(json.dumps({"accounts": [{"username": "big", "password": "big secret", "apiKeys": [KEY],
                                              "scenarios": scenarios}]}))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def journal(server: ServerProcess) -> list[dict[str, object]]:
    return httpx.get(f"{server.url}/__admin/requests").json()["requests"]  # type: ignore[no-any-return]


def test_import_round_trips_135_scenarios_into_a_fixture_serve_loads(tmp_path: Path) -> None:
    fixture = many_scenarios(tmp_path / "big.json", 135)
    out = tmp_path / "imported.json"
    with running(["--fixtures", str(fixture)]) as upstream:
        done = cli("import", "--upstream", upstream.url, "--out", str(out),
                   env={"MOCK_OMNI_UPSTREAM_AUTHORIZATION": APP})
        assert done.returncode == 0, done.stderr
        assert {entry["method"] for entry in journal(upstream)} == {"GET"}  # type: ignore[index]
        original = httpx.get(f"{upstream.url}/omni/1/scenarios", params={"limit": 1000},
                             headers={"Authorization": APP}).json()["scenarios"]
    text = out.read_text()
    assert not any(secret in text for secret in SECRETS)
    assert "135 scenarios" in done.stdout
    account = json.loads(text)["accounts"][0]
    assert account["apiKeys"][0] in done.stdout and account["password"] in done.stdout
    with running(["--fixtures", str(out)]) as mock:
        got = httpx.get(f"{mock.url}/omni/1/scenarios", params={"limit": 1000},
                        headers={"Authorization": f"App {account['apiKeys'][0]}"}).json()["scenarios"]
    assert got == original and len(got) == 135 and [item["key"] for item in got if item["default"]] == [f"{77:032X}"]


def test_verify_against_a_second_mock_finds_no_drift_and_changes_nothing(tmp_path: Path) -> None:
    with running() as upstream:
        before = httpx.get(f"{upstream.url}/__admin/state").json()
        done = cli("verify", "--upstream", upstream.url, "--authorization", BASIC, "--json")
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["drift"] is False and report["differences"] == [] and len(report["probes"]) >= 20
        seen = journal(upstream)
        assert {entry["method"] for entry in seen} == {"GET"}  # type: ignore[index]
        assert not any(str(entry["path"]).startswith("/__admin") for entry in seen)
        assert httpx.get(f"{upstream.url}/__admin/state").json() == before
        assert {"/omni/1/reports", "/omni/1/logs"} <= {entry["path"] for entry in seen}  # type: ignore[index]
        assert cli("verify", "--upstream", upstream.url, "--authorization", APP).stdout.startswith("no drift")


def test_verify_writes_only_on_its_own_scenario(tmp_path: Path) -> None:
    with running() as upstream:
        listed = httpx.get(f"{upstream.url}/omni/1/scenarios", headers={"Authorization": APP}).json()["scenarios"]
        for _ in range(2):  # the second run reuses the scenario the first created
            done = cli("verify", "--upstream", upstream.url, "--authorization", APP, "--writes", "--json")
            assert done.returncode == 0, done.stdout + done.stderr
        after = httpx.get(f"{upstream.url}/omni/1/scenarios", headers={"Authorization": APP}).json()["scenarios"]
        assert after[:len(listed)] == listed
        assert [item["name"] for item in after[len(listed):]] == ["mock-omni verify"]
        changed = {entry["path"] for entry in journal(upstream)
                   if entry["method"] == "PUT" and entry["status"] == 200}  # type: ignore[index]
        assert changed == {f"/omni/1/scenarios/{after[-1]['key']}"}


def test_verify_names_each_drift_of_a_drifting_upstream(tmp_path: Path) -> None:
    with running() as upstream, drifting_proxy(upstream.url) as proxy:
        done = cli("verify", "--upstream", proxy.url, "--authorization", APP, "--json")
        table = cli("verify", "--upstream", proxy.url, "--authorization", APP)
    assert done.returncode == 1, done.stderr
    found = {(item["probe"], item["what"], item["upstream"], item["mock"])
             for item in json.loads(done.stdout)["differences"]}
    assert ("get a scenario", f"field $.{DRIFT_FIELD}", "boolean", "absent") in found
    assert ("get an unknown key", "text", repr(DRIFT_404_TEXT), "'Scenario not found.'") in found
    assert ("list refused credential", "Content-Type", "text/plain", "application/json") in found
    assert table.returncode == 1
    assert any(line.startswith("get a scenario ") and f"$.{DRIFT_FIELD}" in line for line in table.stdout.splitlines())


def test_verify_over_tls_refuses_an_unknown_ca_then_accepts_it_given(tmp_path: Path) -> None:
    ca_file, context = throwaway_ca(tmp_path)
    with running() as upstream, drifting_proxy(upstream.url, tls=context, drift=False) as proxy:
        refused = cli("verify", "--upstream", proxy.url, "--authorization", APP, env={"SSL_CERT_FILE": ""})
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and "certificate not trusted" in refused.stderr, refused.stderr
        accepted = cli("verify", "--upstream", proxy.url, "--authorization", APP, "--upstream-ca", str(ca_file))
        assert accepted.returncode == 0, accepted.stdout + accepted.stderr
        by_env = cli("verify", "--upstream", proxy.url, "--authorization", APP, env={"SSL_CERT_FILE": str(ca_file)})
        assert by_env.returncode == 0, by_env.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["--upstream", "http://192.0.2.1", "--authorization", APP], "plain http to 192.0.2.1"),
    (["--upstream", "ftp://127.0.0.1", "--authorization", APP], "--upstream: must be an http:// or https:// URL"),
    (["--upstream", "http://127.0.0.1:1", "--authorization", APP], "unreachable"),
    (["--upstream", "https://Aladdin:sesame@127.0.0.1:1", "--authorization", APP], "must not hold credentials"),
    (["--upstream", "http://[::1", "--authorization", APP], "--upstream: not a URL"),
    (["--upstream", "http://127.0.0.1:abc", "--authorization", APP], "--upstream: not a URL"),
    (["--upstream", "http://127.0.0.1:99999", "--authorization", APP], "--upstream: not a URL"),
    (["--upstream", "http://127.0.0.1:1", "--authorization", "nonsense"], "--authorization: must be a header value"),
    (["--upstream", "http://127.0.0.1:1"], "--authorization (or MOCK_OMNI_UPSTREAM_AUTHORIZATION) is required"),
    (["--upstream", "http://127.0.0.1:1", "--authorization", APP, "--timeout", "0"], "--timeout: must be more than 0"),
    (["--upstream", "https://127.0.0.1:1", "--authorization", APP, "--upstream-ca", "/nonexistent/ca.pem"],
     "--upstream-ca: /nonexistent/ca.pem: file not found"),
])
def test_verify_that_cannot_run_says_why_in_one_line(args: list[str], message: str) -> None:
    done = cli("verify", *args)
    assert done.returncode == 2 and message in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_refused_credentials_are_exit_2_for_verify_and_import(tmp_path: Path) -> None:
    with running() as upstream:
        for command in (["verify"], ["import", "--out", str(tmp_path / "x.json")]):
            done = cli(*command, "--upstream", upstream.url, "--authorization", "App not-a-key")
            assert done.returncode == 2 and "credentials refused: 401" in done.stderr, done.stderr
        assert not (tmp_path / "x.json").exists()


def test_record_forwards_unchanged_journals_masked_learns_and_finds_drift(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with running() as upstream, drifting_proxy(upstream.url) as proxy:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", proxy.url,
                                  "--port", "0", "--out", str(out), "--exit-on-stdin-close"])
        try:
            headers = {"Authorization": BASIC}
            via = httpx.Client(base_url=recorder.url, headers=headers)
            direct = httpx.Client(base_url=proxy.url, headers=headers)
            listed = via.get("/omni/1/scenarios")
            assert listed.content == direct.get("/omni/1/scenarios").content
            created = via.post("/omni/1/scenarios", json={"name": "via record", "password": "hunter2",
                                                          "flow": [{"from": "A", "channel": "SMS"}]})
            assert created.status_code == 201
            got = via.get(f"/omni/1/scenarios/{created.json()['key']}")
            assert got.json()[DRIFT_FIELD] is True  # the upstream's answer, unchanged
            assert via.get("/omni/1/scenarios/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF").json()[
                "requestError"]["serviceException"]["text"] == DRIFT_404_TEXT
            refused = via.get("/omni/1/scenarios", headers={"Authorization": "App not-a-key"})
            assert refused.status_code == 401 and refused.headers["content-type"] == "text/plain"
            assert via.get("/__admin/state").status_code == 404
            rebound = via.get("/omni/1/scenarios", headers={"Host": "evil.example:8080"})
            assert rebound.status_code == 403 and "DNS rebinding" in rebound.text
            assert ("GET", "/__admin/state") not in proxy.seen
            via.close()
            direct.close()
        finally:
            recorder.stop()
    assert recorder.exit_status() == 0, recorder.output()
    written = {path.name: path.read_text() for path in out.iterdir()}
    assert set(written) == {"drift.jsonl", "drift.json", "fixtures.json", "exchanges.json"}
    assert not any(secret in text for text in written.values() for secret in (*SECRETS, "hunter2"))
    drift = json.loads(written["drift.json"])
    whats = {(item["probe"].split("?")[0], item["what"]) for item in drift["differences"]}
    assert (f"GET /omni/1/scenarios/{created.json()['key']}", f"field $.{DRIFT_FIELD}") in whats
    assert ("GET /omni/1/scenarios/FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "text") in whats
    assert ("GET /omni/1/scenarios", "Content-Type") in whats
    assert len(written["drift.jsonl"].splitlines()) == len(drift["differences"])
    exchanges = json.loads(written["exchanges.json"])
    assert [entry["method"] for entry in exchanges] == ["GET", "POST", "GET", "GET", "GET", "GET"]
    assert exchanges[4]["headers"]["authorization"] == "App ***" and exchanges[4]["status"] == 401
    assert exchanges[1]["headers"]["authorization"] == "Basic ***"
    assert '"password":"***"' in exchanges[1]["body"]
    fixtures = json.loads(written["fixtures.json"])
    account = fixtures["accounts"][0]
    assert "via record" in [item["name"] for item in account["scenarios"]]
    with running(["--fixtures", str(out / "fixtures.json")]) as mock:
        keys = [item["key"] for item in httpx.get(f"{mock.url}/omni/1/scenarios",
                                                  headers={"Authorization": f"App {account['apiKeys'][0]}"}
                                                  ).json()["scenarios"]]
    assert created.json()["key"] in keys and len(keys) == 4


def test_record_against_a_faithful_upstream_reports_no_drift(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    with running() as upstream:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", upstream.url,
                                  "--port", "0", "--out", str(out), "--exit-on-stdin-close"])
        try:
            with httpx.Client(base_url=recorder.url, headers={"Authorization": APP}) as via:
                seed = "/omni/1/scenarios/CD265875E3A6EA43478D5F37A635BE4A"
                assert via.put(seed, json={"name": "renamed"}).status_code == 200
                assert via.put(seed, json={"default": False}).status_code == 400
                assert via.get("/omni/1/scenarios", params={"isDefault": "true"}).status_code == 200
                sent = via.post("/omni/1/advanced", json={"destinations": [{"to": {"phoneNumber": "41793026727"}}],
                                                           "sms": {"text": "hi"}, "viber": {"text": "hi"}})
                assert sent.status_code == 200
                assert via.get("/omni/1/logs").status_code == 200
                assert via.get("/omni/1/scenarios", headers={"Authorization": "App nope",
                                                             "Accept": "application/xml"}).status_code == 401
        finally:
            recorder.stop()
    drift = json.loads((out / "drift.json").read_text())
    assert drift["differences"] == [] and drift["compared"] == 6, drift
    assert recorder.exit_status() == 0
    assert "recorded 6 calls (6 compared, 0 differences, 1 accounts)" in recorder.output()


def test_verify_against_prism_runs_to_the_end_and_reports_the_spec_examples_drift(tmp_path: Path) -> None:
    with prism(free_port()) as url:
        done = cli("verify", "--upstream", url, "--authorization", APP, "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    found = {(item["probe"], item["what"]) for item in report["differences"]}
    # Prism answers the spec's examples whatever the key or credential: the mock's 404 and 401 differ.
    assert ("get an unknown key", "status") in found and ("list refused credential", "status") in found
    # The spec's own 401 example says "Unauthorized"; the mock says the vendor page's "Invalid login details".
    assert ("list without credential", "text") in found
    assert len(report["probes"]) >= 20


def test_429_is_retried_after_retry_after(tmp_path: Path) -> None:
    waited: list[float] = []
    with running(["--rate-limit", "list=1/1h"]) as upstream:
        with Upstream(upstream.url, retries=2, sleep=waited.append) as client:
            first = client.call("GET", "/omni/1/scenarios", headers={"Authorization": APP})
            second = client.call("GET", "/omni/1/scenarios", headers={"Authorization": APP})
    assert first.status == 200 and second.status == 429 and waited == [1.0, 1.0]
    assert retry_after("7") == 7.0 and retry_after(None) == 1.0 and retry_after("soon") == 1.0
    assert retry_after("\u00b2") == 1.0  # str.isdigit takes it; float() refused it with a ValueError


def test_plain_http_is_for_loopback_unless_asked() -> None:
    for url in ("http://127.0.0.1:1", "http://localhost:1", "http://[::1]:1"):
        Upstream(url).close()
    with pytest.raises(UpstreamUnusable, match="plain http to api.infobip.com"):
        Upstream("http://api.infobip.com")
    Upstream("http://api.infobip.com", allow_http=True).close()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_import_progress_is_one_stderr_line() -> None:
    on_terminal, in_a_log = Terminal(), io.StringIO()
    for stream in (on_terminal, in_a_log):
        progress = Progress(stream)
        for page in range(1, 21):
            progress(page, page * 100)
        progress.done()
    assert on_terminal.getvalue().count("\n") == 1 and on_terminal.getvalue().count("\r") == 20
    assert on_terminal.getvalue().endswith("\rmock-omni: import: 20 pages, 2000 scenarios\n")
    assert in_a_log.getvalue().splitlines() == ["mock-omni: import: 10 pages, 1000 scenarios",
                                                "mock-omni: import: 20 pages, 2000 scenarios"]


def test_record_passes_a_429_through_unretried(tmp_path: Path) -> None:
    with running(["--rate-limit", "update=1/1h"]) as upstream:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", upstream.url,
                                  "--port", "0", "--out", str(tmp_path), "--exit-on-stdin-close"])
        try:
            with httpx.Client(base_url=recorder.url, headers={"Authorization": APP}) as via:
                seed = "/omni/1/scenarios/CD265875E3A6EA43478D5F37A635BE4A"
                assert [via.put(seed, json={"name": "x"}).status_code for _ in range(2)] == [200, 429]
        finally:
            recorder.stop()
        assert [entry["status"] for entry in journal(upstream) if entry["method"] == "PUT"] == [200, 429]
    drift = json.loads((tmp_path / "drift.json").read_text())["differences"]
    assert {"probe": f"PUT {seed}", "what": "status", "upstream": "429", "mock": "200"} in drift


def test_import_refuses_a_username_fixtures_could_not_hold(tmp_path: Path) -> None:
    done = cli("import", "--upstream", "http://127.0.0.1:1", "--authorization", APP, "--out", str(tmp_path / "x"),
               "--username", "a:b")
    assert done.returncode == 2 and done.stderr == "mock-omni: --username: must be a non-empty printable name " \
        "without ':', got 'a:b'\n"


def test_recorded_answers_are_compared_decoded() -> None:
    body = b'{"requestError":{"serviceException":{"messageId":"NOT_FOUND","text":"Scenario not found."}}}'
    packed = gzip.compress(body)
    reply = _decoded(Reply(404, (("content-type", "application/json"), ("content-encoding", "gzip")), packed))
    assert reply.content == body and reply.header("content-encoding") is None
    assert compare("p", reply, Reply(404, (("content-type", "application/json"),), body)) == []


def test_record_with_a_key_that_cannot_read_scenarios_still_compares_its_other_calls(tmp_path: Path) -> None:
    fixture = tmp_path / "scoped.json"
    fixture.write_text(json.dumps({"accounts": [{"username": "scoped", "password": "pw", "apiKeys": [
        KEY, {"key": "logs-only-key", "scopes": ["omni-failover:logs:read"]}]}]}))
    out = tmp_path / "rec"
    with running(["--fixtures", str(fixture)]) as upstream:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", upstream.url,
                                  "--port", "0", "--out", str(out), "--exit-on-stdin-close"])
        try:
            with httpx.Client(base_url=recorder.url, headers={"Authorization": "App logs-only-key"}) as via:
                assert via.get("/omni/1/logs").status_code == 200
                assert via.get("/omni/1/scenarios").status_code == 403
        finally:
            recorder.stop()
    drift = json.loads((out / "drift.json").read_text())
    assert drift["compared"] == 2
    # The mock's own key for that account has every scope: the upstream's 403 shows as drift, the logs do not.
    assert {(item["probe"], item["what"]) for item in drift["differences"]} >= {("GET /omni/1/scenarios", "status")}
    assert not [item for item in drift["differences"] if item["probe"].startswith("GET /omni/1/logs")]


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """``GET target`` sent as written (httpx would resolve dot segments first): the status and the body."""
    parts = httpx.URL(url)
    with socket.create_connection((parts.host, parts.port), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("target", ["/%5F%5Fadmin/state", "/%5f%5fadmin/requests", "/omni/../__admin/state",
                                    "/./__admin/state", "/__admin%2Fstate", "/%255F%255Fadmin/state",
                                    "/__ADMIN/state", "//__admin/state", "/omni/1/%2E%2E/%2E%2E/__admin/state"])
def test_record_forwards_the_admin_api_in_no_spelling(tmp_path: Path, target: str) -> None:
    with running() as upstream, drifting_proxy(upstream.url, drift=False) as proxy:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", proxy.url,
                                  "--port", "0", "--out", str(tmp_path / "rec"), "--exit-on-stdin-close"])
        try:
            status, body = raw_get(recorder.url, target)
        finally:
            recorder.stop()
        assert status == 404 and b"accounts" not in body, body[:200]
        assert proxy.seen == []
    assert recorder.exit_status() == 0, recorder.output()


def test_signals_while_a_recording_is_written_do_not_cut_it(tmp_path: Path) -> None:
    """``ServerProcess.stop`` closes stdin (the recording ends) and sends SIGTERM at once: a SIGTERM that came while
    DIR was being written was raised inside the writing (a traceback, exit 1, a file cut short; once in CI). Here
    SIGTERM comes again and again from the stop on, until the process is gone: it still writes all three whole."""
    out = tmp_path / "rec"
    with running() as upstream:
        recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", upstream.url,
                                  "--port", "0", "--out", str(out), "--exit-on-stdin-close"])
        try:
            with httpx.Client(base_url=recorder.url, headers={"Authorization": APP}, timeout=30) as http:
                for _ in range(300):  # journaled: exchanges.json takes a while to write
                    assert http.get("/omni/1/scenarios").status_code == 200
            process = recorder.process
            assert process.stdin is not None
            process.stdin.close()
            deadline = time.monotonic() + 30
            while process.poll() is None and time.monotonic() < deadline:
                process.send_signal(signal.SIGTERM)
                time.sleep(0.0005)
        finally:
            recorder.stop()
    assert recorder.exit_status() == 0, recorder.output()
    assert "Traceback" not in recorder.output()
    written = {name: json.loads((out / name).read_text()) for name in ("drift.json", "fixtures.json", "exchanges.json")}
    assert len(written["exchanges.json"]) == 300
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]  # no write left half done


def test_an_upstream_that_is_not_the_api_is_exit_2_not_drift(tmp_path: Path) -> None:
    """A web page where the API should be (a wrong base URL, a portal): verify could not run, so 2, not 1."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        page = b"<html>sign in</html>"

        def answer() -> None:
            while True:
                try:
                    connection, _ = listener.accept()
                except OSError:
                    return
                with connection:
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: "
                                       + str(len(page)).encode() + b"\r\nconnection: close\r\n\r\n" + page)

        threading.Thread(target=answer, daemon=True).start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        for args in (["verify"], ["import", "--out", str(tmp_path / "x.json")]):
            done = cli(*args, "--upstream", url, env={"MOCK_OMNI_UPSTREAM_AUTHORIZATION": APP})
            assert done.returncode == 2, (args, done.stderr)
            assert "not a scenario list (text/html): is --upstream the API's base URL?" in done.stderr
            assert len(done.stderr.strip().splitlines()) == 1 and KEY not in done.stderr + done.stdout
    assert not (tmp_path / "x.json").exists()


def test_record_writes_no_cookie_the_upstream_sets(tmp_path: Path) -> None:
    """An upstream's session cookie (Set-Cookie) goes back to the app unchanged, and is masked in exchanges.json
    as the request's Cookie is."""
    cookie = "IBSSO=s3cr3t-session-cookie-value"

    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            body = b'{"scenarios":[]}'
            self.send_response_only(200)
            self.send_header("content-type", "application/json")
            self.send_header("set-cookie", f"{cookie}; Path=/; HttpOnly")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    out = tmp_path / "rec"
    with one_off_upstream(Upstream) as upstream_url, recording(upstream_url, out) as recorder:
        got = httpx.get(f"{recorder.url}/omni/1/scenarios", headers={"Authorization": APP})
        assert got.headers["set-cookie"] == f"{cookie}; Path=/; HttpOnly"  # to the app: unchanged
    assert recorder.exit_status() == 0, recorder.output()
    written = {path.name: path.read_text() for path in out.iterdir()}
    assert not any("s3cr3t" in text for text in written.values()), written
    exchanges = json.loads(written["exchanges.json"])
    assert exchanges[-1]["response"]["headers"]["set-cookie"] == "IBSSO=***; Path=/; HttpOnly"


def test_record_forwards_no_header_the_connection_header_names(tmp_path: Path) -> None:
    """RFC 9110 7.6.1: a header named in Connection is for that hop only; a proxy removes it (and Host, and the
    hop-by-hop ones), the rest goes on as it came."""
    seen: list[dict[str, str]] = []

    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            seen.append({name.lower(): value for name, value in self.headers.items()})
            body = b'{"scenarios":[]}'
            self.send_response_only(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with one_off_upstream(Upstream) as upstream_url, recording(upstream_url, tmp_path / "rec") as recorder:
        assert httpx.get(f"{recorder.url}/omni/1/logs", headers={
            "Authorization": APP, "Connection": "keep-alive, X-Hop-Secret", "X-Hop-Secret": "for the proxy",
            "X-App": "kept"}).status_code == 200
    forwarded = seen[-1]  # the first is record's own read of the scenarios
    assert "x-hop-secret" not in forwarded and forwarded["x-app"] == "kept", forwarded
    assert forwarded["host"] == upstream_url.removeprefix("http://")


@contextmanager
def one_off_upstream(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """An upstream on loopback answering with ``handler``, for what the stand-ins do not do; its base URL."""
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    upstream.daemon_threads = True
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{upstream.server_address[1]}"
    finally:
        upstream.shutdown()
        upstream.server_close()


@contextmanager
def recording(upstream_url: str, out: Path) -> Iterator[ServerProcess]:
    """``mock-omni record`` in front of ``upstream_url``, writing to ``out``; stopped (and its files written) after."""
    recorder = ServerProcess([sys.executable, "-m", "mock_omni", "record", "--upstream", upstream_url, "--port", "0",
                              "--out", str(out), "--exit-on-stdin-close"])
    try:
        yield recorder
    finally:
        recorder.stop()
