"""Viber: its payload and the rules of what it combines."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import (
    DAYS_14,
    ChannelData,
    Int32,
    Problems,
    add_problem,
)

VIBER_FILE_TYPES = ("doc", "docx", "rtf", "dot", "dotx", "odt", "odf", "fodt", "txt", "info", "pdf", "xps",
                    "pdax", "eps", "xls", "xlsx", "ods", "fods", "csv", "xlsm", "xltx")


class ViberData(ChannelData):
    """Viber: a text, an image, a file, a text with a button, or a text with an image and a button."""

    validityPeriod: Int32 | None = Field(
        None,
        description="The message validity period (minutes unless validityPeriodTimeUnit says otherwise). Longer "
                    "than 14 days is not supported; it must be longer than 35 seconds.")
    imageURL: str | None = Field(None, max_length=1000)
    fileName: str | None = Field(None, max_length=25)
    fileType: Literal[VIBER_FILE_TYPES] | None = None  # type: ignore[valid-type]
    fileUrl: str | None = Field(None, pattern="^(https?)://.*$")
    buttonText: str | None = Field(None, max_length=30)
    buttonURL: str | None = Field(None, max_length=1000)
    trackingData: str | None = Field(None, max_length=100)
    isPromotional: bool | None = None
    forcePrimaryDevice: bool | None = None

    MIN_VALIDITY = 35.0
    MAX_VALIDITY = DAYS_14
    REFUSE_LONGER = True

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        text, image, button = bool(self.text), self.imageURL is not None, self.buttonText is not None
        file = self.fileUrl is not None or self.fileName is not None or self.fileType is not None
        if (self.buttonText is None) != (self.buttonURL is None):
            add_problem(problems, f"{path}.{'buttonText' if self.buttonText is None else 'buttonURL'}",
                 "a button needs both buttonText and buttonURL")
        if file:
            for name in ("fileUrl", "fileName", "fileType"):
                if getattr(self, name) is None:
                    add_problem(problems, f"{path}.{name}", "is required for a file message")
            if text or image or button:
                add_problem(problems, path, "a file message carries no text, image or button")
        elif button and not text:
            add_problem(problems, f"{path}.text", "is required with a button")
        elif not (text or image):
            add_problem(problems, path, "must be one of: text, image, file, text with button, or text with image and "
                                 "button")
        elif image and text and not button:
            add_problem(problems, f"{path}.buttonText", "a text with an image needs a button")
        return problems
