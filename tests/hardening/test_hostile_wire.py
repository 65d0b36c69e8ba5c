"""Hostile framing against a real uvicorn process: lying Content-Length, chunked bodies, smuggling.

What reaches the app is answered in the vendor's envelope; what is not HTTP at all is refused by
uvicorn's parser with its plain 400 and the connection is closed (docs/hardening.md). Either
way: bounded time (socket timeouts), the process stays up, nothing stored changes, no traceback.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest

from .. import server
from ..conftest import ALADDIN_BASIC, SEED_KEY
from .hostile import MIB
from .wire import TIMEOUT, chunked, exchange, read_one, request, responses

SEED = f"/omni/1/scenarios/{SEED_KEY}"
UPDATE = json.dumps({"name": "chunked update", "default": True}).encode()
JSON_AUTH = {"Authorization": ALADDIN_BASIC, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def srv() -> Iterator[server.Server]:
    running = server.start(["--rate-limit", "off"])
    try:
        yield running
        assert running.process.poll() is None, "the server died"
        running.process.terminate()
        assert running.process.wait(timeout=10) == 0
        err = running.output()
        assert "Traceback" not in err and "unexpected error" not in err, err[-2000:]
    finally:
        server.stop(running)


@pytest.fixture
def unchanged(srv: server.Server) -> Iterator[None]:
    """The account's whole list, byte for byte, is the same after the test as before."""
    def snapshot() -> bytes:
        return httpx.get(f"{srv.url}/omni/1/scenarios", headers={"Authorization": ALADDIN_BASIC}, timeout=10).content

    before = snapshot()
    yield
    assert snapshot() == before


def vendor_error(status: int, headers: dict[str, str], body: bytes) -> str:
    assert headers["content-type"] == "application/json"
    message_id: str = json.loads(body)["requestError"]["serviceException"]["messageId"]
    return message_id


@pytest.mark.usefixtures("unchanged")
def test_content_length_longer_than_the_body_then_close_answers_nothing_and_changes_nothing(
    srv: server.Server,
) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": "500"}, UPDATE)
    assert exchange(srv.port, data, half_close=True) == b""


@pytest.mark.usefixtures("unchanged")
def test_content_length_shorter_than_the_body_truncates_it_to_bad_request(srv: server.Server) -> None:
    head = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": "5"})
    with socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT) as conn:
        conn.sendall(head + UPDATE[:5])
        status, headers, body = read_one(conn)
        assert status == 400 and vendor_error(status, headers, body) == "BAD_REQUEST"
        # The rest of the body then reads as the next request, which is not HTTP: uvicorn refuses it.
        conn.sendall(UPDATE[5:])
        rest = b""
        while chunk := conn.recv(65536):
            rest += chunk
    assert [status for status, _, _ in responses(rest)] == [400]


@pytest.mark.usefixtures("unchanged")
def test_content_length_shorter_than_the_body_sent_at_once_is_refused(srv: server.Server) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": "5"}, UPDATE)
    found = responses(exchange(srv.port, data))
    # Whether the app answers the truncated body before uvicorn sees the garbage depends on timing.
    assert found and all(status == 400 for status, _, _ in found)
    for status, headers, body in found:
        if headers["content-type"] == "application/json":
            assert vendor_error(status, headers, body) == "BAD_REQUEST"


@pytest.mark.usefixtures("unchanged")
def test_declared_length_over_the_bound_is_413_before_the_body_arrives(srv: server.Server) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": str(2 * MIB), "Connection": "close"},
                   UPDATE)
    [(status, headers, body)] = responses(exchange(srv.port, data))  # answered without the other 2 MiB
    assert status == 413 and vendor_error(status, headers, body) == "PAYLOAD_TOO_LARGE"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "5, 6", "99999999999999999999999"])
def test_content_length_that_is_not_a_number_is_refused(srv: server.Server, length: str) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": length, "Connection": "close"}, UPDATE)
    found = responses(exchange(srv.port, data))
    assert found and 400 <= found[0][0] < 500


