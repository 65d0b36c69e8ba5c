"""The ceiling: uvicorn's own httptools protocol answering the seed PUT's bytes, with no ASGI and no logic.

It is what mock-omni's direct answers (mock_omni/http_protocol.py) start from: the same
protocol class, the same keep-alive handling, the same ``date`` header, one write per
response. Nothing built on this uvicorn can answer faster, so it bounds every ratio.
Run as ``python -m bench.bare_protocol PORT``.
"""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mock_omni.api.codecs import JSON, XML

from .bare_app import ANSWER_HEADERS, app
from .payloads import RESPONSE_BYTES


class FixedAnswerProtocol(HttpToolsProtocol):
    def on_headers_complete(self) -> None:
        self.answer_xml = (b"content-type", b"application/xml") in self.headers

    def on_body(self, body: bytes) -> None:
        pass  # read and dropped, as the floor app does

    def on_message_complete(self) -> None:
        fmt = XML if self.answer_xml else JSON
        head = [STATUS_LINE[200]]
        for name, value in [*self.server_state.default_headers, *ANSWER_HEADERS[fmt]]:
            head += [name, b": ", value, b"\r\n"]
        head += [b"\r\n", RESPONSE_BYTES[fmt]]
        self.transport.write(b"".join(head))
        self.on_response_complete()


def main() -> None:
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), http=FixedAnswerProtocol, lifespan="off",
                access_log=False, server_header=False, proxy_headers=False, log_level="warning")


if __name__ == "__main__":
    main()
