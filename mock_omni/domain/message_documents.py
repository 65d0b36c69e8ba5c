"""Messages in state documents: ``GET /__admin/state`` writes them per account, ``PUT`` and fixtures read them.

A document holds what the walk needs to go on after a load: the plan, the steps taken with
their times, the transition due next, and where the final report is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from .callbacks import masked_url
from .delivery import PENDING_ACCEPTED, PENDING_ENROUTE, PRICES, STATUS_OF
from .message import NOT_READY, REPORT_STATES, Message, WalkStep
from .plans import PlannedStep, SendOptions
from .send_request import To, parse_date

#: 0001-01-01T00:00:00Z in POSIX seconds: the earliest date a message's dates can be written as.
EARLIEST_DATE = -62_135_596_800.0
#: Half a millisecond before 10000-01-01T00:00:00Z: later dates round to the year 10000 when written.
LATEST_DATE = 253_402_300_799.9995


def message_document(message: Message, date: Callable[[float], str]) -> dict[str, object]:
    """A message as ``GET /__admin/state`` exports it; ``date`` writes the mock's clock as a vendor date."""
    options = message.options
    document: dict[str, object] = {"messageId": message.message_id}
    if message.bulk_id is not None:
        document["bulkId"] = message.bulk_id
    document.update(to=message.to, scenarioKey=options.scenario_key,
                    flow=[step.to_document() for step in message.plan], sentAt=date(message.sent_at),
                    status=message.status.name)
    document["steps"] = [{"channel": channel, "outcome": outcome, "startedAt": date(started),
                          **({} if ended is None else {"endedAt": date(ended)})}
                         for channel, outcome, started, ended in message.walk]
    if message.due is not None:
        document.update(next=message.pending, nextAt=date(message.due))
    if message.done_at is not None:
        document["doneAt"] = date(message.done_at)
    document["report"] = REPORT_STATES[message.report]
    # The URL's credentials stay in the mock: an exported message shows them masked, as callbacks do.
    notify_url = None if options.notify_url is None else masked_url(options.notify_url)
    for name, value in (("notifyUrl", notify_url), ("notifyContentType", options.content_type),
                        ("notify", None if options.notify else False),
                        ("intermediateReport", options.intermediate or None),
                        ("callbackData", options.callback_data)):
        if value is not None:
            document[name] = value
    return document



def message_from_document(seq: int, account: str, document: object,
                          clock_time: Callable[[float], float] = float) -> Message:
    """A message from its export; ValueError("field: problem") when the document is not one.

    ``clock_time`` turns the document's dates (POSIX seconds) into the mock's clock.
    """
    if not isinstance(document, Mapping):
        raise ValueError("message: must be an object")
    return _MessageReader(seq, account, document, clock_time).read()


_STATUSES = {status.name: status for status in (PENDING_ACCEPTED, PENDING_ENROUTE, *STATUS_OF.values())}
_OUTCOMES = ("PENDING", *STATUS_OF)


