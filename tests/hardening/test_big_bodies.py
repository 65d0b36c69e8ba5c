"""Attacks on the calls with a big body (server/work_share.py): what a client sees of them over real sockets.

Bodies of ``BIG_BODY`` and more are answered over several turns of the event loop on the direct path, at once on
``--asgi-only``'s. Every framing a client may wrap such a body in must come back byte for byte as the ASGI path
answers it (tests/test_http_protocol.py compares the common cases); then what the server does while such a call
is under way: shutdown, stalled clients, resets, a failing step.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.payloads import ALADDIN_BASIC, SEED_JSON, SEED_PATH
from mock_omni.server.work_share import BIG_BODY
from mock_omni.settings import MAX_BODY_BYTES
from tests import server
from tests.hardening import wire
from tests.test_http_protocol import (
    CLOSER,
    H2C,
    JSON_HEADERS,
    SEND_BULK,
    SEND_ONE,
    chunked_put,
    get,
    normalized,
    post,
    put,
)


def padded(body: str, size: int) -> str:
    """``body`` with spaces before its closing brace, ``size`` bytes in all (JSON ignores them)."""
    assert len(body) <= size and body.endswith("}")
    return body[:-1] + " " * (size - len(body)) + "}"


SEED_BIG = SEED_JSON + " " * 10_000

#: Each sent alone on a connection, then CLOSER: the direct path's bytes must be the ASGI path's.
CASES: dict[str, bytes] = {
    "big, small, big, small pipelined": post("/omni/1/advanced", JSON_HEADERS, SEND_BULK) + get(SEED_PATH)
    + post("/omni/1/advanced", JSON_HEADERS, SEND_BULK) + post("/omni/1/advanced", JSON_HEADERS, SEND_ONE),
    "small then big pipelined": post("/omni/1/advanced", JSON_HEADERS, SEND_ONE)
    + post("/omni/1/advanced", JSON_HEADERS, SEND_BULK),
    "big, chunked": chunked_put("/omni/1/advanced", JSON_HEADERS, *(SEND_BULK[i:i + 5000].encode()
                                                                    for i in range(0, len(SEND_BULK), 5000)))
    .replace(b"PUT ", b"POST ", 1),
    "big, HTTP/1.0": put("/omni/1/advanced", JSON_HEADERS, SEND_BULK, version="1.0").replace(b"PUT ", b"POST ", 1),
    "big, HTTP/1.0 keep-alive": put("/omni/1/advanced", {**JSON_HEADERS, "Connection": "keep-alive"}, SEND_BULK,
                                    version="1.0").replace(b"PUT ", b"POST ", 1),
    "big, Expect: 100-continue": post("/omni/1/advanced", {**JSON_HEADERS, "Expect": "100-continue"}, SEND_BULK),
    "big, Upgrade: h2c": post("/omni/1/advanced", {**JSON_HEADERS, **H2C}, SEND_BULK),
    "seed PUT, one byte under BIG_BODY": put(SEED_PATH, JSON_HEADERS, padded(SEED_JSON, BIG_BODY - 1)),
    "seed PUT, BIG_BODY": put(SEED_PATH, JSON_HEADERS, padded(SEED_JSON, BIG_BODY)),
    "send, the largest body read": post("/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES)),
    "send, one byte over the largest body read": post("/omni/1/advanced", JSON_HEADERS,
                                                      padded(SEND_BULK, MAX_BODY_BYTES + 1)),
    "send, the largest body read, chunked": chunked_put(
        "/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES).encode()).replace(b"PUT ", b"POST ", 1),
    "send, one byte over the largest body read, chunked": chunked_put(
        "/omni/1/advanced", JSON_HEADERS, padded(SEND_BULK, MAX_BODY_BYTES + 1).encode()).replace(b"PUT ", b"POST ",
                                                                                                   1),
    "big, then a request on an ASGI path": put(SEED_PATH, JSON_HEADERS, SEED_BIG) + get("/nothing-here"),
    "big 404 path": post("/omni/1/nothing", JSON_HEADERS, SEND_BULK),
    "big 405": put("/omni/1/advanced", JSON_HEADERS, SEND_BULK),
    "big 406": post("/omni/1/advanced", {**JSON_HEADERS, "Accept": "text/html"}, SEND_BULK),
    "big, no credentials": post("/omni/1/advanced", {"Content-Type": "application/json"}, SEND_BULK),
    "big, XML body": put(SEED_PATH, {"Content-Type": "application/xml", "Authorization": ALADDIN_BASIC},
                         "<scenario><name>x</name>" + " " * BIG_BODY + "</scenario>"),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[server.Server, server.Server]]:
    with server.running(["--rate-limit", "off"]) as direct, \
            server.running(["--rate-limit", "off", "--asgi-only"]) as asgi:
        yield direct, asgi


@pytest.mark.parametrize("case", list(CASES))
def test_big_bodies_in_any_framing_are_answered_as_the_asgi_path_answers_them(
    servers: tuple[server.Server, server.Server], case: str,
) -> None:
    direct, asgi = servers
    from_direct = normalized(wire.exchange(direct.port, CASES[case] + CLOSER))
    from_asgi = normalized(wire.exchange(asgi.port, CASES[case] + CLOSER))
    assert from_direct.startswith(b"HTTP/1.")
    assert from_direct == from_asgi
