"""Secrets out of journaled bodies and queries: the passwords and client secrets of sign-in calls.

The journal keeps what it received and masks when it is read, as it masks the
Authorization header. A secret field (``password``, ``client_secret``, ...) keeps its
name and loses its value, in JSON, XML and form bodies alike, however its name is
escaped (``%70assword``, ``"\\u0070assword"``). A body that mentions a secret but cannot
be read in its format is shown as ``***`` whole: what it hides cannot be known. The credentials
of a URL in any value (a ``notifyUrl`` of ``http://user:password@host/``) are masked
(``http://user:***@host/``), as the callbacks' records show them.
"""

from __future__ import annotations

from urllib.parse import quote, unquote_plus
from xml.etree.ElementTree import Element, ParseError, tostring

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from ..domain.callbacks import masked_url

MASK = "***"
#: Field names (case-insensitive) whose values never leave the journal.
SECRET_FIELDS = frozenset({
    "password", "client_secret", "clientsecret", "secret", "token", "access_token", "refresh_token",
    "apikey", "api_key",
})
# What a secret field's name contains, for bodies that cannot be parsed.
_SECRET_WORDS = ("password", "secret", "token", "apikey", "api_key")
_FORM = "application/x-www-form-urlencoded"
_BOM = b"\xef\xbb\xbf"


def redact_body(body: bytes, content_type: str | None) -> str:
    """The body as text for the journal, every secret field's value masked."""
    text = body.decode("utf-8", "replace")
    if not body:
        return text
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    start = body.removeprefix(_BOM).lstrip()[:1]
    try:
        if kind == _FORM:
            return redact_query(text)
        if kind.endswith("json") or (not kind.endswith("xml") and start in (b"{", b"[")):
            return _json(body, text)
        if kind.endswith("xml") or start == b"<":
            return _xml(body, text)
    except ValueError:
        pass
    return MASK if mentions_secret(text) else masked_url(text)


def redact_query(query: str) -> str:
    """A form-encoded query or body with every secret parameter's value masked, the rest as received."""
    if not query:
        return query
    segments = []
    found = False
    for segment in query.split("&"):
        name, _, value = segment.partition("=")
        if _secret(unquote_plus(name)):
            segment, found = f"{name}={MASK}", True
        elif "%40" in value.upper() or "@" in value:
            url = masked_url(unquote_plus(value))  # a URL's credentials, however the value is encoded
            if url != unquote_plus(value):
                segment, found = f"{name}={quote(url, safe=':/?#[]@*=')}", True
        segments.append(segment)
    if found:
        return "&".join(segments)
    # No secret parameter, but a secret's name elsewhere (a JSON body sent as a form): all of it.
    return MASK if mentions_secret(query) else query


def mentions_secret(text: str) -> bool:
    """Whether ``text`` may name a secret field, escapes undone (or left in: ``\\u`` may hide one)."""
    folded = unquote_plus(text).lower()
    return "\\u" in text or any(word in folded for word in _SECRET_WORDS)


def _secret(name: str) -> bool:
    return name.strip().lower() in SECRET_FIELDS


def _json(body: bytes, text: str) -> str:
    try:
        data = orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError:
        raise ValueError("not JSON") from None
    masked, changed = _masked_json(data)
    return orjson.dumps(masked).decode() if changed else text


def _url_in(value: str) -> tuple[str, bool]:
    masked = masked_url(value)
    return masked, masked != value


def _masked_json(value: object) -> tuple[object, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[str, object] = {}
        for key, item in value.items():
            if _secret(key):
                out[key], changed = MASK, True
            else:
                out[key], inner = _masked_json(item)
                changed |= inner
        return out, changed
    if isinstance(value, list):
        items = [_masked_json(item) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, str):
        return _url_in(value)
    return value, False


def _xml(body: bytes, text: str) -> str:
    # Element names cannot be escaped in XML: a body without a secret word has no secret element. Nor can
    # "@" (but as &#64;, which a URL's credentials are never given as by a client: shown as received).
    if not any(word in text.lower() for word in _SECRET_WORDS):
        return masked_url(text)
    try:
        root = parse_xml(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException):
        raise ValueError("not XML") from None
    changed = False
    for element in root.iter():
        if _secret(_local(element)):
            for child in list(element):
                element.remove(child)
            element.text, changed = MASK, True
        elif element.text:
            element.text, url_changed = _url_in(element.text)
            changed |= url_changed
    return tostring(root, encoding="unicode") if changed else text


def _local(element: Element) -> str:
    tag = str(element.tag)
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
