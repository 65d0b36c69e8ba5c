"""Response models of the vendor API, for /openapi.json and for tests that validate live answers.

Request models live with their resource in the domain (``domain/scenarios.py``: the
rules of a valid scenario are the domain's); these only describe what the API sends.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..domain.scenarios import Channel


class StepOut(BaseModel):
    model_config = ConfigDict(title="Step")
    sender: str | None = Field(None, alias="from", description="Sender used in this step.")
    channel: Channel


class ScenarioOut(BaseModel):
    model_config = ConfigDict(title="Scenario")
    key: str = Field(description="Key used to uniquely identify the scenario: 32 uppercase hex characters.",
                     pattern="^[0-9A-F]{32}$")
    name: str | None = Field(None, description="OMNI scenario name.")
    flow: list[StepOut]
    default: bool = Field(description="Whether the scenario is the account's default.")


class ScenariosResponse(BaseModel):
    scenarios: list[ScenarioOut]


class ServiceException(BaseModel):
    model_config = ConfigDict(title="ApiRequestErrorDetails")
    messageId: str
    text: str
    validationErrors: dict[str, list[str]] | None = None


class RequestError(BaseModel):
    model_config = ConfigDict(title="ApiRequestError")
    serviceException: ServiceException


class ApiException(BaseModel):
    requestError: RequestError
