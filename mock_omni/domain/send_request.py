"""What a send request may carry: the vendor's OmniAdvancedRequest and the legacy simple request, as models.

The models follow the vendor's OpenAPI (OmniAdvancedRequest and the per-channel ``*Data``
schemas): field names, types, enums, lengths and ranges, so the published schema and the
validation are one thing. The official client 2.3.0 adds ``facebook`` and ``parseco``
payloads and a few fields (``To.facebookUserKey``, ``Language.singleShift``); they are here too.

Rules a JSON schema cannot state (which fields a Viber message combines, what each LINE
type needs, Kakao buttons per type) are each payload's ``problems()``: checked after the
types, reported per field (``viber.buttonURL``), all in this module.

Where the vendor's ``required`` lists contradict its own examples and field descriptions
(WhatsAppData requires ``mediaTemplateData`` and ``text`` together; every header kind of
MediaTemplateHeaderContent is required at once; KakaoChinguData requires ``imageUrl``, described
as "Optional value"), the examples and descriptions win: those lists are conditional
requirements flattened by the vendor's generator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .validation import URL_PATTERN, XML_TEXT_PATTERN

Problems = dict[str, list[str]]


def _integral(value: object) -> object:
    # A JSON number with nothing after the point (`5.0`) is the integer it equals, as the vendor's Java
    # binding reads it; 5.5 stays a float, for the strict check to refuse.
    return int(value) if type(value) is float and value.is_integer() else value


_INTEGRAL = BeforeValidator(_integral)
#: Integer fields by range; ``5.0`` is read as 5.
# The range before the validator: so pydantic publishes it as minimum and maximum.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), _INTEGRAL]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1), _INTEGRAL]
Flex = Annotated[int, Field(ge=0, le=10), _INTEGRAL]
Count = Annotated[int, Field(ge=0, le=2**31 - 1), _INTEGRAL]

_STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)

#: A string the API may echo back (logs, reports, XML): no characters XML cannot carry.
Text = Annotated[str, Field(pattern=XML_TEXT_PATTERN)]

TimeUnit = Literal["NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"]
UNIT_SECONDS: dict[str, float] = {
    "NANOSECONDS": 1e-9, "MICROSECONDS": 1e-6, "MILLISECONDS": 1e-3, "SECONDS": 1.0,
    "MINUTES": 60.0, "HOURS": 3600.0, "DAYS": 86400.0,
}
HOURS_48 = 48 * 3600.0
DAYS_14 = 14 * 86400.0


def _add(problems: Problems, path: str, message: str) -> None:
    problems.setdefault(path, []).append(message)


class _Model(BaseModel):
    model_config = _STRICT

    def problems(self, path: str) -> Problems:
        """Rules beyond the field types, keyed by field path; empty when there are none."""
        return {}


class _ChannelData(_Model):
    """What every channel's payload has: the text and how long this step of the flow may take."""

    text: Text | None = Field(None, description="Text of the message that will be sent.")
    validityPeriod: Int32 | None = Field(
        None,
        description="The message validity period. Unless specified differently in validityPeriodTimeUnit, it is "
                    "expressed in minutes. When the period expires, the message will be automatically sent using "
                    "the next OMNI step. Longer than 48h is set to 48h; it must be longer than 30 seconds.")
    validityPeriodTimeUnit: TimeUnit | None = Field(
        None, description="The message validity period time unit (default MINUTES).")

    #: Seconds a validity period must exceed, and the longest one (longer ones are cut to it, or refused).
    MIN_VALIDITY: ClassVar[float] = 30.0
    MAX_VALIDITY: ClassVar[float] = HOURS_48
    REFUSE_LONGER: ClassVar[bool] = False

    def validity_problems(self, path: str) -> Problems:
        problems: Problems = {}
        if self.validityPeriod is None:
            if self.validityPeriodTimeUnit is not None:
                _add(problems, f"{path}.validityPeriod", "is required with validityPeriodTimeUnit")
            return problems
        seconds = self.validityPeriod * UNIT_SECONDS[self.validityPeriodTimeUnit or "MINUTES"]
        if seconds <= self.MIN_VALIDITY:
            _add(problems, f"{path}.validityPeriod", f"must be longer than {self.MIN_VALIDITY:.0f} seconds")
        elif self.REFUSE_LONGER and seconds > self.MAX_VALIDITY:
            _add(problems, f"{path}.validityPeriod", "must not be longer than 14 days")
        return problems

    def validity_seconds(self, default: float) -> float:
        """The step's validity in seconds: ``default`` when not given, at most the channel's maximum."""
        if self.validityPeriod is None:
            return default
        return min(self.validityPeriod * UNIT_SECONDS[self.validityPeriodTimeUnit or "MINUTES"], self.MAX_VALIDITY)

    def problems(self, path: str) -> Problems:
        return self.validity_problems(path)

    def require_text(self, path: str, problems: Problems) -> None:
        if not self.text:
            _add(problems, f"{path}.text", "must not be empty")


