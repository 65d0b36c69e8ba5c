"""LINE: its payload and its flex messages."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from .base import (
    ChannelData,
    Count,
    Flex,
    Int64,
    Model,
    Problems,
    add_problem,
)

Spacing = Literal["XS", "SM", "MD", "LG", "XL", "XXL", "NONE"]
Gravity = Literal["TOP", "BOTTOM", "CENTER"]
Alignment = Literal["START", "END", "CENTER"]
SIZES = ("XXS", "XS", "SM", "MD", "LG", "XL", "XXL", "XXXL", "XXXXL", "XXXXXL")
_SPACINGS = ("XS", "SM", "MD", "LG", "XL", "XXL", "NONE")


class ButtonAction(Model):
    """A flex action: POSTBACK (label, data, displayText), URI (label, uri) or MESSAGE (label, text)."""

    type: Literal["POSTBACK", "URI", "MESSAGE"]
    label: str | None = Field(None, max_length=20)
    data: str | None = Field(None, max_length=300)
    displayText: str | None = Field(None, max_length=300)
    uri: str | None = Field(None, max_length=1000)
    text: str | None = Field(None, max_length=300)

    REQUIRED: ClassVar[dict[str, tuple[str, ...]]] = {
        "POSTBACK": ("label", "data", "displayText"), "URI": ("label", "uri"), "MESSAGE": ("label", "text")}

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        for name in self.REQUIRED[self.type]:
            if getattr(self, name) is None:
                add_problem(problems, f"{path}.{name}", f"is required for a {self.type} action")
        return problems


class Component(Model):
    """A flex component; which fields it needs depends on its ``type`` (BOX, BUTTON, FILLER, ICON, IMAGE,
    SEPARATOR, SPACER, TEXT)."""

    type: Literal["BOX", "BUTTON", "FILLER", "ICON", "IMAGE", "SEPARATOR", "SPACER", "TEXT"] | None = None
    layout: Literal["HORIZONTAL", "VERTICAL", "BASELINE"] | None = None
    contents: list[Component] | None = None
    text: str | None = None
    url: str | None = None
    action: ButtonAction | None = None
    flex: Flex | None = None
    spacing: Spacing | None = None
    margin: Spacing | None = None
    size: str | None = Field(None, description="Size: Spacing for SPACER, ImageSize for IMAGE, Size otherwise.")
    align: Alignment | None = None
    gravity: Gravity | None = None
    wrap: bool | None = None
    maxLines: Count | None = None
    color: str | None = None
    weight: Literal["BOLD", "REGULAR"] | None = None
    height: Literal["SM", "MD"] | None = None
    style: Literal["LINK", "PRIMARY", "SECONDARY"] | None = None
    aspectRatio: str | None = None
    aspectMode: Literal["COVER", "FIT"] | None = None
    backgroundColor: str | None = None

    REQUIRED: ClassVar[dict[str, tuple[str, ...]]] = {
        "BOX": ("layout", "contents"), "BUTTON": ("action",), "ICON": ("url",), "IMAGE": ("url",), "TEXT": ("text",)}
    BASELINE: ClassVar[tuple[str, ...]] = ("FILLER", "ICON", "SPACER", "TEXT")
    SIZES_BY_TYPE: ClassVar[dict[str, tuple[str, ...]]] = {"SPACER": _SPACINGS, "IMAGE": (*SIZES, "FULL")}

    def problems(self, path: str, kind: str | None = None) -> Problems:
        problems: Problems = {}
        kind = self.type or kind
        if kind is None:
            add_problem(problems, f"{path}.type", "is required")
            return problems
        for name in self.REQUIRED.get(kind, ()):
            if getattr(self, name) is None:
                add_problem(problems, f"{path}.{name}", f"is required for a {kind} component")
        if self.size is not None and self.size not in self.SIZES_BY_TYPE.get(kind, SIZES):
            add_problem(problems, f"{path}.size", f"must be one of {', '.join(self.SIZES_BY_TYPE.get(kind, SIZES))}")
        if self.action is not None:
            problems.update(self.action.problems(f"{path}.action"))
        for index, child in enumerate(self.contents or ()):
            where = f"{path}.contents[{index}]"
            if self.layout == "BASELINE" and child.type not in self.BASELINE:
                add_problem(problems, f"{where}.type", f"must be one of {', '.join(self.BASELINE)} in a BASELINE box")
            elif child.type == "ICON" and self.layout != "BASELINE":
                add_problem(problems, f"{where}.type", "an ICON goes in a BASELINE box only")
            problems.update(child.problems(where))
        return problems


class BlockComponentStyle(Model):
    backgroundColor: str | None = None
    separator: bool | None = None
    separatorColor: str | None = None


class ComponentStyle(Model):
    header: BlockComponentStyle | None = None
    hero: BlockComponentStyle | None = None
    body: BlockComponentStyle | None = None
    footer: BlockComponentStyle | None = None


class FlexContainer(Model):
    """A BUBBLE (direction required; header, hero, body, footer, styles) or a CAROUSEL of bubbles."""

    type: Literal["BUBBLE", "CAROUSEL"]
    direction: Literal["LEFT_TO_RIGHT", "RIGHT_TO_LEFT"] | None = None
    header: Component | None = None
    hero: Component | None = None
    body: Component | None = None
    footer: Component | None = None
    styles: ComponentStyle | None = None
    contents: list[FlexContainer] | None = None

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        if self.type == "CAROUSEL":
            if not self.contents:
                add_problem(problems, f"{path}.contents", "a CAROUSEL needs bubbles")
            for index, bubble in enumerate(self.contents or ()):
                if bubble.type != "BUBBLE":
                    add_problem(problems, f"{path}.contents[{index}].type", "a CAROUSEL holds BUBBLEs")
                problems.update(bubble.problems(f"{path}.contents[{index}]"))
            return problems
        if self.direction is None:
            add_problem(problems, f"{path}.direction", "is required for a BUBBLE")
        for name, kind in (("header", "BOX"), ("hero", "IMAGE"), ("body", "BOX"), ("footer", "BOX")):
            block: Component | None = getattr(self, name)
            if block is not None:
                if block.type not in (None, kind):
                    add_problem(problems, f"{path}.{name}.type", f"must be {kind}")
                problems.update(block.problems(f"{path}.{name}", kind))
        return problems


DigitString = Annotated[str, Field(pattern="^-?[0-9]{1,18}$")]


class LineData(ChannelData):
    """LINE: TEXT (text), IMAGE and VIDEO (url, thumbnailUrl), AUDIO (url, duration), STICKER (packageId,
    stickerId) or FLEX (altText, contents). Without `type`, a TEXT message."""

    type: Literal["TEXT", "IMAGE", "VIDEO", "AUDIO", "STICKER", "FLEX"] | None = None
    url: str | None = Field(None, max_length=1000)
    thumbnailUrl: str | None = Field(None, max_length=1000)
    # The official client 2.3.0 sends the duration as a string of digits.
    duration: Int64 | DigitString | None = Field(None, description="Duration of the audio file (milliseconds).")
    packageId: str | None = None
    stickerId: str | None = None
    altText: str | None = Field(None, max_length=400)
    contents: FlexContainer | None = None

    REQUIRED: ClassVar[dict[str, tuple[str, ...]]] = {
        "TEXT": ("text",), "IMAGE": ("url", "thumbnailUrl"), "VIDEO": ("url", "thumbnailUrl"),
        "AUDIO": ("url", "duration"), "STICKER": ("packageId", "stickerId"), "FLEX": ("altText", "contents")}

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        kind = self.type or "TEXT"
        for name in self.REQUIRED[kind]:
            if getattr(self, name) in (None, ""):
                add_problem(problems, f"{path}.{name}", f"is required for a {kind} message")
        if self.contents is not None:
            problems.update(self.contents.problems(f"{path}.contents"))
        return problems
