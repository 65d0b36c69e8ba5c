"""Every body of the hostile corpus, on create and on update: a 4xx in the vendor's envelope,
the server still answering, and the stored state byte-identical afterwards."""

from __future__ import annotations

import orjson
import pytest
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from mock_omni import MockOmni

from ..conftest import ALADDIN_BASIC, GENIE_BASIC, SEED_KEY, make_app
from .hostile import CORPUS, JSON, Hostile

TARGETS = [("POST", "/omni/1/scenarios"), ("PUT", f"/omni/1/scenarios/{SEED_KEY}")]


def envelope(content_type: str, content: bytes) -> dict[str, object]:
    """The serviceException of an error body in either format."""
    if content_type.startswith("application/json"):
        details: dict[str, object] = orjson.loads(content)["requestError"]["serviceException"]
        return details
    root = fromstring(content, forbid_dtd=True)
    assert root.tag == "ApiException"
    service = root.find("requestError/serviceException")
    assert service is not None
    fields: dict[str, object] = {child.tag: child.text for child in service if child.tag != "validationErrors"}
    errors = service.find("validationErrors")
    if errors is not None:
        fields["validationErrors"] = {(c.get("name") if c.tag == "key" else c.tag): [i.text for i in c] for c in errors}
    return fields


def state(app: MockOmni, client: TestClient) -> tuple[bytes, bytes, bytes]:
    """The store's export and what both accounts' lists say, as bytes."""
    return (
        orjson.dumps(app.state.accounts.export()),
        client.get("/omni/1/scenarios").content,
        client.get("/omni/1/scenarios", headers={"Authorization": GENIE_BASIC, "Accept": JSON}).content,
    )


@pytest.fixture(scope="module")
def shared() -> MockOmni:
    # Rate limits off: with them on, most of the corpus would meet 429 before reaching the parser.
    return make_app(rate_limits={})


@pytest.mark.parametrize("hostile", CORPUS, ids=[h.id for h in CORPUS])
@pytest.mark.parametrize(("method", "path"), TARGETS, ids=["create", "update"])
def test_hostile_body_is_refused_in_the_envelope_and_changes_nothing(
    shared: MockOmni, hostile: Hostile, method: str, path: str
) -> None:
    with TestClient(shared, headers={"Authorization": ALADDIN_BASIC}) as client:
        before = state(shared, client)
        response = client.request(method, path, content=hostile.body, headers={"Content-Type": hostile.content_type})
        assert 400 <= response.status_code < 500, response.content[:300]
        content_type = response.headers["content-type"]
        assert content_type == hostile.content_type  # no Accept: the answer follows the body's format
        details = envelope(content_type, response.content)
        assert details["messageId"] in hostile.message_ids, details
        if hostile.field is not None:
            named = details["validationErrors"]
            assert isinstance(named, dict)
            inside = (hostile.field + "[", hostile.field + ".")
            assert any(f == hostile.field or f.startswith(inside) for f in named), named
        assert b"Traceback" not in response.content
        assert state(shared, client) == before
        assert client.get(f"/omni/1/scenarios/{SEED_KEY}").status_code == 200


def test_corpus_covers_every_request_field_and_every_attack() -> None:
    ids = " ".join(h.id for h in CORPUS)
    for field in ("name", "default", "defaultScenario", "flow", "flow[0]", "flow[0].from", "flow[0].channel"):
        assert f"json-wrong-type-{field}-" in ids
    for attack in ("billion-laughs", "quadratic-blowup", "external-entity", "external-dtd", "deep", "huge",
                   "invalid-utf8", "nul", "10000-steps", "over-1mib"):
        assert attack in ids, attack


@pytest.mark.parametrize(
    ("content_type", "body"),
    [(JSON, b'{"name": "first", "name": "last", "default": true, "default": true}'),
     ("application/xml", b"<scenario><name>first</name><name>last</name></scenario>")],
)
def test_duplicate_keys_last_one_wins(content_type: str, body: bytes) -> None:
    """Choice (docs/hardening.md): like the common Java JSON bindings, the last duplicate wins."""
    with TestClient(make_app(), headers={"Authorization": ALADDIN_BASIC}) as client:
        response = client.put(f"/omni/1/scenarios/{SEED_KEY}", content=body, headers={"Content-Type": content_type})
        assert response.status_code == 200
        assert client.get(f"/omni/1/scenarios/{SEED_KEY}", headers={"Accept": JSON}).json()["name"] == "last"
