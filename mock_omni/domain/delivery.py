"""How a step of a message's flow ends: the vendor's status objects, outcome rules, test destinations, prices.

Outcome rules say what happens when a step reaches a destination on a channel:
DELIVERED, UNDELIVERABLE or REJECTED (the next step is tried then), each after the rule's
delay (DELIVERED: the server's delivery delay unless the rule gives one; the others: at
once unless it does), or EXPIRED (no answer: the step's validity period runs out on the
clock, then the next step is tried). A rule matches an account (or any), a channel (or any) and the step's
address (exact, or an ``fnmatch`` glob such as ``4179*``); the first matching rule wins,
then the ready-made test destinations, then the default: DELIVERED after the server's
delivery delay (none unless ``--delivery-delay``). A rule with ``times`` decides that many
step attempts and is then used up (one message tries each channel of its flow once, so a
rule for one channel with ``times: 3`` decides three messages).
"""

from __future__ import annotations

import fnmatch
import itertools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ConfigDict, Field

from .addresses import matching_form, matching_pattern
from .deferred import Deferred
from .errors import InvalidArgument
from .scenarios import Channel
from .validation import validate_data

Outcome = Literal["DELIVERED", "UNDELIVERABLE", "REJECTED", "EXPIRED"]
OUTCOMES: tuple[Outcome, ...] = ("DELIVERED", "UNDELIVERABLE", "REJECTED", "EXPIRED")
MAX_RULES = 1000
MAX_DELAY = 10 * 365 * 86400.0


@dataclass(frozen=True, slots=True)
class Status:
    """The vendor's status object (``groupId``, ``groupName``, ``id``, ``name``, ``description``)."""

    group_id: int
    group_name: str
    id: int
    name: str
    description: str
    #: The object as the API sends it: built once, shared by every answer (renderers never change it).
    data: dict[str, object] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", {"groupId": self.group_id, "groupName": self.group_name, "id": self.id,
                                          "name": self.name, "description": self.description})


