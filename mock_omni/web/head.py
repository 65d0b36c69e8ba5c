"""``HEAD`` wherever ``GET`` is served on the web side (health, dashboard, docs, admin reads), as a pure-ASGI wrapper.

FastAPI's routes answer only the methods they declare, so ``HEAD /__admin/health`` (a load balancer's
probe) was a 405. RFC 9110 section 9.3.2: HEAD is GET without the content, with the same status and
headers (``content-length`` included). The request goes to the app as a GET and the body it answers
is dropped. The vendor's paths never come here: their answers to HEAD are the route table's.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return  # the content, dropped: one empty body ends the answer
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
