"""Content negotiation and the two wire formats, JSON (orjson) and XML (dicttoxml's shape out, defusedxml in).

The vendor answers in the format the client accepts (q-values honoured); where
``Accept`` is absent or ``*/*`` it answers in the format of the request body
(the seed's XML request carries no ``Accept`` and gets XML back).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from numbers import Number
from typing import Literal
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml
from dicttoxml import make_attrstring, make_valid_xml_name

from ..domain.errors import BadRequest, NotAcceptable, UnsupportedMediaType

Format = Literal["json", "xml"]
JSON: Format = "json"
XML: Format = "xml"

CONTENT_TYPES: dict[Format, bytes] = {JSON: b"application/json", XML: b"application/xml"}
XML_PROLOG = b'<?xml version="1.0" encoding="UTF-8"?>'

_JSON_TYPES = {"application/json"}
_XML_TYPES = {"application/xml", "text/xml"}


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def body_format(content_type: str | None) -> Format | None:
    """The format of a request body by its Content-Type, or None if neither JSON nor XML."""
    if not content_type:
        return None
    kind = media_type(content_type)
    if kind in _JSON_TYPES:
        return JSON
    if kind in _XML_TYPES:
        return XML
    return None


def require_body_format(content_type: str | None) -> Format:
    fmt = body_format(content_type)
    if fmt is None:
        raise UnsupportedMediaType()
    return fmt


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


def _matches(media_range: str, candidates: set[str]) -> bool:
    if media_range == "*/*":
        return True
    if media_range.endswith("/*"):
        prefix = media_range[:-1]
        return any(c.startswith(prefix) for c in candidates)
    return media_range in candidates


def _quality(ranges: list[tuple[float, int, int, str]], types: set[str]) -> tuple[float, int, int]:
    """(q, specificity, -position) of the most specific range admitting ``types`` (RFC 9110 12.5.1)."""
    best: tuple[float, int, int] = (0.0, -1, 0)
    for q, specificity, position, kind in ranges:
        if _matches(kind, types) and (specificity, position) > best[1:]:
            best = (q, specificity, position)
    return best


def _choose(accept: str) -> Format | None | Literal["any"]:
    ranges = _parse_accept(accept)
    if not ranges:
        return "any"
    json_rank, xml_rank = _quality(ranges, _JSON_TYPES), _quality(ranges, _XML_TYPES)
    if json_rank[0] <= 0 and xml_rank[0] <= 0:
        return None
    if json_rank[:2] == xml_rank[:2] and json_rank[1] == 0:
        return "any"  # only */* admits either: follow the request body's format
    return JSON if json_rank >= xml_rank else XML


class Negotiator:
    """Picks the response format; caches the parse of each distinct Accept header."""

    _CACHE_LIMIT = 512
    _CACHEABLE_LENGTH = 1024

    def __init__(self) -> None:
        self._cache: dict[str, Format | None | Literal["any"]] = {}

    def response_format(self, accept: str | None, content_type: str | None) -> Format:
        if not accept:
            return body_format(content_type) or JSON
        choice = self._cache.get(accept)
        if choice is None and accept not in self._cache:
            choice = _choose(accept)
            # A megabyte-long Accept (uvicorn takes any length) is answered but not kept.
            if len(accept) <= self._CACHEABLE_LENGTH:
                if len(self._cache) >= self._CACHE_LIMIT:
                    self._cache.clear()
                self._cache[accept] = choice
        if choice == "any":
            return body_format(content_type) or JSON
        if choice is None:
            raise NotAcceptable()
        return choice


# --- rendering -------------------------------------------------------------------

def _xml_item_name(parent: str) -> str:
    return {"flow": "step", "scenarios": "scenario"}.get(parent, "item")


# The XML writer below produces exactly what ``dicttoxml(data, custom_root=root,
# attr_type=False, xml_declaration=False, item_func=_xml_item_name)`` does (a property
# test holds it to that), but about 50x faster: dicttoxml test-parses every key with
# minidom on every call and formats debug log lines eagerly. Names still come from
# dicttoxml's own fix-up, once per distinct key.

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


def _escape(value: object) -> str:
    if type(value) is not str:
        return str(value)
    if "&" in value or "<" in value or ">" in value or '"' in value or "'" in value:
        return (value.replace("&", "&amp;").replace('"', "&quot;").replace("'", "&apos;")
                .replace("<", "&lt;").replace(">", "&gt;"))
    return value  # most text needs no escaping: skip the five passes


def _xml_dict(data: dict[str, object], parent: str) -> str:
    parts = []
    for key, value in data.items():
        kind = type(value)
        # Exact types first (the common cases, cheap to test); then what dicttoxml
        # would do with subclasses and other numbers, in its order.
        if kind is str:
            name, attributes = _xml_name(key, True)
            content = _escape(value)
        elif kind is bool:
            name, attributes = _xml_name(key, True)
            content = "true" if value else "false"
        elif kind is dict or isinstance(value, dict):
            name, attributes = _xml_name(key, False)
            content = _xml_dict(value, name)  # type: ignore[arg-type]
        elif kind is list or (isinstance(value, Iterable) and not isinstance(value, Number)):
            name, attributes = _xml_name(key, False)
            content = _xml_list(value, name)  # type: ignore[arg-type]
        elif value is None or isinstance(value, Number):
            name, attributes = _xml_name(key, True)
            content = "" if value is None else str(value)
        else:
            raise TypeError(f"cannot render {type(value).__name__} as XML")
        parts.append(f"<{name}{attributes}>{content}</{name}>")
    return "".join(parts)


def _xml_list(items: Iterable[object], parent: str) -> str:
    item = _xml_item_name(parent)
    parts = []
    for value in items:
        # dicttoxml's order of checks: a bool in a list is a Number, rendered "True".
        if isinstance(value, Number) or type(value) is str:
            parts.append(f"<{item}>{_escape(value)}</{item}>")
        elif isinstance(value, dict):
            parts.append(f"<{item}>{_xml_dict(value, parent)}</{item}>")
        elif isinstance(value, Iterable):
            parts.append(f"<{item} >{_xml_list(value, item)}</{item}>")
        elif value is None:
            parts.append(f"<{item}></{item}>")
        else:
            raise TypeError(f"cannot render {type(value).__name__} as XML")
    return "".join(parts)


def to_xml(data: dict[str, object], root: str) -> bytes:
    return XML_PROLOG + f"<{root}>{_xml_dict(data, root)}</{root}>".encode()


def to_json(data: object) -> bytes:
    return orjson.dumps(data)


def render(data: dict[str, object], fmt: Format, xml_root: str) -> bytes:
    if fmt == JSON:
        return to_json(data)
    return _XML_RENDERED.render(data, xml_root)


class RenderedXml:
    """XML renderings by the JSON form of the data: the same scenario is rendered once.

    Clients read and update the same few scenarios over and over; the JSON encoding
    costs a twentieth of the XML one and, for the data the API renders (str keys;
    str, bool, int, None, dicts and lists), determines the XML exactly. Bounded in
    count and size.
    """

    LIMIT = 1024
    MAX_KEY = 4096

    def __init__(self) -> None:
        self._rendered: dict[tuple[str, bytes], bytes] = {}

    def render(self, data: dict[str, object], root: str) -> bytes:
        key = (root, to_json(data))
        xml = self._rendered.get(key)
        if xml is None:
            xml = to_xml(data, root)
            if len(key[1]) <= self.MAX_KEY:
                if len(self._rendered) >= self.LIMIT:
                    self._rendered.clear()
                self._rendered[key] = xml
        return xml


# A pure function's memo, shared by every app in the process (renderings never go stale).
_XML_RENDERED = RenderedXml()


# --- parsing XML bodies ------------------------------------------------------------

# A scenario is three levels below its root (flow/step/from). Bodies nested deeper than this
# are BAD_REQUEST, as over-deep JSON is: converting them recursively would exhaust the stack
# (a 500), and accepting them where ignored would make XML laxer than JSON.
MAX_XML_DEPTH = 32


def _nested_within(root: Element, limit: int) -> bool:
    stack = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in element)
    return True


def _element_value(element: Element) -> object:
    children = list(element)
    if not children:
        return element.text or ""
    return {child.tag: _element_value(child) for child in children}


def _xml_bool(text: object) -> object:
    # Booleans travel as lowercase text; anything else is left to fail validation.
    return {"true": True, "false": False}.get(text, text) if isinstance(text, str) else text


_SCENARIO_FIELDS: dict[str, Callable[[Element], object]] = {
    "name": _element_value,
    "flow": lambda flow: [_element_value(step) for step in flow],
    "default": lambda el: _xml_bool(_element_value(el)),
    "defaultScenario": lambda el: _xml_bool(_element_value(el)),
}


def scenario_from_xml(body: bytes) -> dict[str, object]:
    """Decode a ``<scenario>`` body into the same shape a JSON body has.

    defusedxml refuses DTDs, entities and external references; any of them, or XML
    that does not parse, is a BAD_REQUEST. Like the vendor's XML binding, the root
    element's name is not checked and unknown elements are ignored.
    """
    if not body.strip():
        raise BadRequest()
    try:
        root = parse_xml(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException, ValueError):
        raise BadRequest() from None
    if not _nested_within(root, MAX_XML_DEPTH):
        raise BadRequest()
    if len(root) == 0 and (root.text or "").strip():
        # `<scenario>true</scenario>` is a scalar, not an object: BAD_REQUEST, as the JSON body `true` is.
        raise BadRequest()
    data: dict[str, object] = {}
    for child in root:
        convert = _SCENARIO_FIELDS.get(child.tag)
        if convert is not None:
            data[child.tag] = convert(child)
    return data
