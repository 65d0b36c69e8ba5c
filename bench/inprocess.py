"""The seed PUT answered in-process through mock-omni's own HTTP protocol: microseconds per call, for bench/compare.py.

No socket, no wrk and no second process share the CPU with the calls, so a per-call time here
moves far less with the machine's load than a rate under wrk, and small differences between two
trees show (``python -m bench.compare REV --in-process``). The raw request bytes go through
``data_received`` of the protocol ``mock-omni serve`` uses (server/http_protocol.py: httptools'
parse, the direct answer, the held write), and the collector is set as the server sets it
(server/collector.py). With CPython's default thresholds the full collections walk the whole app
and a numbered JSON body measured 58.8 us instead of 26.6: a harness without that measured a
server that does not exist.

``python bench/inprocess.py CALLS SHAPE`` (SHAPE: json, xml, json-new, xml-new; ``-new`` numbers the
scenario's name in every call, so no body is seen twice) prints the best of three rounds, in microseconds
per call. It needs only ``seed.py`` beside it, and a tree from issue 24 on.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import uvloop
from seed import ALADDIN_BASIC, REQUESTS, SEED_PATH  # type: ignore[import-not-found]
from uvicorn.config import Config
from uvicorn.server import ServerState

from mock_omni import Settings, create_app
from mock_omni.api.ratelimit import parse_profile
from mock_omni.server import collector
from mock_omni.server.http_protocol import protocol_for

ROUNDS = 3


class Transport(asyncio.Transport):
    """A connection that takes every write and keeps the last (its status line is checked)."""

    def __init__(self) -> None:
        super().__init__()
        self.last = b""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8080), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def write(self, data: Any) -> None:
        self.last = bytes(data)

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def raw_request(fmt: str, number: int | None) -> bytes:
    """The seed PUT as a client sends it; with ``number``, the scenario's name numbered."""
    content_type, text = REQUESTS[fmt]
    if number is not None:
        text = text.replace("SMS or VIBER", f"SMS or VIBER #{number}")
    body = text.encode()
    head = [f"PUT {SEED_PATH} HTTP/1.1", "Host: 127.0.0.1:8080", f"Content-Type: {content_type}",
            f"Authorization: {ALADDIN_BASIC}", f"Content-Length: {len(body)}"]
    if fmt == "json":
        head.append("Accept: application/json")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def main(calls: int, shape: str) -> None:
    fmt, new = shape.removesuffix("-new"), shape.endswith("-new")
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    app = create_app(Settings(rate_limits=parse_profile(["off"]), quiet=True))
    protocol_class = protocol_for(app)
    config = Config(app, http=protocol_class, access_log=False, server_header=False, proxy_headers=False,
                    ws="none", lifespan="off")
    config.load()
    collector.settle()
    protocol = protocol_class(config, ServerState(), {}, _loop=loop)  # type: ignore[call-arg]
    transport = Transport()
    protocol.connection_made(transport)
    held = protocol.transport  # the protocol's batched transport: flushed after each call, as the loop would

    def answer(requests: list[bytes]) -> float:
        began = time.perf_counter()
        for request in requests:
            protocol.data_received(request)
            held.flush()
        return (time.perf_counter() - began) / len(requests)

    numbers = iter(range(sys.maxsize))
    answer([raw_request(fmt, next(numbers) if new else None) for _ in range(2000)])  # warm-up
    if not transport.last.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"the seed PUT was not answered 200: {transport.last[:300]!r}")
    best = min(answer([raw_request(fmt, next(numbers) if new else None) for _ in range(calls)])
               for _ in range(ROUNDS))
    print(f"{best * 1e6:.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "json")
