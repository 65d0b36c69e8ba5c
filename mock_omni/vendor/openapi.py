"""The published OpenAPI for the vendor part, built from the same models that validate requests.

The vendor routes are served by the pure-ASGI ``VendorApi``, not FastAPI routing, so
this module describes them explicitly; tests check the live server against it.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..domain.scenarios import Channel, ScenarioIn
from ..testing import ADMIN_PREFIX
from .ratelimit import VENDOR_LIMITS

TAG = "OMNI scenarios (vendor API)"
SEED_KEY = "CD265875E3A6EA43478D5F37A635BE4A"


class StepOut(BaseModel):
    model_config = ConfigDict(title="Step")
    sender: str | None = Field(None, alias="from", description="Sender used in this step.")
    channel: Channel


class ScenarioOut(BaseModel):
    model_config = ConfigDict(title="Scenario")
    key: str = Field(description="Key used to uniquely identify the scenario: 32 uppercase hex characters.",
                     pattern="^[0-9A-F]{32}$")
    name: str | None = Field(None, description="OMNI scenario name.")
    flow: list[StepOut]
    default: bool = Field(description="Whether the scenario is the account's default.")


class ScenariosResponse(BaseModel):
    scenarios: list[ScenarioOut]


class ServiceException(BaseModel):
    model_config = ConfigDict(title="ApiRequestErrorDetails")
    messageId: str
    text: str
    validationErrors: dict[str, list[str]] | None = None


class RequestError(BaseModel):
    model_config = ConfigDict(title="ApiRequestError")
    serviceException: ServiceException


class ApiException(BaseModel):
    requestError: RequestError


SEED_UPDATE = {
    "name": "Test update: SMS or VIBER",
    "flow": [
        {"from": "InfoSMS", "channel": "SMS"},
        {"from": "0492DF1379D122771652385E4C6743E3", "channel": "VIBER"},
    ],
    "default": True,
}
SEED_UPDATE_XML = (
    "<scenario><name>Test update: SMS or VIBER</name><flow>"
    "<step><from>InfoSMS</from><channel>SMS</channel></step>"
    "<step><from>0492DF1379D122771652385E4C6743E3</from><channel>VIBER</channel></step>"
    "</flow><default>true</default></scenario>"
)
SEED_RESPONSE = {"key": SEED_KEY, **SEED_UPDATE}
SEED_RESPONSE_XML = f"<scenario><key>{SEED_KEY}</key>" + SEED_UPDATE_XML.removeprefix("<scenario>")

_ERRORS = {
    # The example of scenario-update.txt; "Exactly one scenario must be default." is another such text.
    "400": ("Bad request: BAD_REQUEST (does not parse) or INVALID_ARGUMENT (invalid values)",
            "INVALID_ARGUMENT", "Invalid argument"),
    "401": ("Unauthorized", "UNAUTHORIZED", "Invalid login details"),
    "404": ("Not found", "NOT_FOUND", "Scenario not found."),
    "405": ("Method not allowed (mock-omni's messageId)", "METHOD_NOT_ALLOWED", "Method not allowed"),
    "406": ("Not acceptable (mock-omni's messageId)", "NOT_ACCEPTABLE",
            "Not acceptable: the API answers application/json or application/xml"),
    "413": ("Body over the size bound (mock-omni's messageId)", "PAYLOAD_TOO_LARGE", "Request body too large"),
    "415": ("Unsupported media type (mock-omni's messageId)", "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type: send application/json or application/xml"),
    "429": ("Too many requests", "TOO_MANY_REQUESTS", "Too many requests"),
    "500": ("Internal server error", "GENERAL_ERROR", "Something went wrong. Please contact support."),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: str, example: Any = None, xml_example: str | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {
        "application/json": {"schema": _ref(schema)},
        "application/xml": {"schema": _ref(schema)},
    }
    if example is not None:
        content["application/json"]["example"] = example
    if xml_example is not None:
        content["application/xml"]["example"] = xml_example
    return content


def _errors(*codes: str) -> dict[str, Any]:
    out = {}
    for code in codes:
        description, message_id, text = _ERRORS[code]
        example = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
        out[code] = {"description": description, "content": _content("ApiException", example)}
    return out


def _throttling(op: str) -> dict[str, Any]:
    rule = VENDOR_LIMITS[op]
    return {"x-throttling-info": [{"type": "time", "numberOfRequests": rule.count,
                                   "numberOfTimeUnits": int(rule.seconds // 60), "timeUnit": "m"}]}


_KEY_PARAM = {
    "name": "scenarioKey", "in": "path", "required": True,
    "description": "Key used to uniquely identify the OMNI scenario.",
    "schema": {"type": "string"}, "example": SEED_KEY,
}
_COMMON_ERRORS = ("401", "405", "406", "413", "500")
_SECURITY: list[dict[str, list[str]]] = [{"Basic": []}, {"APIKeyHeader": []}, {"IBSSOTokenHeader": []}, {"OAuth2": []}]


def _body(schema: str) -> dict[str, Any]:
    # XML cannot carry JSON's null, so the XML body has a schema of its own (see _xml_request_schema).
    content = _content(schema, SEED_UPDATE, SEED_UPDATE_XML)
    content["application/xml"]["schema"] = _ref(schema + "Xml")
    return {"required": True, "content": content}


def vendor_paths() -> dict[str, Any]:
    scenario = _content("Scenario", SEED_RESPONSE, SEED_RESPONSE_XML)
    return {
        "/omni/1/scenarios": {
            "get": {
                "tags": [TAG], "operationId": "get-omni-failover-scenarios",
                "summary": "List all OMNI failover scenarios",
                "description": "Scenarios of the authenticated account, in creation order.",
                "security": _SECURITY,
                "parameters": [
                    {"name": "isDefault", "in": "query", "required": False, "schema": {"type": "boolean"},
                     "description": "Only the default scenario (true) or only the others (false)."},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "format": "int32", "default": 100, "minimum": 0,
                                "maximum": 2**31 - 1},
                     "description": "Maximal number of scenarios returned."},
                    {"name": "page", "in": "query", "required": False,
                     "schema": {"type": "integer", "format": "int32", "default": 0, "minimum": 0,
                                "maximum": 2**31 - 1},
                     "description": "Zero-based page of scenarios."},
                ],
                "responses": {
                    "200": {"description": "successful response",
                            "content": _content("ScenariosResponse", {"scenarios": [SEED_RESPONSE]})},
                    **_errors("400", *_COMMON_ERRORS),
                },
            },
            "post": {
                "tags": [TAG], "operationId": "create-omni-failover-scenario",
                "summary": "Create new OMNI failover scenario",
                "description": "Creates a scenario with a new key. `flow` is required; the account's first "
                               "scenario becomes its default. Limited to 20 requests per 10 minutes.",
                "security": _SECURITY, "requestBody": _body("CreateScenarioRequest"), **_throttling("create"),
                "responses": {
                    "201": {"description": "created", "content": scenario},
                    **_errors("400", "415", "429", *_COMMON_ERRORS),
                },
            },
        },
        "/omni/1/scenarios/{scenarioKey}": {
            "get": {
                "tags": [TAG], "operationId": "get-omni-failover-scenario",
                "summary": "Get specific OMNI failover scenario",
                "security": _SECURITY, "parameters": [_KEY_PARAM],
                "responses": {
                    "200": {"description": "successful response", "content": scenario},
                    **_errors("404", *_COMMON_ERRORS),
                },
            },
            "put": {
                "tags": [TAG], "operationId": "update-omni-failover-scenario",
                "summary": "Update OMNI failover scenario",
                "description": "Partial update: fields left out keep their value. `default: true` makes the "
                               "scenario the account's default; `default: false` on the default is refused "
                               "with `Exactly one scenario must be default.`. Limited to 40 requests per "
                               "10 minutes.",
                "security": _SECURITY, "parameters": [_KEY_PARAM],
                "requestBody": _body("CreateOrUpdateScenarioRequest"), **_throttling("update"),
                "responses": {
                    "200": {"description": "successful response", "content": scenario},
                    **_errors("400", "404", "415", "429", *_COMMON_ERRORS),
                },
            },
        },
    }


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for name, model, mode in (
        ("CreateOrUpdateScenarioRequest", ScenarioIn, "validation"),
        ("Scenario", ScenarioOut, "serialization"),
        ("ScenariosResponse", ScenariosResponse, "serialization"),
        ("ApiException", ApiException, "serialization"),
    ):
        schema = model.model_json_schema(by_alias=True, mode=mode,  # type: ignore[arg-type]
                                         ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    update = schemas["CreateOrUpdateScenarioRequest"]
    # Create needs a flow (store.create refuses a missing or null one), as the vendor's schema says.
    create = {**update, "title": "CreateScenarioRequest", "required": ["flow"],
              "properties": {**update["properties"], "flow": _without_null(update["properties"]["flow"])}}
    schemas["CreateScenarioRequest"] = create
    for name in ("CreateScenarioRequest", "CreateOrUpdateScenarioRequest"):
        schemas[name + "Xml"] = _xml_request_schema(schemas[name], schemas["StepIn"])
    # ScenariosResponse pulls ScenarioOut in under its class name: one "Scenario" schema, not two.
    schemas.pop("ScenarioOut", None)
    text = json.dumps(schemas).replace('"#/components/schemas/ScenarioOut"', '"#/components/schemas/Scenario"')
    return json.loads(text)  # type: ignore[no-any-return]


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without pydantic's ``anyOf [..., null]`` for optional fields."""
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    if len(options) != 1:
        return schema
    rest = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    return {**options[0], **rest}


