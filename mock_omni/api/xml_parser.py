"""defusedxml's parser for request bodies, built in about a quarter of the time ElementTree's constructor takes.

A new XML body costs about 17 us to read, and building the parser was 5 of them: defusedxml extends
ElementTree's pure-Python ``XMLParser``, whose constructor makes the expat parser and then, in Python, tests
the target for seven methods and sets a dozen handlers and attributes, before defusedxml sets its four.

``_LeanParser`` sets the same attributes, handlers and settings directly. It is a ``DefusedXMLParser`` whose
refusals (DTDs, entities, external references) are defusedxml's own methods, and it is only used where
``lean_matches`` (once, on the first body) finds:
- the versions the tests cover (``TESTED_PYTHONS``, ``TESTED_DEFUSEDXML``);
- both constructors' code naming exactly what it named when ``_LeanParser`` was written (``_CONSTRUCTORS``:
  a call such as ``SetParamEntityParsing`` or another ``ParserCreate`` argument, which leaves nothing the
  comparison below can read, shows there);
- the two parsers alike: every attribute, every expat handler by function and owner, expat's settings;
- and expat spelling a namespaced name as ElementTree's parser asks (``uri}name``).
Anywhere else every body gets ``_Parser`` as before.
"""

from __future__ import annotations

import sys
from functools import cache
from types import FunctionType
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers.expat import ExpatError, ParserCreate, version_info

import defusedxml
from defusedxml.ElementTree import DefusedXMLParser

#: The Python versions and defusedxml releases the tests cover (``make pythons`` runs tests/test_xml_parser.py
#: on each declared Python).
TESTED_PYTHONS = ((3, 11), (3, 12), (3, 13))
TESTED_DEFUSEDXML = ("0.7",)

#: expat's handlers and settings (what ``_configuration`` compares of the expat parser).
_HANDLERS = tuple(name for name in dir(ParserCreate()) if "Handler" in name)
_SETTINGS = ("buffer_text", "ordered_attributes", "specified_attributes", "namespace_prefixes", "buffer_size")

_EXPAT_VERSION = "Expat {}.{}.{}".format(*version_info)  # as XMLParser spells it


