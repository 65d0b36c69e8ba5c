"""The admin API's bodies as pydantic models: they validate each body and are its published schema.

Bodies are read by hand (``read_body``: bounded, so a huge state import is a 413, not a
memory spike) and validated here; a bad body is a 400 in the vendor's envelope whose
``validationErrors`` name the fields. Fixture documents (state imports, new accounts)
are then checked like fixture files (domain/fixtures.py): the rules that span fields,
such as exactly one default, are there.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from ..api.ratelimit import Rule, parse_rule
from ..api.routes import OPERATION_NAMES as OPERATIONS
from ..api.webhooks import State
from ..domain.deferred import Deferred
from ..domain.delivery import DeliveryRuleIn
from ..domain.errors import BY_STATUS, BadRequest, InvalidArgument, PayloadTooLarge

ADMIN_MAX_BODY = 64 * 1024 * 1024
MAX_DELAY_MS = 60_000
#: A slow body's lowest rate is 1 byte a second; the highest is fast enough not to matter.
MAX_BYTES_PER_SECOND = 100_000_000
MAX_CLOCK_ADVANCE = 10 * 365 * 86400.0
#: How far ahead all advances together may take a clock (dates of messages must stay before the year 10000).
MAX_CLOCK_AHEAD = 100 * 365 * 86400.0
#: A wait for callbacks longer than a minute is a test that hangs; the admin client waits longer in steps.
MAX_CALLBACK_WAIT = 60.0
MAX_CALLBACK_COUNT = 1_000_000
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
STATUSES = tuple(sorted(BY_STATUS))
SNAPSHOT_NAME = r"^[A-Za-z0-9._-]{1,100}$"
USERNAME = r"^[^:]+$"
#: A limit as the admin API takes it: whole numbers, no spaces (the CLI's form is looser).
LIMIT = r"^(off|[1-9][0-9]{0,8}/([1-9][0-9]{0,8})?(ms|s|m|h|d))$"
_PATTERN_MESSAGES = {
    SNAPSHOT_NAME: "1 to 100 of A-Z a-z 0-9 . _ -", USERNAME: "must not contain ':'",
    LIMIT: "COUNT/DURATION such as 5/1m (whole numbers, below a billion; ms, s, m, h or d), or off",
}
LIMITS_HINT = '"off", or an object such as {"update": "5/1m", "create": "off"}'


class AdminBody(Deferred):
    # Strict: "500" is not a status and 1.0 not a count; unknown fields are refused, not ignored.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def _one_of(values: tuple[Any, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        if value is not None and value not in values:
            raise ValueError(f"must be one of {', '.join(map(str, values))}")
        return value
    return AfterValidator(check)


def _method(value: str | None) -> str | None:
    if value is not None and value.upper() not in METHODS:
        raise ValueError(f"must be one of {', '.join(METHODS)} (any case)")
    return None if value is None else value.upper()


def _path_pattern(value: str) -> str:
    # A path without its leading slash would never match (every request path has one).
    if not value.startswith(("/", "*")):
        raise ValueError("must start with / (or be a pattern starting with *), e.g. /omni/1/scenarios/*")
    return value


class FaultIn(AdminBody):
    """A fault rule: which vendor requests, and what happens to them."""

    method: Annotated[str | None, AfterValidator(_method)] = Field(
        None, description="only this method (any if absent)",
        json_schema_extra={"enum": [*METHODS, *(m.lower() for m in METHODS), None]})
    path: Annotated[str, AfterValidator(_path_pattern)] = Field(
        "*", min_length=1, description="exact, or an fnmatch pattern such as /omni/1/scenarios/*")
    account: str | None = Field(None, min_length=1, description="only this account's requests")
    status: Annotated[int | None, _one_of(STATUSES)] = Field(
        None, description="answer this status in the vendor's envelope",
        json_schema_extra={"enum": [*STATUSES, None]})
    message: str | None = Field(None, min_length=1, description="the envelope's text instead of the default")
    delay_ms: int = Field(0, alias="delayMs", ge=0, le=MAX_DELAY_MS, description="wait first (milliseconds)")
    jitter_ms: int = Field(0, alias="jitterMs", ge=0, le=MAX_DELAY_MS,
                           description="add a delay drawn uniformly from 0 to this (milliseconds) to delayMs")
    drop: bool = Field(False, description='close the connection without a response (connection "drop")')
    connection: Literal["drop", "reset", "truncate", "garbage"] | None = Field(
        None, description="drop: close without a response; reset: a TCP reset; truncate: the real answer's "
                          "headers and half its body, then close; garbage: random bytes, then close")
    malformed: bool = Field(False, description="the real status and headers with a body that does not parse")
    bytes_per_second: int | None = Field(None, alias="bytesPerSecond", ge=1, le=MAX_BYTES_PER_SECOND,
                                         description="write the real answer at this rate (a slow body)")
    probability: float = Field(1.0, ge=0, le=1, description="the share of matching requests it applies to")
    seed: int | None = Field(None, ge=0, le=2**63 - 1,
                             description="seeds the rule's draws (probability, jitter, garbage): "
                                         "the same seed gives the same sequence")
    times: int | None = Field(None, ge=1, description="the next N matching requests; absent or null: until cleared")

    def cross_field_errors(self) -> dict[str, list[str]]:
        """What JSON Schema cannot say: something to do; a connection fault sends no answer to shape."""
        if self.drop and self.connection not in (None, "drop"):
            return {"drop": [f'cannot be combined with connection "{self.connection}"']}
        connection = "drop" if self.drop else self.connection
        if (self.status is None and connection is None and not self.delay_ms and not self.jitter_ms
                and not self.malformed and self.bytes_per_second is None):
            return {"status": ["give a status, delayMs, jitterMs, connection, malformed or bytesPerSecond"]}
        if connection is not None:
            field = "drop" if self.drop else "connection"
            if self.status is not None and connection != "truncate":
                return {field: ["cannot be combined with status"]}
            if self.malformed:
                return {field: ["cannot be combined with malformed"]}
            if self.bytes_per_second is not None:
                return {field: ["cannot be combined with bytesPerSecond"]}
        return {}


_SCENARIOS = "scenarios as in a fixture file: key (optional), name, flow, default"
_SECRETS = "non-empty strings, no spaces around them, unique across accounts"
_KEYS = f"{_SECRETS}: a key with every scope, or {{key, scopes}} limited to those scopes"
_SCOPES = "scope names (the vendor's x-scopes); absent or null: every scope"


class ApiKeyIn(AdminBody):
    """An API key limited to some scopes."""

    key: str = Field(min_length=1)
    scopes: list[str] | None = Field(None, description=_SCOPES)


class OAuth2ClientIn(AdminBody):
    """An OAuth2 client of the account (client credentials grant)."""

    client_id: str = Field(alias="clientId", min_length=1)
    client_secret: str = Field(alias="clientSecret", min_length=1)
    scopes: list[str] | None = Field(None, description=_SCOPES)


class AccountIn(AdminBody):
    """An account of a fixture document."""

    username: str = Field(min_length=1, pattern=USERNAME)
    password: str = Field(min_length=1)
    api_keys: list[str | ApiKeyIn] = Field([], alias="apiKeys", description=_KEYS)
    tokens: list[str] = Field([], description=_SECRETS)
    oauth2_clients: list[OAuth2ClientIn] = Field([], alias="oauth2Clients")
    scenarios: list[dict[str, Any]] = Field([], description=_SCENARIOS)
    messages: list[dict[str, Any]] = Field(
        [], description="sent messages as GET /__admin/state exports them (checked like a fixture file's)")
    callbacks: list[dict[str, Any]] = Field(
        [], description="records of pushed reports as GET /__admin/state exports them (none is sent again: those "
                        "pending come back dropped)")


class StateIn(AdminBody):
    """A fixture document: the whole state."""

    accounts: list[AccountIn]
    delivery_rules: list[DeliveryRuleIn] = Field([], alias="deliveryRules", description="outcome rules of delivery")
    faults: list[FaultIn] = Field([], description="fault rules as POST /__admin/faults takes them (a reset arms them "
                                                  "again)")


class NewAccountIn(AdminBody):
    """A fresh account: fields as in a fixture file, all optional (generated), or ``seedAccount``."""

    username: str | None = Field(None, min_length=1, pattern=USERNAME)
    password: str | None = Field(None, min_length=1)
    api_keys: list[str | ApiKeyIn] | None = Field(None, alias="apiKeys", description=_KEYS)
    tokens: list[str] | None = Field(None, description=_SECRETS)
    oauth2_clients: list[OAuth2ClientIn] | None = Field(
        None, alias="oauth2Clients", description="OAuth2 clients; a new account gets one if absent")
    scenarios: list[dict[str, Any]] | None = Field(None, description=_SCENARIOS)
    seed_account: str | None = Field(
        None, alias="seedAccount", min_length=1,
        description="copy the scenarios of this account: a fixture account as the fixtures define it "
                    "(those a reset returns to), any other as it is now")

    def cross_field_errors(self) -> dict[str, list[str]]:
        if self.seed_account is not None and self.scenarios is not None:
            return {"seedAccount": ["give seedAccount or scenarios, not both"]}
        return {}


def _limit(op: str) -> Any:
    def check(spec: str | None) -> str | None:
        if spec is not None and spec != "off":
            parse_rule(f"{op}={spec}")  # its RateLimitSpecError (a ValueError) names what is wrong
        return spec
    return (Annotated[str | None, AfterValidator(check)],
            Field(None, pattern=LIMIT, description=f"COUNT/DURATION such as 5/1m, or off / null: {op} is not limited"))


def _off_or_object(data: Any) -> Any:
    if data == "off":
        return dict.fromkeys(OPERATIONS, "off")
    if not isinstance(data, dict):
        raise ValueError(f"must be {LIMITS_HINT}")
    if not data:
        raise ValueError(f"give at least one of {', '.join(OPERATIONS)}")
    return data


#: One optional field per operation the limiter knows; any other name is refused.
_RateLimitFields = create_model(
    "RateLimitFields", __base__=AdminBody, **{op: _limit(op) for op in OPERATIONS},
)


class RateLimitsIn(_RateLimitFields):  # type: ignore[valid-type,misc]
    """``"off"`` or ``{operation: "COUNT/DURATION" | "off" | null}``."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "example": {"update": "5/1m", "create": "off"}})

    @model_validator(mode="before")
    @classmethod
    def _off(cls, data: Any) -> Any:
        return _off_or_object(data)

    def rules(self) -> dict[str, Rule | None]:
        """The operations given, each with its rule (None: not limited)."""
        given = {op: getattr(self, op) for op in self.model_fields_set}
        return {op: None if spec in (None, "off") else parse_rule(f"{op}={spec}")[1] for op, spec in given.items()}


