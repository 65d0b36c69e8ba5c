"""SMS: its payload, languages and regional options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import (
    Model,
    TextRequired,
)


class Language(Model):
    """By setting the `languageCode` parameter you can send your language specific characters."""

    languageCode: Literal["NONE", "TR", "ES", "PT", "AUTODETECT"] | None = None
    # The official client 2.3.0 sends these two as well.
    singleShift: bool | None = None
    lockingShift: bool | None = None


class IndiaDltOptions(Model):
    contentTemplateId: str | None = None
    principalEntityId: str = Field(description="Your assigned DTL principal entity id.")
    telemarketerId: str | None = None


class KoreaOptions(Model):
    title: str | None = Field(None, max_length=66)


class RegionalData(Model):
    indiaDlt: IndiaDltOptions | None = None
    korea: KoreaOptions | None = None


class SmsData(TextRequired):
    """SMS-specific data used if the message is sent through an SMS channel."""

    transliteration: Literal[
        "NONE", "ALL", "BALTIC", "CENTRAL_EUROPEAN", "COLOMBIAN", "CYRILLIC", "GREEK", "NON_UNICODE",
        "PORTUGUESE", "SERBIAN_CYRILLIC", "TURKISH", "BULGARIAN_CYRILLIC",
    ] | None = None
    language: Language | None = None
    regional: RegionalData | None = None
