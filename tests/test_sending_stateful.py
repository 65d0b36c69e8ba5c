"""A Hypothesis state machine: random sends, rule changes, clock advances and report fetches against a
simple model of the failover walk.

After every step, each message's status and walk (channel, outcome, start, end of each step) are the
model's, every final report was fetched at most once, and the pushed reports are exactly the final ones.
At the end, with everything due and fetched, each message's report was delivered exactly once.

The model is a plain discrete-event simulation written here: pending transitions are taken in order of
(due time, send order), each step's outcome comes from the first matching rule when the step starts
(a rule with ``times`` is used up by the attempts it decides), EXPIRED waits for the step's validity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from starlette.testclient import TestClient

from mock_omni import Settings, create_app
from mock_omni.domain.clock import ManualClock
from mock_omni.domain.messages import RecordedNotifications, vendor_date

from .conftest import ALADDIN_BASIC, store_settings

# A whole second: every time in the test is an integer number of seconds, so ties order as in the model.
WALL = 1424709671.0
PHONES = ("41790000001", "41790000002", "41790000003")
FLOWS = (("SMS",), ("VIBER", "SMS"), ("SMS", "EMAIL"), ("WHATSAPP", "VIBER", "SMS"))
CHANNELS = ("SMS", "VIBER", "EMAIL", "WHATSAPP")
PAYLOAD = {"SMS": "sms", "VIBER": "viber", "EMAIL": "email", "WHATSAPP": "whatsApp"}
FINAL = {"DELIVERED": "DELIVERED_TO_HANDSET", "UNDELIVERABLE": "UNDELIVERABLE_NOT_DELIVERED",
         "REJECTED": "REJECTED_NETWORK", "EXPIRED": "EXPIRED_EXPIRED", "MISSING_TO": "MISSING_TO"}
HOOK = "http://127.0.0.1:9/hook"


@dataclass
class ModelRule:
    destination: str
    channel: str | None
    outcome: str
    delay: int | None
    times: int | None

    def matches(self, to: str, channel: str) -> bool:
        return self.destination in ("*", to) and self.channel in (None, channel)


@dataclass
class ModelMessage:
    seq: int
    message_id: str
    to: str
    flow: list[tuple[str, int]]  # (channel, validity in seconds)
    status: str = "PENDING_ACCEPTED"
    walk: list[list[Any]] = field(default_factory=list)
    pending: str | None = None
    due: int | None = None
    final: bool = False


class Model:
    def __init__(self) -> None:
        self.now = 0
        self.rules: list[tuple[int, ModelRule]] = []
        self.messages: list[ModelMessage] = []

    def decide(self, to: str, channel: str) -> tuple[str, int]:
        for index, (_, found) in enumerate(self.rules):
            if found.matches(to, channel):
                if found.times is not None:
                    found.times -= 1
                    if found.times == 0:
                        del self.rules[index]
                default = 0  # the app's delivery delay is 0
                return found.outcome, default if found.delay is None else found.delay
        return "DELIVERED", 0

    def start(self, message: ModelMessage, at: int) -> None:
        message.status = "PENDING_ENROUTE"
        while True:
            channel, validity = message.flow[len(message.walk)]
            message.walk.append([channel, "PENDING", at, None])
            if channel == "EMAIL":  # the destinations have phone numbers only
                outcome, delay = "MISSING_TO", 0
            else:
                outcome, delay = self.decide(message.to, channel)
                if outcome == "EXPIRED":
                    delay = validity
            if delay:
                message.pending, message.due = outcome, at + delay
                return
            if self.end(message, outcome, at):
                return

    @staticmethod
    def end(message: ModelMessage, outcome: str, at: int) -> bool:
        entry = message.walk[-1]
        entry[1], entry[3] = outcome, at
        message.pending = message.due = None
        if outcome == "DELIVERED" or len(message.walk) == len(message.flow):
            message.status, message.final = FINAL[outcome], True
            return True
        return False

    def advance_to(self, now: int) -> None:
        while True:
            waiting = [m for m in self.messages if m.due is not None and m.due <= now]
            if not waiting:
                break
            message = min(waiting, key=lambda m: (m.due, m.seq))
            due, pending = message.due, message.pending
            assert due is not None and pending is not None
            if pending == "START":
                message.pending = message.due = None
                self.start(message, due)
            elif not self.end(message, pending, due):
                self.start(message, due)
        self.now = now


class SendingMachine(RuleBasedStateMachine):
    #: ``memory``, or the URL of a Redis (each run on a store of its own): the machine runs on both stores.
    store = "memory"

    @initialize()
    def start_app(self) -> None:
        self.app = create_app(Settings(rate_limits={}, **store_settings(self.store)),  # type: ignore[arg-type]
                              clock=ManualClock(), wall_clock=lambda: WALL)
        self.app.state.messages.notify = RecordedNotifications()  # what is pushed, without sending it
        self.client = TestClient(self.app, headers={"Authorization": ALADDIN_BASIC})
        self.model = Model()
        self.fetched: dict[str, int] = {}
        self.keys: dict[tuple[str, ...], str] = {}
        self.rule_ids: list[int] = []
        for flow in FLOWS:
            response = self.client.post("/omni/1/scenarios", json={"flow": [{"channel": c} for c in flow]})
            self.keys[flow] = response.json()["key"]

    def teardown(self) -> None:
        if hasattr(self, "client"):
            # Everything due happens, every report is fetched: each message's report came exactly once.
            self.advance(10 * 86400)
            self.fetch(1000, False)
            assert self.fetched == {m.message_id: 1 for m in self.model.messages}, self.fetched
            self.client.close()
            self.app.close()

    @rule(destination=st.sampled_from((*PHONES, "*", "4179*")), channel=st.sampled_from((None, *CHANNELS)),
          outcome=st.sampled_from(("DELIVERED", "UNDELIVERABLE", "REJECTED", "EXPIRED")),
          delay=st.sampled_from((None, 0, 5, 60)), times=st.sampled_from((None, 1, 2)))
    def add_rule(self, destination: str, channel: str | None, outcome: str, delay: int | None,
                 times: int | None) -> None:
        if outcome == "EXPIRED":
            delay = None
        response = self.client.post("/__admin/delivery-rules", json={
            "destination": destination, "channel": channel, "outcome": outcome, "delaySeconds": delay,
            "times": times})
        assert response.status_code == 201, response.text
        model_destination = destination if destination != "4179*" else "*"  # every phone matches 4179*
        self.model.rules.append((response.json()["id"], ModelRule(model_destination, channel, outcome, delay, times)))

    @precondition(lambda self: bool(self.model.rules))
    @rule(data=st.data())
    def remove_rule(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(0, len(self.model.rules) - 1))
        rule_id, _ = self.model.rules.pop(index)
        assert self.client.delete(f"/__admin/delivery-rules/{rule_id}").status_code == 200

    @rule(phones=st.lists(st.sampled_from(PHONES), min_size=1, max_size=3), flow=st.sampled_from(FLOWS),
          minutes=st.lists(st.integers(1, 5), min_size=3, max_size=3),
          send_at=st.one_of(st.none(), st.integers(0, 300)))
    def send(self, phones: list[str], flow: tuple[str, ...], minutes: list[int], send_at: int | None) -> None:
        data: dict[str, Any] = {"scenarioKey": self.keys[flow], "notifyUrl": HOOK,
                                "destinations": [{"to": {"phoneNumber": phone}} for phone in phones]}
        for channel, period in zip(flow, minutes, strict=False):
            data[PAYLOAD[channel]] = {"text": channel, "validityPeriod": period}
        data.setdefault("email", {"text": "email"})
        if send_at is not None:
            data["sendAt"] = vendor_date(WALL + self.model.now + send_at)
        response = self.client.post("/omni/1/advanced", json=data)
        assert response.status_code == 200, response.text
        start = self.model.now + (send_at or 0)
        for phone, answer in zip(phones, response.json()["messages"], strict=True):
            validity = {channel: 60 * period for channel, period in zip(flow, minutes, strict=False)}
            message = ModelMessage(len(self.model.messages), answer["messageId"], phone,
                                   [(channel, validity[channel]) for channel in flow])
            self.model.messages.append(message)
            if start > self.model.now:
                message.pending, message.due = "START", start
            else:
                self.model.start(message, start)

    @rule(seconds=st.integers(0, 400))
    def advance(self, seconds: int) -> None:
        assert self.client.post("/__admin/clock/advance", json={"seconds": seconds}).status_code == 200
        self.model.advance_to(self.model.now + seconds)

    @rule(limit=st.integers(1, 5), by_id=st.booleans())
    def fetch(self, limit: int, by_id: bool) -> None:
        query: dict[str, Any] = {"limit": limit}
        if by_id and self.model.messages:
            query["messageId"] = self.model.messages[-1].message_id
        found = self.client.get("/omni/1/reports", params=query).json()["results"]
        waiting = [m for m in self.model.messages if m.final and m.message_id not in self.fetched
                   and ("messageId" not in query or m.message_id == query["messageId"])]
        assert len(found) == min(limit, len(waiting))
        by_id_model = {m.message_id: m for m in self.model.messages}
        for report in found:
            message = by_id_model[report["messageId"]]
            assert message.final and report["status"]["name"] == message.status
            assert report["channel"] == message.walk[-1][0] and report["doneAt"] == date(message.walk[-1][3])
            self.fetched[report["messageId"]] = self.fetched.get(report["messageId"], 0) + 1

    @invariant()
    def walks_follow_the_model(self) -> None:
        if not hasattr(self, "client"):
            return
        found = {m["messageId"]: m for m in self.client.get("/__admin/messages").json()["messages"]}
        assert len(found) == len(self.model.messages)
        for message in self.model.messages:
            server = found[message.message_id]
            assert server["status"]["name"] == message.status, (message, server)
            steps = [(s["channel"], s["outcome"], s["startedAt"], s["endedAt"]) for s in server["steps"]]
            assert steps == [(c, o, date(s), None if e is None else date(e)) for c, o, s, e in message.walk]
        assert all(count == 1 for count in self.fetched.values())

    @invariant()
    def final_reports_are_pushed_once(self) -> None:
        if not hasattr(self, "client"):
            return
        recorder = self.app.state.messages.notify
        assert isinstance(recorder, RecordedNotifications)
        pushed = [call.report["messageId"] for call in recorder.calls]
        assert sorted(pushed) == sorted(m.message_id for m in self.model.messages if m.final)


def date(seconds: int) -> str:
    return vendor_date(WALL + seconds)


SETTINGS = settings(
    max_examples=40, stateful_step_count=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.both_stores
def test_sending_state_machine(store: str) -> None:
    machine = type("SendingMachineOn", (SendingMachine,), {"store": store})
    run_state_machine_as_test(machine, settings=SETTINGS)
