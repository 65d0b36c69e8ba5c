"""What every payload model shares: strict models, integer ranges, the validity period, problems."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field

from ..deferred import Deferred
from ..validation import XML_TEXT_PATTERN

Problems = dict[str, list[str]]


def integral(value: object) -> object:
    # A JSON number with nothing after the point (`5.0`) is the integer it equals, as the vendor's Java
    # binding reads it; 5.5 stays a float, for the strict check to refuse.
    return int(value) if type(value) is float and value.is_integer() else value


INTEGRAL = BeforeValidator(integral)
#: Integer fields by range; ``5.0`` is read as 5.
# The range before the validator: so pydantic publishes it as minimum and maximum.
Int32 = Annotated[int, Field(ge=-(2**31), le=2**31 - 1), INTEGRAL]
Int64 = Annotated[int, Field(ge=-(2**63), le=2**63 - 1), INTEGRAL]
Flex = Annotated[int, Field(ge=0, le=10), INTEGRAL]
Count = Annotated[int, Field(ge=0, le=2**31 - 1), INTEGRAL]

STRICT = ConfigDict(strict=True, extra="ignore", frozen=True)

#: A string the API may echo back (logs, reports, XML): no characters XML cannot carry.
Text = Annotated[str, Field(pattern=XML_TEXT_PATTERN)]

TimeUnit = Literal["NANOSECONDS", "MICROSECONDS", "MILLISECONDS", "SECONDS", "MINUTES", "HOURS", "DAYS"]
UNIT_SECONDS: dict[str, float] = {
    "NANOSECONDS": 1e-9, "MICROSECONDS": 1e-6, "MILLISECONDS": 1e-3, "SECONDS": 1.0,
    "MINUTES": 60.0, "HOURS": 3600.0, "DAYS": 86400.0,
}
HOURS_48 = 48 * 3600.0
DAYS_14 = 14 * 86400.0


def add_problem(problems: Problems, path: str, message: str) -> None:
    problems.setdefault(path, []).append(message)


class Model(Deferred):
    model_config = STRICT

    def problems(self, path: str) -> Problems:
        """Rules beyond the field types, keyed by field path; empty when there are none."""
        return {}


class ChannelData(Model):
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
                add_problem(problems, f"{path}.validityPeriod", "is required with validityPeriodTimeUnit")
            return problems
        seconds = self.validityPeriod * UNIT_SECONDS[self.validityPeriodTimeUnit or "MINUTES"]
        if seconds <= self.MIN_VALIDITY:
            add_problem(problems, f"{path}.validityPeriod", f"must be longer than {self.MIN_VALIDITY:.0f} seconds")
        elif self.REFUSE_LONGER and seconds > self.MAX_VALIDITY:
            add_problem(problems, f"{path}.validityPeriod", "must not be longer than 14 days")
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
            add_problem(problems, f"{path}.text", "must not be empty")


class TextRequired(ChannelData):
    def problems(self, path: str) -> Problems:
        problems = self.validity_problems(path)
        self.require_text(path, problems)
        return problems