def _limits_schema(schema: dict[str, Any]) -> None:
    """``limits`` is "off" or the object (the model's before-validator turns "off" into the object)."""
    schema.clear()
    schema["oneOf"] = [{"const": "off"}, RateLimitsIn.model_json_schema()]


class LimitsIn(AdminBody):
    """New rate limits for everyone or one account."""

    limits: RateLimitsIn = Field(json_schema_extra=_limits_schema)
    account: str | None = Field(None, min_length=1, description="only this account (everyone if absent)")


class ClockIn(AdminBody):
    """How far to move a clock forward."""

    seconds: float = Field(ge=0, le=MAX_CLOCK_ADVANCE)
    account: str | None = Field(None, min_length=1, description="only this account's clock (everyone's if absent)")


class ResetIn(AdminBody):
    """What later resets return to: fixtures and/or limits instead of the start-up ones."""

    fixtures: StateIn | None = Field(None, description="a fixture document instead of the start-up fixtures")
    rate_limits: RateLimitsIn | None = Field(
        None, alias="rateLimits", description=f"{LIMITS_HINT}, over the start-up limits",
        json_schema_extra=_limits_schema)


class MintIn(AdminBody):
    """A token or session to mint for a test, as the sign-in calls would have issued it."""

    # A session has its account's scopes: no client, no scopes (said in the schema too, for clients and fuzzers).
    model_config = ConfigDict(json_schema_extra={
        "if": {"required": ["kind"], "properties": {"kind": {"const": "ibsso"}}},
        "then": {"properties": {"clientId": {"type": "null"}, "scopes": {"type": "null"}}},
    })

    account: str = Field(min_length=1, description="the account the token signs in to")
    kind: Annotated[str, _one_of(("oauth2", "ibsso"))] = Field(
        "oauth2", description="an OAuth2 access token (Bearer) or an IBSSO session",
        json_schema_extra={"enum": ["oauth2", "ibsso"]})
    client_id: str | None = Field(
        None, alias="clientId", min_length=1,
        description="oauth2: the account's client whose scopes the token carries (default: every scope)")
    scopes: list[Annotated[str, Field(min_length=1)]] | None = Field(
        None, description="oauth2: fewer scopes than the client's, among the API's (the vendor's x-scopes)")

    def cross_field_errors(self) -> dict[str, list[str]]:
        if self.kind == "ibsso" and (self.client_id is not None or self.scopes is not None):
            return {"kind": ["a session has its account's scopes: no clientId or scopes"]}
        return {}


