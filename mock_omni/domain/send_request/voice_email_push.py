"""Voice, email and push: their payloads."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import (
    Int32,
    Model,
    Problems,
    Text,
    TextRequired,
    add_problem,
)


class VoiceData(TextRequired):
    language: str | None = Field(None, description="Language of the text-to-speech voice.")


class EmailData(TextRequired):
    subject: str | None = Field(None, description="Message subject.")


class NotificationOptions(Model):
    vibrationEnabled: bool | None = None
    soundEnabled: bool | None = None
    soundName: str | None = None
    badge: Int32 | None = None
    contentUrl: str | None = None
    category: str | None = None
    inAppStyle: Literal["BANNER", "MODAL"] | None = None
    title: str | None = None
    isSilent: bool | None = None
    webViewUrl: str | None = None
    inboxTopic: str | None = None


class PushData(TextRequired):
    text: Text | None = Field(None, min_length=1, max_length=2000, description="Text of the message.")
    customPayload: dict[str, Any] | None = None
    notificationOptions: NotificationOptions | None = None
    targetOnlyPrimaryDevices: bool | None = None
    includeNotificationsDisabledDevices: bool | None = None
    personSubscriptions: list[str] | None = Field(None, json_schema_extra={"uniqueItems": True})
    deviceSubscriptions: list[str] | None = Field(None, json_schema_extra={"uniqueItems": True})

    def problems(self, path: str) -> Problems:
        problems = super().problems(path)
        for name in ("personSubscriptions", "deviceSubscriptions"):
            values = getattr(self, name)
            if values is not None and len(set(values)) != len(values):
                add_problem(problems, f"{path}.{name}", "must not repeat a value")
        return problems
