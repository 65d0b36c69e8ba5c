"""The vendor's calls answered in the HTTP protocol (http_protocol.py) are byte for byte the ASGI app's.

Two real servers on the same fixtures, one as shipped and one with ``--asgi-only``, get the
same raw requests in the same order; what comes back must be identical once the ``date``
header, newly created keys and message IDs are set aside. Then the cases the protocol leaves to uvicorn
(faults, CORS, Expect: 100-continue) and what it must keep doing (access log, shutdown).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_KEY, SEED_PATH, SEED_XML
from mock_omni.api.answers import Answer
from mock_omni.api.dispatcher import VendorRequest
from mock_omni.app import MockOmni, create_app
from mock_omni.server.http_protocol import UVICORN_RANGE, check, protocol_for
from mock_omni.settings import Settings
from mock_omni.testing.admin_client import AdminClient
from mock_omni.testing.process import ServerProcess, serve_command
from tests import server
from tests.hardening import wire
from tests.test_batched_transport import connection

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


def post(path: str, headers: dict[str, str], body: str) -> bytes:
    return put(path, headers, body).replace(b"PUT ", b"POST ", 1)


SEND_ONE = json.dumps({"scenarioKey": SEED_KEY, "sms": {"text": "Hi"}, "viber": {"text": "Hi"},
                       "destinations": [{"to": {"phoneNumber": "41793026727"}}]})
SEND_TWO = json.dumps({"scenarioKey": SEED_KEY, "sms": {"text": "Hi"}, "viber": {"text": "Hi"},
                       "destinations": [{"to": {"phoneNumber": "41793026727"}},
                                        {"to": {"phoneNumber": "41793026731"}}]})
SEND_BULK = json.dumps({"scenarioKey": SEED_KEY, "sms": {"text": "Hi"}, "viber": {"text": "Hi"},
                        "destinations": [{"to": {"phoneNumber": f"4179{index:07d}"}} for index in range(1000)]})

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
    "send, one destination": post("/omni/1/advanced", JSON_HEADERS, SEND_ONE),
    "send, two destinations, XML answer": post("/omni/1/advanced", {**JSON_HEADERS, "Accept": "application/xml"},
                                               SEND_TWO),
    "send, 400": post("/omni/1/advanced", JSON_HEADERS, '{"destinations": []}'),
    "405 with Allow": put("/omni/1/advanced", JSON_HEADERS, SEND_ONE),
    # Bodies of BIG_BODY and more are answered over several turns of the loop (server/work_share.py).
    "send, 1,000 destinations": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK),
    "send, 1,000 destinations, XML answer": post("/omni/1/advanced", {**JSON_HEADERS, "Accept": "application/xml"},
                                                 SEND_BULK),
    "send, 1,000 destinations, then pipelined calls": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK)
    + get(SEED_PATH) + post("/omni/1/advanced", JSON_HEADERS, SEND_ONE),
    "send, 1,000 destinations, Connection: close": post("/omni/1/advanced", {**JSON_HEADERS, "Connection": "close"},
                                                        SEND_BULK),
    "send, 1,000 destinations, 400": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK.replace('"Hi"', "5", 1)),
    "send, 1,000 destinations, 415": post("/omni/1/advanced", {**JSON_HEADERS, "Content-Type": "text/plain"},
                                          SEND_BULK),
    "send, 1,000 destinations, wrong password": post(
        "/omni/1/advanced", {**JSON_HEADERS, "Authorization": "Basic QWxhZGRpbjp3cm9uZw=="}, SEND_BULK),
    "seed PUT with a big body": put(SEED_PATH, JSON_HEADERS, SEED_JSON + " " * 10_000),
}

_DATE = re.compile(rb"\r\ndate: [^\r]*")
_KEY = re.compile(rb"[0-9A-F]{32}")
_UUID = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def normalized(raw: bytes) -> bytes:
    """The response bytes without what differs by nature: the time, and keys made for new scenarios."""
    known = {SEED_KEY.encode(), b"0123456789ABCDEF0123456789ABCDEF"}
    raw = _UUID.sub(b"<new id>", _DATE.sub(b"\r\ndate: *", raw))
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
    outcomes = pipelined_outcomes(servers, closing + CASES["create"])
    assert outcomes[0] == outcomes[1] == ([200], ["GET"])  # the POST behind it was never run


def pipelined_outcomes(servers: tuple[server.Server, ...], data: bytes) -> list[tuple[list[int], list[str]]]:
    """Each server's statuses for ``data`` sent on one connection after a reset, and the methods it journaled."""
    outcomes = []
    for srv in servers:
        with AdminClient(srv.url) as admin:
            admin.reset()
            answers = wire.responses(wire.exchange(srv.port, data))
            outcomes.append(([status for status, _, _ in answers], [e["method"] for e in admin.requests()]))
    return outcomes


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


