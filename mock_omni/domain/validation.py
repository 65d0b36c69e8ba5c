"""Validating request bodies and fixture data with pydantic models, errors in the vendor's terms.

A body that does not parse (or is not an object) is BAD_REQUEST; one that parses but
holds wrong values is INVALID_ARGUMENT with ``validationErrors`` naming each field
(``flow[0].channel``). Every model of the vendor API and of the admin API goes through here.
"""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .errors import BadRequest, InvalidArgument

Model = TypeVar("Model", bound=BaseModel)

# Choice: text that XML 1.0 cannot carry (C0 controls but tab/LF/CR, U+FFFE, U+FFFF) is refused
# with INVALID_ARGUMENT: stored, it would make every XML answer about it unparseable.
XML_TEXT_MESSAGE = "must not contain control characters (other than tab, LF, CR), U+FFFE or U+FFFF"
XML_TEXT_PATTERN = "^[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\uFFFE\\uFFFF]*$"
UTF8_BOM = b"\xef\xbb\xbf"
# An http(s) URL without spaces or control characters. The ranges are spelled out, not \s: regex
# engines (the published schema's ECMA, pydantic's Rust) disagree on what \s matches.
URL_PATTERN = "^https?://[^/?#\\x00-\\x20\\x7f\\uFFFE\\uFFFF]+[^\\x00-\\x20\\x7f\\uFFFE\\uFFFF]*$"
#: What a value failing each pattern is told.
PATTERN_MESSAGES = {XML_TEXT_PATTERN: XML_TEXT_MESSAGE,
                    URL_PATTERN: "must be an http or https URL, without spaces or control characters"}


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as the field path clients know: ``flow[0].channel``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def validation_errors(exc: ValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "function-after")
        message = error["msg"]
        if error["type"] == "string_pattern_mismatch":
            message = PATTERN_MESSAGES.get(error.get("ctx", {}).get("pattern", ""), message)
        errors.setdefault(field_path(loc) or "body", []).append(message)
    return errors


def _raise_for(exc: ValidationError) -> None:
    for error in exc.errors(include_url=False):
        # A body that is not JSON, or not an object at all, does not parse: BAD_REQUEST.
        if error["type"] == "json_invalid":
            raise BadRequest().because(f"the body is not JSON: {error['msg'].removeprefix('Invalid JSON: ')}") \
                from None
        if not error["loc"] and error["type"] != "missing":
            raise BadRequest().because(f"the body is not an object: {error['msg']}") from None
    errors = validation_errors(exc)
    raise InvalidArgument(validation_errors=errors).because(problems_sentence(errors)) from None


def problems_sentence(errors: dict[str, list[str]]) -> str:
    """Validation errors as one sentence: ``flow[0].channel: Input should be 'SMS', ...; name: ...``."""
    return "; ".join(f"{name}: {', '.join(messages)}" for name, messages in errors.items())


def validate_json(model: type[Model], body: bytes) -> Model:
    """A JSON body as ``model``; BAD_REQUEST if it does not parse, INVALID_ARGUMENT if values are wrong.

    A model may name a plainer model whose result it would equal for bodies without given bytes
    (``json_shortcut``: the model, the bytes); such a body is validated by that model (the result has its fields,
    not necessarily its class), a failure by ``model`` itself.
    """
    if body.startswith(UTF8_BOM):
        # RFC 8259 lets parsers ignore a BOM, and Java's JSON bindings do; XML bodies may carry one too.
        body = body[len(UTF8_BOM):]
    if not body or body.isspace():  # what body.strip() leaves empty (ASCII whitespace), without a copy
        raise BadRequest().because("the body is empty")
    # find, not `in`: for a bytes needle, `in` first tries it as an integer and clears the TypeError
    # (about 100 ns per test on 3.11, more on 3.12 and 3.13; the hot path makes four).
    if body.find(b"NaN") != -1 or body.find(b"Infinity") != -1:
        # pydantic's parser takes these non-JSON literals (Python's json.dumps writes them); a strict
        # JSON parser, like the vendor's, does not. The scan is cheap; orjson only runs on a hit.
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest().because(f"the body is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
                                       "(NaN and Infinity are not JSON)") from None
    shortcut = getattr(model, "json_shortcut", None)
    if shortcut is not None:  # a plainer model validates this body alike (domain/scenarios.py's ScenarioIn)
        plain, marks = shortcut
        for mark in marks:
            if body.find(mark) != -1:
                break
        else:
            try:
                fields: Model = plain.__pydantic_validator__.validate_json(body)
                return fields
            except ValidationError:
                pass  # what is wrong is said by the model itself, below
    try:
        # The validator itself, as model_validate_json calls it with no options: a microsecond less per body.
        parsed: Model = model.__pydantic_validator__.validate_json(body)
        return parsed
    except ValidationError as exc:
        _raise_for(exc)
        raise  # unreachable: _raise_for always raises


def validate_data(model: type[Model], data: object) -> Model:
    """Already-decoded data (from XML, a fixture or a form) as ``model``, by the same rules as JSON."""
    try:
        parsed: Model = model.__pydantic_validator__.validate_python(data)  # as model_validate calls it
        return parsed
    except ValidationError as exc:
        _raise_for(exc)
        raise
