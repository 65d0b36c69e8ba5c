"""A scenario body without ``defaultScenario`` is validated by its fields alone (domain/scenarios.py's
``json_shortcut``, issue 24): the result and every refusal are what the whole model gives."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_omni.domain.errors import OmniError
from mock_omni.domain.scenarios import ScenarioFields, ScenarioIn
from mock_omni.domain.validation import validate_json

KEYS = st.sampled_from(["name", "flow", "default", "defaultScenario", "from", "channel", "sender", "x", "NAME",
                        "default_scenario"])
SCALARS = st.sampled_from(["null", "true", "false", "0", "1", "-1.5", "1e999", "12345678901234567890123", '""',
                           '"SMS"', '"VIBER"', '"InfoSMS"', '"Test update"', '"a\\tb"', '"\\u0001"', '"\\ud800"',
                           '"caf\\u00e9"', '"\\u0064efaultScenario"', "NaN", "[]", "{}", '"\x01"'])


def members(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Written out by hand, so keys may repeat (the last one wins).
    return st.lists(st.tuples(KEYS, inner), max_size=5).map(
        lambda pairs: "{" + ", ".join(f'"{key}": {value}' for key, value in pairs) + "}")


STEP = members(SCALARS)
FLOW = st.lists(STEP | SCALARS, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
VALUES = SCALARS | FLOW | STEP
BODIES = (st.lists(st.tuples(KEYS, VALUES), max_size=6).map(
    lambda pairs: "{" + ", ".join(f'"{key}": {value}' for key, value in pairs) + "}")
    | SCALARS | st.sampled_from(["", " ", "{", '{"name": "a",}', "[1]", '{"name": "a"} x']))


def outcome(read: object) -> tuple[object, ...]:
    if isinstance(read, OmniError):
        return "refused", type(read).__name__, read.reason, read.validation_errors
    assert isinstance(read, ScenarioFields)
    return "read", read.model_dump(), sorted(read.model_fields_set)


def whole_model(body: bytes) -> object:
    """The reference: validate_json as before the shortcut (ScenarioIn alone)."""
    shortcut = ScenarioIn.json_shortcut
    setattr(ScenarioIn, "json_shortcut", None)  # noqa: B010 - a class variable, for this call only
    try:
        return validate_json(ScenarioIn, body)
    except OmniError as error:
        return error
    finally:
        setattr(ScenarioIn, "json_shortcut", shortcut)  # noqa: B010


def shortcut(body: bytes) -> object:
    try:
        return validate_json(ScenarioIn, body)
    except OmniError as error:
        return error


@settings(max_examples=600, deadline=None)
@given(body=BODIES)
def test_shortcut_reads_and_refuses_as_the_whole_model(body: str) -> None:
    raw = body.encode()
    assert outcome(shortcut(raw)) == outcome(whole_model(raw))


def test_the_shortcut_is_taken_and_left_as_documented() -> None:
    assert type(whole_model(b'{"name": "n"}')) is ScenarioIn  # the reference takes no shortcut
    plain = validate_json(ScenarioIn, b'{"name": "n", "default": true}')
    assert type(plain) is ScenarioFields and plain.default is True
    # defaultScenario written out, or an escape that could spell it: the whole model, alias step and all.
    assert type(validate_json(ScenarioIn, b'{"defaultScenario": true}')) is ScenarioIn
    spelled = validate_json(ScenarioIn, b'{"\\u0064efaultScenario": true}')
    assert type(spelled) is ScenarioIn and spelled.default is True
    assert orjson.loads(b'{"\\u0064efaultScenario": true}') == {"defaultScenario": True}