class _TextRequired(_ChannelData):
    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        self.require_text(path, problems)
        return problems


# --- SMS ----------------------------------------------------------------------------------

class Language(_Model):
    """By setting the `languageCode` parameter you can send your language specific characters."""

    languageCode: Literal["NONE", "TR", "ES", "PT", "AUTODETECT"] | None = None
    # The official client 2.3.0 sends these two as well.
    singleShift: bool | None = None
    lockingShift: bool | None = None


class IndiaDltOptions(_Model):
    contentTemplateId: str | None = None
    principalEntityId: str = Field(description="Your assigned DTL principal entity id.")
    telemarketerId: str | None = None


class KoreaOptions(_Model):
    title: str | None = Field(None, max_length=66)


class RegionalData(_Model):
    indiaDlt: IndiaDltOptions | None = None
    korea: KoreaOptions | None = None


class SmsData(_TextRequired):
    """SMS-specific data used if the message is sent through an SMS channel."""

    transliteration: Literal[
        "NONE", "ALL", "BALTIC", "CENTRAL_EUROPEAN", "COLOMBIAN", "CYRILLIC", "GREEK", "NON_UNICODE",
        "PORTUGUESE", "SERBIAN_CYRILLIC", "TURKISH", "BULGARIAN_CYRILLIC",
    ] | None = None
    language: Language | None = None
    regional: RegionalData | None = None


# --- WhatsApp -------------------------------------------------------------------------------

class MediaTemplateHeaderContent(_Model):
    """Media template header: exactly one kind (text, document, image, video or location)."""

    textPlaceholder: str | None = None
    documentUrl: str | None = None
    documentFilename: str | None = None
    imageUrl: str | None = None
    videoUrl: str | None = None
    latitude: float | None = Field(None, ge=-90, le=90)
    longitude: float | None = Field(None, ge=-180, le=180)

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        kinds = [self.textPlaceholder is not None, self.documentUrl is not None or self.documentFilename is not None,
                 self.imageUrl is not None, self.videoUrl is not None,
                 self.latitude is not None or self.longitude is not None]
        if sum(kinds) != 1:
            _add(problems, path, "must hold exactly one of textPlaceholder, documentUrl with documentFilename, "
                                 "imageUrl, videoUrl, latitude with longitude")
        for first, second in (("documentUrl", "documentFilename"), ("latitude", "longitude")):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                missing = first if getattr(self, first) is None else second
                _add(problems, f"{path}.{missing}", f"is required with {second if missing == first else first}")
        return problems


class MediaTemplateBodyContent(_Model):
    placeholders: list[str] = Field(description="Body placeholders; may be empty, values must not be empty.")

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        for index, value in enumerate(self.placeholders):
            if not value:
                _add(problems, f"{path}.placeholders[{index}]", "must not be empty")
        return problems


class MediaTemplateButtonContent(_Model):
    urlPlaceholder: str | None = Field(None, max_length=1500)
    quickReplyPayload: str | None = Field(None, max_length=128)


class MediaTemplateData(_Model):
    header: MediaTemplateHeaderContent | None = None
    body: MediaTemplateBodyContent
    buttons: list[MediaTemplateButtonContent] | None = None

    def problems(self, path: str) -> Problems:
        problems = self.body.problems(f"{path}.body")
        if self.header is not None:
            problems.update(self.header.problems(f"{path}.header"))
        return problems


