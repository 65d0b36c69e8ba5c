"""defusedxml's parser for request bodies, built in a fifth of the time ElementTree's constructor takes.

A new XML body costs about 17 us to read, and building the parser was 5 of them: defusedxml extends
ElementTree's pure-Python ``XMLParser``, whose constructor makes the expat parser and then, in Python, tests
the target for seven methods and sets a dozen handlers and attributes, before defusedxml sets its four.

``_LeanParser`` sets the same attributes, handlers and settings directly. It is a ``DefusedXMLParser`` whose
refusals (DTDs, entities, external references) are defusedxml's own methods, and it is only used where it was
found built exactly as the standard constructor builds one (``lean_matches``: compared once, on the first
body). That check relies on ElementTree's and defusedxml's internals, so it is trusted only on the versions the
tests cover (``_TESTED``); anywhere else, or if the comparison differs, every body gets ``_Parser`` as before.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata
from xml.etree.ElementTree import Element, TreeBuilder
from xml.parsers.expat import ExpatError, ParserCreate, version_info

from defusedxml.ElementTree import DefusedXMLParser

#: Python versions and defusedxml releases whose constructors ``lean_matches`` has been tested against.
_TESTED = {"python": ((3, 11), (3, 12), (3, 13)), "defusedxml": ("0.7",)}

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


class _LeanParser(_Parser):
    """A ``_Parser`` as its constructor leaves it, set directly (see the module's docstring)."""

    def __init__(self) -> None:  # noqa: D107 - no super().__init__(): the point is not to run it
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


def _tested_versions() -> bool:
    try:
        defused = metadata.version("defusedxml")
    except metadata.PackageNotFoundError:
        return False
    return sys.version_info[:2] in _TESTED["python"] and defused.rsplit(".", 1)[0] in _TESTED["defusedxml"]


def lean_matches() -> bool:
    """Whether ``_LeanParser`` is built exactly as ``_Parser`` is, on versions the tests cover."""
    if not _tested_versions():
        return False
    return _configuration(_LeanParser()) == _configuration(_Parser())


_new_parser: Callable[[], _Parser] | None = None


def parse_xml(body: bytes) -> Element:
    """``defusedxml.ElementTree.fromstring(body, forbid_dtd=True)``, through ``_Parser`` (or its lean twin)."""
    global _new_parser
    if _new_parser is None:  # decided on the first body, not at import: start-up does not pay for it
        _new_parser = _LeanParser if lean_matches() else _Parser
    parser = _new_parser()
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
