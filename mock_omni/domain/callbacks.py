"""A pushed report's record (api/webhooks.py sends it): what was pushed where, each attempt, how it ended.

Plain data, so state documents (exports, imports, fixtures) and snapshots carry callbacks
as they carry messages.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

State = Literal["pending", "delivered", "failed", "dropped"]
STATES: tuple[State, ...] = ("pending", "delivered", "failed", "dropped")
#: Why a callback that was queued when its records were saved comes back dropped.
PENDING_AT_SNAPSHOT = "pending when the snapshot was taken"
PENDING_AT_EXPORT = "pending when the state was exported"


@dataclass(slots=True)
class Attempt:
    at: float
    #: The receiver's status, None when it did not answer.
    status: int | None
    error: str | None
    milliseconds: float

    def to_dict(self) -> dict[str, object]:
        return {"at": self.at, "status": self.status, "error": self.error, "milliseconds": self.milliseconds}


@dataclass(slots=True)
class Callback:
    id: int
    account: str
    url: str
    content_type: str
    body: bytes
    created: float
    #: The report's message, channel and status group (DELIVERED...), to find and show it.
    message_id: str | None = None
    channel: str | None = None
    report_status: str | None = None
    state: State = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    reason: str | None = None

    def copy(self) -> Callback:
        return replace(self, attempts=list(self.attempts))

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "account": self.account, "messageId": self.message_id, "channel": self.channel,
            "reportStatus": self.report_status, "url": masked_url(self.url),
            "contentType": self.content_type, "body": self.body.decode("utf-8", "replace"),
            # The body parsed, for tests (``callback["json"]["results"][0]["status"]``); None for XML.
            "json": self._parsed(), "created": self.created,
            "state": self.state, "reason": self.reason, "attempts": [attempt.to_dict() for attempt in self.attempts],
        }

    def _parsed(self) -> object:
        if "json" not in self.content_type:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def document(self) -> dict[str, object]:
        """The callback in a state document, under its account (so without it)."""
        document = self.to_dict()
        del document["account"], document["json"]
        return document


#: A URL's scheme and the credentials of its authority (``user:password@``, up to its last ``@``).
_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s\"'<>@]*(?:@[^/?#\s\"'<>@]*)*)@")
#: A URL's query parameter named as a secret (``token``, ``access_token``, ``api_key``, ``apikey``, ``password``,
#: ``client_secret``, ``sig_secret``...), up to its value.
_SECRET_PARAMETER = re.compile(
    r"(?i)([?&;][^=&#\s\"'<>?/]*(?:password|secret|token|api_?key)[^=&#\s\"'<>?/]*=)[^&#;\s\"'<>]*")
#: What a password (or a user without a password: it may be a token) is shown as.
MASK = "***"


def masked_url(text: str) -> str:
    """``text`` with the credentials of every URL in it masked: ``http://user:***@host/...`` (a user alone,
    which may be a token, becomes ``***``), and the value of each query parameter whose name says it is a
    secret (``?token=***``, ``&api_key=***``, ``&client_secret=***``: what the journal masks in a request's own
    query). The push still sends them (credentials as a Basic Authorization header); records, exports, the
    dashboard and the journal show them masked."""
    if "@" in text:
        text = _CREDENTIALS.sub(_mask_credentials, text)
    if "=" in text:
        text = _SECRET_PARAMETER.sub(_mask_parameter, text)
    return text


def _mask_parameter(found: re.Match[str]) -> str:
    return f"{found[1]}{MASK}"


def _mask_credentials(found: re.Match[str]) -> str:
    user, colon, _ = found[2].partition(":")
    return f"{found[1]}{user}:{MASK}@" if colon else f"{found[1]}{MASK}@"


def put_back(callbacks: Iterable[Callback], reason: str = PENDING_AT_SNAPSHOT) -> list[Callback]:
    """Copies of ``callbacks`` to be records again (a restore, an import): nothing is sent again, so those
    that were pending come back dropped."""
    copies = [callback.copy() for callback in callbacks]
    for copy in copies:
        if copy.state == "pending":
            copy.state, copy.reason = "dropped", reason
    return copies


def callback_from_document(account: str, document: object) -> Callback:
    """A callback from its state document; ValueError("field: problem") when the document is not one."""
    if not isinstance(document, Mapping):
        raise ValueError("callback: must be an object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise ValueError(f"{unknown[0]}: unknown field")
    state = document.get("state")
    if state not in STATES:
        raise ValueError(f"state: must be one of {', '.join(STATES)}")
    attempts = document.get("attempts", [])
    if not isinstance(attempts, list):
        raise ValueError("attempts: must be a list")
    return Callback(
        _number(document, "id", int, minimum=1), account, _text(document, "url"), _text(document, "contentType"),
        _text(document, "body", empty=True).encode("utf-8"), _number(document, "created", float),
        _text(document, "messageId", required=False), _text(document, "channel", required=False),
        _text(document, "reportStatus", required=False), state,
        [_attempt(index, item) for index, item in enumerate(attempts)], _text(document, "reason", required=False))


_FIELDS = {"id", "messageId", "channel", "reportStatus", "url", "contentType", "body", "created", "state", "reason",
           "attempts"}


def _attempt(index: int, document: object) -> Attempt:
    where = f"attempts[{index}]"
    if not isinstance(document, Mapping):
        raise ValueError(f"{where}: must be an object")
    try:
        status = document.get("status")
        if status is not None and (type(status) is not int or not 100 <= status <= 599):
            raise ValueError("status: must be an HTTP status or null")
        return Attempt(_number(document, "at", float), status, _text(document, "error", required=False),
                       _number(document, "milliseconds", float))
    except ValueError as exc:
        raise ValueError(f"{where}.{exc}") from None


def _text(document: Mapping[str, Any], name: str, required: bool = True, empty: bool = False) -> Any:
    value = document.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not (value or empty):
        raise ValueError(f"{name}: must be a{' non-empty' if not empty else ''} string")
    return value


def _number(document: Mapping[str, Any], name: str, kind: type, minimum: float = 0) -> Any:
    value = document.get(name)
    what = "an integer" if kind is int else "a number"
    if type(value) is bool or not isinstance(value, int if kind is int else (int, float)):
        raise ValueError(f"{name}: must be {what}")
    # Compared as they are (an integer of thousands of digits never becomes a float here).
    if (isinstance(value, float) and not math.isfinite(value)) or not minimum <= value <= _MAX_NUMBER:
        raise ValueError(f"{name}: must be {what} from {minimum:g} to {_MAX_NUMBER}")
    return kind(value)


_MAX_NUMBER = 2**53