class CallbacksQuery(BaseModel):
    """Which callbacks ``GET /__admin/callbacks`` lists, and how long it may wait for them."""

    # Not deferred (domain/deferred.py): FastAPI reads a query model through a TypeAdapter of its own, which
    # would build a deferred model at the first request, outside the warnings FastAPI silences while it builds.

    # Query strings are text: no strict mode, but unknown parameters are refused, not ignored.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    account: str | None = Field(None, min_length=1, description="only this account's callbacks")
    url: str | None = Field(None, min_length=1, description="only callbacks to this notifyUrl (exact)")
    state: State | None = Field(
        None, description="only callbacks in this state")
    wait: float = Field(0, ge=0, le=MAX_CALLBACK_WAIT,
                        description=f"wait up to this many seconds (at most {MAX_CALLBACK_WAIT:.0f}) until at least "
                                    "`count` callbacks match")
    count: int = Field(1, ge=1, le=MAX_CALLBACK_COUNT, description="how many matching callbacks `wait` waits for")


# --- reading and validating a body -------------------------------------------------------------

Body = TypeVar("Body", bound=BaseModel)


def parse_body(model: type[Body], raw: bytes) -> tuple[Body, Any]:
    """The validated model and the decoded JSON it came from; 400 naming the fields otherwise."""
    data = decode_json(raw)
    return validated(model, data), data


