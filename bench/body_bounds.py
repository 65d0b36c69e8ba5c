"""What reading a new seed PUT body costs, part by part, in one run: the bounds behind issue 24's open goals.

A new body's call differs from a repeated one by reading the body (the repeat's parse is remembered), and an XML
call from a JSON one by reading XML instead of JSON. Timed here alone, in a loop of their own:
- the JSON body to the model (orjson-free: pydantic's own parse and validation, as ``validate_json`` runs it);
- the XML body to the model, and its parts: the parse to a tree, the tree to plain data;
- what no XML reader can skip: expat's own parse of the bytes, with no handler, no tree and no defusedxml parser;
- defusedxml's own ``fromstring``, for scale.

``python bench/body_bounds.py [BODIES]`` prints microseconds per body, best of five rounds of BODIES new bodies
(every scenario name numbered, so no body is seen twice). It needs ``seed.py`` beside it.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from xml.parsers.expat import ParserCreate

import defusedxml.ElementTree
from seed import SEED_JSON, SEED_XML  # type: ignore[import-not-found]

from mock_omni.api.codecs import data_from_xml
from mock_omni.api.xml_parser import parse_xml
from mock_omni.domain.scenarios import ScenarioIn
from mock_omni.domain.validation import validate_data, validate_json

ROUNDS = 5
_numbers = itertools.count()


def new_bodies(text: str, count: int) -> list[bytes]:
    return [text.replace("SMS or VIBER", f"SMS or VIBER #{next(_numbers)}").encode() for _ in range(count)]


def microseconds(read: Callable[[bytes], object], text: str, count: int) -> float:
    """Best of ``ROUNDS`` rounds of ``count`` new bodies, in microseconds per body."""
    best = float("inf")
    for _ in range(ROUNDS):
        bodies = new_bodies(text, count)
        began = time.perf_counter()
        for body in bodies:
            read(body)
        best = min(best, (time.perf_counter() - began) / count)
    return best * 1e6


def expat_only(body: bytes) -> None:
    ParserCreate(None, "}").Parse(body, True)


PARTS: dict[str, tuple[Callable[[bytes], object], str]] = {
    "JSON body -> model (validate_json)": (lambda body: validate_json(ScenarioIn, body), SEED_JSON),
    "XML body -> model (data_from_xml, validate_data)": (
        lambda body: validate_data(ScenarioIn, data_from_xml(body, ScenarioIn)), SEED_XML),
    "  XML body -> plain data (data_from_xml)": (lambda body: data_from_xml(body, ScenarioIn), SEED_XML),
    "  XML body -> tree (parse_xml)": (parse_xml, SEED_XML),
    "  expat's parse alone (no handler, no tree)": (expat_only, SEED_XML),
    "defusedxml.ElementTree.fromstring, for scale": (defusedxml.ElementTree.fromstring, SEED_XML),
}


def main(count: int) -> dict[str, float]:
    times = {name: microseconds(read, text, count) for name, (read, text) in PARTS.items()}
    for name, took in times.items():
        print(f"{name:52} {took:7.2f} us")
    json_model, xml_model = (times[name] for name in PARTS if "-> model" in name)
    xml_over_json = xml_model - json_model
    print(f"{'an XML body over a JSON one':52} {xml_over_json:7.2f} us")
    return times


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
