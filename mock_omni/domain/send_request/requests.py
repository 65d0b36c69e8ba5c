"""Destinations and the two requests: OmniAdvancedRequest and the legacy simple request."""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction
from typing import Any, Literal

from pydantic import Field

from ..validation import URL_PATTERN
from .base import (
    ChannelData,
    Model,
    Problems,
    Text,
    add_problem,
)
from .kakao import KakaoAlimData, KakaoChinguData
from .line import (
    LineData,
)
from .other_channels import FacebookData, ParsecoData, VKontakteData
from .sms import SmsData
from .viber import ViberData
from .voice_email_push import EmailData, PushData, VoiceData
from .whatsapp import (
    WhatsAppData,
)


class To(Model):
    """The message destination address."""

    phoneNumber: Text | None = Field(None, description="Destination phone number in international format.")
    emailAddress: Text | None = Field(None, description="Destination email address.")
    pushRegistrationId: Text | None = Field(None, description="Unique ID for push registration.")
    whatsAppUserId: Text | None = Field(None, max_length=150, description="WhatsApp Business-Scoped User ID.")
    # The official client 2.3.0 has these two.
    facebookUserKey: Text | None = None
    lineUserKey: Text | None = None


class Destination(Model):
    messageId: Text | None = Field(None, min_length=1, description="The ID that uniquely identifies the message.")
    to: To | None = None


#: The payload field of each scenario channel.
PAYLOAD_FIELDS: dict[str, str] = {
    "SMS": "sms", "EMAIL": "email", "VOICE": "voice", "PUSH": "push", "VIBER": "viber", "FACEBOOK": "facebook",
    "LINE": "line", "VKONTAKTE": "vKontakte", "KAKAO_CHINGU": "kakaoChingu", "KAKAO_ALIM": "kakaoAlim",
    "WHATSAPP": "whatsApp",
}

_DATE = re.compile(
    r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,30})?"
    r"(?:([Zz])|([+-])([0-9]{2}):?([0-9]{2}))?$")
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date, year 0 included (H. Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_date(text: str) -> float:
    """A date the vendor's way (``2021-05-24T10:45:38.000+0000``) or RFC 3339 as POSIX seconds.

    Without a zone the time is UTC (the official client 2.3.0 sends naive datetimes so); a leap
    second counts as the next second. ValueError for anything else.
    """
    whole, fraction = _parse(text)
    return whole + (float(fraction) if fraction else 0.0)


def parse_instant(text: str) -> Fraction:
    """``parse_date``'s instant exactly, every digit kept: a bound compared with dates written to the
    millisecond must not be a float a hair off its own millisecond."""
    whole, fraction = _parse(text)
    return Fraction(whole) + (Fraction(fraction) if fraction else 0)


def _parse(text: str) -> tuple[int, str]:
    """Whole POSIX seconds and the fraction as written (``.833``, or "")."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError("must be a date-time like 2021-05-24T10:45:38.000+0000")
    year, month, day, hour, minute, second, zone_h, zone_m = (
        int(part) if part else 0 for part in match.group(1, 2, 3, 4, 5, 6, 10, 11))
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if not (1 <= month <= 12 and 1 <= day <= _MONTH_DAYS[month - 1] + (month == 2 and leap)
            and hour <= 23 and minute <= 59 and second <= 60 and zone_h <= 23 and zone_m <= 59):
        raise ValueError("is not a valid date-time")
    offset = (zone_h * 3600 + zone_m * 60) * (-1 if match.group(9) == "-" else 1)
    whole = _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset
    return whole, match.group(7) or ""


class SendRequest(Model):
    scenarioKey: Text | None = Field(
        None, description="Scenario key; the account's default scenario when not set.")
    bulkId: Text | None = Field(
        None, min_length=1, description="The ID which uniquely identifies the request; generated when absent and "
                                        "the request has more than one destination.")
    destinations: list[Destination] = Field(min_length=1, description="Destinations to send the message to.")


class OmniAdvancedRequest(SendRequest):
    """The body of ``POST /omni/1/advanced``."""

    sms: SmsData | None = None
    whatsApp: WhatsAppData | None = None
    viber: ViberData | None = None
    voice: VoiceData | None = None
    email: EmailData | None = None
    push: PushData | None = None
    line: LineData | None = None
    kakaoChingu: KakaoChinguData | None = None
    kakaoAlim: KakaoAlimData | None = None
    vKontakte: VKontakteData | None = None
    facebook: FacebookData | None = Field(None, description="The official client 2.3.0's Facebook payload.")
    parseco: ParsecoData | None = Field(None, description="The official client 2.3.0's Parseco payload.")
    notify: bool | None = Field(None, description="false: no delivery report is pushed to notifyUrl.")
    intermediateReport: bool | None = Field(
        None, description="Also push a report for each step that fails over to the next (default false).")
    notifyUrl: str | None = Field(None, pattern=URL_PATTERN, max_length=2048,
                                  description="The URL delivery reports are pushed to.")
    notifyContentType: Literal["application/json", "application/xml"] | None = Field(
        None, description="Content type of pushed reports (default application/json).")
    callbackData: Text | None = Field(None, max_length=4000, description="Echoed in the message's delivery report.")
    sendAt: str | None = Field(
        None, json_schema_extra={"format": "date-time"},
        description="When to send the first step, `yyyy-MM-dd'T'HH:mm:ss.SSSZ`; sooner than 180 days from now.")

    def problems(self, path: str = "") -> Problems:
        problems: Problems = {}
        for name in (*PAYLOAD_FIELDS.values(), "parseco"):
            payload: Model | None = getattr(self, name)
            if payload is not None:
                problems.update(payload.problems(name))
        if self.sendAt is not None:
            try:
                parse_date(self.sendAt)
            except ValueError as exc:
                add_problem(problems, "sendAt", str(exc))
        return problems

    def payload(self, channel: str) -> ChannelData | None:
        found: ChannelData | None = getattr(self, PAYLOAD_FIELDS[channel])
        return found


class OmniSimpleRequest(SendRequest):
    """The body of the legacy ``POST /omni/1/text`` (official client 2.3.0): one text for every step."""

    text: Text = Field(min_length=1, description="Text of the message, sent on every step of the flow.")
    mailSubject: str | None = Field(None, description="Subject of the email, when the flow has an EMAIL step.")

    def advanced(self, channels: Iterable[str]) -> OmniAdvancedRequest:
        """The same send as an advanced request: the payload of each of ``channels`` carries the text."""
        data: dict[str, Any] = {"scenarioKey": self.scenarioKey, "bulkId": self.bulkId,
                                "destinations": self.destinations}
        for channel in channels:
            payload: dict[str, object] = {"text": self.text}
            if channel == "EMAIL" and self.mailSubject is not None:
                payload["subject"] = self.mailSubject
            data[PAYLOAD_FIELDS[channel]] = payload
        return OmniAdvancedRequest.model_validate(data, strict=False)