#: Answered directly, by the ASGI app on both (413 declared, 404 elsewhere), and refused by the protocol (414).
LOGGED = ["seed PUT JSON", "percent-encoded key", "list, query", "HTTP/1.0", "405 DELETE", "404 path",
          "declared body over the limit", "pipelined behind a request the ASGI app answers"]


def test_the_access_log_lines_are_the_same_either_way() -> None:
    lines = []
    for extra in ([], ["--asgi-only"]):
        # Not tests/server.py: that one starts servers with --quiet.
        process = ServerProcess(serve_command(extra))
        try:
            for case in LOGGED:
                wire.exchange(process.port, CASES[case] + CLOSER)
            wire.exchange(process.port, get("/omni/1/scenarios?x=" + "a" * 70_000, {"Connection": "close"}))
        finally:
            process.stop()
        logged = [line for line in process.output().splitlines() if ' HTTP/1.' in line]
        lines.append([re.sub(r"127\.0\.0\.1:\d+ ", "127.0.0.1:<port> ", line) for line in logged])
    assert lines[0] == lines[1]
    # Each case and its closer, but HTTP/1.0 closes and the closer is part of the 413's body; two pipelined; the 414.
    assert len(lines[0]) == 2 * len(LOGGED) - 2 + 2 + 1
    assert lines[0][0] == f'INFO:     127.0.0.1:<port> - "PUT {SEED_PATH} HTTP/1.1" 200 OK'
    assert lines[0][-1].startswith('INFO:     127.0.0.1:<port> - "GET /omni/1/scenarios?x=aaa')
    assert lines[0][-1].endswith('aaa... HTTP/1.1" 414 Request-URI Too Long')


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
    mock.state.faults.add({"path": "/elsewhere", "status": 500})
    assert not mock.answers_directly(request())  # a rule's delay must be awaited
    mock.state.faults.clear()
    assert mock.answers_directly(request())
    mock.state.faults.add({"status": 503, "times": 1})
    assert not mock.answers_directly(request())
    assert mock.state.faults.take("PUT", SEED_PATH, "Aladdin") is not None
    assert mock.answers_directly(request())  # used up: nothing can apply any more
    assert not create_app(Settings(state_file=str(tmp_path / "state.json"))).answers_directly(request())


# --- the fast path cannot break a call ------------------------------------------------------------------------

@dataclass
class Patched:
    port: int
    stderr: str = ""


@contextmanager
def patched_server(patch: str, *args: str) -> Iterator[Patched]:
    """``mock-omni serve --port 0 ARGS`` in a process that first runs ``patch``; stderr is read at the end."""
    code = f"{patch}\nfrom mock_omni.server.cli import main\nraise SystemExit(main(['serve', '--port', '0', *{args}]))"
    process = ServerProcess([sys.executable, "-c", code])
    try:
        patched = Patched(process.port)
        yield patched
    finally:
        process.stop()
    patched.stderr = process.output()


#: VendorApi.answer (the direct path's only way into the dispatcher) fails on ?boom.
ANSWER_RAISES = """
from mock_omni.api.dispatcher import VendorApi
original = VendorApi.answer
def answer(self, request, body, ticket=None):
    if request.query == b"boom":
        raise RuntimeError("boom")
    return original(self, request, body, ticket)
VendorApi.answer = answer
"""
BOOM = "/omni/1/scenarios?boom"


def test_an_exception_in_the_direct_path_is_the_vendors_500_and_the_connection_goes_on() -> None:
    xml = {"Authorization": ALADDIN_BASIC, "Accept": "application/xml"}
    with patched_server(ANSWER_RAISES, "--quiet") as srv:
        answers = wire.responses(wire.exchange(srv.port, get(BOOM) + get(BOOM, xml) + get("/omni/1/scenarios")
                                               + CLOSER))
    assert [status for status, _, _ in answers] == [500, 500, 200, 404]
    assert json.loads(answers[0][2])["requestError"]["serviceException"]["messageId"] == "GENERAL_ERROR"
    assert answers[1][1]["content-type"] == "application/xml"
    assert b"<messageId>GENERAL_ERROR</messageId>" in answers[1][2]
    assert "unexpected error on GET /omni/1/scenarios" in srv.stderr and "RuntimeError: boom" in srv.stderr


