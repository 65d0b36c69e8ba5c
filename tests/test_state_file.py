"""--state-file: loaded at start, saved atomically before every change is acknowledged, survives SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from mock_omni.server.cli import main
from mock_omni.settings import Settings
from mock_omni.web.state_file import StateFile

from . import server
from .conftest import ALADDIN_BASIC, OTHER_KEY, SEED_KEY, make_app

SEED_PATH = f"/omni/1/scenarios/{SEED_KEY}"


def saved_names(path: Path) -> dict[str, str]:
    document = json.loads(path.read_text("utf-8"))
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
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left behind


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
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


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
