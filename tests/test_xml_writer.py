"""The fast XML writer renders byte for byte what dicttoxml renders, for any JSON-like data."""

from __future__ import annotations

from dicttoxml import dicttoxml
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_omni.codecs import XML_PROLOG, _xml_item_name, to_xml
from mock_omni.errors import InvalidArgument

# Keys as the vendor shapes have them, plus ones dicttoxml must fix up (spaces, digits, brackets, quotes).
KEYS = st.sampled_from(
    ["key", "name", "flow", "step", "scenarios", "default", "from", "channel", "messageId", "text",
     "flow[0].channel", "a b", "12", "1.5", "x&y", 'q"uote', "<tag>", "validationErrors"]
) | st.text(min_size=1, max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20,
)


def reference(data: dict[str, object], root: str) -> bytes:
    body: bytes = dicttoxml(data, custom_root=root, attr_type=False, xml_declaration=False, item_func=_xml_item_name)
    return XML_PROLOG + body


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(KEYS, VALUES, max_size=5), root=st.sampled_from(["scenario", "scenariosResponse"]))
def test_to_xml_matches_dicttoxml(data: dict[str, object], root: str) -> None:
    assert to_xml(data, root) == reference(data, root)


def test_vendor_shapes_match_dicttoxml() -> None:
    scenario = {"key": "CD265875E3A6EA43478D5F37A635BE4A", "name": "Test <&> 'x'",
                "flow": [{"from": "InfoSMS", "channel": "SMS"}, {"channel": "VIBER"}], "default": True}
    envelope = InvalidArgument(validation_errors={"flow[0].channel": ["bad", "worse"], "name": ["x"]}).envelope()
    for data, root in ((scenario, "scenario"), ({"scenarios": [scenario, scenario]}, "scenariosResponse"),
                       (envelope, "ApiException")):
        assert to_xml(data, root) == reference(data, root)
    # An invalid element name becomes <key name="...">, as dicttoxml does it.
    assert b'<key name="flow[0].channel"><item>bad</item><item>worse</item></key>' in to_xml(envelope, "ApiException")
