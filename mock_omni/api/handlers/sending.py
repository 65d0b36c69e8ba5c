"""Handlers of sending: parse (done by the dispatcher), call the messages backend, return the data (a send's
in steps: domain/steps.py)."""

from __future__ import annotations

from fractions import Fraction

from ...domain.backend import Backend
from ...domain.send_request import OmniAdvancedRequest, OmniSimpleRequest
from ...domain.steps import Steps
from ..routing import Call


def send_advanced(backend: Backend, call: Call) -> dict[str, object] | Steps[dict[str, object]]:
    body: OmniAdvancedRequest = call.body
    call.notes = []
    return backend.messages.sending(call.account, body, call.notes)


def send_text(backend: Backend, call: Call) -> dict[str, object] | Steps[dict[str, object]]:
    body: OmniSimpleRequest = call.body
    messages = backend.messages
    _, flow = messages.flow(call.account, body.scenarioKey)
    call.notes = []
    return messages.sending(call.account, body.advanced(step.channel for step in flow), call.notes)


def get_reports(backend: Backend, call: Call) -> dict[str, object]:
    query = call.query
    return {"results": backend.messages.take_reports(
        call.account, _text(query["bulkId"]), _text(query["messageId"]), _text(query["channel"]),
        _number(query["limit"]))}


def get_logs(backend: Backend, call: Call) -> dict[str, object]:
    query = call.query
    return {"results": backend.messages.logs(
        call.account, sender=_text(query["from"]), to=_text(query["to"]), bulk_ids=_texts(query["bulkId"]),
        message_ids=_texts(query["messageId"]), general_status=_text(query["generalStatus"]),
        channel=_text(query["channel"]), since=_moment(query["sentSince"]), until=_moment(query["sentUntil"]),
        limit=_number(query["limit"]), mcc=_text(query["mcc"]), mnc=_text(query["mnc"]))}


# The query's values as routing.QueryParam.read typed them.

def _text(value: object) -> str | None:
    assert value is None or isinstance(value, str)
    return value


def _texts(value: object) -> tuple[str, ...]:
    assert value is None or isinstance(value, tuple)
    return value or ()


def _number(value: object) -> int:
    assert isinstance(value, int)
    return value


def _moment(value: object) -> Fraction | None:
    assert value is None or isinstance(value, Fraction)
    return value
