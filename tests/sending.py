"""Helpers of the sending tests: an app on a manual clock and a fixed wall clock, scenarios, sends."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from starlette.testclient import TestClient

from mock_omni import MockOmni

from .conftest import ALADDIN_BASIC

#: 2015-02-23T16:41:11.833+0000, the first sentAt of the vendor's report examples.
WALL_START = 1424709671.833
PENDING = {"groupId": 1, "groupName": "PENDING", "id": 7, "name": "PENDING_ENROUTE",
           "description": "Message sent to next instance"}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET",
             "description": "Message delivered to handset"}
UNDELIVERABLE = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 9, "name": "UNDELIVERABLE_NOT_DELIVERED",
                 "description": "Message sent not delivered"}
EXPIRED = {"groupId": 4, "groupName": "EXPIRED", "id": 15, "name": "EXPIRED_EXPIRED", "description": "Message expired"}
REJECTED = {"groupId": 5, "groupName": "REJECTED", "id": 6, "name": "REJECTED_NETWORK",
            "description": "Network is forbidden"}
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error",
            "permanent": False}
PAYLOADS: dict[str, tuple[str, dict[str, Any]]] = {
    "SMS": ("sms", {"text": "SMS text"}), "VIBER": ("viber", {"text": "Viber text"}),
    "EMAIL": ("email", {"text": "Email text", "subject": "Subject"}), "VOICE": ("voice", {"text": "Voice text"}),
    "PUSH": ("push", {"text": "Push text"}), "WHATSAPP": ("whatsApp", {"text": "WhatsApp text"}),
    "LINE": ("line", {"type": "TEXT", "text": "Line text"}), "FACEBOOK": ("facebook", {"text": "Facebook text"}),
    "VKONTAKTE": ("vKontakte", {"text": "VK text"}), "KAKAO_CHINGU": ("kakaoChingu", {"text": "Chingu text"}),
    "KAKAO_ALIM": ("kakaoAlim", {"text": "Alim text", "templateCode": "T1"}),
}


def sending_app(new_app: Callable[..., MockOmni], **settings: Any) -> MockOmni:
    """An app of the test's store (conftest.new_app) on a manual clock, its dates from WALL_START."""
    return new_app(wall_clock=lambda: WALL_START, **settings)


def sending_client(app: MockOmni) -> TestClient:
    return TestClient(app, headers={"Authorization": ALADDIN_BASIC})


def scenario(client: TestClient, *channels: str, senders: Sequence[str | None] = ()) -> str:
    """A new scenario of ``channels`` (senders "S-<channel>" unless given); its key."""
    flow = [{"channel": channel, "from": senders[index] if index < len(senders) else f"S-{channel}"}
            for index, channel in enumerate(channels)]
    flow = [{k: v for k, v in step.items() if v is not None} for step in flow]
    response = client.post("/omni/1/scenarios", json={"flow": flow})
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


def body(key: str | None, *to: str | dict[str, str], channels: Sequence[str] = tuple(PAYLOADS),
         **extra: Any) -> dict[str, Any]:
    """An advanced request to phone numbers (or To objects) with a payload for each of ``channels``."""
    data: dict[str, Any] = {"destinations": [{"to": {"phoneNumber": t} if isinstance(t, str) else t} for t in to]}
    if key is not None:
        data["scenarioKey"] = key
    for channel in channels:
        name, payload = PAYLOADS[channel]
        data[name] = dict(payload)  # a copy: a test that changes its body must not change the next test's
    data.update(extra)
    return data


def send(client: TestClient, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/omni/1/advanced", json=data)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def reports(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get("/omni/1/reports", params=query)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["results"]
    return found


def logs(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get("/omni/1/logs", params=query)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["results"]
    return found


def advance(client: TestClient, seconds: float) -> None:
    response = client.post("/__admin/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text


def rule(client: TestClient, **data: Any) -> dict[str, Any]:
    response = client.post("/__admin/delivery-rules", json=data)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def walk(client: TestClient, message_id: str) -> list[tuple[str, str, str, str | None]]:
    """(channel, outcome, startedAt, endedAt) of each step the message took."""
    found = client.get("/__admin/messages", params={"messageId": message_id}).json()["messages"]
    assert len(found) == 1, found
    return [(s["channel"], s["outcome"], s["startedAt"], s["endedAt"]) for s in found[0]["steps"]]


def date(seconds_after_start: float) -> str:
    """The vendor's date of an instant ``seconds_after_start`` after the test app's start."""
    from mock_omni.domain.messages import vendor_date

    return vendor_date(WALL_START + seconds_after_start)


def ids(answer: dict[str, Any]) -> list[str]:
    return [message["messageId"] for message in answer["messages"]]
