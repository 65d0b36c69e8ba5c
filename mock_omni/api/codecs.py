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
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from dicttoxml import make_attrstring, make_valid_xml_name
from pydantic import BaseModel

from ..domain.errors import BadRequest, NotAcceptable, UnsupportedMediaType
from .memo import MISSING, Memo
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

@lru_cache(maxsize=1024)
def _xml_name(key: str, scalar: bool) -> tuple[str, str]:
    """(element name, attributes) dicttoxml makes of ``key``: an invalid name becomes ``<key name="...">``.

    dicttoxml fixes a key up once for a dict or list value and twice for a scalar one
    (its convert_kv does it again), which differs for keys like "²"; so do we.
    """
    name, attributes = make_valid_xml_name(key, {})
    if scalar:
        name, attributes = make_valid_xml_name(name, attributes)
    return name, make_attrstring(attributes)


@lru_cache(maxsize=1024)
def _xml_tags(key: str, scalar: bool) -> tuple[str, str, str]:
    """(opening tag, closing tag, element name) of ``key``'s element (``_xml_name``), formatted once."""
    name, attributes = _xml_name(key, scalar)
    return f"<{name}{attributes}>", f"</{name}>", name


def _escape(value: object) -> str:
    if type(value) is not str:
        return str(value)
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value or "\r" in value:
        return (value.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&apos;")
                .replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;"))
    return value  # most text needs no escaping: skip the passes


def _xml_dict(data: dict[str, object], parent: str, items: XmlItems) -> str:
    parts = []
    for key, value in data.items():
        kind = type(value)
        # Exact types first (the common cases, cheap to test); then what dicttoxml
        # would do with subclasses and other numbers, in its order.
        if kind is str:
            opening, closing, _ = _xml_tags(key, True)
            parts.append(opening + _escape(value) + closing)
        elif kind is bool:
            opening, closing, _ = _xml_tags(key, True)
            parts.append(opening + ("true" if value else "false") + closing)
        elif kind is dict or isinstance(value, dict):
            opening, closing, name = _xml_tags(key, False)
            parts.append(opening + _xml_dict(value, name, items) + closing)  # type: ignore[arg-type]
        elif kind is list or (isinstance(value, Iterable) and not isinstance(value, Number)):
            opening, closing, name = _xml_tags(key, False)
            parts.append(opening + _xml_list(value, name, items) + closing)  # type: ignore[arg-type]
        elif value is None or isinstance(value, Number):
            opening, closing, _ = _xml_tags(key, True)
            parts.append(opening + ("" if value is None else str(value)) + closing)
        else:
            raise TypeError(f"cannot render {type(value).__name__} as XML")
    return "".join(parts)


def _xml_list(values: Iterable[object], parent: str, items: XmlItems) -> str:
    item = items.get(parent, "item")
    opening, closing = f"<{item}>", f"</{item}>"
    parts = []
    for value in values:
        kind = type(value)
        # Exact str and dict first (neither is a Number, so the order below does not matter to them); then
        # dicttoxml's order of checks: a bool in a list is a Number, rendered "True".
        if kind is str:
            parts.append(opening + _escape(value) + closing)
        elif kind is dict:
            parts.append(opening + _xml_dict(value, parent, items) + closing)  # type: ignore[arg-type]
        elif isinstance(value, Number):
            parts.append(opening + _escape(value) + closing)
        elif isinstance(value, dict):
            parts.append(opening + _xml_dict(value, parent, items) + closing)
        elif isinstance(value, Iterable):
            parts.append(f"<{item} >{_xml_list(value, item, items)}</{item}>")
        elif value is None:
            parts.append(opening + closing)
        else:
            raise TypeError(f"cannot render {type(value).__name__} as XML")
    return "".join(parts)


def to_xml(data: dict[str, object], root: str, items: XmlItems = NO_ITEMS) -> bytes:
    return XML_PROLOG + f"<{root}>{_xml_dict(data, root, items)}</{root}>".encode()


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
        key = (root, id(items), to_json(data))
        xml = self._rendered.get(key, MISSING)
        if xml is MISSING:
            xml = self._rendered.remember(key, to_xml(data, root, items), len(key[2]))
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
