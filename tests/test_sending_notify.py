"""The boundary to the webhook sender: which reports a send asks to push, when, and in which shape.

Here ``messages.notify`` is a recorder, so nothing is sent; tests/test_callbacks.py sends for real.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni, Settings, create_app
from mock_omni.domain.messages import Notification, RecordedNotifications

from .conftest import ALADDIN_BASIC
from .sending import advance, body, reports, rule, send, sending_app, sending_client

HOOK = "http://127.0.0.1:9/hook"


pytestmark = pytest.mark.both_stores


@pytest.fixture
def app(new_app: Callable[..., MockOmni]) -> MockOmni:
    return recording(sending_app(new_app))


def recording(app: MockOmni) -> MockOmni:
    app.state.messages.notify = RecordedNotifications()
    return app


@pytest.fixture
def client(app: MockOmni) -> Iterator[TestClient]:
    with sending_client(app) as test_client:
        yield test_client


def pushed(app: MockOmni) -> list[Notification]:
    recorder = app.state.messages.notify
    assert isinstance(recorder, RecordedNotifications)
    return list(recorder.calls)


def test_the_final_report_is_pushed_as_one_element_of_the_reports(app: MockOmni, client: TestClient) -> None:
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK, callbackData="cb",
                      notifyContentType="application/xml"))
    (push,) = pushed(app)
    assert push[:3] == ("Aladdin", HOOK, "application/xml") and push.callback_data == "cb"
    assert reports(client) == [push.report]


def test_intermediate_reports_come_first_when_asked(app: MockOmni, client: TestClient) -> None:
    rule(client, channel="SMS", outcome="UNDELIVERABLE")
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK, intermediateReport=True))
    assert [(p.report["channel"], p.report["status"]["groupName"]) for p in pushed(app)] == [
        ("SMS", "UNDELIVERABLE"), ("VIBER", "DELIVERED")]
    assert pushed(app)[0].content_type is None


@pytest.mark.parametrize("extra", [{}, {"notifyUrl": HOOK, "notify": False}, {"intermediateReport": True}])
def test_nothing_is_pushed_without_a_url_or_with_notify_false(app: MockOmni, client: TestClient,
                                                              extra: dict[str, Any]) -> None:
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"], **extra))
    assert pushed(app) == [] and len(reports(client)) == 1


def test_a_delayed_report_is_pushed_when_the_clock_gets_there(app: MockOmni, client: TestClient) -> None:
    rule(client, outcome="DELIVERED", delaySeconds=60)
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK))
    advance(client, 59)
    assert pushed(app) == []
    advance(client, 1)  # the admin clock performs what fell due, with its push
    assert len(pushed(app)) == 1


def test_the_app_pushes_through_its_webhooks(new_app: Callable[..., MockOmni]) -> None:
    app = sending_app(new_app)
    with sending_client(app) as client:
        send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK, callbackData="cb"))
        (callback,) = app.state.webhooks.records()
    assert (callback.account, callback.url, callback.message_id) == ("Aladdin", HOOK, reports(client)[0]["messageId"])


def test_the_app_may_replace_notify(app: MockOmni, client: TestClient) -> None:
    calls: list[tuple[Any, ...]] = []
    app.state.messages.notify = lambda *args: calls.append(args)
    send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK))
    assert [call[1] for call in calls] == [HOOK]


def test_the_ticker_pushes_without_any_request_and_stops_at_shutdown() -> None:
    # A second of delay: the second send's report must not come due before the client's exit, even when loaded.
    app = recording(create_app(Settings(delivery_delay=1.0)))
    recorder = app.state.messages.notify
    assert isinstance(recorder, RecordedNotifications)
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK))
        deadline = time.monotonic() + 5
        while not recorder.calls and time.monotonic() < deadline:
            time.sleep(0.02)  # no request: only the ticker can deliver it
        assert len(recorder.calls) == 1
        send(client, body(None, "41793026727", channels=["SMS", "VIBER"], notifyUrl=HOOK))
    time.sleep(1.3)
    assert len(recorder.calls) == 1  # after shutdown, nothing more happens by itself
