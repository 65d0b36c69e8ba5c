"""Schemathesis on mock-omni's own admin API (/__admin), with the admin token and without."""

from __future__ import annotations

import schemathesis
from hypothesis import settings

from ..conftest import make_app
from .test_schema_fuzz import MAX_EXAMPLES, settings_doc

TOKEN = "fuzz-token"
app = make_app(rate_limits={}, admin_token=TOKEN)
admin_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", app, config=schemathesis.Config.from_dict(
        {**settings_doc, "generation": {"mode": "all", "max-examples": max(5, MAX_EXAMPLES // 2)}})
).include(path_regex="^/__admin")


@admin_schema.parametrize()
@settings(deadline=None)
def test_admin_api_with_the_token(case: schemathesis.Case) -> None:
    case.call_and_validate(headers={"X-Admin-Token": TOKEN})


@admin_schema.parametrize()
@settings(deadline=None)
def test_admin_api_without_the_token(case: schemathesis.Case) -> None:
    response = case.call_and_validate()
    if not case.path.endswith("/health"):
        assert response.status_code in (401, 404, 405), response.text
