"""Schemathesis against the app's own /openapi.json, with valid credentials and without.

Every check schemathesis has runs (no 5xx, status codes, content types and bodies as published,
schema-valid data accepted, schema-violating data rejected), in JSON and XML: XML responses are
decoded into the JSON shape below so they are validated against the same schemas.
Bounded by ``max-examples`` per operation and mode, so it takes seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element

import pytest
import schemathesis
from defusedxml.ElementTree import fromstring
from hypothesis import settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from mock_omni.api.bodies import Bodies
from mock_omni.api.codecs import body_format
from mock_omni.api.routes import ROUTER
from mock_omni.domain.accounts import EXACTLY_ONE_DEFAULT
from mock_omni.domain.errors import OmniError

from .. import server
from ..conftest import ALADDIN_BASIC, make_app

# make test runs a fixed seed, so a red run is reproducible; set MOCK_OMNI_FUZZ_SEED=random (or a
# number) and MOCK_OMNI_FUZZ_EXAMPLES to search further.
MAX_EXAMPLES = int(os.environ.get("MOCK_OMNI_FUZZ_EXAMPLES", "40"))
SEED = os.environ.get("MOCK_OMNI_FUZZ_SEED", "20261128")

# Rate limits off so every generated body reaches validation (the limiter has its own tests).
app = make_app(rate_limits={})
settings_doc: dict[str, Any] = {"generation": {"mode": "all", "max-examples": MAX_EXAMPLES}}
if SEED != "random":
    settings_doc["seed"] = int(SEED)
config = schemathesis.Config.from_dict(settings_doc)
schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
vendor_schema = schema.include(path_regex="^/omni/")
calls: list[int] = []  # statuses seen, for the report (-s)


def _xml_data(element: Element, parent: str | None = None) -> Any:
    """The JSON shape of one of our XML responses: lists for flow/scenarios/messages, booleans for default."""
    children = list(element)
    if element.tag in ("flow", "scenarios") or parent == "validationErrors":
        return [_xml_data(child, element.tag) for child in children]
    if not children:
        text = element.text or ""
        return {"true": True, "false": False}.get(text, text) if element.tag == "default" else text
    # dicttoxml writes keys that are not XML names (flow[0].channel) as <key name="...">.
    return {child.get("name", child.tag) if child.tag == "key" and child.get("name") else child.tag:
            _xml_data(child, element.tag) for child in children}


@schemathesis.deserializer("application/xml")
def _deserialize_xml(_ctx: schemathesis.DeserializationContext, response: schemathesis.Response) -> Any:
    return _xml_data(fromstring(response.content, forbid_dtd=True))


def _is_the_one_default_rule(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """`default: false` on the account's default: schema-valid, refused by the contract (omni-api.md)."""
    account = app.state.accounts.account("Aladdin")
    return (
        case.method == "PUT" and response.status_code == 400 and account is not None
        and (case.path_parameters or {}).get("scenarioKey") == account.default_key
        and isinstance(case.body, dict) and _default_flag(case.body) is False
        and EXACTLY_ONE_DEFAULT.encode() in response.content
    )


def _refused_beyond_the_schema(case: schemathesis.Case, response: schemathesis.Response) -> bool:
    """A send whose body the model takes (as the server parsed it), refused for what no schema can state.

    Whether a send is accepted depends on the account's scenarios (an unknown scenarioKey, a flow step
    without its payload, a destination without an address for the first channel) and on fields that go
    together (a Viber button needs a text, a LINE STICKER a stickerId...): 400s that name the field,
    tested in test_sending.py. Every other check still applies to sends.
    """
    operation = ROUTER.by_name.get({"/omni/1/advanced": "send", "/omni/1/text": "text"}.get(case.path, ""))
    if operation is None or operation.body is None or response.status_code != 400:
        return False
    request = response.request
    content = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
    try:
        Bodies().parse(operation.body, body_format(request.headers.get("Content-Type")) or "json", content)
    except OmniError:
        return False
    return True


def _default_flag(body: dict[str, Any]) -> object:
    flag = body.get("default")
    return body.get("defaultScenario") if flag is None else flag  # models.ScenarioIn: `default` wins


@pytest.fixture(scope="module", autouse=True)
def _one_default_afterwards() -> Any:
    yield
    if calls:
        print(f"\nschemathesis: {len(calls)} requests, statuses {sorted(set(calls))}")
    for username in app.state.accounts.usernames():
        listed = app.state.accounts.list_scenarios(username, limit=10_000)
        assert [s["default"] for s in listed].count(True) == (1 if listed else 0), username


@vendor_schema.parametrize()
@settings(deadline=None)
def test_with_valid_credentials(case: schemathesis.Case) -> None:
    response = case.call(headers={"Authorization": ALADDIN_BASIC})
    calls.append(response.status_code)
    refused = _is_the_one_default_rule(case, response) or _refused_beyond_the_schema(case, response)
    case.validate_response(response, excluded_checks=[positive_data_acceptance] if refused else [])


@vendor_schema.parametrize()
@settings(deadline=None)
def test_without_credentials(case: schemathesis.Case) -> None:
    response = case.call()
    calls.append(response.status_code)
    case.validate_response(response)
    # Only the checks that precede authentication (route, Accept, body size) may answer otherwise.
    assert response.status_code in (401, 404, 405, 406, 413), response.content


# --- the same over a real socket: uvicorn's parsing and framing, not just the ASGI app ---------------
# (The document is the one loaded in-process above: the same app, so the same /openapi.json.)


@pytest.fixture(scope="module")
def real_server() -> Iterator[server.Server]:
    with server.running(["--rate-limit", "off"]) as running:
        yield running


@vendor_schema.parametrize()
@settings(deadline=None, max_examples=max(5, MAX_EXAMPLES // 4))
def test_real_server_with_valid_credentials(case: schemathesis.Case, real_server: server.Server) -> None:
    response = case.call(base_url=real_server.url, headers={"Authorization": ALADDIN_BASIC}, timeout=30)
    calls.append(response.status_code)
    # The one-default refusal depends on the server's state, which lives in the other process here.
    refused = (response.status_code == 400 and EXACTLY_ONE_DEFAULT.encode() in response.content
               or _refused_beyond_the_schema(case, response))
    case.validate_response(response, excluded_checks=[positive_data_acceptance] if refused else [])


# --- the sign-in calls: their credentials are in the body, so generated ones are mostly wrong ---------

signin_schema = schema.include(path_regex="^/auth/")


@signin_schema.parametrize()
@settings(deadline=None)
def test_sign_in_calls(case: schemathesis.Case) -> None:
    response = case.call()
    calls.append(response.status_code)
    case.validate_response(response)
    assert response.status_code < 500, response.content
