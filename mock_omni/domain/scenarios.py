"""The scenario's shapes: pydantic models for what clients send, frozen records for what we store.

The request models are also the source of the published OpenAPI schemas, so the
docs and the validation can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .memo import Memo
from .validation import XML_TEXT_PATTERN, validate_data, validate_json

# The seed page lists SMS, VOICE, VIBER, FACEBOOK, EMAIL, PUSH; the vendor's OpenAPI
# adds the rest. Choice (omni-api.md): accept the union.
CHANNELS: tuple[str, ...] = (
    "SMS", "EMAIL", "VOICE", "PUSH", "VIBER", "FACEBOOK", "LINE", "VKONTAKTE",
    "KAKAO_CHINGU", "KAKAO_ALIM", "WHATSAPP",
)
Channel = Literal[
    "SMS", "EMAIL", "VOICE", "PUSH", "VIBER", "FACEBOOK", "LINE", "VKONTAKTE",
    "KAKAO_CHINGU", "KAKAO_ALIM", "WHATSAPP",
]

# Choice: the vendor states no bound; a failover flow longer than this is a client bug.
MAX_FLOW_STEPS = 100


class StepIn(BaseModel):
    """One step of a flow: the sender and the channel to try."""

    # Only the wire names are read: a field name (`sender`) is an unknown field, as at the vendor.
    # Frozen: one parsed body may serve many identical requests (api/bodies.py).
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    sender: str | None = Field(None, alias="from", pattern=XML_TEXT_PATTERN, description="Sender used in this step.")
    channel: Channel = Field(description="Channel used to deliver the message in this step.")


class ScenarioFields(BaseModel):
    """The fields of a create or update body, each validated as sent; ``ScenarioIn`` adds the alias step."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    name: str | None = Field(None, pattern=XML_TEXT_PATTERN, description="OMNI scenario name.")
    flow: list[StepIn] | None = Field(
        None, min_length=1, max_length=MAX_FLOW_STEPS,
        description="Channels to try, in order. Required on create.",
    )
    default: bool | None = Field(None, description="Whether the scenario is the account's default.")
    # The official 2.x clients send `defaultScenario`; the vendor's pages say `default`. Both are
    # validated (a wrong type in either is INVALID_ARGUMENT); `default` wins when both are sent.
    default_scenario: bool | None = Field(
        None, alias="defaultScenario",
        description="Alias of `default`, as the official 2.x clients send it; `default` wins if both are sent.",
    )



class ScenarioIn(ScenarioFields):
    """Body of create and update; on update every field is optional and absent means unchanged."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True, title="CreateOrUpdateScenarioRequest")

    #: A body in which ``defaultScenario`` cannot be (not written out, and no escape that could spell it) is
    #: validated as ``ScenarioFields``: the alias step would change nothing, and a model with a step before
    #: validation has pydantic turn the JSON into Python objects first (a microsecond of the three a body
    #: costs). domain/validation.py's validate_json; a body that fails is validated again by this model.
    json_shortcut: ClassVar[tuple[type[BaseModel], tuple[bytes, ...]]] = (ScenarioFields, (b"defaultScenario", b"\\"))

    @model_validator(mode="before")
    @classmethod
    def _take_the_alias(cls, data: object) -> object:
        # Copy before validation (the model is frozen); both fields are then validated as sent.
        if isinstance(data, dict) and data.get("default") is None and data.get("defaultScenario") is not None:
            return {**data, "default": data["defaultScenario"]}
        return data


@dataclass(frozen=True, slots=True)
class Step:
    sender: str | None
    channel: str

    def to_dict(self) -> dict[str, str]:
        if self.sender is None:
            return {"channel": self.channel}
        return {"from": self.sender, "channel": self.channel}


@dataclass(frozen=True, slots=True)
class Scenario:
    """A stored scenario. Immutable: an update stores a new object, so readers never see half of one.

    Whether it is the default is not stored here but in the account (one key), so
    promoting a scenario is a single assignment.
    """

    key: str
    name: str | None
    flow: tuple[Step, ...]

    def to_dict(self, default: bool) -> dict[str, object]:
        data: dict[str, object] = {"key": self.key}
        if self.name is not None:
            data["name"] = self.name
        data["flow"] = [step.to_dict() for step in self.flow]
        data["default"] = default
        return data


def steps_from_input(flow: list[StepIn]) -> tuple[Step, ...]:
    # A body that comes again is found parsed (api/bodies.py: from its second coming), so a repeated
    # update brings the same list object: remember its conversion by identity, from that list's second
    # coming too (a first-time body's list is never seen again). Not a perfect filter: a new list often
    # gets the id of one just freed, which counts as a second coming (a stream of numbered bodies keeps
    # about half its lists here, within the bound). The entry holds the list, so its id cannot be reused
    # by another object while remembered.
    entry = _CONVERTED.get(id(flow))
    if entry is not None and entry[0] is flow:
        return entry[1]
    steps = _shared_flow(tuple([(step.sender, step.channel) for step in flow]))  # a list first: faster than a generator
    _CONVERTED.remember(id(flow), (flow, steps), 0)
    return steps


_CONVERTED: Memo[int, tuple[list[StepIn], tuple[Step, ...]]] = Memo(256, 0)


# Flows repeat across scenarios (the same senders and channels), and Step and flow are
# immutable, so equal flows share one tuple: 100,000 scenarios from a fixture then cost
# a fraction of the memory and start-up time. Bounded, so odd inputs cannot grow it.
@lru_cache(maxsize=8192)
def _shared_flow(pairs: tuple[tuple[str | None, str], ...]) -> tuple[Step, ...]:
    return tuple(Step(sender, channel) for sender, channel in pairs)


def parse_scenario_json(body: bytes) -> ScenarioFields:
    """A JSON create/update body; BAD_REQUEST if it does not parse, INVALID_ARGUMENT if values are wrong."""
    return validate_json(ScenarioIn, body)


def parse_scenario_data(data: object) -> ScenarioIn:
    """Already-decoded data (from XML or a fixture), validated by the same rules as JSON."""
    return validate_data(ScenarioIn, data)