def test_an_internal_gone_after_start_up_still_gets_the_vendors_500_then_a_clean_close() -> None:
    patch = """
import mock_omni.server.http_protocol as protocol
checked = protocol.check
def check(config, protocol_class):
    problem = checked(config, protocol_class)
    protocol.STATUS_LINE = {}  # uvicorn's status lines, as if renamed under a running server
    return problem
protocol.check = check
"""
    with patched_server(patch, "--quiet") as srv:
        answers = wire.responses(wire.exchange(srv.port, get(SEED_PATH) + get(SEED_PATH)))
        assert [status for status, _, _ in answers] == [500]  # then closed: the request behind it never ran
        assert answers[0][1]["connection"] == "close"
        assert json.loads(answers[0][2])["requestError"]["serviceException"]["messageId"] == "GENERAL_ERROR"
        # Only the direct path used it: everything else is still served.
        assert wire.responses(wire.exchange(srv.port, get("/__admin/health", {"Connection": "close"})))[0][0] == 200


@pytest.mark.parametrize(("patch", "reason"), [
    ("import uvicorn; uvicorn.__version__ = '0.52.4'",
     "uvicorn 0.52.4 is outside the range the direct answers are tested on (0.53 to before 0.55)"),
    ("from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as P; del P.send_400_response",
     "lacks what the direct answers use: send_400_response"),
    ("import sys; sys.modules['httptools'] = None", "the direct-answer protocol cannot be imported"),
])
def test_a_uvicorn_the_fast_path_was_not_tested_on_falls_back_to_the_asgi_path(patch: str, reason: str) -> None:
    with patched_server(f"{patch}\n{ANSWER_RAISES}", "--quiet") as srv:
        answers = wire.responses(wire.exchange(srv.port, put(SEED_PATH, JSON_HEADERS, SEED_JSON) + get(BOOM) + CLOSER))
    assert [status for status, _, _ in answers] == [200, 200, 404]  # VendorApi.answer was never called
    [line] = srv.stderr.splitlines()
    assert line.startswith("mock-omni: warning: ") and reason in line
    assert line.endswith("; serving through uvicorn's own protocol (without --header-timeout)")


def test_the_start_up_check_passes_on_the_installed_uvicorn() -> None:
    from uvicorn import Config

    mock = create_app(Settings())
    protocol = protocol_for(mock)
    assert check(Config(mock, http=protocol, ws="none"), protocol) is None


#: What uvicorn[standard] would install beside uvicorn, httptools and uvloop.
UNUSED = ("websockets", "watchfiles", "dotenv", "wsproto")


def test_the_server_needs_nothing_that_uvicorn_standard_would_bring() -> None:
    block = f"import sys\nfor name in {UNUSED}:\n    sys.modules[name] = None  # as if not installed"
    offer = {"Authorization": ALADDIN_BASIC, "Connection": "Upgrade", "Upgrade": "websocket"}
    with patched_server(block) as srv:  # the access log on
        data = get("/omni/1/scenarios", offer) + get("/__admin/health") \
            + get(SEED_PATH, {"Authorization": ALADDIN_BASIC, "Origin": "http://localhost"}) + CLOSER
        answers = wire.responses(wire.exchange(srv.port, data))
    assert [status for status, _, _ in answers] == [200, 200, 200, 404]
    assert "WARNING" not in srv.stderr and "Traceback" not in srv.stderr, srv.stderr
    package = Path(__file__).parents[1] / "mock_omni"
    for module in package.rglob("*.py"):
        assert not re.search(rf"^\s*(import|from) ({'|'.join(UNUSED)})\b", module.read_text(), re.M), module


def test_pyproject_pins_the_uvicorn_range_the_check_allows() -> None:
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    low, high = (".".join(map(str, bound)) for bound in UVICORN_RANGE)
    assert re.findall(r'"uvicorn\b[^"]*"', pyproject) == [f'"uvicorn>={low},<{high}"']


