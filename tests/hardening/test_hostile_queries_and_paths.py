"""Hostile query strings and paths on the vendor API: 4xx in the envelope or a normal answer, never 500."""

from __future__ import annotations

import orjson
import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni

from ..conftest import ALADDIN_BASIC, SEED_KEY, make_app

QUERIES: list[tuple[str, int]] = [
    ("limit=99999999999999999999", 400), ("limit=-1", 400), ("limit=1.5", 400), ("limit=0x10", 400),
    ("limit=%C2%B2", 400), ("limit=١", 400), ("limit=", 400), ("page=-0", 400), ("page=%00", 400),
    ("isDefault=maybe", 400), ("isDefault=", 400), ("isDefault=%FF", 400), ("isDefault=true%00", 400),
    ("limit=2147483647&page=2147483647", 200), ("limit=0", 200), ("page=2147483647", 200),
    ("limit=1&limit=x", 200), ("%zz=%zz", 200), ("&&&==&=", 200), ("a" * 60_000, 200),
    ("x=" + "%FF" * 10_000, 200), ("isDefault=TRUE&isDefault=nonsense", 200), (";limit=1", 200),
]
PATHS: list[tuple[str, int]] = [
    ("/omni/1/scenarios/", 404), ("/omni/1/scenarios//", 404), (f"/omni/1/scenarios/{SEED_KEY}/", 404),
    (f"/omni/1/scenarios/{SEED_KEY}/flow", 404), (f"/omni/1/scenarios/{SEED_KEY.lower()}", 404),
    (f"/omni/1/scenarios/{SEED_KEY}%00", 404), ("/omni/1/scenarios/%2e%2e", 404),
    (f"/omni/1/scenarios/..%2F{SEED_KEY}", 404), ("/omni/1/scenarios/" + "A" * 60_000, 404),
    ("/omni/1/scenarios/%FF%FE", 404), ("/omni/1/scenarios/ü", 404), ("/omni/2/scenarios", 404),
    ("/omni/1/SCENARIOS", 404), ("/omni/", 404), ("/omni", 404),
]


@pytest.fixture(scope="module")
def shared() -> MockOmni:
    return make_app(rate_limits={})


@pytest.mark.parametrize(("query", "status"), QUERIES, ids=[q[:40] for q, _ in QUERIES])
def test_hostile_list_queries(shared: MockOmni, query: str, status: int) -> None:
    with TestClient(shared, headers={"Authorization": ALADDIN_BASIC}) as client:
        response = client.get(f"/omni/1/scenarios?{query}")
    assert response.status_code == status, response.content[:200]
    body = orjson.loads(response.content)
    if status == 400:
        assert body["requestError"]["serviceException"]["messageId"] == "INVALID_ARGUMENT"
    else:
        assert isinstance(body["scenarios"], list)


@pytest.mark.parametrize(("path", "status"), PATHS, ids=[p[:50] for p, _ in PATHS])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_hostile_paths(shared: MockOmni, path: str, status: int, method: str) -> None:
    before = orjson.dumps(shared.state.accounts.export())
    with TestClient(shared, headers={"Authorization": ALADDIN_BASIC}) as client:
        response = client.request(method, path, content=b'{"default": true}',
                                  headers={"Content-Type": "application/json"})
    assert response.status_code in (status, 405), response.content[:200]
    assert orjson.loads(response.content)["requestError"]["serviceException"]["messageId"] in (
        "NOT_FOUND", "METHOD_NOT_ALLOWED")
    assert orjson.dumps(shared.state.accounts.export()) == before
