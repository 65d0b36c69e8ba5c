"""The fast XML writer renders byte for byte what dicttoxml renders, for any JSON-like data and other types."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction

import pytest
from dicttoxml import dicttoxml
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_omni.api import codecs
from mock_omni.api.codecs import XML, XML_PROLOG, RenderedXml, render, to_json, to_xml, xml_item_namer
from mock_omni.api.routes import ROUTER
from mock_omni.domain.errors import InvalidArgument

# The item names of the list answer (flow -> step, scenarios -> scenario): the richest of the table.
ITEMS = ROUTER.by_name["list"].xml_items

# Keys as the vendor shapes have them, plus ones dicttoxml must fix up (spaces, digits, brackets, quotes).
KEYS = st.sampled_from(
    ["key", "name", "flow", "step", "scenarios", "default", "from", "channel", "messageId", "text",
     "flow[0].channel", "a b", "12", "1.5", "x&y", 'q"uote', "<tag>", "validationErrors", "2x", "²", ""]
) | st.text(st.characters(exclude_characters="\r", exclude_categories=("Cs",)), min_size=1, max_size=8)
# (Keys are the API's own names, never a carriage return: that one is escaped only in text.)
# Finite floats only: JSON has no infinity (the API renders no floats at all).
FINITE = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | FINITE | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20,
)


def reference(data: dict[str, object], root: str) -> bytes:
    return reference_with(data, root, ITEMS)


def reference_with(data: dict[str, object], root: str, items: dict[str, str]) -> bytes:
    body: bytes = dicttoxml(data, custom_root=root, attr_type=False, xml_declaration=False,
                            item_func=xml_item_namer(items))
    # The one difference on purpose: a carriage return in text is written as a reference (dicttoxml
    # writes it raw, and a parser would read it back as a line feed).
    return XML_PROLOG + body.replace(b"\r", b"&#13;")


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, VALUES, max_size=5), root=st.sampled_from(["scenario", "scenariosResponse"]))
def test_to_xml_matches_dicttoxml(data: dict[str, object], root: str) -> None:
    assert to_xml(data, root, ITEMS) == reference(data, root)


# The writer tells the exact types apart by identity and leaves everything else to dicttoxml's
# order of checks: subclasses and other types must still land where dicttoxml puts them (a str
# subclass is iterated, an int subclass is a Number, a dict subclass a dict, any iterable a list).
class Text(str):
    pass


class Count(int):
    pass


class Ratio(float):
    pass


class Fields(dict[str, object]):
    pass


class Row(list[object]):
    pass


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Values:
    """An iterable that is no list, tuple or set."""

    def __init__(self, values: list[object]) -> None:
        self.values = values

    def __iter__(self) -> Iterator[object]:
        return iter(self.values)


ODD_SCALARS = (
    SCALARS | st.text(max_size=6).map(Text) | st.integers(-5, 5).map(Count) | FINITE.map(Ratio)
    | st.sampled_from(Level) | st.integers(-99, 99).map(Decimal) | st.fractions(max_denominator=9)
    | st.just(Fraction(1, 3)) | st.just(Decimal("1E+2"))
)
ODD_VALUES = st.recursive(
    ODD_SCALARS,
    lambda inner: (st.lists(inner, max_size=3) | st.lists(inner, max_size=3).map(Row)
                   | st.lists(inner, max_size=3).map(tuple) | st.lists(inner, max_size=3).map(Values)
                   | st.frozensets(st.integers(-9, 9), max_size=3)
                   | st.dictionaries(KEYS, inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3).map(Fields)),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, ODD_VALUES, max_size=4), root=st.sampled_from(["scenario", "scenariosResponse"]))
def test_other_types_and_subclasses_match_dicttoxml(data: dict[str, object], root: str) -> None:
    assert to_xml(data, root, ITEMS) == reference(data, root)


def test_each_type_branch_matches_dicttoxml() -> None:
    # One of each, so every branch is reached whatever Hypothesis draws (a bool in a list is "True").
    data: dict[str, object] = {
        "s": "a<b", "b": False, "i": 7, "f": 0.5, "n": None, "d": {"x": 1},
        "l": ["x", {"y": 2}, 3, 1.5, True, None, [4]],
        "ts": Text("hi"), "ti": Count(3), "tf": Ratio(2.5), "te": Level.HIGH, "dec": Decimal("1.10"),
        "fr": Fraction(1, 3), "td": Fields(z=1), "tl": Row([1, Text("ab"), Fields(k="v"), Row([2]), (3,), Values([4])]),
        "tu": (1, "x"), "it": Values(["y", None]), "fs": frozenset({5}), "2x": "v", "a b": [1], "²": {"q": 1},
    }
    assert to_xml(data, "scenario", ITEMS) == reference(data, "scenario")
    for bad in (object(), b"".join, {"k": object()}, [object()]):
        with pytest.raises(TypeError):
            to_xml({"bad": bad}, "r")


def test_the_tag_tables_are_bounded() -> None:
    # Validation errors name the fields a client sent: no client may grow the writer's tables.
    for n in range(codecs._TAGS_LIMIT + 5):
        key = f"field{n}"
        assert to_xml({key: 1, f"list{n}": [1], f"dict{n}": {}}, "r", {f"list{n}": f"item{n}"}) == reference_with(
            {key: 1, f"list{n}": [1], f"dict{n}": {}}, "r", {f"list{n}": f"item{n}"})
    for table in (codecs._SCALAR_TAGS, codecs._NESTED_TAGS, codecs._ITEM_TAGS):
        assert 0 < len(table) <= codecs._TAGS_LIMIT
    long_key = "k" * (codecs._MAX_TAGGED_KEY + 1)
    assert to_xml({long_key: "v"}, "r") == reference_with({long_key: "v"}, "r", {})
    assert long_key not in codecs._SCALAR_TAGS


def test_vendor_shapes_match_dicttoxml() -> None:
    scenario = {"key": "CD265875E3A6EA43478D5F37A635BE4A", "name": "Test <&> 'x'",
                "flow": [{"from": "InfoSMS", "channel": "SMS"}, {"channel": "VIBER"}], "default": True}
    envelope = InvalidArgument(validation_errors={"flow[0].channel": ["bad", "worse"], "name": ["x"]}).envelope()
    for data, root in ((scenario, "scenario"), ({"scenarios": [scenario, scenario]}, "scenariosResponse"),
                       (envelope, "ApiException")):
        assert to_xml(data, root, ITEMS) == reference(data, root)
    # An invalid element name becomes <key name="...">, as dicttoxml does it.
    assert b'<key name="flow[0].channel"><item>bad</item><item>worse</item></key>' in to_xml(envelope, "ApiException")


# One memo across all examples: a wrong hit between two different data would show here.
SHARED = RenderedXml()


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, VALUES, max_size=5), root=st.sampled_from(["scenario", "ApiException"]))
def test_memoised_rendering_equals_rendering(data: dict[str, object], root: str) -> None:
    assert SHARED.render(data, root) == to_xml(data, root)
    assert SHARED.render(data, root) == to_xml(data, root)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, VALUES, max_size=5), root=st.sampled_from(["scenario", "scenariosResponse"]))
def test_rendering_through_the_memo_matches_dicttoxml(data: dict[str, object], root: str) -> None:
    # The path answers take: the JSON form tells the writer whether texts need testing for escapes.
    assert RenderedXml().render(data, root, ITEMS) == reference(data, root)


def test_the_json_form_shows_every_character_xml_escapes() -> None:
    # What the memo's shortcut relies on (_needs_escapes): orjson writes & < > ' as they are, " and CR
    # behind a backslash. An orjson that wrote them otherwise fails here first.
    assert to_json({"t": "&<>'\"\r"}) == b'{"t":"&<>\'\\"\\r"}'
    for text in ("&", "<", ">", "'", '"', "\r", "a & b", "Bob's"):
        assert RenderedXml().render({"name": text, "flow": [text]}, "scenario", ITEMS) == reference(
            {"name": text, "flow": [text]}, "scenario")


class Odd(dict[str, object]):
    """A dict whose items are not the ones its JSON form shows."""

    def items(self) -> list[tuple[str, object]]:  # type: ignore[override]
        return [("name", "<b>")]


class Spelt(str):
    """A str whose characters, iterated, are not its JSON form's."""

    def __iter__(self) -> Iterator[str]:
        return iter(["<", "&"])