# --- what uvicorn gets wrong, fixed on both paths ------------------------------------------------------------

H2C = {"Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c", "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"}
RENAME = '{"name":"renamed over h2c","flow":[{"from":"InfoSMS","channel":"SMS"}],"default":true}'


@pytest.fixture
def fresh(servers: tuple[server.Server, server.Server]) -> Iterator[tuple[server.Server, server.Server]]:
    """Both servers back to the fixtures before and after the test."""
    for srv in servers:
        with AdminClient(srv.url) as admin:
            admin.reset()
    yield servers
    for srv in servers:
        with AdminClient(srv.url) as admin:
            admin.reset()


def test_an_h2c_upgrade_offer_is_ignored_and_the_write_served_with_its_body(
    fresh: tuple[server.Server, server.Server],
) -> None:
    """RFC 9110 section 7.8: a server that does not speak h2c serves the request as HTTP/1.1."""
    offer = put(SEED_PATH, {**JSON_HEADERS, **H2C}, RENAME)
    outcomes = []
    for srv in fresh:
        # The request behind it on the same connection is answered too, and sees the change.
        answers = wire.responses(wire.exchange(srv.port, offer + get(SEED_PATH) + CLOSER))
        assert [status for status, _, _ in answers] == [200, 200, 404], answers
        assert json.loads(answers[1][2])["name"] == "renamed over h2c"
        with AdminClient(srv.url) as admin:
            [entry, _, _] = admin.requests()
        assert entry["headers"]["upgrade"] == "h2c"  # the journal shows what the client sent
        outcomes.append([normalized(raw) for raw in (answers[0][2], answers[1][2])])
    assert outcomes[0] == outcomes[1]


def test_an_h2c_offer_with_its_body_in_a_second_packet_gets_exactly_one_response(
    fresh: tuple[server.Server, server.Server],
) -> None:
    offer = put(SEED_PATH, {**JSON_HEADERS, **H2C}, RENAME)
    head, body = offer.split(b"\r\n\r\n", 1)
    for srv in fresh:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            conn.sendall(head + b"\r\n\r\n")
            time.sleep(0.2)  # the server has parsed the head alone
            conn.sendall(body)
            status, _, payload = wire.read_one(conn)
            assert status == 200 and json.loads(payload)["name"] == "renamed over h2c"
            conn.sendall(CLOSER)
            rest = b""
            while chunk := conn.recv(65536):
                rest += chunk
        assert [status for status, _, _ in wire.responses(rest)] == [404]  # the closer's, nothing else


def test_an_upgrade_offer_on_a_read_keeps_the_pipeline(fresh: tuple[server.Server, server.Server]) -> None:
    offers = get(SEED_PATH, {"Authorization": ALADDIN_BASIC, **H2C}) \
        + get("/omni/1/scenarios", {"Authorization": ALADDIN_BASIC, "Connection": "Upgrade", "Upgrade": "websocket"})
    # CONNECT always asks for a tunnel; its target is no path (400), so the connection stays HTTP.
    connect = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
    for srv in fresh:
        answers = wire.responses(wire.exchange(srv.port, offers + connect + CLOSER))
        assert [status for status, _, _ in answers] == [200, 200, 400, 404]


@pytest.mark.parametrize(("length", "status"), [(65_535, 200), (65_536, 414), (1_000_000, 414)])
def test_a_request_target_over_64_kib_gets_the_vendors_envelope(
    servers: tuple[server.Server, server.Server], length: int, status: int,
) -> None:
    prefix = "/omni/1/scenarios?isDefault=true&x="
    target = prefix + "a" * (length - len(prefix))
    xml = {"Authorization": ALADDIN_BASIC, "Accept": "application/xml"}
    for srv in servers:
        # Pipelined behind a request the server answers: the order holds, and the connection stays usable.
        answers = wire.responses(wire.exchange(srv.port, get(SEED_PATH) + get(target) + get(target, xml) + CLOSER))
        assert [answer[0] for answer in answers] == [200, status, status, 404]
        assert answers[2][1]["content-type"] == "application/xml"
        if status == 414:
            assert json.loads(answers[1][2])["requestError"]["serviceException"]["messageId"] == "URI_TOO_LONG"
            assert b"<messageId>URI_TOO_LONG</messageId>" in answers[2][2]


