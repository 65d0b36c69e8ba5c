"""Response models of the vendor API, for /openapi.json and for tests that validate live answers.

Request models live with their resource in the domain (``domain/scenarios.py``: the
rules of a valid scenario are the domain's); these only describe what the API sends.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from ..domain.deferred import Deferred
from ..domain.scenarios import Channel
from ..domain.send_request import To


class StepOut(Deferred):
    model_config = ConfigDict(title="Step")
    sender: str | None = Field(None, alias="from", description="Sender used in this step.")
    channel: Channel


class ScenarioOut(Deferred):
    model_config = ConfigDict(title="Scenario")
    key: str = Field(description="Key used to uniquely identify the scenario: 32 uppercase hex characters.",
                     pattern="^[0-9A-F]{32}$")
    name: str | None = Field(None, description="OMNI scenario name.")
    flow: list[StepOut]
    default: bool = Field(description="Whether the scenario is the account's default.")


class ScenariosResponse(Deferred):
    scenarios: list[ScenarioOut]


class ServiceException(Deferred):
    model_config = ConfigDict(title="ApiRequestErrorDetails")
    messageId: str
    text: str
    validationErrors: dict[str, list[str]] | None = None


class RequestError(Deferred):
    model_config = ConfigDict(title="ApiRequestError")
    serviceException: ServiceException


class ApiException(Deferred):
    requestError: RequestError


# --- sending -----------------------------------------------------------------------------------

OmniChannel = Literal["SMS", "EMAIL", "VOICE", "PUSH", "VIBER", "FACEBOOK", "LINE", "VKONTAKTE", "KAKAO_CHINGU",
                      "KAKAO_ALIM", "WHATSAPP"]


class Status(Deferred):
    groupId: int = Field(description="Status group ID.")
    groupName: str = Field(description="Status group name.")
    id: int = Field(description="Status ID.")
    name: str = Field(description="Status name.")
    description: str = Field(description="Human-readable description of the status.")


class Error(Deferred):
    groupId: int
    groupName: str
    id: int
    name: str
    description: str
    permanent: bool = Field(description="Tells if the error is permanent.")


class Price(Deferred):
    pricePerMessage: float = Field(description="Price per message.")
    currency: str = Field(description="Currency.")


class OmniResponseDetails(Deferred):
    to: To
    status: Status
    messageId: str = Field(description="The ID that uniquely identifies the sent message.")


class OmniResponse(Deferred):
    bulkId: str | None = Field(None, description="Present when the request has more than one destination "
                                                 "(or gave a bulkId).")
    messages: list[OmniResponseDetails]


class DeliveryReport(Deferred):
    bulkId: str | None = None
    messageId: str
    to: str = Field(description="The address the final step reached.")
    sentAt: str = Field(description="When the first step started: `yyyy-MM-dd'T'HH:mm:ss.SSSZ`.")
    doneAt: str = Field(description="When the message was finished: `yyyy-MM-dd'T'HH:mm:ss.SSSZ`.")
    messageCount: int = Field(description="The number of sent message segments.")
    mccMnc: str | None = Field(None, description="Mobile country and network codes.")
    price: Price
    status: Status
    error: Error
    channel: OmniChannel = Field(description="The channel of the final step.")
    callbackData: str | None = None


class DeliveryReports(Deferred):
    results: list[DeliveryReport] = Field(description="Reports not fetched before: each is returned once.")


class OmniLog(Deferred):
    bulkId: str | None = None
    messageId: str
    to: str
    sender: str | None = Field(None, alias="from", description="Sender of the current (or last) step.")
    text: str | None = None
    sentAt: str
    doneAt: str | None = Field(None, description="Absent while the message is pending.")
    messageCount: int
    mccMnc: str | None = None
    price: Price
    status: Status
    channel: OmniChannel


class OmniLogsResponse(Deferred):
    results: list[OmniLog] = Field(description="Messages, newest first.")
class TokenResponse(Deferred):
    model_config = ConfigDict(title="CreateOAuth2TokenResponse")
    access_token: str = Field(description="Send it as `Authorization: Bearer <access_token>`.")
    token_type: str = Field(description="Always `Bearer`.")
    expires_in: int = Field(description="Seconds until the token expires (on the mock's clock).")


class OAuth2ErrorOut(Deferred):
    model_config = ConfigDict(title="OAuth2Error")
    error: str = Field(description="invalid_request, invalid_client, unsupported_grant_type or invalid_scope "
                                   "(RFC 6749 section 5.2).")
    error_description: str


class SessionOut(Deferred):
    model_config = ConfigDict(title="CreateSessionResponse")
    token: str = Field(description="Send it as `Authorization: IBSSO <token>`; it expires after a period "
                                   "without calls.")
