"""Content negotiation and the two wire formats, JSON (orjson) and XML (dicttoxml's shape out, defusedxml in).

The vendor answers in the format the client accepts (q-values honoured); where
``Accept`` is absent or ``*/*`` it answers in the format of the request body
(the seed's XML request carries no ``Accept`` and gets XML back).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from numbers import Number
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from dicttoxml import make_attrstring, make_valid_xml_name
from pydantic import BaseModel

from ..domain.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from ..domain.memo import MISSING, Memo
from .xml_parser import parse_xml

Format = Literal["json", "xml"]
JSON: Format = "json"
XML: Format = "xml"

CONTENT_TYPES: dict[Format, bytes] = {JSON: b"application/json", XML: b"application/xml"}
XML_PROLOG = b'<?xml version="1.0" encoding="UTF-8"?>'

_JSON_TYPES = {"application/json"}
_XML_TYPES = {"application/xml", "text/xml"}


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


#: The media types as they are mostly written (no parameters, lower case): one dict lookup on the hot path.
_EXACT: dict[str, Format] = {**dict.fromkeys(_JSON_TYPES, JSON), **dict.fromkeys(_XML_TYPES, XML)}


def body_format(content_type: str | None) -> Format | None:
    """The format of a request body by its Content-Type, or None if neither JSON nor XML."""
    if not content_type:
        return None
    exact = _EXACT.get(content_type)
    if exact is not None:
        return exact
    kind = media_type(content_type)
    if kind in _JSON_TYPES:
        return JSON
    if kind in _XML_TYPES:
        return XML
    return None


def require_body_format(content_type: str | None) -> Format:
    fmt = body_format(content_type)
    if fmt is None:
        given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType().because(f"{given}: the body must be application/json or application/xml")
    return fmt


FORM_TYPE = "application/x-www-form-urlencoded"


def require_form(content_type: str | None) -> None:
    """415 unless the body is a form (the OAuth2 token request, RFC 6749 4.4.2)."""
    if not content_type or media_type(content_type) != FORM_TYPE:
        given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise UnsupportedMediaType(f"Unsupported media type: send {FORM_TYPE}").because(
            f"{given}: the token request's body is a form ({FORM_TYPE}, RFC 6749 4.4.2)")


def _parse_accept(accept: str) -> list[tuple[float, int, int, str]]:
    """Accept's media ranges as (q, specificity, -position, range), best last when sorted."""
    ranges = []
    for position, part in enumerate(accept.split(",")):
        pieces = part.split(";")
        kind = pieces[0].strip().lower()
        if not kind:
            continue
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:
                    q = 0.0
        specificity = 0 if kind == "*/*" else 1 if kind.endswith("/*") else 2
        ranges.append((q, specificity, -position, kind))
    return ranges


def _matches(media_range: str, media_type: str) -> bool:
    if media_range == "*/*":
        return True
    if media_range.endswith("/*"):
        return media_type.startswith(media_range[:-1])
    return media_range == media_type


def _quality(ranges: list[tuple[float, int, int, str]], types: set[str]) -> tuple[float, int]:
    """(q, specificity) of a format: each of its media types takes the q of its most specific range.

    RFC 9110 12.5.1: the most specific range decides, so ``text/xml;q=0, application/xml``
    still accepts XML. Types named outright outrank those only a wildcard admits, so
    ``application/xml;q=0, */*`` refuses XML rather than taking text/xml through ``*/*``.
    """
    chosen: list[tuple[float, int]] = []
    for media_type in types:
        best: tuple[int, int, float] | None = None
        for q, specificity, position, kind in ranges:
            if _matches(kind, media_type) and (best is None or (specificity, position) > best[:2]):
                best = (specificity, position, q)
        if best is not None:
            chosen.append((best[2], best[0]))
    named = [rank for rank in chosen if rank[1] == 2]
    return max(named or chosen, default=(0.0, -1))


def _choose(accept: str) -> Format | None | Literal["any"]:
    ranges = _parse_accept(accept)
    if not ranges:
        return "any"
    json_rank, xml_rank = _quality(ranges, _JSON_TYPES), _quality(ranges, _XML_TYPES)
    if json_rank[0] <= 0 and xml_rank[0] <= 0:
        return None
    if json_rank == xml_rank and json_rank[1] == 0:
        return "any"  # only */* admits either: follow the request body's format
    if json_rank[0] != xml_rank[0]:
        return JSON if json_rank[0] > xml_rank[0] else XML
    # Equal q: the more specific mention wins; a tie goes to the first one named.
    if json_rank[1] != xml_rank[1]:
        return JSON if json_rank[1] > xml_rank[1] else XML
    return JSON if _first_position(ranges, _JSON_TYPES) <= _first_position(ranges, _XML_TYPES) else XML


