"""The vendor's calls answered in the HTTP protocol (http_protocol.py) are byte for byte the ASGI app's.

Two real servers on the same fixtures, one as shipped and one with ``--asgi-only``, get the
same raw requests in the same order; what comes back must be identical once the ``date``
header and newly created keys are set aside. Then the cases the protocol leaves to uvicorn
(faults, CORS, Expect: 100-continue) and what it must keep doing (access log, shutdown).
"""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_KEY, SEED_PATH, SEED_XML
from mock_omni.app import create_app
from mock_omni.settings import Settings
from mock_omni.testing.admin_client import AdminClient
from mock_omni.testing.process import ServerProcess, serve_command
from mock_omni.vendor.api import VendorRequest
from tests import server
from tests.hardening import wire

JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": ALADDIN_BASIC}
XML_HEADERS = {"Content-Type": "application/xml", "Authorization": ALADDIN_BASIC}


def put(path: str, headers: dict[str, str], body: str | bytes, *, version: str = "1.1") -> bytes:
    data = body.encode() if isinstance(body, str) else body
    lines = [f"PUT {path} HTTP/{version}", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()),
             f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def get(path: str, headers: dict[str, str] | None = None, *, version: str = "1.1", method: str = "GET") -> bytes:
    lines = [f"{method} {path} HTTP/{version}", "Host: 127.0.0.1",
             *(f"{k}: {v}" for k, v in (headers or {"Authorization": ALADDIN_BASIC}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def chunked_put(path: str, headers: dict[str, str], *parts: bytes) -> bytes:
    lines = [f"PUT {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items()),
             "Transfer-Encoding: chunked"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + wire.chunked(*parts)


#: Sent after every case on the same connection: checks the connection was left usable, and closes it.
CLOSER = get("/omni/1/scenarios/NOPE", {"Authorization": ALADDIN_BASIC, "Connection": "close"})


CASES: dict[str, bytes] = {
    "seed PUT JSON": put(SEED_PATH, JSON_HEADERS, SEED_JSON),
    "seed PUT XML, no Accept": put(SEED_PATH, XML_HEADERS, SEED_XML),
    "seed PUT on the page's curl path": put(f"/sms/1/omni/1/scenarios/{SEED_KEY}", JSON_HEADERS, SEED_JSON),
    "percent-encoded key": put("/omni/1/scenarios/%43D265875E3A6EA43478D5F37A635BE4A", JSON_HEADERS, SEED_JSON),
    "list": get("/omni/1/scenarios"),
    "list, XML": get("/omni/1/scenarios", {"Authorization": ALADDIN_BASIC, "Accept": "application/xml"}),
    "list, query": get("/omni/1/scenarios?isDefault=true&limit=1&page=0"),
    "list, bad query": get("/omni/1/scenarios?limit=-1&isDefault=maybe"),
    "get one": get(SEED_PATH),
    "get unknown": get("/omni/1/scenarios/0123456789ABCDEF0123456789ABCDEF"),
    "create": put("/omni/1/scenarios", JSON_HEADERS, '{"name":"made","flow":[{"from":"a","channel":"SMS"}]}')
    .replace(b"PUT ", b"POST ", 1),
    "no credentials": put(SEED_PATH, {"Content-Type": "application/json"}, SEED_JSON),
    "wrong password": put(SEED_PATH, {**JSON_HEADERS, "Authorization": "Basic QWxhZGRpbjp3cm9uZw=="}, SEED_JSON),
    "two Authorization headers": put(SEED_PATH, JSON_HEADERS, SEED_JSON).replace(
        b"\r\n\r\n", b"\r\nAuthorization: " + ALADDIN_BASIC.encode() + b"\r\n\r\n", 1),
    "415": put(SEED_PATH, {**JSON_HEADERS, "Content-Type": "text/plain"}, SEED_JSON),
    "406": put(SEED_PATH, {**JSON_HEADERS, "Accept": "text/html"}, SEED_JSON),
    "400 bad JSON": put(SEED_PATH, JSON_HEADERS, '{"name": '),
    "400 bad XML": put(SEED_PATH, XML_HEADERS, "<scenario><name>x</scenario>"),
    "400 wrong type": put(SEED_PATH, JSON_HEADERS, '{"name": 5}'),
    "404 path": get("/omni/1/nothing"),
    "405 POST on a key": put(SEED_PATH, JSON_HEADERS, SEED_JSON).replace(b"PUT ", b"POST ", 1),
    "405 DELETE": get(SEED_PATH, method="DELETE"),
    "405 HEAD": get(SEED_PATH, method="HEAD"),
    "HTTP/1.0": get(SEED_PATH, version="1.0"),
    "HTTP/1.0 keep-alive": get(SEED_PATH, {"Authorization": ALADDIN_BASIC, "Connection": "keep-alive"},
                               version="1.0"),
    "Connection: close": get(SEED_PATH, {"Authorization": ALADDIN_BASIC, "Connection": "close"}),
    "chunked body": chunked_put(SEED_PATH, JSON_HEADERS, SEED_JSON[:20].encode(), SEED_JSON[20:].encode()),
    "chunked body over the limit": chunked_put(SEED_PATH, JSON_HEADERS, b" " * 700_000, b" " * 700_000),
    "declared body over the limit": put(SEED_PATH, JSON_HEADERS, SEED_JSON).replace(
        b"Content-Length: %d" % len(SEED_JSON), b"Content-Length: 2000000", 1),
    "pipelined three": put(SEED_PATH, JSON_HEADERS, SEED_JSON) + get(SEED_PATH) + get("/omni/1/scenarios"),
    "Expect: 100-continue": put(SEED_PATH, {**JSON_HEADERS, "Expect": "100-continue"}, SEED_JSON),
    "pipelined behind a request the ASGI app answers": get("/nothing-here") + put(SEED_PATH, JSON_HEADERS, SEED_JSON)
    + get(SEED_PATH),
}

_DATE = re.compile(rb"\r\ndate: [^\r]*")
_KEY = re.compile(rb"[0-9A-F]{32}")


def normalized(raw: bytes) -> bytes:
    """The response bytes without what differs by nature: the time, and keys made for new scenarios."""
    known = {SEED_KEY.encode(), b"0123456789ABCDEF0123456789ABCDEF"}
    raw = _DATE.sub(b"\r\ndate: *", raw)
    return _KEY.sub(lambda m: m.group(0) if m.group(0) in known else b"<new key>", raw)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[server.Server, server.Server]]:
    with server.running(["--rate-limit", "off"]) as direct, \
            server.running(["--rate-limit", "off", "--asgi-only"]) as asgi:
        yield direct, asgi


def exchange_case(port: int, data: bytes) -> bytes:
    # "declared over the limit" is answered before its body; the closer then follows on the same connection.
    return wire.exchange(port, data + CLOSER)


@pytest.mark.parametrize("case", list(CASES))
def test_answers_in_the_protocol_are_the_asgi_apps_byte_for_byte(
    servers: tuple[server.Server, server.Server], case: str,
) -> None:
    direct, asgi = servers
    from_direct = normalized(exchange_case(direct.port, CASES[case]))
    from_asgi = normalized(exchange_case(asgi.port, CASES[case]))
    assert from_direct.startswith(b"HTTP/1.")
    assert from_direct == from_asgi


def test_the_journal_is_the_same_either_way(servers: tuple[server.Server, server.Server]) -> None:
    journals = []
    for srv in servers:
        with AdminClient(srv.url) as admin:
            admin.reset()
            for data in (CASES["seed PUT JSON"], CASES["400 bad JSON"], CASES["no credentials"]):
                wire.exchange(srv.port, data + CLOSER)
            journals.append([(e["method"], e["path"], e["status"], e["account"], e["body"], e["headers"])
                             for e in admin.requests()])
    assert journals[0] == journals[1]
    assert [entry[2] for entry in journals[0]] == [200, 404, 400, 404, 401, 404]  # each case, then the closer


@pytest.mark.parametrize("closing", [
    get(SEED_PATH, {"Authorization": ALADDIN_BASIC, "Connection": "close"}),
    get(SEED_PATH, version="1.0"),
])
def test_nothing_pipelined_after_a_closing_request_is_carried_out(
    servers: tuple[server.Server, server.Server], closing: bytes,
) -> None:
    create = CASES["create"]
    outcomes = []
    for srv in servers:
        with AdminClient(srv.url) as admin:
            admin.reset()
            answers = wire.responses(wire.exchange(srv.port, closing + create))
            outcomes.append(([status for status, _, _ in answers], [e["method"] for e in admin.requests()]))
    assert outcomes[0] == outcomes[1] == ([200], ["GET"])  # the POST behind it was never run


def test_a_chunked_body_over_the_limit_is_answered_413_before_it_ends(
    servers: tuple[server.Server, server.Server],
) -> None:
    unfinished = chunked_put(SEED_PATH, JSON_HEADERS, b" " * 1_100_000)[: -len(b"0\r\n\r\n")]
    answers = []
    for srv in servers:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            conn.sendall(unfinished)
            status, headers, body = wire.read_one(conn)
            del headers["date"]
            answers.append((status, headers, body))
            # The connection stays usable once the body ends: the rest was read and dropped.
            conn.sendall(b"0\r\n\r\n" + CLOSER)
            assert wire.read_one(conn)[0] == 404
    assert answers[0] == answers[1]
    assert answers[0][0] == 413


def test_an_armed_fault_still_applies(servers: tuple[server.Server, server.Server]) -> None:
    direct, _ = servers
    with AdminClient(direct.url) as admin:
        admin.reset()
        admin.fault(503, method="PUT")
        first = wire.responses(wire.exchange(direct.port, CASES["seed PUT JSON"] + CLOSER))
        assert [status for status, _, _ in first] == [503, 404]
        second = wire.responses(wire.exchange(direct.port, CASES["seed PUT JSON"] + CLOSER))
        assert [status for status, _, _ in second] == [200, 404]
        admin.clear_faults()


def test_a_cors_origin_still_gets_its_headers(servers: tuple[server.Server, server.Server]) -> None:
    direct, _ = servers
    data = put(SEED_PATH, {**JSON_HEADERS, "Origin": "http://localhost:3000"}, SEED_JSON)
    (status, headers, _), _ = wire.responses(wire.exchange(direct.port, data + CLOSER))
    assert status == 200
    assert headers["access-control-allow-origin"] == "http://localhost:3000"
    assert headers["vary"] == "Origin"


def test_the_access_log_line_is_the_same_either_way() -> None:
    lines = []
    for extra in ([], ["--asgi-only"]):
        # Not tests/server.py: that one starts servers with --quiet.
        process = ServerProcess(serve_command(extra))
        try:
            wire.exchange(process.port, CASES["seed PUT JSON"] + CLOSER)
        finally:
            process.stop()
        logged = [line for line in process.output().splitlines() if '"PUT ' in line or '"GET ' in line]
        lines.append([re.sub(r"127\.0\.0\.1:\d+ ", "127.0.0.1:<port> ", line) for line in logged])
    assert lines[0] == lines[1]
    assert len(lines[0]) == 2
    assert lines[0][0].endswith(f'- "PUT {SEED_PATH} HTTP/1.1" 200 OK')


def test_a_request_in_progress_at_sigterm_is_answered_then_closed() -> None:
    srv = server.start()
    try:
        data = put(SEED_PATH, JSON_HEADERS, SEED_JSON)
        head, rest = data[: len(data) - 10], data[len(data) - 10:]
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            conn.sendall(head)
            time.sleep(0.3)  # the server has the headers and part of the body
            srv.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            conn.sendall(rest)
            status, headers, payload = wire.read_one(conn)
            assert conn.recv(1) == b""  # closed after the answer
        assert status == 200 and headers["connection"] == "close"
        assert b'"key":"%s"' % SEED_KEY.encode() in payload
        assert srv.process.wait(timeout=10) == 0
    finally:
        server.stop(srv)


def test_only_requests_the_asgi_stack_would_not_change_are_answered_directly(tmp_path: Path) -> None:
    def request(*headers: tuple[bytes, bytes]) -> VendorRequest:
        return VendorRequest.read("PUT", SEED_PATH, b"", list(headers))

    origin = (b"origin", b"http://localhost:3000")
    mock = create_app(Settings())
    assert mock.answers_directly(request())
    assert not mock.answers_directly(request(origin))  # CORS adds its headers
    assert create_app(Settings(cors_origins=["off"])).answers_directly(request(origin))
    mock.faults.add({"path": "/elsewhere", "status": 500})
    assert not mock.answers_directly(request())  # a rule's delay must be awaited
    mock.faults.clear()
    assert mock.answers_directly(request())
    mock.faults.add({"status": 503, "times": 1})
    assert not mock.answers_directly(request())
    assert mock.faults.take("PUT", SEED_PATH, "Aladdin") is not None
    assert mock.answers_directly(request())  # used up: nothing can apply any more
    assert not create_app(Settings(state_file=str(tmp_path / "state.json"))).answers_directly(request())


def test_without_httptools_every_call_goes_through_the_asgi_app() -> None:
    code = ("import sys; sys.modules['httptools'] = None; from mock_omni.server.cli import main; "
            "raise SystemExit(main(['serve', '--port', '0', '--quiet']))")
    process = ServerProcess([sys.executable, "-c", code])
    try:
        answers = wire.responses(wire.exchange(process.port, CASES["seed PUT JSON"] + CLOSER))
    finally:
        process.stop()
    assert [status for status, _, _ in answers] == [200, 404], process.output()[-2000:]
