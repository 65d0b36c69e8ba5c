"""WhatsApp: its payload, media templates and contacts."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .base import (
    ChannelData,
    Model,
    Problems,
    add_problem,
)


class MediaTemplateHeaderContent(Model):
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
            add_problem(problems, path, "must hold exactly one of textPlaceholder, documentUrl with documentFilename, "
                                 "imageUrl, videoUrl, latitude with longitude")
        for first, second in (("documentUrl", "documentFilename"), ("latitude", "longitude")):
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                missing = first if getattr(self, first) is None else second
                add_problem(problems, f"{path}.{missing}", f"is required with {second if missing == first else first}")
        return problems


class MediaTemplateBodyContent(Model):
    placeholders: list[str] = Field(description="Body placeholders; may be empty, values must not be empty.")

    def problems(self, path: str) -> Problems:
        problems: Problems = {}
        for index, value in enumerate(self.placeholders):
            if not value:
                add_problem(problems, f"{path}.placeholders[{index}]", "must not be empty")
        return problems


class MediaTemplateButtonContent(Model):
    urlPlaceholder: str | None = Field(None, max_length=1500)
    quickReplyPayload: str | None = Field(None, max_length=128)


class MediaTemplateData(Model):
    header: MediaTemplateHeaderContent | None = None
    body: MediaTemplateBodyContent
    buttons: list[MediaTemplateButtonContent] | None = None

    def problems(self, path: str) -> Problems:
        problems = self.body.problems(f"{path}.body")
        if self.header is not None:
            problems.update(self.header.problems(f"{path}.header"))
        return problems


class ContactAddress(Model):
    model_config = ConfigDict(title="Address")
    street: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    countryCode: str | None = None
    type: str | None = None


class ContactEmail(Model):
    model_config = ConfigDict(title="Email")
    email: str | None = None
    type: str | None = None


class ContactName(Model):
    model_config = ConfigDict(title="Name")
    firstName: str
    lastName: str | None = None
    middleName: str | None = None
    nameSuffix: str | None = None
    namePrefix: str | None = None
    formattedName: str


class ContactOrganization(Model):
    model_config = ConfigDict(title="Organization")
    company: str | None = None
    department: str | None = None
    title: str | None = None


class ContactPhone(Model):
    model_config = ConfigDict(title="Phone")
    phone: str | None = None
    type: str | None = None
    waId: str | None = None


class ContactUrl(Model):
    model_config = ConfigDict(title="Url")
    url: str | None = None
    type: str | None = None


class Contact(Model):
    addresses: list[ContactAddress] | None = None
    birthday: str | None = None
    emails: list[ContactEmail] | None = None
    name: ContactName
    org: ContactOrganization | None = None
    phones: list[ContactPhone] | None = None
    urls: list[ContactUrl] | None = None


class WhatsAppData(ChannelData):
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
            add_problem(problems, path, "must hold a text, a templateName, a file, image, audio or video URL, "
                                 "a location or contacts")
        if self.templateName is not None and not self.language:
            add_problem(problems, f"{path}.language", "is required with templateName")
        if (self.templateData is not None or self.mediaTemplateData is not None) and self.templateName is None:
            add_problem(problems, f"{path}.templateName", "is required with template data")
        if (self.longitude is None) != (self.latitude is None):
            add_problem(problems, f"{path}.{'longitude' if self.longitude is None else 'latitude'}",
                 "a location needs both latitude and longitude")
        if self.mediaTemplateData is not None:
            problems.update(self.mediaTemplateData.problems(f"{path}.mediaTemplateData"))
        return problems
