"""Schemathesis on mock-omni's own admin API (/__admin), with the admin token and without."""

from __future__ import annotations

import schemathesis
from hypothesis import settings
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import positive_data_acceptance

from ..conftest import make_app
from .test_schema_fuzz import MAX_EXAMPLES, settings_doc

TOKEN = "fuzz-token"
app = make_app(rate_limits={}, admin_token=TOKEN)
admin_schema = schemathesis.openapi.from_asgi(
    "/openapi.json", app, config=schemathesis.Config.from_dict(
        {**settings_doc, "generation": {"mode": "all", "max-examples": max(5, MAX_EXAMPLES // 2)}})
).include(path_regex="^/__admin")


# Bodies whose rules span fields, which JSON Schema cannot state: exactly one default per account, unique
# keys, usernames and credentials (state, accounts), "a status, a delay or a drop, status not with drop"
# (faults; a reset's fixtures), "no delay for an EXPIRED outcome" (delivery rules), "a clientId of that
# account, and none for a session" (tokens). A schema-valid body may break them and get its 400 naming the
# field (tested in test_admin_api.py, test_sending.py and test_admin_signin.py); every other check (no 5xx,
# conformance, negative data rejected) still applies.
CROSS_FIELD_RULES = {("PUT", "/__admin/state"), ("POST", "/__admin/accounts"), ("POST", "/__admin/faults"),
                     ("POST", "/__admin/reset"), ("POST", "/__admin/delivery-rules"), ("POST", "/__admin/tokens")}


#: GET /__admin/callbacks?wait=60 would wait a minute for callbacks this app never sends: generated waits are
#: cut to this (still a valid value), so the fuzzer exercises the call without sleeping through it.
SHORTEST_WAIT = 0.01


def shorter_waits(case: schemathesis.Case) -> None:
    wait = (case.query or {}).get("wait")
    if isinstance(wait, int | float) and not isinstance(wait, bool) and wait > SHORTEST_WAIT:
        case.query["wait"] = SHORTEST_WAIT  # type: ignore[index]


@admin_schema.parametrize()
@settings(deadline=None)
def test_admin_api_with_the_token(case: schemathesis.Case) -> None:
    shorter_waits(case)
    response = case.call(headers={"X-Admin-Token": TOKEN})
    excluded = [positive_data_acceptance] if (case.method.upper(), case.path) in CROSS_FIELD_RULES else []
    case.validate_response(response, excluded_checks=excluded)


@admin_schema.parametrize()
@settings(deadline=None)
def test_admin_api_without_the_token(case: schemathesis.Case) -> None:
    response = case.call_and_validate()
    if not case.path.endswith("/health"):
        # A body that is not JSON is refused before anything else, the token included (web/csrf.py).
        sent_type = {name.lower(): value for name, value in (case.headers or {}).items()}.get(
            "content-type", case.media_type or "")
        not_json = case.body is not NOT_SET and sent_type.split(";")[0].strip().lower() != "application/json"
        assert response.status_code in ((401, 404, 405, 415) if not_json else (401, 404, 405)), response.text