def validated(model: type[Body], data: Any) -> Body:
    """``data`` as ``model``, cross-field rules included; 400 naming the fields otherwise."""
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        if any(not error["loc"] and error["type"] == "model_type" for error in exc.errors()):
            raise BadRequest("The body must be a JSON object.") from None
        raise InvalidArgument(validation_errors=field_errors(exc.errors(include_url=False))) from None
    problems: dict[str, list[str]] = getattr(parsed, "cross_field_errors", dict)()
    if problems:
        raise InvalidArgument(validation_errors=problems)
    return parsed


def decode_json(raw: bytes) -> Any:
    """JSON as strict as orjson; a number too large for it (thousands of digits, 1e999) decodes as
    infinity, so the model names the field that holds it instead of a parse error naming none."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = str(exc)
    if "number" in reason:
        try:
            data = json.loads(raw, parse_int=_bounded_int, parse_constant=_no_constant)
            orjson.dumps(data)  # what else orjson refuses (lone surrogates) is still refused
            return data
        except (ValueError, orjson.JSONEncodeError):
            pass
    raise BadRequest(f"The body is not valid JSON: {reason}") from None


def _bounded_int(text: str) -> int | float:
    # Python refuses to convert over 4300 digits (a ValueError that would escape as a 500).
    return int(text) if len(text) <= 30 else math.copysign(math.inf, -1 if text.startswith("-") else 1)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


async def read_body(chunks: Any, limit: int) -> bytes:
    """The whole body from an async iterator of chunks; 413 as soon as it passes ``limit``."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge()
        parts.append(chunk)
    return b"".join(parts)


def field_errors(found: Iterable[Any], located: bool = False) -> dict[str, list[str]]:
    """pydantic's errors as the vendor's validationErrors: ``accounts[0].password: [message]``.

    ``located``: FastAPI's, whose locations start with where (query, path) the value was.
    """
    errors: dict[str, list[str]] = {}
    for error in found:
        path = ""
        for part in error["loc"][1:] if located else error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "string_pattern_mismatch":
            message = _PATTERN_MESSAGES.get(error["ctx"]["pattern"], message)
        elif isinstance(error["input"], float) and math.isinf(error["input"]):
            message = "a number far too large"
        errors.setdefault(path or "body", []).append(message)
    return errors


def body_doc(model: type[BaseModel], description: str, required: bool = True) -> dict[str, Any]:
    """The OpenAPI requestBody of an admin call, from its model (nested models inlined)."""
    schema = _inlined(model.model_json_schema(by_alias=True))
    return {"requestBody": {"description": description, "required": required,
                            "content": {"application/json": {"schema": schema}}}}


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node
    resolved: dict[str, Any] = resolve(schema)
    return resolved

