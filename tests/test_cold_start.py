"""Cold start (docs/performance.md): ``mock-omni serve`` answers the vendor API before its web side (FastAPI:
the admin API, the dashboard, the docs) is built, and builds that on a thread once it listens. A request of
any kind sent the instant the server prints its URL (before it serves) gets the answer a warmed server gives:
none is dropped, none is a 500, an admin call waits for the web side without the vendor calls waiting for it.
"""

from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlsplit

import pytest

from . import server
from .conftest import ALADDIN_BASIC, SEED_KEY
from .receiver import receiver

GENIE_BASIC = "Basic R2VuaWU6dGhyZWUgd2lzaGVz"
GENIE_KEY = "E6829A141B902776020F736D3FBE16A5"
JSON_TYPE = "application/json"
#: Valid for Genie's default scenario before and after the burst's update (VIBER and SMS, then SMS).
SEND = {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "hello"}, "viber": {"text": "hello"}}

#: (name, method, path, headers, body, exact): ``exact`` answers must be byte for byte a warmed server's; the
#: others carry new keys, ids or tokens: their status, type and JSON field names are compared. Reads are
#: Aladdin's and writes Genie's, so that the order the burst's requests are served in changes no answer.
REQUESTS: list[tuple[str, str, str, dict[str, str], bytes | None, bool]] = [
    ("admin health", "GET", "/__admin/health", {}, None, True),
    ("dashboard page", "GET", "/", {"Accept": "text/html"}, None, True),
    ("admin unknown path", "GET", "/__admin/nothing-here", {}, None, True),
    ("openapi", "GET", "/openapi.json", {}, None, True),
    ("list", "GET", "/omni/1/scenarios", {"Authorization": ALADDIN_BASIC}, None, True),
    ("list as XML", "GET", "/omni/1/scenarios", {"Authorization": ALADDIN_BASIC, "Accept": "application/xml"},
     None, True),
    ("get", "GET", f"/omni/1/scenarios/{SEED_KEY}", {"Authorization": ALADDIN_BASIC}, None, True),
    ("update refused", "PUT", f"/omni/1/scenarios/{SEED_KEY}",
     {"Authorization": ALADDIN_BASIC, "Content-Type": JSON_TYPE}, b'{"flow": "no"}', True),
    ("no credentials", "GET", "/omni/1/scenarios", {}, None, True),
    ("reports", "GET", "/omni/1/reports", {"Authorization": ALADDIN_BASIC}, None, True),
    ("logs", "GET", "/omni/1/logs", {"Authorization": ALADDIN_BASIC}, None, True),
    ("logout without session", "DELETE", "/auth/1/session", {"Authorization": "IBSSO nothing"}, None, True),
    ("update", "PUT", f"/omni/1/scenarios/{GENIE_KEY}", {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE},
     b'{"name": "cold", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}', True),
    ("create", "POST", "/omni/1/scenarios", {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE},
     b'{"name": "new", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}', False),
    ("send", "POST", "/omni/1/advanced", {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE},
     json.dumps(SEND).encode(), False),
    ("send refused", "POST", "/omni/1/advanced", {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE},
     b'{"destinations": [], "sms": {"text": 5}}', True),
    ("text", "POST", "/omni/1/text", {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE},
     b'{"destinations": [{"to": {"phoneNumber": "41793026727"}}], "text": "hello"}', False),
    ("token", "POST", "/auth/1/oauth2/token", {"Content-Type": "application/x-www-form-urlencoded"},
     b"grant_type=client_credentials&client_id=nobody&client_secret=nothing", True),
    ("login", "POST", "/auth/1/session", {"Content-Type": JSON_TYPE},
     b'{"username": "Genie", "password": "three wishes"}', False),
]


def ask(url: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> tuple[int, str, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body, headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def burst(url: str) -> dict[str, tuple[int, str, bytes]]:
    """Every request at once, each on a connection of its own."""
    answers: dict[str, tuple[int, str, bytes]] = {}

    def one(name: str, method: str, path: str, headers: dict[str, str], body: bytes | None) -> None:
        answers[name] = ask(url, method, path, headers, body)

    threads = [threading.Thread(target=one, args=request[:5]) for request in REQUESTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def shape(content: bytes) -> object:
    """A JSON answer's field names, recursively (values vary: keys, ids, tokens)."""
    def walk(value: object) -> object:
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return type(value).__name__
    return walk(json.loads(content))


@pytest.mark.slow
def test_every_kind_of_request_sent_before_the_server_serves_gets_a_warmed_servers_answer() -> None:
    with server.running() as cold:
        # The URL is printed before uvicorn serves: these wait in the listen queue, and are the first requests
        # the server reads, before (or while) its web side is built.
        first = burst(cold.url)
    with server.running() as warm:
        assert ask(warm.url, "GET", "/__admin/health", {}, None)[0] == 200  # the web side is built
        warmed = burst(warm.url)
    assert sorted(first) == sorted(warmed) == sorted(request[0] for request in REQUESTS)
    for name, _, _, _, _, exact in REQUESTS:
        status, content_type, content = first[name]
        assert status < 500, (name, content)
        assert (status, content_type) == warmed[name][:2], name
        if exact:
            assert content == warmed[name][2], name
        elif content_type.startswith(JSON_TYPE):
            assert shape(content) == shape(warmed[name][2]), name


@pytest.mark.slow
def test_a_send_sent_before_the_server_serves_has_its_report_pushed() -> None:
    """The ticker and the callbacks' delivery start a few ms after the server answers (app.py, ``serve_first``):
    a report queued before then is pushed once they run."""
    with receiver() as hook, server.running() as cold:
        body = {**SEND, "scenarioKey": GENIE_KEY, "notifyUrl": f"{hook.url}/hook", "callbackData": "cold"}
        status, _, content = ask(cold.url, "POST", "/omni/1/advanced",
                                 {"Authorization": GENIE_BASIC, "Content-Type": JSON_TYPE}, json.dumps(body).encode())
        assert status == 200, content
        message_id = json.loads(content)["messages"][0]["messageId"]
        advanced = ask(cold.url, "POST", "/__admin/clock/advance", {"Content-Type": JSON_TYPE}, b'{"seconds": 3600}')
        assert advanced[0] == 200, advanced
        delivered = ask(cold.url, "GET", "/__admin/callbacks?state=delivered&count=1&wait=20", {}, None)
        assert json.loads(delivered[2])["reached"], delivered
        assert [(report["messageId"], report["callbackData"]) for report in hook.reports()] == [(message_id, "cold")]