class ContactAddress(_Model):
    model_config = ConfigDict(title="Address")
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    countryCode: str | None = None
    type: str | None = None


class ContactEmail(_Model):
    model_config = ConfigDict(title="Email")
    email: str | None = None
    type: str | None = None


class ContactName(_Model):
    model_config = ConfigDict(title="Name")
    firstName: str
    lastName: str | None = None
    middleName: str | None = None
    nameSuffix: str | None = None
    namePrefix: str | None = None
    formattedName: str


class ContactOrganization(_Model):
    model_config = ConfigDict(title="Organization")
    company: str | None = None
    department: str | None = None
    title: str | None = None


class ContactPhone(_Model):
    model_config = ConfigDict(title="Phone")
    phone: str | None = None
    type: str | None = None
    waId: str | None = None


class ContactUrl(_Model):
    model_config = ConfigDict(title="Url")
    url: str | None = None
    type: str | None = None


class Contact(_Model):
    addresses: list[ContactAddress] | None = None
    birthday: str | None = None
    emails: list[ContactEmail] | None = None
    name: ContactName
    org: ContactOrganization | None = None
    phones: list[ContactPhone] | None = None
    urls: list[ContactUrl] | None = None


class WhatsAppData(_ChannelData):
    """WhatsApp: a text, a template (with `language`), a media file, a location or contacts."""

    templateNamespace: str | None = None
    templateName: str | None = None
    templateData: list[str] | None = None
    mediaTemplateData: MediaTemplateData | None = None
    language: str | None = None
    fileUrl: str | None = Field(None, max_length=2048)
    imageUrl: str | None = Field(None, max_length=2048)
    audioUrl: str | None = Field(None, max_length=2048)
    videoUrl: str | None = Field(None, max_length=2048)
    locationName: str | None = Field(None, max_length=1000)
    address: str | None = Field(None, max_length=1000)
    longitude: float | None = Field(None, ge=-180, le=180)
    latitude: float | None = Field(None, ge=-90, le=90)
    previewUrl: bool | None = None
    contacts: list[Contact] | None = None

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        content = [self.text, self.templateName, self.fileUrl, self.imageUrl, self.audioUrl, self.videoUrl,
                   self.longitude, self.latitude, self.contacts]
        if all(value is None or value == "" for value in content):
            _add(problems, path, "must hold a text, a templateName, a file, image, audio or video URL, "
                                 "a location or contacts")
        if self.templateName is not None and not self.language:
            _add(problems, f"{path}.language", "is required with templateName")
        if (self.templateData is not None or self.mediaTemplateData is not None) and self.templateName is None:
            _add(problems, f"{path}.templateName", "is required with template data")
        if (self.longitude is None) != (self.latitude is None):
            _add(problems, f"{path}.{'longitude' if self.longitude is None else 'latitude'}",
                 "a location needs both latitude and longitude")
        if self.mediaTemplateData is not None:
            problems.update(self.mediaTemplateData.problems(f"{path}.mediaTemplateData"))
        return problems


# --- Viber, voice, email, push ----------------------------------------------------------------

VIBER_FILE_TYPES = ("doc", "docx", "rtf", "dot", "dotx", "odt", "odf", "fodt", "txt", "info", "pdf", "xps",
                    "pdax", "eps", "xls", "xlsx", "ods", "fods", "csv", "xlsm", "xltx")


class ViberData(_ChannelData):
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
            _add(problems, f"{path}.{'buttonText' if self.buttonText is None else 'buttonURL'}",
                 "a button needs both buttonText and buttonURL")
        if file:
            for name in ("fileUrl", "fileName", "fileType"):
                if getattr(self, name) is None:
                    _add(problems, f"{path}.{name}", "is required for a file message")
            if text or image or button:
                _add(problems, path, "a file message carries no text, image or button")
        elif button and not text:
            _add(problems, f"{path}.text", "is required with a button")
        elif not (text or image):
            _add(problems, path, "must be one of: text, image, file, text with button, or text with image and "
                                 "button")
        elif image and text and not button:
            _add(problems, f"{path}.buttonText", "a text with an image needs a button")
        return problems


class VoiceData(_TextRequired):
    language: str | None = Field(None, description="Language of the text-to-speech voice.")


