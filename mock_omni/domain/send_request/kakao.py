"""Kakao: the Chingu and Alim payloads and their buttons."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from .base import (
    Model,
    Problems,
    Text,
    TextRequired,
    add_problem,
)


class KakaoChinguButton(Model):
    """URL (buttonUrl), APP_LINK (androidScheme, iosScheme), BOT_KEYWORD or MESSAGE_DELIVERY.

    Without ``type`` (the vendor's XML examples send none), the fields it carries say which it is.
    """

    buttonText: str = Field(min_length=1, max_length=28)
    type: Literal["URL", "APP_LINK", "BOT_KEYWORD", "MESSAGE_DELIVERY"] | None = None
    buttonUrl: str | None = Field(None, min_length=1, max_length=500)
    androidScheme: str | None = Field(None, min_length=1, max_length=500)
    iosScheme: str | None = Field(None, min_length=1, max_length=500)

    REQUIRED: ClassVar[dict[str, tuple[str, ...]]] = {"URL": ("buttonUrl",), "APP_LINK": ("androidScheme", "iosScheme")}

    def kind(self) -> str | None:
        if self.type is not None:
            return self.type
        if self.androidScheme is not None or self.iosScheme is not None:
            return "APP_LINK"
        return "URL" if self.buttonUrl is not None else None

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        kind = self.kind()
        for name in self.REQUIRED.get(kind or "", ()):
            if getattr(self, name) is None:
                add_problem(problems, f"{path}.{name}", f"is required for a {kind} button")
        return problems


class KakaoChinguData(TextRequired):
    buttons: list[KakaoChinguButton] | None = Field(None, min_length=1, max_length=5)
    imageUrl: str | None = Field(None, min_length=1, max_length=250)
    imageLink: str | None = Field(None, min_length=1, max_length=250)
    isPromotional: bool | None = None

    def problems(self, path: str) -> Problems:
        problems = super().problems(path)
        for index, button in enumerate(self.buttons or ()):
            problems.update(button.problems(f"{path}.buttons[{index}]"))
        return problems


class KakaoAlimButton(Model):
    """URL, APP_LINK, DELIVERY_TRACKING, CHATBOT_SWITCH, MESSAGE_DELIVERY, BOT_KEYWORD or ADD_CHANNEL.

    Without ``type`` (the vendor's XML examples send none), the fields it carries say which it is.
    """

    buttonText: str = Field(min_length=1, max_length=28)
    type: Literal["URL", "APP_LINK", "DELIVERY_TRACKING", "CHATBOT_SWITCH", "MESSAGE_DELIVERY", "BOT_KEYWORD",
                  "ADD_CHANNEL"] | None = None
    buttonUrl: str | None = Field(None, min_length=1, max_length=500, description="Deprecated: buttonUrlMobile.")
    buttonUrlMobile: str | None = Field(None, min_length=1, max_length=500)
    buttonUrlPc: str | None = Field(None, min_length=1, max_length=500)
    target: Literal["out"] | None = None
    androidScheme: str | None = Field(None, min_length=1, max_length=500)
    iosScheme: str | None = Field(None, min_length=1, max_length=500)
    chatExtra: str | None = Field(None, max_length=50)
    chatEvent: str | None = Field(None, max_length=50)

    def kind(self) -> str | None:
        if self.type is not None:
            return self.type
        if self.androidScheme is not None or self.iosScheme is not None:
            return "APP_LINK"
        if self.chatExtra is not None or self.chatEvent is not None:
            return "CHATBOT_SWITCH"
        return "URL" if self.buttonUrl is not None or self.buttonUrlMobile is not None else None

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        kind = self.kind()
        if kind == "URL":
            if self.buttonUrl is not None and self.buttonUrlMobile is not None:
                add_problem(problems, f"{path}.buttonUrlMobile", "cannot be used together with buttonUrl")
            elif self.buttonUrl is None and self.buttonUrlMobile is None:
                add_problem(problems, f"{path}.buttonUrlMobile",
                            "is required for a URL button (or the deprecated buttonUrl)")
        elif kind == "APP_LINK":
            if [self.androidScheme, self.iosScheme, self.buttonUrlMobile].count(None) > 1:
                add_problem(problems, path, "an APP_LINK button needs two of androidScheme, iosScheme, buttonUrlMobile")
        elif kind == "CHATBOT_SWITCH":
            for name in ("chatExtra", "chatEvent"):
                if getattr(self, name) is None:
                    add_problem(problems, f"{path}.{name}", "is required for a CHATBOT_SWITCH button")
        return problems


class KakaoAlimData(TextRequired):
    text: Text | None = Field(None, min_length=1, max_length=1000, description="Text of the message.")
    templateCode: str | None = Field(None, min_length=1, max_length=30)
    buttons: list[KakaoAlimButton] | None = Field(None, min_length=1, max_length=5)
    title: str | None = Field(None, max_length=50)
    groupKey: str | None = None

    def problems(self, path: str) -> Problems:
        problems = super().problems(path)
        if self.templateCode is None:
            add_problem(problems, f"{path}.templateCode", "is required")
        for index, button in enumerate(self.buttons or ()):
            problems.update(button.problems(f"{path}.buttons[{index}]"))
        return problems
