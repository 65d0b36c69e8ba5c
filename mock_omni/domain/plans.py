"""What a send means before anything is sent: the steps every destination walks, its addresses, its options.

A send's plan comes from the scenario's flow and the request's per-channel payloads: each step's
channel, sender, text, validity period, SMS parts and price. Checking it is the last check of a
send (after the body's own, send_request/): a flow step without its payload, or a destination
without an address for the first channel, is INVALID_ARGUMENT naming the field, and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from . import entropy
from .delivery import PRICES, sms_parts
from .errors import InvalidArgument
from .memo import Memo
from .scenarios import Step
from .send_request import HOURS_48, PAYLOAD_FIELDS, OmniAdvancedRequest

#: A step's validity period when the payload states none: the vendor's 48-hour maximum.
DEFAULT_VALIDITY = HOURS_48


@dataclass(frozen=True, slots=True)
class PlannedStep:
    """One step of a send's flow, as every destination of the send will try it."""

    channel: str
    sender: str | None
    text: str | None
    #: Seconds the step may go unanswered before the next one is tried.
    validity: float
    #: Parts (SMS) and price per part.
    parts: int
    price: float

    def to_document(self) -> dict[str, object]:
        document: dict[str, object] = {"channel": self.channel}
        if self.sender is not None:
            document["from"] = self.sender
        if self.text is not None:
            document["text"] = self.text
        document.update(validityPeriodSeconds=self.validity, messageCount=self.parts, pricePerMessage=self.price)
        return document


@dataclass(frozen=True, slots=True)
class SendOptions:
    """What a send says about reports, shared by its destinations."""

    scenario_key: str
    notify_url: str | None = None
    content_type: str | None = None
    notify: bool = True
    intermediate: bool = False
    callback_data: str | None = None

    @property
    def pushes(self) -> bool:
        return self.notify_url is not None and self.notify


#: Which field of ``To`` addresses a channel, in order of preference.
ADDRESS_FIELDS: dict[str, tuple[str, ...]] = {
    "SMS": ("phoneNumber",), "VOICE": ("phoneNumber",), "VIBER": ("phoneNumber",),
    "WHATSAPP": ("phoneNumber", "whatsAppUserId"), "EMAIL": ("emailAddress",),
    "PUSH": ("pushRegistrationId", "phoneNumber"), "FACEBOOK": ("facebookUserKey", "phoneNumber"),
    "LINE": ("lineUserKey", "phoneNumber"), "VKONTAKTE": ("phoneNumber",), "KAKAO_CHINGU": ("phoneNumber",),
    "KAKAO_ALIM": ("phoneNumber",),
}


def address_for(channel: str, to: Mapping[str, str]) -> str | None:
    for name in ADDRESS_FIELDS[channel]:
        address = to.get(name)
        if address:
            return address
    return None


def addresses(request: OmniAdvancedRequest) -> list[dict[str, str]]:
    """Each destination's ``to`` as the address fields it has (what the answer echoes)."""
    return [{name: value for name, value in destination.to.__dict__.items() if value is not None}
            if destination.to is not None else {} for destination in request.destinations]


def plan_send(request: OmniAdvancedRequest, flow: Iterable[Step], tos: list[dict[str, str]]) -> tuple[PlannedStep, ...]:
    """The steps every destination will walk; InvalidArgument naming each problem, before anything is sent."""
    problems = request.problems()
    steps = []
    for index, step in enumerate(flow):
        payload = request.payload(step.channel)
        if payload is None:
            name = PAYLOAD_FIELDS[step.channel]
            problems.setdefault(name, []).append(
                f"is required: step {index + 1} of the scenario's flow is {step.channel}")
            continue
        parts = sms_parts(payload.text) if step.channel == "SMS" else 1
        steps.append(PlannedStep(step.channel, step.sender, payload.text,
                                 payload.validity_seconds(DEFAULT_VALIDITY), parts, PRICES[step.channel]))
    if steps:
        first = steps[0].channel
        for index, to in enumerate(tos):
            if address_for(first, to) is None:
                fields = ADDRESS_FIELDS[first]
                problems.setdefault(f"destinations[{index}].to.{fields[0]}", []).append(
                    f"is required: the first step of the flow is {first}"
                    + (f" ({' or '.join(fields)})" if len(fields) > 1 else ""))
    if problems:
        raise InvalidArgument(validation_errors=problems)
    return tuple(steps)


def new_id() -> str:
    """A random UUID (version 4) as text, like the vendor's message and bulk IDs (domain/entropy.py)."""
    return entropy.current().uuid4()


def new_ids(count: int) -> list[str]:
    uuid4 = entropy.current().uuid4
    return [uuid4() for _ in range(count)]


def utf8_length(text: str | None) -> int:
    if text is None:
        return 0
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def shared_size(plan: tuple[PlannedStep, ...], options: SendOptions) -> int:
    """Bytes of what the messages of one send share: each step's text and sender, the send's options
    (``Messages.byte_limit``)."""
    size = sum(utf8_length(step.text) + utf8_length(step.sender) for step in plan)
    return size + sum(map(utf8_length, (options.scenario_key, options.notify_url, options.content_type,
                                        options.callback_data)))


def to_size(to: Mapping[str, str]) -> int:
    """Bytes of one destination's addresses, names included."""
    return sum(utf8_length(name) + utf8_length(address) for name, address in to.items())


class Prepared(NamedTuple):
    """What a send request means once checked: each destination's addresses, the plan, the options, and their
    sizes (``shared_size``, ``to_size``), made once per prepared request."""

    tos: list[dict[str, str]]
    plan: tuple[PlannedStep, ...]
    options: SendOptions
    shared: int
    to_sizes: list[int]


class PreparedSends:
    """The plan and addresses of recent request bodies: a load test repeats one body (api/bodies.py keeps
    its parse from its second coming), so the plan of the same body through the same flow is made twice, then
    found. Kept from a request object's second coming as the memos keep theirs (domain/memo.py): a first-time
    body's request is never seen again (but by id: a new request given the id of one just freed counts as a
    second coming, so numbered bodies still leave some entries, within the bound). Bounded in entries, and
    only small requests are kept: a kept request keeps its parsed destinations and texts alive (api/bodies.py
    keeps no body over 4 KiB, so a larger request is never seen again anyway)."""

    LIMIT = 64
    MAX_DESTINATIONS = 16
    #: Characters of text in all the plan's steps.
    MAX_TEXT = 4096

    def __init__(self) -> None:
        self._entries: Memo[tuple[int, int, str], tuple[object, object, Prepared]] = Memo(self.LIMIT, 0)

    def get(self, request: OmniAdvancedRequest, scenario_key: str, flow: tuple[Step, ...]) -> Prepared:
        key = (id(request), id(flow), scenario_key)
        found = self._entries.get(key)
        # The entry keeps both objects alive, so their ids cannot be reused while it exists.
        if found is not None and found[0] is request and found[1] is flow:
            return found[2]
        tos = addresses(request)
        plan = plan_send(request, flow, tos)
        options = SendOptions(scenario_key, request.notifyUrl, request.notifyContentType, request.notify is not False,
                              bool(request.intermediateReport), request.callbackData)
        prepared = Prepared(tos, plan, options, shared_size(plan, options), [to_size(to) for to in tos])
        if len(tos) <= self.MAX_DESTINATIONS and sum(len(step.text or "") for step in prepared.plan) <= self.MAX_TEXT:
            self._entries.remember(key, (request, flow, prepared), 0)
        return prepared
