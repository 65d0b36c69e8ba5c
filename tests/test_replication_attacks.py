"""Attacks on replicas sharing one Redis log (issue 19's store): each test is a defect found by trying to make
replicas disagree, lose or double-apply a call, hang or answer what memory would not.

In-process replicas on the session's Redis (loopback); every loop is bounded.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import uvicorn
from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app
from mock_omni.replication.entries import VENDOR, Entry
from mock_omni.server.http_protocol import protocol_for

from .conftest import ALADDIN_BASIC, SEED_KEY
from .redis_server import RedisServer

SEED = f"/omni/1/scenarios/{SEED_KEY}"


def test_a_replica_joining_applies_the_admin_changes_already_in_the_log(
        replicas: Callable[..., TestClient]) -> None:
    # Joining applies the log from app.__init__, before the app's web app could be built: every admin entry
    # already in the log failed there ("applying entry N of the log failed": AttributeError '_web') and was
    # skipped, so the late replica kept the clock, faults, accounts... of the fixtures.
    one = replicas()
    assert one.post("/__admin/clock/advance", json={"seconds": 600}).status_code == 200
    assert one.post("/__admin/accounts", json={"username": "Late", "password": "lamp"}).status_code in (200, 201)
    late = replicas()
    assert late.get("/__admin/clock").json() == one.get("/__admin/clock").json() == {"offsetSeconds": 600.0}
    assert late.get("/__admin/accounts").json() == one.get("/__admin/accounts").json()
    assert late.get("/__admin/errors").json() == one.get("/__admin/errors").json()


def test_a_reset_of_one_account_named_in_an_encoded_query_does_not_cut_the_log(
        replicas: Callable[..., TestClient]) -> None:
    # `?acc%6Funt=Genie` is `account=Genie` to the route (one account reset) but the log took it for a whole reset
    # (it looked for the bytes `account=`) and dropped every earlier entry: a replica joining later had Aladdin's
    # scenario as in the fixtures.
    one = replicas()
    assert one.put(SEED, json={"name": "kept"}).status_code == 200
    assert one.post("/__admin/reset?acc%6Funt=Genie").json() == {"reset": "Genie"}
    assert one.get(SEED).json()["name"] == "kept"
    assert replicas().get(SEED).json()["name"] == "kept"


@contextmanager
def serving(app: MockOmni) -> Iterator[int]:
    """``app`` served by uvicorn with mock-omni's protocol on a loopback port, in a thread, without its lifespan
    (no follower: the replica learns of other replicas' entries only through its own appends)."""
    config = uvicorn.Config(app, http=protocol_for(app, direct=True, access=None), lifespan="off", ws="none",
                            log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def put_in_two_parts(port: int, name: str) -> bytes:
    """A PUT whose body comes 50 ms after its head; the status line answered (b"" if the connection was dropped)."""
    body = json.dumps({"name": name}).encode()
    head = (f"PUT {SEED} HTTP/1.1\r\nHost: [::1]\r\nAuthorization: {ALADDIN_BASIC}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        time.sleep(0.05)
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_a_body_in_parts_on_a_replica_behind_a_reset_another_answered_is_not_dropped(
        redis_server: RedisServer) -> None:
    # The fence's ticket was the replica's own position in the log: on a replica that had not yet applied a reset
    # another replica had already answered (idle, busy or paused: 4 of 10 tries with SIGSTOP on real processes), a
    # request started after that reset was taken for one that started before it, and dropped unanswered.
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    one, two = (create_app(Settings(store=redis_server.url, store_prefix=prefix)) for _ in range(2))
    try:
        with TestClient(one) as first, serving(two) as port:
            assert put_in_two_parts(port, "before") == b"HTTP/1.1 200 OK"
            assert first.post("/__admin/reset").status_code == 200
            assert put_in_two_parts(port, "after") == b"HTTP/1.1 200 OK"
            assert first.get(SEED, headers={"Authorization": ALADDIN_BASIC}).json()["name"] == "after"
    finally:
        one.close()
        two.close()


def test_a_replica_far_behind_a_long_log_catches_up_and_one_can_still_join(redis_server: RedisServer) -> None:
    # An append returned every entry from the replica's cursor in one reply. Behind a long log (a load test that
    # never resets: 400,000 calls, or 300 of 1 MiB, with the default 1 s timeout) building that reply took Redis
    # longer than the replica waits: no replica could join ("stopped answering while mock-omni started"), and one
    # that was behind answered every call 500 for ever, though each of them was appended (the 500 changed the
    # state). Here with a 0.2 s timeout and 150,000 small entries.
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    store = f"{redis_server.url}?socket_timeout=0.2"
    behind = create_app(Settings(store=store, store_prefix=prefix))
    apps = [behind]
    try:
        link = behind.replica.link  # type: ignore[union-attr]
        filler = Entry(VENDOR, "elsewhere", time.time(), time.time(), method="PUT", path=SEED,
                       headers=[(b"authorization", b"Basic bm86bm8=")], body=b"x" * 200,
                       extra={"ticket": None, "large": False}).encode()
        client = redis_server.client()
        for _ in range(30):
            client.rpush(link.keys[0], *[filler] * 5000)
        with TestClient(behind, headers={"Authorization": ALADDIN_BASIC}) as first:
            assert first.put(SEED, json={"name": "after the load"}).status_code == 200
            apps.append(create_app(Settings(store=store, store_prefix=prefix)))
            with TestClient(apps[-1], headers={"Authorization": ALADDIN_BASIC}) as joined:
                assert joined.get(SEED).json()["name"] == "after the load"
            journal = first.get("/__admin/requests", params={"method": "PUT"}).json()["requests"]
            assert [entry["status"] for entry in journal if b"after" in entry["body"].encode()] == [200]
    finally:
        for app in apps:
            app.close()