@pytest.mark.usefixtures("unchanged")
def test_content_length_and_chunked_together_are_not_smuggled(srv: server.Server) -> None:
    smuggled = request("GET", "/omni/1/scenarios", srv.port, {"Authorization": ALADDIN_BASIC})
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Content-Length": "4", "Transfer-Encoding": "chunked"},
                   b"0\r\n\r\n" + smuggled)
    found = responses(exchange(srv.port, data))
    assert found and all(status != 200 or b"scenarios" not in body for status, _, body in found[:1])
    assert all(400 <= status < 500 for status, _, _ in found[:1])


def test_chunked_body_is_read_whole(srv: server.Server) -> None:
    body = chunked(UPDATE[:7], UPDATE[7:20], UPDATE[20:])
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Transfer-Encoding": "chunked", "Connection": "close"}, body)
    [(status, _, answer)] = responses(exchange(srv.port, data))
    assert status == 200 and json.loads(answer)["name"] == "chunked update"


@pytest.mark.usefixtures("unchanged")
def test_chunked_body_over_the_bound_is_413(srv: server.Server) -> None:
    parts = [b'{"name": "'] + [b"x" * 65536] * 17 + [b'"}']
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Transfer-Encoding": "chunked", "Connection": "close"},
                   chunked(*parts))
    status, headers, body = responses(exchange(srv.port, data))[0]
    assert status == 413 and vendor_error(status, headers, body) == "PAYLOAD_TOO_LARGE"


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("framing", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n", b"-1\r\n\r\n"])
def test_broken_chunk_framing_is_refused(srv: server.Server, framing: bytes) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Transfer-Encoding": "chunked", "Connection": "close"},
                   framing)
    found = responses(exchange(srv.port, data))
    assert found and 400 <= found[0][0] < 500


@pytest.mark.usefixtures("unchanged")
def test_chunked_then_close_mid_body_answers_nothing(srv: server.Server) -> None:
    data = request("PUT", SEED, srv.port, {**JSON_AUTH, "Transfer-Encoding": "chunked"}, b"5\r\n{\"nam\r\n")
    assert exchange(srv.port, data, half_close=True) == b""


@pytest.mark.usefixtures("unchanged")
def test_chunked_billion_laughs_is_bad_request_in_xml(srv: server.Server) -> None:
    from .hostile import CORPUS

    laughs = next(h for h in CORPUS if h.id == "xml-billion-laughs").body
    headers = {"Authorization": ALADDIN_BASIC, "Content-Type": "application/xml", "Transfer-Encoding": "chunked",
               "Connection": "close"}
    data = request("PUT", SEED, srv.port, headers, chunked(laughs[:100], laughs[100:]))
    [(status, response_headers, body)] = responses(exchange(srv.port, data))
    assert status == 400 and response_headers["content-type"] == "application/xml"
    assert b"<messageId>BAD_REQUEST</messageId>" in body


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("target", ["http://", "http://127.0.0.1:99999/omni/1/scenarios", "http:///omni/1/scenarios",
                                    "http://user@/omni/1/scenarios"])
def test_a_target_the_url_parser_refuses_is_bad_request_in_the_envelope(srv: server.Server, target: str) -> None:
    """The request line is HTTP, but httptools.parse_url refuses the target: uvicorn answered a plain 400."""
    data = request("GET", target, srv.port, {"Authorization": ALADDIN_BASIC, "Accept": "application/xml"})
    following = request("GET", "/omni/1/scenarios", srv.port, {"Authorization": ALADDIN_BASIC, "Connection": "close"})
    found = responses(exchange(srv.port, data + following))
    assert [status for status, _, _ in found] == [400, 200]  # and the connection goes on
    assert found[0][1]["content-type"] == "application/xml"
    assert b"<messageId>BAD_REQUEST</messageId>" in found[0][2]


def test_server_still_answers_the_seed_put_after_all_of_it(srv: server.Server) -> None:
    response = httpx.put(f"{srv.url}{SEED}", json={"default": True}, headers={"Authorization": ALADDIN_BASIC},
                         timeout=10)
    assert response.status_code == 200