def test_a_413_reaches_a_client_that_sent_connection_close(servers: tuple[server.Server, server.Server]) -> None:
    """Closing with the body unread makes the kernel send a reset: the client lost the envelope."""
    size = 4 * 1024 * 1024
    for srv in servers:
        head = put(SEED_PATH, {**JSON_HEADERS, "Connection": "close"}, b"").replace(
            b"Content-Length: 0", b"Content-Length: %d" % size)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as conn:
            conn.sendall(head + b" " * size)  # no BrokenPipeError
            received = b""
            while chunk := conn.recv(65536):  # no ConnectionResetError
                received += chunk
        [(status, headers, body)] = wire.responses(received)
        assert status == 413 and headers["connection"] == "close"
        assert json.loads(body)["requestError"]["serviceException"]["messageId"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.slow
def test_sigterm_with_a_client_stalled_mid_body_gets_the_same_envelope_either_way() -> None:
    """At the end of uvicorn's grace period (5 s) the request still waiting for its body is answered."""
    data = put(SEED_PATH, JSON_HEADERS, SEED_JSON)
    outcomes = []
    servers = [server.start(), server.start(["--asgi-only"])]
    try:
        conns = [socket.create_connection(("127.0.0.1", srv.port), timeout=15) for srv in servers]
        for conn in conns:
            conn.sendall(data[:-10])
        time.sleep(0.3)
        for srv in servers:
            srv.process.send_signal(signal.SIGTERM)
        for srv, conn in zip(servers, conns, strict=True):
            with conn:
                received = b""
                while chunk := conn.recv(65536):
                    received += chunk
            assert srv.process.wait(timeout=15) == 0
            err = srv.output()
            assert "Traceback" not in err and "Exception in ASGI" not in err, err
            outcomes.append(normalized(received))
    finally:
        for srv in servers:
            server.stop(srv)
    [(status, headers, body)] = wire.responses(outcomes[0])
    assert outcomes[0] == outcomes[1]
    assert status == 500 and headers["connection"] == "close" and headers["content-type"] == "application/json"
    assert json.loads(body)["requestError"]["serviceException"]["messageId"] == "GENERAL_ERROR"


@pytest.mark.parametrize("mode", ["direct", "asgi-only"])
def test_a_reset_while_the_body_arrives_drops_the_request_on_both_paths(mode: str) -> None:
    """Issue 11 item 1 on the fast path too: the head came before the reset, the body after it."""
    args = ["--rate-limit", "off", *(["--asgi-only"] if mode == "asgi-only" else [])]
    with server.running(args, env={"MOCK_OMNI_ADMIN_TOKEN": "t"}) as srv, \
            AdminClient(srv.url, token="t") as admin:
        body = json.dumps({"name": "from the previous test"}).encode()
        raw = put(SEED_PATH, JSON_HEADERS, body)
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(raw[:-5])  # the head and most of the body
            time.sleep(0.2)  # the server has the head
            admin.reset()
            sock.sendall(raw[-5:])
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except ConnectionResetError:
                pass
        assert answer == b""  # dropped unanswered
        assert admin.requests(method="PUT") == []
        (seed,) = [s for s in admin.state()["accounts"][0]["scenarios"] if s["key"] == SEED_KEY]
        assert seed["name"] != "from the previous test"


def test_the_date_header_of_direct_answers_follows_the_clock(servers: tuple[server.Server, server.Server]) -> None:
    """The protocol formats uvicorn's default headers once per change: the date must still move every second."""
    direct, _ = servers
    seen = []
    with socket.create_connection(("127.0.0.1", direct.port), timeout=10) as conn:
        for _ in range(3):
            conn.sendall(get(SEED_PATH))
            status, headers, _ = wire.read_one(conn)
            assert status == 200
            seen.append(headers["date"])
            time.sleep(1.1)
    assert len(set(seen)) == 3, seen
    newest = email.utils.parsedate_to_datetime(seen[-1]).timestamp()
    assert abs(newest - (time.time() - 1.1)) < 2.5


# --- the keep-alive timeout: one timer per idle spell (on_response_complete) ------------------------------

KEEP_ALIVE = 1.0


@contextmanager
def keep_alive_server(*, direct: bool) -> Iterator[tuple[int, MockOmni]]:
    """A server in this process with a 1-second keep-alive timeout (the CLI keeps uvicorn's 5 seconds)."""
    app = create_app(Settings(rate_limits={}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocol_for(app, direct=direct),
                            timeout_keep_alive=int(KEEP_ALIVE), log_level="warning", access_log=False)
    assert check(config, protocol_for(app, direct=direct)) is None
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.01)
    try:
        yield port, app
    finally:
        running.should_exit = True
        thread.join(10)


def closed_after(conn: socket.socket) -> float:
    """Seconds until the server closes ``conn`` (nothing more may come before)."""
    start = time.monotonic()
    assert conn.recv(1) == b""
    return time.monotonic() - start


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi"])
def test_an_idle_keep_alive_connection_closes_after_the_timeout_counted_from_its_last_response(
    direct: bool,
) -> None:
    with keep_alive_server(direct=direct) as (port, _), \
            socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(get(SEED_PATH))
        assert wire.read_one(conn)[0] == 200
        assert 0.7 * KEEP_ALIVE < closed_after(conn) < 2.5 * KEEP_ALIVE
    # Busy for more than twice the timeout, a request every 0.3 timeouts: never closed meanwhile, and the
    # timeout counts from the last response (a timer armed after the first one must wait again).
    with keep_alive_server(direct=direct) as (port, _), \
            socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        for _ in range(8):
            conn.sendall(get(SEED_PATH))
            assert wire.read_one(conn)[0] == 200
            time.sleep(0.3 * KEEP_ALIVE)
        assert 0.4 * KEEP_ALIVE < closed_after(conn) < 2.5 * KEEP_ALIVE


def test_a_request_slower_than_the_timeout_keeps_its_connection_until_it_is_answered() -> None:
    with keep_alive_server(direct=True) as (port, app), \
            socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(get(SEED_PATH))
        assert wire.read_one(conn)[0] == 200
        app.state.faults.add({"path": SEED_PATH, "delayMs": int(1500 * KEEP_ALIVE), "times": 1})
        time.sleep(0.5 * KEEP_ALIVE)  # the first response's timer is due mid-request
        conn.sendall(get(SEED_PATH))
        assert wire.read_one(conn)[0] == 200
        conn.sendall(get(SEED_PATH))  # still open after the slow one, and answered at once
        assert wire.read_one(conn)[0] == 200
        assert 0.7 * KEEP_ALIVE < closed_after(conn) < 2.5 * KEEP_ALIVE


@pytest.mark.parametrize("answer", [
    Answer(200, b'{"a":1}', "json"),
    Answer(200, b"<a/>", "xml"),
    Answer(204, b"", "json", ((b"x-one", b"1"),)),
    Answer(204, b"", "json"),
    Answer(405, b"{}", "json", ((b"allow", b"GET, PUT"),)),
    Answer(429, b"{}", "xml", ((b"retry-after", b"1"), (b"x-ratelimit-remaining", b"0"))),
], ids=["json", "xml", "204 with a header", "204", "405", "429"])
def test_the_direct_paths_header_lines_are_the_asgi_paths_headers(answer: Answer) -> None:
    assert answer.head() == b"".join(b"%s: %s\r\n" % pair for pair in answer.headers)


def test_the_grace_period_ending_on_the_rest_of_a_body_answered_413_directly_just_closes_later() -> None:
    """Shutting down while a chunked body passes the limit with ``Connection: close``: the 413 is written and
    the rest read and dropped (lingering). When the grace period ended then, ``_give_up`` read the request
    cycle of a connection that had none (only direct answers): an AttributeError in a timer callback."""
    loop = asyncio.new_event_loop()
    try:
        protocol, inner = connection(loop)
        head = put(SEED_PATH, {**JSON_HEADERS, "Transfer-Encoding": "chunked", "Connection": "close"}, b"")
        head = head.replace(b"Content-Length: 0\r\n", b"")
        protocol.data_received(head + b"%x\r\n%s\r\n" % (65536, b" " * 65536) * 20)  # 1.25 MiB, not ended
        assert protocol.lingering and protocol.cycle is None
        protocol._give_up()  # the grace period's end (shutdown's timer)
        loop.run_until_complete(asyncio.sleep(0))
        [written] = [data for kind, data in inner.events if kind == "write"]
        assert written.startswith(b"HTTP/1.1 413 ") and ("close", b"") not in inner.events  # the linger closes
        protocol.connection_lost(None)
    finally:
        loop.close()
