"""Reading XML bodies: the fast reader (api/codecs.py, issue 24) decodes every body exactly as the reader it
replaced did (kept below as the reference: defusedxml's ``fromstring``, then a conversion that asks the
field's type at every element), and refuses the same bodies with the same reasons."""

from __future__ import annotations

import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin
from xml.etree.ElementTree import Element, ParseError

import orjson
import pytest
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from mock_omni.api.codecs import MAX_XML_DEPTH, data_from_xml
from mock_omni.api.routes import ROUTER
from mock_omni.domain.errors import BadRequest

# --- the reference: the reader as it was before issue 24 (mock_omni/api/codecs.py at 32a67c1) -----------------


def _nested_within(root: Element, limit: int) -> bool:
    stack = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in element)
    return True


def _local(tag: object) -> str:
    text = str(tag)
    return text.rsplit("}", 1)[1] if text.startswith("{") else text


def _element_value(element: Element) -> object:
    children = list(element)
    if not children:
        return element.text or ""
    return {_local(child.tag): _element_value(child) for child in children}


def _unwrap(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, UnionType):
        options = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            annotation = options[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation


_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")


def _convert(element: Element, annotation: Any) -> object:
    annotation = _unwrap(annotation)
    origin = get_origin(annotation)
    if origin is list:
        (item_type,) = get_args(annotation) or (Any,)
        return [_convert(child, item_type) for child in element]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        empty = not len(element) and not (element.text or "").strip()
        return model_from_element(element, annotation) if len(element) or empty else _element_value(element)
    if origin is dict:
        value_type = get_args(annotation)[1] if get_args(annotation) else Any
        return {_local(child.tag): _convert(child, value_type) for child in element}
    value = _element_value(element)
    if not isinstance(value, str):
        return value
    if annotation is bool:
        return {"true": True, "false": False}.get(value, value)
    if annotation is int and _INTEGER.match(value.strip()):
        return int(value)
    if annotation is float:
        try:
            return float(value)
        except ValueError:
            return value
    return value


def model_from_element(element: Element, model: type[BaseModel]) -> dict[str, object]:
    fields = {(info.alias or name): info.annotation for name, info in model.model_fields.items()}
    data: dict[str, object] = {}
    for child in element:
        name = _local(child.tag)
        if name in fields:
            data[name] = _convert(child, fields[name])
    return data


def reference(body: bytes, model: type[BaseModel]) -> dict[str, object]:
    if not body.strip():
        raise BadRequest().because("the body is empty")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":", 1)[0]
        raise BadRequest().because(f"the body is not XML: {reason} at line {line} column {column + 1}") from None
    except DefusedXmlException as exc:
        raise BadRequest().because(f"the body's XML is refused: {type(exc).__name__} (no DTD, entity or "
                                   "external reference is read)") from None
    except ValueError as exc:
        raise BadRequest().because(f"the body is not XML: {exc}") from None
    if not _nested_within(root, MAX_XML_DEPTH):
        raise BadRequest().because(f"the body's XML is nested deeper than {MAX_XML_DEPTH} levels")
    if len(root) == 0 and (root.text or "").strip():
        raise BadRequest().because(f"the body's root element <{root.tag}> holds only text, not fields")
    return model_from_element(root, model)


# --- the comparison ---------------------------------------------------------------------------------------------

MODELS = sorted({operation.body for operation in ROUTER.by_name.values() if operation.body is not None},
                key=lambda model: model.__name__)


def outcome(read: Any, body: bytes, model: type[BaseModel]) -> tuple[str, bytes | str | None]:
    """What a reader makes of ``body``: its data as JSON (so True and 1 differ), or its refusal's reason."""
    try:
        return "data", orjson.dumps(read(body, model))
    except BadRequest as error:
        return "refused", error.reason
    except LookupError as error:  # an unknown encoding: the reader this one replaced let it through (a 500)
        return "raised", repr(error)


