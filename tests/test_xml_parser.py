"""The XML body parser (api/xml_parser.py): defusedxml's parser built without ElementTree's pure-Python
constructor where, and only where, that builds it exactly as the constructor does; the standard one elsewhere.
What either reads of any body is checked against the reader before issue 24 in test_xml_reader.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ParserCreate

import pytest
from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import DefusedXMLParser, fromstring

from mock_omni.api import xml_parser
from mock_omni.api.xml_parser import _LeanParser, _Parser, lean_matches, parse_xml

BODIES = [
    b"<scenario><name>n</name><flow><step><from>InfoSMS</from><channel>SMS</channel></step></flow></scenario>",
    b'<?xml version="1.0" encoding="UTF-8"?>\n<p:s xmlns:p="urn:p" a="1"><!-- c --><?pi x?>t<b>&amp;&#13;</b></p:s>',
    b"<![CDATA[x]]>", b"<s>", b"<s></t>", b"", b"<s>&nope;</s>", b"<s/><t/>", b"<s>\xff</s>",
    b'<!DOCTYPE s [<!ENTITY a "aaaa">]><s>&a;</s>', b'<!DOCTYPE s SYSTEM "http://127.0.0.1:9/x.dtd"><s/>',
    b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s>&x;</s>',
    b'<?xml version="1.0" encoding="latin-1"?><s>\xe9</s>', b'<?xml version="1.0" encoding="nope"?><s/>',
]


def shape(element: Element) -> tuple[object, ...]:
    """An element as ElementTree would name it (expat's ``uri}name`` is ``{uri}name``), with all it holds."""
    tag = element.tag if element.tag.startswith("{") or "}" not in element.tag else "{" + element.tag
    return tag, sorted(element.attrib.items()), element.text, element.tail, [shape(child) for child in element]


def outcome(body: bytes) -> tuple[str, object]:
    """The tree as bytes (namespaces spelled alike), or what was raised: type, message, code and position."""
    try:
        root = parse_xml(body)
    except ParseError as error:
        return "ParseError", (str(error), error.code, error.position)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, LookupError) as error:
        return type(error).__name__, str(error)
    return "tree", shape(root)


def standard(body: bytes) -> tuple[str, object]:
    """defusedxml's own fromstring, what parse_xml stands for."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except ParseError as error:
        return "ParseError", (str(error), error.code, error.position)
    except (DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden, LookupError) as error:
        return type(error).__name__, str(error)
    return "tree", shape(root)


@pytest.fixture(params=[_LeanParser, _Parser], ids=["lean", "standard"])
def built_by(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Parser]]:
    monkeypatch.setattr(xml_parser, "_parser_class", lambda: request.param)
    yield request.param


@pytest.fixture
def decided_again() -> Iterator[None]:
    """The parser's class decided again on the next body (and again after the test)."""
    xml_parser._parser_class.cache_clear()
    yield
    xml_parser._parser_class.cache_clear()


def test_the_lean_parser_is_built_as_the_standard_constructor_builds_it_here(decided_again: None) -> None:
    """On the versions CI runs (3.11 to 3.13, defusedxml 0.7), so the lean one is what bodies get."""
    assert lean_matches()
    parse_xml(BODIES[0])
    assert xml_parser._parser_class() is _LeanParser


@pytest.mark.parametrize("body", BODIES)
def test_either_parser_reads_and_refuses_as_defusedxml_does(built_by: type[_Parser], body: bytes) -> None:
    assert outcome(body) == standard(body)


def test_a_constructor_that_sets_more_than_the_lean_one_knows_turns_it_off(monkeypatch: pytest.MonkeyPatch,
                                                                            decided_again: None) -> None:
    """A later ElementTree or defusedxml whose constructor sets another handler (or attribute, or setting): the
    comparison sees it and every body gets the standard parser."""
    original = _Parser.__init__

    def one_more_handler(self: _Parser) -> None:
        original(self)
        self.parser.SkippedEntityHandler = self.defused_entity_decl

    def one_more_attribute(self: _Parser) -> None:
        original(self)
        self.strict = True

    def another_setting(self: _Parser) -> None:
        original(self)
        self.parser.specified_attributes = True

    for changed in (one_more_handler, one_more_attribute, another_setting):
        monkeypatch.setattr(_Parser, "__init__", changed)
        assert not lean_matches(), changed.__name__
    parse_xml(BODIES[0])
    assert xml_parser._parser_class() is _Parser


@pytest.mark.parametrize("owner", [DefusedXMLParser, DefusedXMLParser.__mro__[1]], ids=["defusedxml", "ElementTree"])
def test_a_constructor_calling_what_leaves_no_readable_trace_turns_it_off(monkeypatch: pytest.MonkeyPatch,
                                                                           owner: type) -> None:
    """``SetParamEntityParsing`` (or ``UseForeignDTD``, or another argument to ``ParserCreate``) set in a later
    constructor cannot be read back from the parser: the constructors' code is compared instead."""
    original = vars(owner)["__init__"]

    def also_sets_parameter_entity_parsing(self: _Parser, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        self.parser.SetParamEntityParsing(0)

    monkeypatch.setattr(owner, "__init__", also_sets_parameter_entity_parsing)
    assert not lean_matches()


def test_an_expat_parser_made_without_the_namespace_separator_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Made otherwise, expat names namespaced elements another way: what nothing readable shows, a probe does."""
    monkeypatch.setattr(xml_parser, "ParserCreate", lambda encoding, separator: ParserCreate(encoding))
    assert not lean_matches()


def test_a_lean_parser_that_cannot_be_built_turns_it_off(monkeypatch: pytest.MonkeyPatch, decided_again: None) -> None:
    """Whatever a later version breaks, bodies are still read (by the standard parser), never answered 500."""
    def broken(self: _Parser) -> None:
        raise AttributeError("a later ElementTree's attribute")

    monkeypatch.setattr(_LeanParser, "__init__", broken)
    assert not lean_matches()
    assert outcome(BODIES[0]) == standard(BODIES[0])


@pytest.mark.parametrize(("pythons", "defused"), [(((3, 99),), ("0.7",)), (((3, 11), (3, 12), (3, 13)), ("0.8",))])
def test_versions_the_tests_do_not_cover_get_the_standard_parser(
        monkeypatch: pytest.MonkeyPatch, decided_again: None, pythons: tuple[tuple[int, int], ...],
        defused: tuple[str, ...]) -> None:
    monkeypatch.setattr(xml_parser, "TESTED_PYTHONS", pythons)
    monkeypatch.setattr(xml_parser, "TESTED_DEFUSEDXML", defused)
    assert not lean_matches()
    assert outcome(BODIES[0]) == standard(BODIES[0])
    assert xml_parser._parser_class() is _Parser


def test_a_parse_leaves_no_cycle_for_the_collector(built_by: type[_Parser]) -> None:
    """The parser's handlers are its own methods: the cycle is broken as the parse ends, as close() does."""
    gc.collect()
    gc.disable()
    try:
        for _ in range(50):
            parse_xml(BODIES[0])
        assert gc.collect() == 0
    finally:
        gc.enable()
