"""The pytest plugin's receiver of pushed reports (mock_omni/testing/receiver.py), over real sockets."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx

from mock_omni.testing.receiver import Receiver

REPORT = {"results": [{"messageId": "M1", "status": {"groupName": "DELIVERED"}}]}


def test_a_push_cut_off_mid_body_is_not_received_and_the_next_one_is() -> None:
    """A reset or a shutdown drops a push on the wire: the mock closes the connection mid-body. That is no request
    (a server discards it); recorded, its half a JSON body made ``reports()`` raise for the rest of the test."""
    receiver = Receiver()
    try:
        where = urlsplit(receiver.url)
        whole = json.dumps(REPORT).encode()
        with socket.create_connection((where.hostname, where.port), timeout=10) as cut:
            cut.sendall(b"POST /reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n" % len(whole) + whole[:10])
        time.sleep(0.2)  # the receiver's thread reads what came, then the end of the connection
        answer = httpx.post(receiver.url, content=whole, headers={"content-type": "application/json"}, timeout=10)
        assert answer.status_code == 200
        assert [item.body for item in receiver.received] == [whole]
        assert receiver.reports() == REPORT["results"]
    finally:
        receiver.close()
