"""Each distinct create/update body is parsed once; the cache never changes what a request does."""

from __future__ import annotations

import pydantic
import pytest
from starlette.testclient import TestClient

from mock_omni.api.bodies import Bodies
from mock_omni.api.codecs import JSON, XML
from mock_omni.domain.errors import BadRequest, InvalidArgument
from mock_omni.domain.scenarios import ScenarioIn

from .conftest import OTHER_KEY, SEED_KEY

RENAME = b'{"name": "renamed"}'


def test_identical_bodies_share_one_parse_and_different_ones_do_not() -> None:
    """From its second coming on (domain/memo.py: a body seen once is not kept)."""
    bodies = Bodies()
    once = bodies.parse(ScenarioIn, JSON, RENAME)
    assert len(bodies) == 0
    first = bodies.parse(ScenarioIn, JSON, RENAME)
    assert first == once and len(bodies) == 1
    assert bodies.parse(ScenarioIn, JSON, RENAME) is first
    assert first.name == "renamed" and first.flow is None and first.default is None
    xml = bodies.parse(ScenarioIn, XML, b"<scenario><name>renamed</name></scenario>")
    assert xml is not first and xml.name == "renamed"
    assert bodies.parse(ScenarioIn, JSON, b'{"name": "other"}').name == "other"


def test_a_parsed_body_cannot_be_changed() -> None:
    with pytest.raises(pydantic.ValidationError):
        Bodies().parse(ScenarioIn, JSON, RENAME).name = "changed"  # type: ignore[misc]


def test_bad_bodies_fail_every_time() -> None:
    bodies = Bodies()
    for _ in range(2):
        with pytest.raises(BadRequest):
            bodies.parse(ScenarioIn, JSON, b"{not json")
        with pytest.raises(InvalidArgument):
            bodies.parse(ScenarioIn, JSON, b'{"flow": [{"channel": "PIGEON"}]}')


def test_the_cache_is_bounded_in_count_and_body_size() -> None:
    bodies = Bodies()
    for n in range(Bodies.LIMIT + 10):
        for _ in range(2):
            bodies.parse(ScenarioIn, JSON, b'{"name": "%d"}' % n)
    assert 0 < len(bodies) <= Bodies.LIMIT
    big = b'{"name": "' + b"x" * Bodies.MAX_BODY + b'"}'
    assert bodies.parse(ScenarioIn, JSON, big) is not bodies.parse(ScenarioIn, JSON, big)


def test_a_repeated_body_applies_to_the_current_state(client: TestClient) -> None:
    promote = '{"default": true}'
    headers = {"Content-Type": "application/json"}
    assert client.put(f"/omni/1/scenarios/{OTHER_KEY}", content=promote, headers=headers).json()["default"] is True
    assert client.put(f"/omni/1/scenarios/{SEED_KEY}", content=promote, headers=headers).json()["default"] is True
    assert client.get(f"/omni/1/scenarios/{OTHER_KEY}").json()["default"] is False
    again = client.put(f"/omni/1/scenarios/{OTHER_KEY}", content=promote, headers=headers).json()
    assert again["key"] == OTHER_KEY and again["default"] is True
    assert client.get(f"/omni/1/scenarios/{SEED_KEY}").json()["default"] is False