def _xml_text(schema: dict[str, Any]) -> dict[str, Any]:
    # The pattern only forbids characters XML cannot carry at all, so in XML there is nothing to forbid.
    return {k: v for k, v in _without_null(schema).items() if k != "pattern"}


def _xml_request_schema(request: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """The request as XML sees it: ``<scenario>``, ``<flow><step>``, no nulls."""
    step_xml = {**step, "properties": {name: _xml_text(prop) for name, prop in step["properties"].items()},
                "xml": {"name": "step"}}
    flow = _without_null(request["properties"]["flow"])
    properties = {
        "name": _xml_text(request["properties"]["name"]),
        "flow": {**flow, "items": step_xml, "xml": {"wrapped": True}},
        "default": _without_null(request["properties"]["default"]),
        "defaultScenario": _without_null(request["properties"]["defaultScenario"]),
    }
    return {**request, "title": request["title"] + "Xml", "properties": properties, "xml": {"name": "scenario"}}


SECURITY_SCHEMES: dict[str, Any] = {
    "Basic": {"type": "http", "scheme": "basic",
              "description": "`Authorization: Basic base64(username:password)`; e.g. Aladdin / open sesame."},
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                     "description": "`Authorization: App <apiKey>`"},
    "IBSSOTokenHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                         "description": "`Authorization: IBSSO <token>`"},
    "OAuth2": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <token>`"},
}


def document_web_errors(paths: dict[str, Any], guarded_prefix: str = ADMIN_PREFIX + "/") -> None:
    """Publish the errors mock-omni's own routes answer (web.py's handlers), in the vendor's envelope.

    FastAPI documents a 422 that never happens (validation errors answer 400 INVALID_ARGUMENT) and
    none of the others; schemathesis on the admin API found each of them undocumented.
    """
    for path, item in paths.items():
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch"):
                continue
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            codes = ["405", "500"]
            if operation.get("parameters") or operation.get("requestBody"):
                codes += ["400", "404"]
            if operation.get("requestBody"):
                codes += ["413"]
            if path.startswith(guarded_prefix) and not path.endswith("/health"):
                codes += ["401"]
            for code in codes:
                # No example: the vendor's texts (`Scenario not found.`) are not what these routes say.
                responses.setdefault(code, {"description": _ERRORS[code][0], "content": _content("ApiException")})


def merge_vendor_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the vendor's paths, schemas and security schemes to FastAPI's own document."""
    document_web_errors(spec.get("paths", {}))
    spec["paths"] = {**vendor_paths(), **spec.get("paths", {})}
    components = spec.setdefault("components", {})
    components.setdefault("schemas", {}).update(_schemas())
    components["securitySchemes"] = SECURITY_SCHEMES
    spec.setdefault("tags", []).insert(0, {"name": TAG, "description": "The emulated Infobip OMNI API."})
    return spec
