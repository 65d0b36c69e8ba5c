"""A wait for callbacks ends as soon as they can no longer come (issue 21), on both stores."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni

from .conftest import ALADDIN_BASIC
from .receiver import receiver

pytestmark = pytest.mark.both_stores

#: A bound for the test not to hang; the waits below ask for 30 s and must end long before.
WAIT = 30


def send(client: TestClient, url: str, message_id: str) -> None:
    answer = client.post("/omni/1/advanced", headers={"Authorization": ALADDIN_BASIC}, json={
        "destinations": [{"messageId": message_id, "to": {"phoneNumber": "41793026727"}}],
        "sms": {"text": "SMS"}, "viber": {"text": "Viber"}, "notifyUrl": url})
    assert answer.status_code == 200, answer.text


def test_a_wait_for_a_push_that_failed_ends_at_once_and_says_so(new_app: Callable[..., MockOmni]) -> None:
    app = new_app(webhook_attempts=2, webhook_backoff=0.05)
    with receiver(fail=10) as hook, TestClient(app) as client:
        send(client, f"{hook.url}/hook", "M-1")
        started = time.monotonic()
        answer = client.get("/__admin/callbacks", params={"wait": WAIT, "count": 1, "state": "delivered"}).json()
        assert time.monotonic() - started < WAIT / 2
        assert (answer["reached"], answer["settled"]) == (False, True)
        # Its own record says what happened: both attempts answered 503.
        (failed,) = client.get("/__admin/callbacks").json()["callbacks"]
        assert failed["state"] == "failed" and [a["status"] for a in failed["attempts"]] == [503, 503]


def test_a_wait_goes_on_while_a_message_will_still_push(new_app: Callable[..., MockOmni]) -> None:
    """One push failed, but a second message's report is still to come: not settled, and it arrives."""
    app = new_app(webhook_attempts=1)
    with receiver(fail=1) as hook, TestClient(app) as client:
        send(client, f"{hook.url}/hook", "M-1")
        failed = client.get("/__admin/callbacks", params={"wait": WAIT, "count": 1, "state": "failed"}).json()
        assert failed["reached"]
        # A message that ends later (VIBER answers after 60 s on the mock's clock) will push: the wait is not over.
        rule = client.post("/__admin/delivery-rules", json={"destination": "41793026727", "outcome": "DELIVERED",
                                                            "delaySeconds": 60})
        assert rule.status_code == 201
        send(client, f"{hook.url}/hook", "M-2")
        pending = client.get("/__admin/callbacks", params={"wait": 0.2, "count": 1, "state": "delivered"}).json()
        assert (pending["reached"], pending["settled"]) == (False, False)
        assert client.post("/__admin/clock/advance", json={"seconds": 60}).status_code == 200
        delivered = client.get("/__admin/callbacks", params={"wait": WAIT, "count": 1, "state": "delivered"}).json()
        assert delivered["reached"] and delivered["callbacks"][0]["messageId"] == "M-2"


def test_a_whole_reset_starts_the_counts_again(new_app: Callable[..., MockOmni]) -> None:
    """The dashboard's counters: requests, messages sent, callbacks recorded; a reset shows zero again."""
    app = new_app(webhook_attempts=1)
    with receiver() as hook, TestClient(app) as client:
        send(client, f"{hook.url}/hook", "M-1")
        assert client.get("/__admin/callbacks", params={"wait": WAIT, "count": 1}).json()["recorded"] == 1
        summary = client.get("/", headers={"Accept": "application/json"}).json()
        assert (summary["requestsRecorded"], summary["messagesSent"], summary["callbacksRecorded"]) == (1, 1, 1)
        assert client.post("/__admin/reset").status_code == 200
        summary = client.get("/", headers={"Accept": "application/json"}).json()
        assert (summary["requestsRecorded"], summary["messagesSent"], summary["callbacksRecorded"]) == (0, 0, 0)
