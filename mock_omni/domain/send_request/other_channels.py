"""VKontakte, and the official client's own channels (Facebook, Parseco)."""

from __future__ import annotations

from typing import Any, Literal

from .base import (
    ChannelData,
    Problems,
    TextRequired,
    add_problem,
)


class VKontakteData(ChannelData):
    templateName: str | None = None
    templateData: dict[str, Any] | None = None

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        if not self.text and self.templateName is None:
            add_problem(problems, path, "must hold a text or a templateName")
        return problems


class FacebookData(ChannelData):
    """The official client 2.3.0's Facebook payload."""

    type: Literal["TEXT", "IMAGE", "AUDIO", "VIDEO", "FILE"] | None = None
    url: str | None = None

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        if (self.type or "TEXT") == "TEXT":
            self.require_text(path, problems)
        elif self.url is None:
            add_problem(problems, f"{path}.url", f"is required for a {self.type} message")
        return problems


class ParsecoData(TextRequired):
    """The official client 2.3.0's Parseco payload (no scenario channel uses it)."""