def field_names(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[str]:
    """Every wire name of ``model`` and of the models its fields hold."""
    seen = set() if seen is None else seen
    if model in seen:
        return set()
    seen.add(model)
    names = set()
    for name, info in model.model_fields.items():
        names.add(info.alias or name)
        pending = [info.annotation]
        while pending:
            annotation = pending.pop()
            pending.extend(get_args(annotation))
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                names |= field_names(annotation, seen)
    return names


NAMES = sorted(set().union(*(field_names(model) for model in MODELS)) | {"item", "step", "x", "other"})
TEXTS = st.sampled_from(["", " ", "true", "false", "True", "0", "7", "-12", " 42 ", "+3", "1.5", "1e3", "nan",
                         "abc", "InfoSMS", "SMS", "99999999999999999999", "&amp;", "&#13;", "<![CDATA[x]]>",
                         "\u00e9", "a\nb"])
PREFIXES = st.sampled_from(["", "", "", "p:", "q:"])


def element(name: str, content: str, tail: str = "") -> str:
    return f"<{name}/>{tail}" if not content and len(name) % 2 else f"<{name}>{content}</{name}>{tail}"


@st.composite
def noise(draw: st.DrawFn, depth: int = 0) -> str:
    """Any element: names from every model, text of every kind, nested a few levels."""
    name = draw(PREFIXES) + draw(st.sampled_from(NAMES))
    children = "".join(draw(st.lists(noise(depth + 1), max_size=3))) if depth < 4 and draw(st.booleans()) else ""
    return element(name, (draw(TEXTS) if not children or draw(st.booleans()) else "") + children,
                   draw(st.sampled_from(["", "", "\n  ", "x"])))


@st.composite
def content(draw: st.DrawFn, annotation: Any, depth: int = 0) -> str:
    """What an element of a field of type ``annotation`` holds: mostly fitting it, sometimes not."""
    annotation = _unwrap(annotation)
    if depth > 6 or draw(st.integers(0, 9)) == 0:
        return draw(TEXTS) if draw(st.booleans()) else draw(noise(depth))
    origin = get_origin(annotation)
    if origin is list:
        (item_type,) = get_args(annotation) or (Any,)
        items = draw(st.lists(content(item_type, depth + 1), max_size=3))
        return "".join(element(draw(st.sampled_from(["item", "step", "p:x"])), item) for item in items)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return draw(fields(annotation, depth + 1))
    if origin is dict:
        value_type = get_args(annotation)[1] if get_args(annotation) else Any
        values = draw(st.lists(content(value_type, depth + 1), max_size=3))
        return "".join(element(draw(st.sampled_from(NAMES)), value) for value in values)
    return draw(TEXTS)


@st.composite
def fields(draw: st.DrawFn, model: type[BaseModel], depth: int = 0) -> str:
    """Elements for the fields of ``model`` (by their wire names, namespaced or not), in any order, with noise."""
    wire = {(info.alias or name): info.annotation for name, info in model.model_fields.items()}
    chosen = draw(st.lists(st.sampled_from(sorted(wire)), max_size=5))
    parts = [element(draw(PREFIXES) + name, draw(content(wire[name], depth))) for name in chosen]
    parts += draw(st.lists(noise(depth), max_size=2))
    return "".join(draw(st.permutations(parts)))


@st.composite
def documents(draw: st.DrawFn, model: type[BaseModel]) -> bytes:
    root = draw(st.sampled_from(["scenario", "request", "p:scenario"]))
    namespaces = draw(st.sampled_from(['', ' xmlns:p="urn:p" xmlns:q="urn:q"', ' xmlns="urn:x" xmlns:p="urn:p"',
                                       ' xmlns:p="urn:p"']))
    text = draw(TEXTS) if draw(st.integers(0, 5)) == 0 else ""
    body = f"<{root}{namespaces}>{text}{draw(fields(model))}</{root}>"
    prolog = draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>', "\n"]))
    return (prolog + body).encode()


@settings(max_examples=500, deadline=None)
@given(data=st.data(), model=st.sampled_from(MODELS))
def test_any_body_reads_as_before(data: st.DataObject, model: type[BaseModel]) -> None:
    body = data.draw(documents(model))
    assert outcome(data_from_xml, body, model) == outcome(reference, body, model)


def nested(levels: int) -> bytes:
    return b"<scenario>" + b"<name>" * levels + b"x" + b"</name>" * levels + b"</scenario>"


@pytest.mark.parametrize("body", [
    b"", b"  \n", b"<scenario>", b"not xml", b"<a></b>", b"<scenario>true</scenario>",
    b'<p:scenario xmlns:p="urn:p">true</p:scenario>', b'<scenario xmlns="urn:x}y">x</scenario>',
    b"<p:scenario>x</p:scenario>", b"<scenario><name>&nope;</name></scenario>", b"<scenario>&#0;</scenario>",
    b'<!DOCTYPE s [<!ENTITY a "aaaa">]><s><name>&a;</name></s>',
    b'<!DOCTYPE s SYSTEM "http://127.0.0.1:9/x.dtd"><s/>',
    b'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><s><name>&x;</name></s>',
    b'<?xml version="1.0" encoding="latin-1"?><scenario><name>\xe9</name></scenario>',
    b"\xef\xbb\xbf<scenario><name>n</name></scenario>",
    b'<scenario><name a="1" p:b="2" xmlns:p="urn:p">n</name><!-- c --><?pi x?></scenario>',
    b"<scenario><name>a</name><name>b</name><default>true</default><default>no</default></scenario>",
    nested(MAX_XML_DEPTH - 1), nested(MAX_XML_DEPTH), nested(MAX_XML_DEPTH + 1),
    # Deep but ignored, and wide: the depth bound holds wherever the depth is.
    b"<scenario><other>" + b"<a>" * 40 + b"</a>" * 40 + b"</other></scenario>",
    b"<scenario>" + b"<name>n</name>" * 40 + b"</scenario>",
])
@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_edge_bodies_read_or_are_refused_as_before(body: bytes, model: type[BaseModel]) -> None:
    assert outcome(data_from_xml, body, model) == outcome(reference, body, model)


@pytest.mark.parametrize("encoding", ["nope", "x-unknown-1"])
def test_an_unknown_encoding_is_a_bad_request_not_a_defect(encoding: str) -> None:
    """The reader this one replaced let expat's LookupError through: a 500 "defect in mock-omni"."""
    body = f'<?xml version="1.0" encoding="{encoding}"?><scenario/>'.encode()
    assert outcome(reference, body, MODELS[0])[0] == "raised"
    with pytest.raises(BadRequest) as refused:
        data_from_xml(body, MODELS[0])
    assert refused.value.reason == (
        f"the body's XML declares an encoding that cannot be read: unknown encoding: {encoding}")


def test_namespaced_root_is_named_as_elementtree_names_it() -> None:
    with pytest.raises(BadRequest) as refused:
        data_from_xml(b'<p:scenario xmlns:p="urn:p">true</p:scenario>', MODELS[0])
    assert refused.value.reason == "the body's root element <{urn:p}scenario> holds only text, not fields"


@pytest.mark.parametrize("text", ["", " ", "true", "false", "True", "0", "7", "-12", " 42 ", "+3", "1.5", "1e3",
                                  "nan", "inf", "abc", "99999999999999999999", "<a>1</a>", "<a/>"])
def test_typed_values_read_as_before(text: str) -> None:
    """Each kind of value by the field's type: a bool, an int and a float field, a model, a list and a text."""
    send = ROUTER.by_name["send"].body
    scenario = ROUTER.by_name["update"].body
    assert send is not None and scenario is not None
    for body, model in (
        (f"<r><sms><validityPeriod>{text}</validityPeriod></sms></r>", send),
        (f"<r><whatsApp><latitude>{text}</latitude></whatsApp></r>", send),
        (f"<r><destinations>{text}</destinations><sms>{text}</sms></r>", send),
        (f"<r><default>{text}</default><name>{text}</name><flow>{text}</flow></r>", scenario),
        (f"<r><flow><step>{text}</step></flow></r>", scenario),
    ):
        assert outcome(data_from_xml, body.encode(), model) == outcome(reference, body.encode(), model)