# The statuses the vendor's OpenAPI examples show, and the vendor's published codes for the rest.
PENDING_ENROUTE = Status(1, "PENDING", 7, "PENDING_ENROUTE", "Message sent to next instance")
PENDING_ACCEPTED = Status(1, "PENDING", 26, "PENDING_ACCEPTED", "Message accepted, pending for delivery")
DELIVERED_TO_HANDSET = Status(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET", "Message delivered to handset")
UNDELIVERABLE_NOT_DELIVERED = Status(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED", "Message sent not delivered")
EXPIRED_EXPIRED = Status(4, "EXPIRED", 15, "EXPIRED_EXPIRED", "Message expired")
REJECTED_NETWORK = Status(5, "REJECTED", 6, "REJECTED_NETWORK", "Network is forbidden")
MISSING_TO = Status(5, "REJECTED", 51, "MISSING_TO", "Missing destination")

#: Each outcome's final status.
STATUS_OF: dict[str, Status] = {
    "DELIVERED": DELIVERED_TO_HANDSET, "UNDELIVERABLE": UNDELIVERABLE_NOT_DELIVERED,
    "REJECTED": REJECTED_NETWORK, "EXPIRED": EXPIRED_EXPIRED, "MISSING_TO": MISSING_TO,
}
#: The status groups the logs' ``generalStatus`` filters on (IpCoreGeneralStatus).
GENERAL_STATUSES = ("ACCEPTED", "PENDING", "UNDELIVERABLE", "DELIVERED", "EXPIRED", "REJECTED")

# The vendor's examples pair every status, UNDELIVERABLE included, with this error object.
NO_ERROR: dict[str, object] = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR",
                               "description": "No Error", "permanent": False}

#: EUR per message (per SMS part), as the vendor's examples price SMS, Viber and Push; the rest plausible.
PRICES: dict[str, float] = {
    "SMS": 0.01, "VIBER": 0.0104, "WHATSAPP": 0.0085, "VOICE": 0.015, "EMAIL": 0.0005, "PUSH": 0.0,
    "FACEBOOK": 0.0, "LINE": 0.005, "VKONTAKTE": 0.0075, "KAKAO_CHINGU": 0.006, "KAKAO_ALIM": 0.006,
}
CURRENCY = "EUR"

#: mccMnc by the longest matching country prefix of the phone number (one home network per country).
MCC_MNC: dict[str, str] = {
    "1": "310260", "30": "20201", "31": "20404", "32": "20601", "33": "20801", "34": "21401", "36": "21630",
    "381": "22001", "385": "21901", "386": "29340", "387": "21890", "39": "22201", "40": "22601", "41": "22801",
    "43": "23201", "44": "23415", "45": "23801", "46": "24001", "47": "24201", "48": "26001", "49": "26201",
    "55": "72405", "61": "50501", "7": "25001", "81": "44010", "82": "45005", "86": "46000", "90": "28601",
    "91": "40410",
}


def mcc_mnc(phone: str | None) -> str | None:
    """The mccMnc of a phone number in international format, None when the country is not in the table."""
    if not phone:
        return None
    digits = matching_form(phone)
    for length in (3, 2, 1):
        found = MCC_MNC.get(digits[:length])
        if found is not None:
            return found
    return None


_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def sms_parts(text: str | None) -> int:
    """How many SMS parts a text takes: 160/153 GSM-7 characters or 70/67 UCS-2 ones per part."""
    if not text:
        return 1
    if _GSM7.issuperset(text):
        size = len(text) + sum(1 for char in text if char in "^{}\\[~]|€")
        single, multi = 160, 153
    else:
        size, single, multi = len(text), 70, 67
    return 1 if size <= single else -(-size // multi)


# --- rules ------------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``2s``, ``500ms``, ``1.5m``, ``1h`` or plain seconds (``2``) as seconds; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"bad duration {text!r}: expected e.g. 2s, 500ms, 1m")
    seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds > MAX_DELAY:
        raise ValueError(f"bad duration {text!r}: at most ten years")
    return seconds


@dataclass
class Rule:
    """One outcome rule. ``destination`` is an address or a glob; None fields match anything."""

    id: int
    outcome: Outcome
    destination: str = "*"
    channel: str | None = None
    account: str | None = None
    #: Seconds until the outcome (None: DELIVERED after the server's delivery delay, the others at once).
    delay: float | None = None
    #: How many step attempts it still decides; None: until removed.
    times: int | None = None
    hits: int = 0
    _match: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = matching_pattern(self.destination)
        # Exact addresses (most rules) compare as strings; globs as one compiled regex.
        self._match = (re.compile(fnmatch.translate(pattern)).match if any(c in pattern for c in "*?[")
                       else pattern.__eq__)

    def matches(self, account: str, address: str, channel: str) -> bool:
        return ((self.channel is None or self.channel == channel)
                and (self.account is None or self.account == account)
                and bool(self._match(address)))

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "destination": self.destination, "channel": self.channel, "account": self.account,
                "outcome": self.outcome, "delaySeconds": self.delay, "times": self.times, "hits": self.hits}


class DeliveryRuleIn(Deferred):
    """An outcome rule as the admin API, fixture files and the pytest plugin give it."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True, title="DeliveryRule")

    destination: str = Field("*", min_length=1, max_length=1000,
                             description="an address (phone number, email...) or an fnmatch glob such as 4179*")
    channel: Channel | None = Field(None, description="only this channel (any if absent)")
    account: str | None = Field(None, min_length=1, description="only this account's messages")
    outcome: Literal["DELIVERED", "UNDELIVERABLE", "REJECTED", "EXPIRED"]
    delay_seconds: float | None = Field(
        None, alias="delaySeconds", ge=0, le=MAX_DELAY,
        description="seconds until the outcome (default: DELIVERED after --delivery-delay, the others at once); "
                    "not for EXPIRED, whose step waits for its validity period")
    times: int | None = Field(None, ge=1, description="the next N step attempts; absent or null: until removed")

    def cross_field_errors(self) -> dict[str, list[str]]:
        if self.outcome == "EXPIRED" and self.delay_seconds is not None:
            return {"delaySeconds": ["an EXPIRED step waits for its validity period, not a delay"]}
        return {}

    def rule(self, rule_id: int) -> Rule:
        return Rule(rule_id, self.outcome, self.destination, self.channel, self.account, self.delay_seconds,
                    self.times)


def rule_document(rule: Rule) -> dict[str, object]:
    """A rule as fixture documents write it (``deliveryRules``): ``rule_from_data`` reads it back."""
    return {key: value for key, value in {
        "destination": rule.destination, "channel": rule.channel, "account": rule.account,
        "outcome": rule.outcome, "delaySeconds": rule.delay, "times": rule.times}.items() if value is not None}


def rule_from_data(data: object, rule_id: int = 0) -> Rule:
    """A rule from its JSON form (fixtures); BAD_REQUEST or INVALID_ARGUMENT naming the field."""
    parsed = validate_data(DeliveryRuleIn, data)
    problems = parsed.cross_field_errors()
    if problems:
        raise InvalidArgument(validation_errors=problems)
    return parsed.rule(rule_id)


@dataclass(frozen=True, slots=True)
class TestDestination:
    address: str
    outcome: Outcome
    channel: str | None
    description: str
    delay: float | None = None

    def to_dict(self) -> dict[str, object]:
        return {"destination": self.address, "channel": self.channel, "outcome": self.outcome,
                "delaySeconds": self.delay, "description": self.description}


# Ready-made destinations, the way Stripe documents test cards: an app can exercise every
# failover path without setting anything up. The numbers are in Ofcom's range reserved for
# fiction (+44 7700 900000-900999): no real phone has them. Rules of your own take precedence.
TEST_DESTINATIONS: tuple[TestDestination, ...] = (
    TestDestination("447700900000", "DELIVERED", None, "delivered on the first step, at once"),
    TestDestination("447700900001", "EXPIRED", "VIBER", "never answers on VIBER: fails over when the Viber step's "
                                                        "validity period runs out"),
    TestDestination("447700900002", "UNDELIVERABLE", "VIBER", "not on Viber: fails over to the next step at once"),
    TestDestination("447700900003", "UNDELIVERABLE", "WHATSAPP", "not on WhatsApp: fails over at once"),
    TestDestination("447700900004", "UNDELIVERABLE", None, "undeliverable on every channel"),
    TestDestination("447700900005", "REJECTED", None, "rejected on every channel"),
    TestDestination("447700900006", "EXPIRED", None, "never answers on any channel: every step expires"),
    TestDestination("447700900007", "DELIVERED", None, "delivered 60 seconds after each step starts", 60.0),
    TestDestination("447700900008", "UNDELIVERABLE", "SMS", "SMS undeliverable, other channels delivered"),
    TestDestination("bounce@example.com", "UNDELIVERABLE", "EMAIL", "email bounces"),
    TestDestination("silent@example.com", "EXPIRED", "EMAIL", "email never answered: expires"),
)


class DeliveryRules:
    """The rules in force (the fixtures', then the admin API's), first match wins; then the test destinations."""

    def __init__(self, initial: Iterable[Rule] = (), default_delay: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.default_delay = default_delay
        self._rules: list[Rule] = [self._renumbered(rule) for rule in initial]
        self._tests: dict[str, list[TestDestination]] = {}
        for test in TEST_DESTINATIONS:
            self._tests.setdefault(test.address, []).append(test)

    def _renumbered(self, rule: Rule) -> Rule:
        return Rule(next(self._ids), rule.outcome, rule.destination, rule.channel, rule.account, rule.delay,
                    rule.times)

    def decide(self, account: str, address: str, channel: str) -> tuple[str, float]:
        """The outcome of one step and its delay in seconds; a rule with ``times`` uses one up."""
        address = matching_form(address)
        if self._rules:
            with self._lock:
                for rule in self._rules:
                    if rule.matches(account, address, channel):
                        rule.hits += 1
                        if rule.times is not None:
                            rule.times -= 1
                            if rule.times == 0:
                                self._rules.remove(rule)
                        return rule.outcome, self._delay(rule.outcome, rule.delay)
        for test in self._tests.get(address, ()):
            if test.channel is None or test.channel == channel:
                return test.outcome, self._delay(test.outcome, test.delay)
        return "DELIVERED", self.default_delay

    def _delay(self, outcome: str, delay: float | None) -> float:
        if delay is not None:
            return delay
        return self.default_delay if outcome == "DELIVERED" else 0.0

    def add(self, data: DeliveryRuleIn) -> Rule:
        with self._lock:
            if len(self._rules) >= MAX_RULES:
                raise InvalidArgument(f"At most {MAX_RULES} delivery rules; delete some first.")
            rule = data.rule(next(self._ids))
            self._rules.append(rule)
        return rule

    def rules(self, account: str | None = None) -> list[Rule]:
        with self._lock:
            return [rule for rule in self._rules if account is None or rule.account == account]

    def remove(self, rule_id: int) -> bool:
        with self._lock:
            for rule in self._rules:
                if rule.id == rule_id:
                    self._rules.remove(rule)
                    return True
        return False

    def clear(self, account: str | None = None) -> int:
        """Remove every rule (or one account's); returns how many."""
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if account is not None and rule.account != account]
            return before - len(self._rules)

    def export(self) -> list[dict[str, object]]:
        """The rules as fixture documents write them (``deliveryRules``)."""
        return [rule_document(rule) for rule in self.rules()]

    def replace(self, rules: Iterable[Rule]) -> None:
        """These rules instead (copies: the given ones are never used up), e.g. a reset's fixtures'."""
        with self._lock:
            self._rules = [self._renumbered(rule) for rule in rules]
