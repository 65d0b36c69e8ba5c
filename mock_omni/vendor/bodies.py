"""Request bodies as their operation's model, from JSON or XML; each distinct body is parsed once.

Load tests send the same body again and again. Parsing is a pure function of the
model and the bytes, and the models are frozen, so a repeat costs a dict lookup.
Bounded in count and body size; a body that fails is not kept (it fails the same
way every time).
"""

from __future__ import annotations

from pydantic import BaseModel

from ..domain.validation import validate_data, validate_json
from .codecs import XML, Format, data_from_xml


class Bodies:
    LIMIT = 256
    MAX_BODY = 4096

    def __init__(self) -> None:
        self._parsed: dict[tuple[type[BaseModel], Format, bytes], BaseModel] = {}

    def parse(self, model: type[BaseModel], fmt: Format, body: bytes) -> BaseModel:
        key = (model, fmt, body)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = validate_data(model, data_from_xml(body, model)) if fmt == XML else validate_json(model, body)
            if len(body) <= self.MAX_BODY:
                if len(self._parsed) >= self.LIMIT:
                    self._parsed.clear()
                self._parsed[key] = parsed
        return parsed