class _MessageReader:
    """Reads one exported message back, checking each field (state imports, fixtures)."""

    def __init__(self, seq: int, account: str, document: Mapping[str, Any],
                 clock_time: Callable[[float], float]) -> None:
        self.seq, self.account, self.document, self.clock_time = seq, account, document, clock_time

    def fail(self, where: str, problem: str) -> ValueError:
        return ValueError(f"{where}: {problem}")

    def text(self, name: str, required: bool = True, where: Mapping[str, Any] | None = None,
             path: str | None = None) -> str | None:
        value = (self.document if where is None else where).get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(path or name, "must be a non-empty string")
        return value

    def time(self, name: str, where: Mapping[str, Any] | None = None, path: str | None = None,
             required: bool = True) -> float | None:
        value = self.text(name, required, where, path)
        if value is None:
            return None
        try:
            seconds = parse_date(value)
        except ValueError as exc:
            raise self.fail(path or name, str(exc)) from None
        # The year 0 parses, and 9999-12-31T23:59:59.9999 rounds to the year 10000: neither can be written back.
        if not EARLIEST_DATE <= seconds < LATEST_DATE:
            raise self.fail(path or name, "must be in the years 1 to 9999")
        return self.clock_time(seconds)

    def read(self) -> Message:
        document = self.document
        to = document.get("to")
        if not isinstance(to, dict) or not all(isinstance(v, str) for v in to.values()):
            raise self.fail("to", "must be an object of addresses")
        try:
            To.model_validate(to)
        except ValidationError as exc:
            raise self.fail("to", "must hold address strings (phoneNumber, emailAddress, ...)") from exc
        plan = self.plan()
        options = self.options()
        sent_at = self.time("sentAt")
        assert sent_at is not None
        message = Message(self.seq, self.account, str(self.text("messageId")), self.text("bulkId", False),
                          dict(to), plan, options, sent_at)
        status = _STATUSES.get(str(document.get("status")))
        if status is None:
            raise self.fail("status", f"must be one of {', '.join(_STATUSES)}")
        message.status = status
        message.walk = self.walk(len(plan))
        message.step = max(0, len(message.walk) - 1)
        message.done_at = self.time("doneAt", required=False)
        if document.get("nextAt") is not None:
            message.due = self.time("nextAt")
            pending = document.get("next")
            if pending not in ("START", *STATUS_OF):
                raise self.fail("next", f"must be START or one of {', '.join(STATUS_OF)}")
            message.pending = pending
        report = document.get("report", "pending")
        if report not in REPORT_STATES:
            raise self.fail("report", "must be pending, waiting or fetched")
        message.report = REPORT_STATES.index(report)
        finished = message.done_at is not None
        if finished == (message.due is not None) or (message.report != NOT_READY) != finished:
            raise self.fail("status", "doneAt, nextAt and report disagree")
        return message

    def plan(self) -> tuple[PlannedStep, ...]:
        flow = self.document.get("flow")
        if not isinstance(flow, list) or not flow:
            raise self.fail("flow", "must be a non-empty list")
        steps = []
        for index, item in enumerate(flow):
            path = f"flow[{index}]"
            if not isinstance(item, Mapping) or item.get("channel") not in PRICES:
                raise self.fail(f"{path}.channel", f"must be one of {', '.join(PRICES)}")
            numbers = []
            for name in ("validityPeriodSeconds", "messageCount", "pricePerMessage"):
                value = item.get(name)
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise self.fail(f"{path}.{name}", "must be a number of at least 0")
                numbers.append(value)
            steps.append(PlannedStep(item["channel"], self.text("from", False, item, f"{path}.from"),
                                     self.text("text", False, item, f"{path}.text"),
                                     float(numbers[0]), int(numbers[1]), float(numbers[2])))
        return tuple(steps)

    def options(self) -> SendOptions:
        document = self.document
        flags = [document.get("notify", True), document.get("intermediateReport", False)]
        if not all(isinstance(flag, bool) for flag in flags):
            raise self.fail("notify", "notify and intermediateReport must be booleans")
        return SendOptions(str(self.text("scenarioKey")), self.text("notifyUrl", False),
                           self.text("notifyContentType", False), flags[0], flags[1], self.text("callbackData", False))

    def walk(self, length: int) -> tuple[WalkStep, ...]:
        steps = self.document.get("steps", [])
        if not isinstance(steps, list) or len(steps) > length:
            raise self.fail("steps", f"must be a list of at most {length} steps")
        walk: list[WalkStep] = []
        for index, item in enumerate(steps):
            path = f"steps[{index}]"
            if not isinstance(item, Mapping):
                raise self.fail(path, "must be an object")
            outcome = item.get("outcome")
            if outcome not in _OUTCOMES:
                raise self.fail(f"{path}.outcome", f"must be one of {', '.join(_OUTCOMES)}")
            channel, started = self.text("channel", True, item, f"{path}.channel"), self.time("startedAt", item,
                                                                                            f"{path}.startedAt")
            assert channel is not None and started is not None  # required, so there
            walk.append((channel, outcome, started,
                         self.time("endedAt", item, f"{path}.endedAt", required=outcome != "PENDING")))
        return tuple(walk)