class EmailData(_TextRequired):
    subject: str | None = Field(None, description="Message subject.")


class NotificationOptions(_Model):
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


class PushData(_TextRequired):
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
                _add(problems, f"{path}.{name}", "must not repeat a value")
        return problems


# --- LINE and its flex messages ---------------------------------------------------------------

Spacing = Literal["XS", "SM", "MD", "LG", "XL", "XXL", "NONE"]
Gravity = Literal["TOP", "BOTTOM", "CENTER"]
Alignment = Literal["START", "END", "CENTER"]
SIZES = ("XXS", "XS", "SM", "MD", "LG", "XL", "XXL", "XXXL", "XXXXL", "XXXXXL")
_SPACINGS = ("XS", "SM", "MD", "LG", "XL", "XXL", "NONE")


class ButtonAction(_Model):
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
                _add(problems, f"{path}.{name}", f"is required for a {self.type} action")
        return problems


class Component(_Model):
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
            _add(problems, f"{path}.type", "is required")
            return problems
        for name in self.REQUIRED.get(kind, ()):
            if getattr(self, name) is None:
                _add(problems, f"{path}.{name}", f"is required for a {kind} component")
        if self.size is not None and self.size not in self.SIZES_BY_TYPE.get(kind, SIZES):
            _add(problems, f"{path}.size", f"must be one of {', '.join(self.SIZES_BY_TYPE.get(kind, SIZES))}")
        if self.action is not None:
            problems.update(self.action.problems(f"{path}.action"))
        for index, child in enumerate(self.contents or ()):
            where = f"{path}.contents[{index}]"
            if self.layout == "BASELINE" and child.type not in self.BASELINE:
                _add(problems, f"{where}.type", f"must be one of {', '.join(self.BASELINE)} in a BASELINE box")
            elif child.type == "ICON" and self.layout != "BASELINE":
                _add(problems, f"{where}.type", "an ICON goes in a BASELINE box only")
            problems.update(child.problems(where))
        return problems


class BlockComponentStyle(_Model):
    backgroundColor: str | None = None
    separator: bool | None = None
    separatorColor: str | None = None


class ComponentStyle(_Model):
    header: BlockComponentStyle | None = None
    hero: BlockComponentStyle | None = None
    body: BlockComponentStyle | None = None
    footer: BlockComponentStyle | None = None


class FlexContainer(_Model):
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
                _add(problems, f"{path}.contents", "a CAROUSEL needs bubbles")
            for index, bubble in enumerate(self.contents or ()):
                if bubble.type != "BUBBLE":
                    _add(problems, f"{path}.contents[{index}].type", "a CAROUSEL holds BUBBLEs")
                problems.update(bubble.problems(f"{path}.contents[{index}]"))
            return problems
        if self.direction is None:
            _add(problems, f"{path}.direction", "is required for a BUBBLE")
        for name, kind in (("header", "BOX"), ("hero", "IMAGE"), ("body", "BOX"), ("footer", "BOX")):
            block: Component | None = getattr(self, name)
            if block is not None:
                if block.type not in (None, kind):
                    _add(problems, f"{path}.{name}.type", f"must be {kind}")
                problems.update(block.problems(f"{path}.{name}", kind))
        return problems


DigitString = Annotated[str, Field(pattern="^-?[0-9]{1,18}$")]


class LineData(_ChannelData):
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
                _add(problems, f"{path}.{name}", f"is required for a {kind} message")
        if self.contents is not None:
            problems.update(self.contents.problems(f"{path}.contents"))
        return problems


# --- Kakao --------------------------------------------------------------------------------------

class KakaoChinguButton(_Model):
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
                _add(problems, f"{path}.{name}", f"is required for a {kind} button")
        return problems


class KakaoChinguData(_TextRequired):
    buttons: list[KakaoChinguButton] | None = Field(None, min_length=1, max_length=5)
    imageUrl: str | None = Field(None, min_length=1, max_length=250)
    imageLink: str | None = Field(None, min_length=1, max_length=250)
    isPromotional: bool | None = None

    def problems(self, path: str) -> Problems:
        problems = super().problems(path)
        for index, button in enumerate(self.buttons or ()):
            problems.update(button.problems(f"{path}.buttons[{index}]"))
        return problems


