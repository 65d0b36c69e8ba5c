"""Two answers to one call, compared as a client sees them.

Compared: the status; ``Content-Type`` (media type and parameters, case and spaces aside); for an
error, the envelope's ``messageId`` and ``text``; the body's shape (each field's path and type, in
JSON and in XML: values differ between any two accounts and are not compared); and whether the
headers the vendor documents or that the mock must not invent are present (``HEADERS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from .client import Reply

#: Headers whose presence is compared: a mock that invents one (or lacks one) lets a client pass here only.
HEADERS = ("allow", "retry-after", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset",
           "www-authenticate", "location")


@dataclass(frozen=True)
class Difference:
    probe: str
    what: str
    upstream: str
    mock: str

    def to_dict(self) -> dict[str, str]:
        return {"probe": self.probe, "what": self.what, "upstream": self.upstream, "mock": self.mock}


def content_type(reply: Reply) -> str:
    value = reply.header("content-type")
    return "(none)" if value is None else "".join(value.lower().split())


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def json_shape(value: object, path: str = "$", out: dict[str, str] | None = None) -> dict[str, str]:
    """Every field's path and type; a list's items merge under ``path[]``."""
    out = {} if out is None else out
    kind = _json_type(value)
    out[path] = out.get(path, kind) if out.get(path) in (None, kind) else f"{out[path]}|{kind}"
    if isinstance(value, dict):
        for key, item in value.items():
            json_shape(item, f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            json_shape(item, f"{path}[]", out)
    return out


def xml_shape(element: Element, path: str = "", out: dict[str, str] | None = None) -> dict[str, str]:
    """Every element's path and kind (``element`` with children, ``text`` without, ``empty`` with neither:
    an empty list and an empty text look alike in XML)."""
    out = {} if out is None else out
    path = f"{path}/{element.tag}"
    children = list(element)
    out[path] = "element" if children else "text" if (element.text or "").strip() else "empty"
    for child in children:
        xml_shape(child, path, out)
    return out


def shape(reply: Reply) -> tuple[str, dict[str, str]] | None:
    """("json"|"xml", shape) of the body, or None when it is neither (or empty)."""
    body = reply.content.strip()
    if not body:
        return None
    media = content_type(reply)
    if "json" in media or body[:1] in (b"{", b"["):
        try:
            return "json", json_shape(orjson.loads(body))
        except orjson.JSONDecodeError:
            return None
    if "xml" in media or body[:1] == b"<":
        try:
            return "xml", xml_shape(parse_xml(body, forbid_dtd=True, forbid_entities=True, forbid_external=True))
        except (ParseError, DefusedXmlException):
            return None
    return None


def envelope(reply: Reply) -> tuple[str | None, str | None] | None:
    """The error's (messageId, text), in JSON or XML; None when the body is not the envelope."""
    found = shape(reply)
    if found is None:
        return None
    kind, _ = found
    try:
        if kind == "json":
            error = orjson.loads(reply.content)["requestError"]["serviceException"]
            return error.get("messageId"), error.get("text")
        root = parse_xml(reply.content.strip(), forbid_dtd=True, forbid_entities=True, forbid_external=True)
        exception = root.find("./requestError/serviceException")
        if exception is None:
            return None
        return exception.findtext("messageId"), exception.findtext("text")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ParseError, DefusedXmlException):
        return None


def compare(probe: str, upstream: Reply, mock: Reply) -> list[Difference]:
    """What differs between the upstream's answer and the mock's, one Difference per point."""
    found: list[Difference] = []
    if upstream.status != mock.status:
        found.append(Difference(probe, "status", str(upstream.status), str(mock.status)))
    if content_type(upstream) != content_type(mock):
        found.append(Difference(probe, "Content-Type", content_type(upstream), content_type(mock)))
    if upstream.status >= 400 or mock.status >= 400:
        theirs, ours = envelope(upstream), envelope(mock)
        if theirs is None or ours is None:
            if (theirs is None) != (ours is None):
                found.append(Difference(probe, "error envelope", "absent" if theirs is None else "present",
                                        "absent" if ours is None else "present"))
        else:
            for index, name in enumerate(("messageId", "text")):
                if theirs[index] != ours[index]:
                    found.append(Difference(probe, name, repr(theirs[index]), repr(ours[index])))
    for name in HEADERS:
        theirs_has, ours_has = upstream.header(name) is not None, mock.header(name) is not None
        if theirs_has != ours_has:
            found.append(Difference(probe, f"header {name}", "present" if theirs_has else "absent",
                                    "present" if ours_has else "absent"))
    theirs_shape, ours_shape = shape(upstream), shape(mock)
    if theirs_shape is None or ours_shape is None:
        if (theirs_shape is None) != (ours_shape is None):
            found.append(Difference(probe, "body", "none or unreadable" if theirs_shape is None else theirs_shape[0],
                                    "none or unreadable" if ours_shape is None else ours_shape[0]))
        return found
    if theirs_shape[0] != ours_shape[0]:
        return found  # the Content-Type line says it
    theirs_fields, ours_fields = theirs_shape[1], ours_shape[1]
    for path in sorted(set(theirs_fields) | set(ours_fields)):
        if (path not in ours_fields and _unseen(path, ours_fields)) or (
                path not in theirs_fields and _unseen(path, theirs_fields)):
            continue  # items of a list the other side has empty: nothing to compare them with
        kinds = {theirs_fields.get(path), ours_fields.get(path)}
        if len(kinds) > 1 and "empty" in kinds and None not in kinds:
            continue  # an empty XML element: a list without items, or a text without one
        if theirs_fields.get(path) != ours_fields.get(path):
            found.append(Difference(probe, f"field {path}", theirs_fields.get(path, "absent"),
                                    ours_fields.get(path, "absent")))
    return found


def _unseen(path: str, shape: dict[str, str]) -> bool:
    """Whether ``path`` lies inside the items of a list that is empty in ``shape``."""
    if path.startswith("/"):  # XML: inside an element that is empty there
        return any(shape.get(path[:at]) == "empty" for at in range(1, len(path)) if path[at] == "/")
    at = path.find("[]")
    while at != -1:
        if shape.get(path[:at]) == "array" and path[:at + 2] not in shape:
            return True
        at = path.find("[]", at + 2)
    return False


def table(differences: list[Difference]) -> str:
    """A plain text table, one line per difference (a header line first)."""
    rows = [("PROBE", "WHAT", "UPSTREAM (expected)", "MOCK (came)")]
    rows += [(d.probe, d.what, d.upstream, d.mock) for d in differences]
    widths = [min(60, max(len(row[column]) for row in rows)) for column in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows)