def test_subclasses_are_escaped_whatever_their_json_form_shows() -> None:
    for data in (Odd(name="plain"), {"d": Odd(name="plain")}, {"s": Spelt("plain")}, {"l": [Spelt("plain")]},
                 {"l": [Odd(name="plain")]}, {"l": [[Spelt("plain")]]}):
        assert RenderedXml().render(data, "scenario", ITEMS) == reference(data, "scenario")
        assert b"&lt;" in RenderedXml().render(data, "scenario", ITEMS)


def test_values_that_print_alike_are_not_confused() -> None:
    memo = RenderedXml()
    for data in ({"a": True}, {"a": "true"}, {"a": 1}, {"a": 1.0}, {"a": None}, {"a": ""}, {"a": [1]}, {"a": {"b": 1}}):
        assert memo.render(data, "r") == to_xml(data, "r")
    assert render({"a": "x"}, XML, "scenario") == to_xml({"a": "x"}, "scenario")


def test_the_memo_is_bounded() -> None:
    memo = RenderedXml()
    for n in range(RenderedXml.LIMIT + 5):
        for _ in range(2):
            memo.render({"n": n}, "r")
    assert 0 < len(memo) <= RenderedXml.LIMIT
    big = {"name": "x" * RenderedXml.MAX_KEY}
    assert memo.render(big, "r") == to_xml(big, "r") and len(memo) <= 5
