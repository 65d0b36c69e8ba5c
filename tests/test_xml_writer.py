"""The fast XML writer renders byte for byte what dicttoxml renders, for any JSON-like data."""

from __future__ import annotations

from dicttoxml import dicttoxml
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_omni.api.codecs import XML, XML_PROLOG, RenderedXml, render, to_xml, xml_item_namer
from mock_omni.api.routes import ROUTER
from mock_omni.domain.errors import InvalidArgument

# The item names of the list answer (flow -> step, scenarios -> scenario): the richest of the table.
ITEMS = ROUTER.by_name["list"].xml_items

# Keys as the vendor shapes have them, plus ones dicttoxml must fix up (spaces, digits, brackets, quotes).
KEYS = st.sampled_from(
    ["key", "name", "flow", "step", "scenarios", "default", "from", "channel", "messageId", "text",
     "flow[0].channel", "a b", "12", "1.5", "x&y", 'q"uote', "<tag>", "validationErrors"]
) | st.text(st.characters(exclude_characters="\r", exclude_categories=("Cs",)), min_size=1, max_size=8)
# (Keys are the API's own names, never a carriage return: that one is escaped only in text.)
# Finite floats only: JSON has no infinity (the API renders no floats at all).
FINITE = st.floats(allow_nan=False, allow_infinity=False)
SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | FINITE | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20,
)


def reference(data: dict[str, object], root: str) -> bytes:
    body: bytes = dicttoxml(data, custom_root=root, attr_type=False, xml_declaration=False,
                            item_func=xml_item_namer(ITEMS))
    # The one difference on purpose: a carriage return in text is written as a reference (dicttoxml
    # writes it raw, and a parser would read it back as a line feed).
    return XML_PROLOG + body.replace(b"\r", b"&#13;")


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, VALUES, max_size=5), root=st.sampled_from(["scenario", "scenariosResponse"]))
def test_to_xml_matches_dicttoxml(data: dict[str, object], root: str) -> None:
    assert to_xml(data, root, ITEMS) == reference(data, root)


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
