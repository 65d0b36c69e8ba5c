"""The floor: a bare ASGI callable answering the seed PUT's response bytes, on the same uvicorn.

It reads the body (as any server must) and answers JSON or XML by the request's
Content-Type, so its response is the same size as the mock's.
"""

from __future__ import annotations

from typing import Any

from mock_omni.api.codecs import CONTENT_TYPES, JSON, XML

from .payloads import RESPONSE_BYTES

#: The response headers of each format (the same the mock sends).
ANSWER_HEADERS = {
    fmt: [(b"content-type", CONTENT_TYPES[fmt]), (b"content-length", str(len(RESPONSE_BYTES[fmt])).encode())]
    for fmt in (JSON, XML)
}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    fmt = XML if (b"content-type", b"application/xml") in scope["headers"] else JSON
    await send({"type": "http.response.start", "status": 200, "headers": ANSWER_HEADERS[fmt]})
    await send({"type": "http.response.body", "body": RESPONSE_BYTES[fmt]})