def _first_position(ranges: list[tuple[float, int, int, str]], types: set[str]) -> int:
    positions = [-position for q, _, position, kind in ranges if q > 0 and any(_matches(kind, t) for t in types)]
    return min(positions, default=1 << 30)


class Negotiator:
    """Picks the response format; remembers the parse of each distinct Accept header."""

    def __init__(self) -> None:
        self._choices: Memo[str, Format | None | Literal["any"]] = Memo(limit=512, max_size=1024)

    def response_format(self, accept: str | None, content_type: str | None) -> Format:
        if not accept:
            return body_format(content_type) or JSON
        choice = self._choices.get(accept, MISSING)
        if choice is MISSING:
            choice = self._choices.remember(accept, _choose(accept), len(accept))
        if choice == "any":
            return body_format(content_type) or JSON
        if choice is None:
            raise NotAcceptable().because(f"Accept {accept!r} takes neither application/json nor application/xml")
        return choice  # type: ignore[return-value]


# --- rendering -------------------------------------------------------------------

#: XML element names of list items, by the list's element name (each operation states its own in the
#: route table); an item of any other list is ``<item>``, as dicttoxml names it.
XmlItems = Mapping[str, str]
NO_ITEMS: XmlItems = {}


def xml_item_namer(items: XmlItems) -> Callable[[str], str]:
    """dicttoxml's ``item_func`` for ``items``."""
    return lambda parent: items.get(parent, "item")


# The XML writer below produces what ``dicttoxml(data, custom_root=root, attr_type=False,
# xml_declaration=False, item_func=xml_item_namer(items))`` does (a property test holds it
# to that), but about 50x faster: dicttoxml test-parses every key with minidom on every call
# and formats debug log lines eagerly. Names still come from dicttoxml's own fix-up, once per
# distinct key. One difference on purpose: a carriage return in text is written ``&#13;``, since
# an XML parser reads a raw one as a line feed (dicttoxml writes it raw).
#
# For speed on answers nobody asked for before (a new scenario's): every part is appended to
# one list, whose append the recursion passes down (one join and one encode per answer, not
# one per level); tags come from plain dicts (a subscript, not a call); the exact types the API
# renders are told apart by identity before dicttoxml's isinstance checks, which only subclasses
# and other types reach; and RenderedXml skips the escape tests of texts when the JSON form it
# computes anyway shows that no text needs them (_needs_escapes).

def _xml_name(key: str, scalar: bool) -> tuple[str, str]:
    """(element name, attributes) dicttoxml makes of ``key``: an invalid name becomes ``<key name="...">``.

    dicttoxml fixes a key up once for a dict or list value and twice for a scalar one
    (its convert_kv does it again), which differs for keys like "²"; so do we.
    """
    name, attributes = make_valid_xml_name(key, {})
    if scalar:
        name, attributes = make_valid_xml_name(name, attributes)
    return name, make_attrstring(attributes)


# Each key's tags, formatted once: a scalar's (opening, closing); a dict's or list's (opening,
# closing, element name: the name its items are named by). Keys are mostly the API's own, but
# validation errors name the fields a client sent: as in Memo (memo.py), a full table is emptied
# whole and a long key is not kept, so no client can grow these without bound.
_TAGS_LIMIT = 1024
_MAX_TAGGED_KEY = 256
_SCALAR_TAGS: dict[str, tuple[str, str]] = {}
_NESTED_TAGS: dict[str, tuple[str, str, str]] = {}
# A list item's (opening, closing, opening of an item that is itself a list: dicttoxml writes
# ``<item >`` there), by item name: names come from the route table or are "item".
_ITEM_TAGS: dict[str, tuple[str, str, str]] = {}


_T = TypeVar("_T")


def _remember(table: dict[str, _T], key: str, tags: _T) -> _T:
    # Only str keys (JSON's only kind): 1 and True are one dict key but two element names.
    if type(key) is str and len(key) <= _MAX_TAGGED_KEY:
        if len(table) >= _TAGS_LIMIT:
            table.clear()
        table[key] = tags
    return tags