class KakaoAlimButton(_Model):
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
                _add(problems, f"{path}.buttonUrlMobile", "cannot be used together with buttonUrl")
            elif self.buttonUrl is None and self.buttonUrlMobile is None:
                _add(problems, f"{path}.buttonUrlMobile", "is required for a URL button (or the deprecated buttonUrl)")
        elif kind == "APP_LINK":
            if [self.androidScheme, self.iosScheme, self.buttonUrlMobile].count(None) > 1:
                _add(problems, path, "an APP_LINK button needs two of androidScheme, iosScheme, buttonUrlMobile")
        elif kind == "CHATBOT_SWITCH":
            for name in ("chatExtra", "chatEvent"):
                if getattr(self, name) is None:
                    _add(problems, f"{path}.{name}", "is required for a CHATBOT_SWITCH button")
        return problems


class KakaoAlimData(_TextRequired):
    text: Text | None = Field(None, min_length=1, max_length=1000, description="Text of the message.")
    templateCode: str | None = Field(None, min_length=1, max_length=30)
    buttons: list[KakaoAlimButton] | None = Field(None, min_length=1, max_length=5)
    title: str | None = Field(None, max_length=50)
    groupKey: str | None = None

    def problems(self, path: str) -> Problems:
        problems = super().problems(path)
        if self.templateCode is None:
            _add(problems, f"{path}.templateCode", "is required")
        for index, button in enumerate(self.buttons or ()):
            problems.update(button.problems(f"{path}.buttons[{index}]"))
        return problems


# --- VKontakte and the official client's own channels ------------------------------------------

class VKontakteData(_ChannelData):
    templateName: str | None = None
    templateData: dict[str, Any] | None = None

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        if not self.text and self.templateName is None:
            _add(problems, path, "must hold a text or a templateName")
        return problems


class FacebookData(_ChannelData):
    """The official client 2.3.0's Facebook payload."""

    type: Literal["TEXT", "IMAGE", "AUDIO", "VIDEO", "FILE"] | None = None
    url: str | None = None

    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        if (self.type or "TEXT") == "TEXT":
            self.require_text(path, problems)
        elif self.url is None:
            _add(problems, f"{path}.url", f"is required for a {self.type} message")
        return problems


class ParsecoData(_TextRequired):
    """The official client 2.3.0's Parseco payload (no scenario channel uses it)."""


# --- destinations and the requests --------------------------------------------------------------

class To(_Model):
    """The message destination address."""

    phoneNumber: Text | None = Field(None, description="Destination phone number in international format.")
    emailAddress: Text | None = Field(None, description="Destination email address.")
    pushRegistrationId: Text | None = Field(None, description="Unique ID for push registration.")
    whatsAppUserId: Text | None = Field(None, max_length=150, description="WhatsApp Business-Scoped User ID.")
    # The official client 2.3.0 has these two.
    facebookUserKey: Text | None = None
    lineUserKey: Text | None = None


class Destination(_Model):
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
    fraction = float(match.group(7)) if match.group(7) else 0.0
    return _days_from_civil(year, month, day) * 86400.0 + hour * 3600 + minute * 60 + second - offset + fraction


class _SendRequest(_Model):
    scenarioKey: Text | None = Field(
        None, description="Scenario key; the account's default scenario when not set.")
    bulkId: Text | None = Field(
        None, min_length=1, description="The ID which uniquely identifies the request; generated when absent and "
                                        "the request has more than one destination.")
    destinations: list[Destination] = Field(min_length=1, description="Destinations to send the message to.")


class OmniAdvancedRequest(_SendRequest):
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
            payload: _Model | None = getattr(self, name)
            if payload is not None:
                problems.update(payload.problems(name))
        if self.sendAt is not None:
            try:
                parse_date(self.sendAt)
            except ValueError as exc:
                _add(problems, "sendAt", str(exc))
        return problems

    def payload(self, channel: str) -> _ChannelData | None:
        found: _ChannelData | None = getattr(self, PAYLOAD_FIELDS[channel])
        return found


class OmniSimpleRequest(_SendRequest):
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