class _Parser(DefusedXMLParser):  # type: ignore[misc]  # defusedxml has no type hints
    """defusedxml's parser (DTDs, entities and external references refused, as always), handing elements to
    the tree builder without a Python call each.

    ElementTree's pure-Python parser, which defusedxml extends, routes every start and end tag through two
    Python methods that only spell a namespaced name ``{uri}name`` (expat says ``uri}name``) and turn the
    attribute list into a dict: a third of a small body's parse. Here expat gives attributes as a dict and
    calls the C tree builder itself; names keep expat's spelling, which codecs.py's ``_local`` reads alike
    (``_clark`` there spells it as ElementTree would where a name is shown). Everything else (the refusals,
    undefined entities, errors and their positions) is defusedxml's and ElementTree's, unchanged.
    """

    def __init__(self) -> None:
        super().__init__(target=TreeBuilder(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
        expat = self.parser
        expat.ordered_attributes = False
        expat.StartElementHandler = self.target.start
        expat.EndElementHandler = self.target.end


def _named(constructor: FunctionType) -> frozenset[str]:
    """What a constructor's code names: attributes, globals and methods it calls, and its string constants."""
    code = constructor.__code__
    return frozenset(code.co_names) | {constant for constant in code.co_consts if isinstance(constant, str)}


#: What ElementTree's pure-Python ``XMLParser.__init__`` and defusedxml's ``DefusedXMLParser.__init__`` name, on
#: every version in ``TESTED_PYTHONS`` and ``TESTED_DEFUSEDXML`` (the same on all of them).
_CONSTRUCTORS = (
    frozenset({
        "AttributeError", "CharacterDataHandler", "CommentHandler", "DefaultHandlerExpand", "EndElementHandler",
        "EndNamespaceDeclHandler", "ImportError", "ParserCreate", "ProcessingInstructionHandler",
        "StartElementHandler", "StartNamespaceDeclHandler", "TreeBuilder", "_default", "_doctype", "_end", "_end_ns",
        "_error", "_names", "_parser", "_start", "_start_ns", "_target", "buffer_text", "comment", "data", "entity",
        "error", "expat", "hasattr", "ordered_attributes", "parser", "pi", "pyexpat", "target", "version",
        "version_info", "xml.parsers", "No module named expat; use SimpleXMLTreeBuilder instead", "}", "start",
        "end", "start_ns", "end_ns", "Expat %d.%d.%d",
    }),
    frozenset({
        "DeprecationWarning", "EntityDeclHandler", "ExternalEntityRefHandler", "PY3", "StartDoctypeDeclHandler",
        "TypeError", "UnparsedEntityDeclHandler", "_XMLParser", "__init__", "_parser", "_sentinel",
        "defused_entity_decl", "defused_external_entity_ref_handler", "defused_start_doctype_decl",
        "defused_unparsed_entity_decl", "forbid_dtd", "forbid_entities", "forbid_external", "parser", "warn",
        "warnings", "'html=True' is no longer supported.",
        "'html' keyword argument is no longer supported. Pass in arguments as keyword arguments.",
    }),
)


class _LeanParser(_Parser):
    """A ``_Parser`` as its constructor leaves it, set directly (see the module's docstring)."""

    def __init__(self) -> None:  # no super().__init__(): not running it is the point
        expat = ParserCreate(None, "}")
        target = TreeBuilder()
        # ElementTree's XMLParser.__init__, for a target that is a TreeBuilder.
        self.parser = self._parser = expat
        self.target = self._target = target
        self._error = ExpatError
        self._names: dict[str, str] = {}
        expat.DefaultHandlerExpand = self._default
        expat.CharacterDataHandler = target.data
        expat.CommentHandler = target.comment
        expat.ProcessingInstructionHandler = target.pi
        expat.buffer_text = True
        self._doctype = None
        self.entity: dict[str, str] = {}
        self.version = _EXPAT_VERSION
        # defusedxml's DefusedXMLParser.__init__, every refusal on.
        self.forbid_dtd = self.forbid_entities = self.forbid_external = True
        expat.StartDoctypeDeclHandler = self.defused_start_doctype_decl
        expat.EntityDeclHandler = self.defused_entity_decl
        expat.UnparsedEntityDeclHandler = self.defused_unparsed_entity_decl
        expat.ExternalEntityRefHandler = self.defused_external_entity_ref_handler
        # _Parser's own.
        expat.ordered_attributes = False
        expat.StartElementHandler = target.start
        expat.EndElementHandler = target.end


def _configuration(parser: _Parser) -> tuple[object, ...]:
    """What ``parser`` is made of, comparable between two parsers: its attributes (the expat parser, the target
    and itself by role, methods by function and owner, other objects by type, plain values by value), and its
    expat parser's handlers and settings."""
    roles = {id(parser): "the parser", id(parser.parser): "expat", id(parser.target): "the target"}

    def describe(value: object) -> object:
        if id(value) in roles:
            return roles[id(value)]
        owner = getattr(value, "__self__", None)
        if owner is not None and not isinstance(value, type):  # a method: whose, and which
            return describe(owner), getattr(value, "__func__", None) or getattr(value, "__name__", None)
        if value is None or isinstance(value, (bool, int, str, type)):
            return value
        if type(value) in (dict, list, tuple) and not value:
            return type(value)  # an empty container of its own, as XMLParser makes them
        return type(value), repr(value)

    expat = parser.parser
    return (
        {name: describe(value) for name, value in sorted(vars(parser).items())},
        {name: describe(getattr(expat, name)) for name in _HANDLERS},
        {name: getattr(expat, name) for name in _SETTINGS},
    )


def lean_matches() -> bool:
    """Whether ``_LeanParser`` is built exactly as ``_Parser`` is (see the module's docstring)."""
    try:
        if sys.version_info[:2] not in TESTED_PYTHONS or (
                defusedxml.__version__.rsplit(".", 1)[0] not in TESTED_DEFUSEDXML):
            return False
        standard = DefusedXMLParser.__mro__[1]  # ElementTree's pure-Python XMLParser, as defusedxml imports it
        if (_named(standard.__init__), _named(DefusedXMLParser.__init__)) != _CONSTRUCTORS:
            return False
        if _configuration(_LeanParser()) != _configuration(_Parser()):
            return False
        probe = _LeanParser()
        probe.parser.Parse(b'<a xmlns="urn:x"/>', True)
        return probe.target.close().tag == "urn:x}a"
    except Exception:  # noqa: BLE001 - whatever a later version changed, the standard parser still reads
        return False


@cache
def _parser_class() -> type[_Parser]:
    """The class every body's parser is made of, decided on the first body (start-up does not pay for it)."""
    return _LeanParser if lean_matches() else _Parser


def parse_xml(body: bytes) -> Element:
    """``defusedxml.ElementTree.fromstring(body, forbid_dtd=True)``, through ``_Parser`` (or its lean twin)."""
    parser = _parser_class()()
    try:
        parser.parser.Parse(body, True)  # the whole body at once: what feed then close do, in one call
        root: Element = parser.target.close()
    except ExpatError as error:
        parser._raiseerror(error)  # ParseError with its code and position, as feed and close raise it
        raise  # not reached: _raiseerror raises
    finally:
        # The parser's handlers are its own methods, a cycle: broken now, as close() does, not by a GC pass.
        del parser.parser, parser._parser, parser.target, parser._target
    return root