def _scalar_tags(key: str) -> tuple[str, str]:
    name, attributes = _xml_name(key, True)
    return _remember(_SCALAR_TAGS, key, (f"<{name}{attributes}>", f"</{name}>"))


def _nested_tags(key: str) -> tuple[str, str, str]:
    name, attributes = _xml_name(key, False)
    return _remember(_NESTED_TAGS, key, (f"<{name}{attributes}>", f"</{name}>", name))


def _item_tags(item: str) -> tuple[str, str, str]:
    return _remember(_ITEM_TAGS, item, (f"<{item}>", f"</{item}>", f"<{item} >"))


def _escape(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&apos;")
            .replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;"))


def _xml_dict(data: dict[str, Any], items: XmlItems, append: Callable[[str], None], escape: bool) -> None:
    for key, value in data.items():
        kind = type(value)
        # The exact types the API renders first, by identity (cheap); everything else
        # goes through dicttoxml's order of checks in _xml_other.
        if kind is str:
            # Most text needs no escaping: skip the six passes (and the six tests, when the
            # caller knows that no text of the data needs them: ``escape`` false).
            if escape and ("&" in value or "<" in value or ">" in value or '"' in value or "'" in value
                           or "\r" in value):
                value = _escape(value)
            text = value
        elif kind is dict or kind is list:
            try:
                opening, closing, name = _NESTED_TAGS[key]
            except KeyError:
                opening, closing, name = _nested_tags(key)
            append(opening)
            if kind is dict:
                _xml_dict(value, items, append, escape)
            else:
                _xml_list(value, name, items, append, escape)
            append(closing)
            continue
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is int or kind is float:
            text = str(value)
        elif value is None:
            text = ""
        else:
            _xml_other(key, value, items, append)
            continue
        try:
            opening, closing = _SCALAR_TAGS[key]
        except KeyError:
            opening, closing = _scalar_tags(key)
        append(f"{opening}{text}{closing}")


def _xml_other(key: str, value: object, items: XmlItems, append: Callable[[str], None]) -> None:
    """A dict's value of a type other than the exact ones: dicttoxml's order (a bool is exact).

    What is inside is always escaped: a subclass may yield other text than its JSON form shows.
    """
    if isinstance(value, dict):
        opening, closing, _ = _nested_tags(key)
        append(opening)
        _xml_dict(value, items, append, True)
        append(closing)
    elif isinstance(value, Iterable) and not isinstance(value, Number):  # a str subclass too
        opening, closing, name = _nested_tags(key)
        append(opening)
        _xml_list(value, name, items, append, True)
        append(closing)
    elif isinstance(value, Number):  # str() of it, not escaped (dicttoxml's '%s')
        opening, closing = _scalar_tags(key)
        append(f"{opening}{value!s}{closing}")
    else:
        raise TypeError(f"cannot render {type(value).__name__} as XML")


def _xml_list(values: Iterable[Any], parent: str, items: XmlItems, append: Callable[[str], None],
              escape: bool) -> None:
    item = items.get(parent, "item")
    try:
        opening, closing, list_opening = _ITEM_TAGS[item]
    except KeyError:
        opening, closing, list_opening = _item_tags(item)
    for value in values:
        kind = type(value)
        # Exact types first, as in _xml_dict; a bool in a list is a Number to dicttoxml: "True".
        if kind is str:
            if escape and ("&" in value or "<" in value or ">" in value or '"' in value or "'" in value
                           or "\r" in value):
                value = _escape(value)
            append(f"{opening}{value}{closing}")
        elif kind is dict:
            append(opening)
            _xml_dict(value, items, append, escape)
            append(closing)
        elif kind is int or kind is float or kind is bool:
            append(f"{opening}{value!s}{closing}")
        elif kind is list:
            append(list_opening)
            _xml_list(value, item, items, append, escape)
            append(closing)
        elif value is None:
            append(opening + closing)
        # Then dicttoxml's order of checks, for subclasses and other types (escaped: see _xml_other).
        elif isinstance(value, Number):
            append(f"{opening}{value!s}{closing}")
        elif isinstance(value, dict):
            append(opening)
            _xml_dict(value, items, append, True)
            append(closing)
        elif isinstance(value, Iterable):
            append(list_opening)
            _xml_list(value, item, items, append, True)
            append(closing)
        else:
            raise TypeError(f"cannot render {type(value).__name__} as XML")


_XML_PROLOG_TEXT = XML_PROLOG.decode()


def to_xml(data: dict[str, object], root: str, items: XmlItems = NO_ITEMS) -> bytes:
    return _to_xml(data, root, items, True)


def _to_xml(data: dict[str, object], root: str, items: XmlItems, escape: bool) -> bytes:
    out = [_XML_PROLOG_TEXT, f"<{root}>"]
    # A dict subclass may hold other items than its JSON form shows: escaped (see _xml_other).
    _xml_dict(data, items, out.append, escape or type(data) is not dict)
    out.append(f"</{root}>")
    return "".join(out).encode()


# Bytes as ints: ``int in bytes`` is one memchr, ``bytes in bytes`` costs eight times as much.
_AMP, _LT, _GT, _APOS, _BACKSLASH = b"&<>'\\"


def _needs_escapes(json: bytes) -> bool:
    r"""Whether any text in data whose JSON form is ``json`` may need escaping in XML.

    Every text of exact dicts and lists is in its JSON form, where orjson writes & < > ' as they
    are and " and CR as \" and \r: without & < > ' or a backslash there, no text needs escaping
    (keys may give false alarms: then texts are tested one by one, as ever).
    """
    return _AMP in json or _LT in json or _GT in json or _APOS in json or _BACKSLASH in json


def to_json(data: object) -> bytes:
    return orjson.dumps(data)


def render(data: dict[str, object], fmt: Format, xml_root: str, xml_items: XmlItems = NO_ITEMS) -> bytes:
    if fmt == JSON:
        return to_json(data)
    return _XML_RENDERED.render(data, xml_root, xml_items)


class RenderedXml:
    """XML renderings by the JSON form of the data: the same scenario is rendered once.

    Clients read and update the same few scenarios over and over; the JSON encoding
    costs a twentieth of the XML one and, for the data the API renders (str keys;
    str, bool, int, None, dicts and lists), determines the XML exactly.
    """

    LIMIT = 1024
    MAX_KEY = 4096

    def __init__(self) -> None:
        self._rendered: Memo[tuple[str, int, bytes], bytes] = Memo(self.LIMIT, self.MAX_KEY)

    def __len__(self) -> int:
        return len(self._rendered)

    def render(self, data: dict[str, object], root: str, items: XmlItems = NO_ITEMS) -> bytes:
        # The item names are the route table's (a few long-lived mappings): their identity is their key.
        json = to_json(data)
        key = (root, id(items), json)
        xml = self._rendered.get(key, MISSING)
        if xml is MISSING:
            # The JSON form at hand tells whether the writer must test each text for escapes.
            xml = self._rendered.remember(key, _to_xml(data, root, items, _needs_escapes(json)), len(json))
        return xml  # type: ignore[return-value]


# A pure function's memo, shared by every app in the process (renderings never go stale).
_XML_RENDERED = RenderedXml()


# --- reading XML bodies ------------------------------------------------------------

# A body is a few levels below its root (flow/step/from). Bodies nested deeper than this
# are BAD_REQUEST, as over-deep JSON is: converting them recursively would exhaust the stack
# (a 500), and accepting them where ignored would make XML laxer than JSON.
MAX_XML_DEPTH = 32


def _nested_within(root: Element, limit: int) -> bool:
    """Whether no element is more than ``limit`` levels below ``root`` (walked a level at a time)."""
    if len(list(root.iter())) <= limit + 1:
        return True  # too few elements to be nested that deep (the usual body: counted in C, not walked)
    level = [root]
    depth = 0
    while level:
        if depth > limit:
            return False
        level = [child for element in level for child in element]
        depth += 1
    return True


def _local(tag: str) -> str:
    """An element's name without its namespace: ``{urn:x}name``, ``urn:x}name`` (expat's own spelling, see
    xml_parser.py's ``_Parser``) and ``p:name`` (declared) read as ``name``. A name outside a namespace has no ``}``."""
    return tag.rpartition("}")[2]


def _element_value(element: Element) -> object:
    if not len(element):
        return element.text or ""
    return {_local(child.tag): _element_value(child) for child in element}


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; ``Annotated[X, ...]`` (constraints, validators) -> ``X``."""
    if get_origin(annotation) in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            annotation = options[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")
_BOOLEANS = {"true": True, "false": False}

#: Turns an element into the JSON value of a field of some type (``_converter``).
Converter = Callable[[Element], object]


def _converter(annotation: Any) -> Converter:
    """How an element becomes the JSON value a field of type ``annotation`` would have.

    Only what the type makes unambiguous is converted (``true`` for a bool, digits for an
    int); anything else is left as text for validation to refuse, naming the field. Worked
    out once per type (``_wire_fields``), not per element: the typing calls cost more than
    the conversion.
    """
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item_type,) = get_args(annotation) or (Any,)
        item = _converter(item_type)
        # Items are the list element's children, whatever their names (<flow><step>, <destinations><destinations>).
        return lambda element: [item(child) for child in element]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        model = annotation

        def to_model(element: Element) -> object:
            if len(element):
                return model_from_element(element, model)
            # An empty element is an empty object (`<to/>` is `"to": {}`); text alone stays text, to be refused.
            text = element.text or ""
            return text if text.strip() else {}
        return to_model
    if origin is dict:
        value = _converter(get_args(annotation)[1] if get_args(annotation) else Any)
        return lambda element: {_local(child.tag): value(child) for child in element}
    if annotation is bool:
        return lambda element: _element_value(element) if len(element) else _BOOLEANS.get(element.text or "",
                                                                                           element.text or "")
    if annotation is int:
        return _to_int
    if annotation is float:
        return _to_float
    return _element_value


def _to_int(element: Element) -> object:
    if len(element):
        return _element_value(element)
    text = element.text or ""
    return int(text) if _INTEGER.match(text.strip()) else text


def _to_float(element: Element) -> object:
    if len(element):
        return _element_value(element)
    text = element.text or ""
    try:
        return float(text)
    except ValueError:
        return text


@lru_cache(maxsize=64)
def _wire_fields(model: type[BaseModel]) -> dict[str, Converter]:
    """Wire name -> converter of each field of ``model`` (aliases are wire names)."""
    return {(info.alias or name): _converter(info.annotation) for name, info in model.model_fields.items()}


def model_from_element(element: Element, model: type[BaseModel]) -> dict[str, object]:
    """The children of ``element`` as the data ``model`` validates; unknown elements are ignored."""
    fields = _wire_fields(model)
    data: dict[str, object] = {}
    for child in element:
        name = child.tag.rpartition("}")[2]  # _local(child.tag), inline: this loop runs for every element read
        convert = fields.get(name)
        if convert is not None:
            # A repeated element: the last one wins, as with duplicate JSON keys.
            data[name] = convert(child)
    return data


def _clark(tag: str) -> str:
    """A tag as ElementTree spells it: ``{uri}name`` for expat's ``uri}name``."""
    return "{" + tag if "}" in tag else tag


def data_from_xml(body: bytes, model: type[BaseModel]) -> dict[str, object]:
    """Decode an XML body into the shape the same request has in JSON, guided by ``model``.

    defusedxml refuses DTDs, entities and external references; any of them, or XML that
    does not parse, is a BAD_REQUEST. Like the vendor's XML binding, the root element's
    name is not checked, unknown elements are ignored and namespaces do not change a name.
    """
    if not body.strip():
        raise BadRequest().because("the body is empty")
    try:
        root = parse_xml(body)
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise BadRequest().because(f"the body is not XML: {reason} at line {line} column {column + 1}") from None
    except DefusedXmlException as exc:
        raise BadRequest().because(f"the body's XML is refused: {type(exc).__name__} (no DTD, entity or "
                                   "external reference is read)") from None
    except ValueError as exc:
        raise BadRequest().because(f"the body is not XML: {exc}") from None
    except LookupError as exc:  # <?xml encoding="nope"?>: expat asks Python for a codec it does not have
        raise BadRequest().because(f"the body's XML declares an encoding that cannot be read: {exc}") from None
    if not _nested_within(root, MAX_XML_DEPTH):
        raise BadRequest().because(f"the body's XML is nested deeper than {MAX_XML_DEPTH} levels")
    if len(root) == 0 and (root.text or "").strip():
        # `<scenario>true</scenario>` is a scalar, not an object: BAD_REQUEST, as the JSON body `true` is.
        raise BadRequest().because(f"the body's root element <{_clark(root.tag)}> holds only text, not fields")
    return model_from_element(root, model)
