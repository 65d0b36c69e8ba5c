"""The published OpenAPI for the vendor part, derived from the route table (routes.py).

The vendor routes are served by the pure-ASGI dispatcher, not FastAPI routing, so this
module describes each operation of the table: path, method, the vendor's operationId,
scopes and throttling, query parameters, request and response schemas (from the same
pydantic models that validate and describe the data), examples, and every status it
can answer. Tests check the live server against it.
"""

from __future__ import annotations

import json
from typing import Any

from ..domain.delivery import GENERAL_STATUSES
from ..domain.scenarios import CHANNELS, ScenarioIn
from ..domain.send_request import OmniAdvancedRequest, OmniSimpleRequest
from ..domain.signin import SessionIn, TokenRequest
from ..testing import ADMIN_PREFIX
from .codecs import FORM_TYPE
from .routes import OPERATIONS, SIGN_IN
from .routing import Operation, QueryParam
from .schemas import (
    ApiException,
    DeliveryReports,
    OAuth2ErrorOut,
    OmniLogsResponse,
    OmniResponse,
    ScenarioOut,
    ScenariosResponse,
    SessionOut,
    TokenResponse,
)

_ERRORS = {
    # The example of scenario-update.txt; "Exactly one scenario must be default." is another such text.
    "400": ("Bad request: BAD_REQUEST (does not parse) or INVALID_ARGUMENT (invalid values)",
            "INVALID_ARGUMENT", "Invalid argument"),
    "401": ("Unauthorized", "UNAUTHORIZED", "Invalid login details"),
    "403": ("Forbidden", "FORBIDDEN", "Forbidden"),
    "404": ("Not found", "NOT_FOUND", "Scenario not found."),
    "405": ("Method not allowed (mock-omni's messageId)", "METHOD_NOT_ALLOWED", "Method not allowed"),
    "406": ("Not acceptable (mock-omni's messageId)", "NOT_ACCEPTABLE",
            "Not acceptable: the API answers application/json or application/xml"),
    "409": ("Conflict (the vendor documents no messageId: CONFLICT is mock-omni's; only ever a fault)", "CONFLICT",
            "Conflict"),
    "413": ("Body over the size bound (mock-omni's messageId)", "PAYLOAD_TOO_LARGE", "Request body too large"),
    "414": ("Request target over 64 KiB (mock-omni's messageId)", "URI_TOO_LONG",
            "Request target too long: at most 65535 bytes"),
    "415": ("Unsupported media type (mock-omni's messageId)", "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type: send application/json or application/xml"),
    "429": ("Too many requests", "TOO_MANY_REQUESTS", "Too many requests"),
    "500": ("Internal server error", "GENERAL_ERROR", "Something went wrong. Please contact support."),
}
#: What mock-omni answers on any vendor call beyond what the vendor documents (405, 406, 413, 414 and 415 are ours).
_OWN_ERRORS = (401, 405, 406, 413, 414, 500)
_OWN_BODY_ERRORS = (415,)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _content(schema: str, example: Any = None, xml_example: str | None = None, xml: bool = True) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": _ref(schema)}}
    if xml:
        content["application/xml"] = {"schema": _ref(schema)}
    if example is not None:
        content["application/json"]["example"] = example
    if xml and xml_example is not None:
        content["application/xml"]["example"] = xml_example
    return content


#: The token endpoint's own errors (RFC 6749 5.2), instead of the envelope's.
_OAUTH2_ERRORS = {
    400: ("Bad request (RFC 6749 5.2): invalid_request, unsupported_grant_type or invalid_scope",
          "unsupported_grant_type", "Only grant_type=client_credentials is supported."),
    401: ("Client authentication failed (RFC 6749 5.2)", "invalid_client", "Client authentication failed."),
}


def _errors(codes: list[int], operation: Operation) -> dict[str, Any]:
    out = {}
    xml = not operation.json_only
    for code in sorted(set(codes)):
        if operation.form and code in _OAUTH2_ERRORS:
            description, error, text = _OAUTH2_ERRORS[code]
            example: dict[str, Any] = {"error": error, "error_description": text}
            out[str(code)] = {"description": description, "content": _content("OAuth2Error", example, xml=False)}
            continue
        description, message_id, text = _ERRORS[str(code)]
        text = operation.texts.get(code, text)
        example = {"requestError": {"serviceException": {"messageId": message_id, "text": text}}}
        out[str(code)] = {"description": description, "content": _content("ApiException", example, xml=xml)}
    return out


def _throttling(operation: Operation) -> dict[str, Any]:
    if operation.limit is None:
        return {}
    rule = operation.limit
    return {"x-throttling-info": [{"type": "time", "numberOfRequests": rule.count,
                                   "numberOfTimeUnits": int(rule.seconds // 60), "timeUnit": "m"}]}




def _query_parameter(param: QueryParam) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "boolean"} if param.kind == "boolean" else {"type": "string"}
    if param.kind == "int32":
        schema = {"type": "integer", "format": "int32", "minimum": param.minimum, "maximum": param.maximum}
    elif param.kind == "enum":
        schema = _ref(param.schema) if param.schema else {"type": "string", "enum": list(param.choices)}
    elif param.kind == "date-time":
        schema = {"type": "string", "format": "date-time"}
    elif param.kind == "string-list":
        schema = {"type": "array", "items": {"type": "string"}}
    if param.default is not None:
        schema["default"] = param.default
    parameter = {"name": param.name, "in": "query", "required": False, "schema": schema,
                 "description": param.description}
    if param.kind == "string-list":
        parameter.update(style="form", explode=True)
    return parameter


def _path_parameters(operation: Operation) -> list[dict[str, Any]]:
    names = [part[1:-1] for part in operation.path.split("/") if part.startswith("{")]
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
             "description": "Key used to uniquely identify the OMNI scenario."} for name in names]


#: The published schema of each model (a create needs a flow: its own request schema).
_SCHEMA_NAMES: dict[type, str] = {ScenarioIn: "CreateOrUpdateScenarioRequest", ScenarioOut: "Scenario",
                                  ScenariosResponse: "ScenariosResponse", ApiException: "ApiException",
                                  TokenRequest: "CreateOAuth2TokenRequest", TokenResponse: "CreateOAuth2TokenResponse",
                                  OAuth2ErrorOut: "OAuth2Error", SessionIn: "CreateSessionRequest",
                                  SessionOut: "CreateSessionResponse",
                                  OmniAdvancedRequest: "OmniAdvancedRequest", OmniSimpleRequest: "OmniSimpleRequest",
                                  OmniResponse: "OmniResponse", DeliveryReports: "DeliveryReports",
                                  OmniLogsResponse: "OmniLogsResponse"}
#: Request schemas with an XML variant of their own (``<name>Xml``): XML has no null, and a list is the
#: children of one element (``<destinations><destinations>...``). The scenario ones are written by hand.
_GENERATED_XML = ("OmniAdvancedRequest", "OmniSimpleRequest")
_XML_VARIANTS = ("CreateScenarioRequest", "CreateOrUpdateScenarioRequest", *_GENERATED_XML)
_XML_NAME = "^[A-Za-z_][A-Za-z0-9_.-]{0,63}$"


def _request_schema(operation: Operation) -> str:
    assert operation.body is not None
    name = _SCHEMA_NAMES[operation.body]
    return "CreateScenarioRequest" if operation.name == "create" else name


def _body(operation: Operation) -> dict[str, Any]:
    schema = _request_schema(operation)
    if operation.form:
        return {"required": True, "content": {FORM_TYPE: {"schema": _ref(schema)}}}
    content = _content(schema, operation.examples.get("request"), operation.examples.get("request_xml"))
    if schema in _XML_VARIANTS:
        # XML cannot carry JSON's null, so the XML body has a schema of its own (see _xml_request_schema).
        content["application/xml"]["schema"] = _ref(schema + "Xml")
    return {"required": True, "content": content}


def _success(operation: Operation) -> dict[str, Any]:
    if operation.status == 204:
        return {"description": "no content"}
    assert operation.response is not None
    content = _content(_SCHEMA_NAMES[operation.response], operation.examples.get("response"),
                       operation.examples.get("response_xml"), xml=not operation.json_only)
    return {"description": "created" if operation.status == 201 else "successful response", "content": content}


def _operation(operation: Operation) -> dict[str, Any]:
    document: dict[str, Any] = {"tags": [operation.tag], "operationId": operation.operation_id,
                                "summary": operation.summary}
    if operation.description:
        document["description"] = operation.description
    # A sign-in call's credentials are in its body: no security requirement.
    document["security"] = [{scheme: []} for scheme in operation.security] if operation.authenticated else []
    if operation.scopes:
        document["x-scopes"] = list(operation.scopes)
    parameters = _path_parameters(operation) + [_query_parameter(param) for param in operation.query]
    if parameters:
        document["parameters"] = parameters
    errors = [*operation.errors, *_OWN_ERRORS]
    if operation.body is not None:
        document["requestBody"] = _body(operation)
        errors += _OWN_BODY_ERRORS
    document.update(_throttling(operation))
    document["responses"] = {str(operation.status): _success(operation), **_errors(errors, operation)}
    return document


def vendor_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for operation in OPERATIONS:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(operation)
    return paths


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model, mode in (
        (ScenarioIn, "validation"), (ScenarioOut, "serialization"), (ScenariosResponse, "serialization"),
        (ApiException, "serialization"), (TokenRequest, "validation"), (TokenResponse, "serialization"),
        (OAuth2ErrorOut, "serialization"), (SessionIn, "validation"), (SessionOut, "serialization"),
        (OmniAdvancedRequest, "validation"), (OmniSimpleRequest, "validation"), (OmniResponse, "serialization"),
        (DeliveryReports, "serialization"), (OmniLogsResponse, "serialization"),
    ):
        name = _SCHEMA_NAMES[model]
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
    schemas["OmniChannel"] = {"type": "string", "enum": list(CHANNELS), "title": "OmniChannel"}
    schemas["IpCoreGeneralStatus"] = {"type": "string", "enum": list(GENERAL_STATUSES), "title": "IpCoreGeneralStatus"}
    for name in _GENERATED_XML:
        _xml_variant(name, schemas)
    # ScenariosResponse pulls ScenarioOut in under its class name: one "Scenario" schema, not two.
    schemas.pop("ScenarioOut", None)
    text = json.dumps(schemas).replace('"#/components/schemas/ScenarioOut"', '"#/components/schemas/Scenario"')
    return json.loads(text)  # type: ignore[no-any-return]


def _xml_variant(name: str, schemas: dict[str, Any]) -> str:
    """``<name>Xml``, made (with the variants of every schema it refers to) if not there yet."""
    variant = name + "Xml"
    if variant not in schemas:
        schemas[variant] = {}  # taken before recursing: schemas may refer to themselves (flex components)
        source = schemas[name]
        schemas[variant] = {**_xml_node(source, schemas), "title": source.get("title", name) + "Xml",
                            "xml": {"name": name}}
    return variant


def _xml_node(node: Any, schemas: dict[str, Any]) -> Any:
    """One JSON schema node as XML carries it: no null, wrapped lists, values of free objects as text."""
    if not isinstance(node, dict):
        return node
    node = _without_null(node)
    if "$ref" in node:
        rest = {key: value for key, value in node.items() if key not in ("$ref", "default")}
        return {**rest, **_ref(_xml_variant(node["$ref"].rsplit("/", 1)[1], schemas))}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _xml_node(prop, schemas) for name, prop in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf"):
            out[key] = [_xml_node(item, schemas) for item in value if item != {"type": "null"}] if isinstance(
                value, list) else _xml_node(value, schemas)
        elif key == "additionalProperties":
            # A free object's members are elements: names XML allows, values text.
            out[key] = {"type": "string"}
            out["propertyNames"] = {"pattern": _XML_NAME}
        elif key != "default":
            out[key] = value
    if out.get("type") == "array":
        out["xml"] = {"wrapped": True}
    return out


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
                     "description": "`Authorization: App <apiKey>`; a key limited to scopes is refused (403) "
                                    "calls needing others."},
    "IBSSOTokenHeader": {"type": "apiKey", "in": "header", "name": "Authorization",
                         "description": "`Authorization: IBSSO <token>`, the token from `POST /auth/1/session` "
                                        "or a fixture's `tokens`; a session ends after a period without calls."},
    "OAuth2": {
        "type": "oauth2",
        "description": "`Authorization: Bearer <access_token>`, the token from `POST /auth/1/oauth2/token` "
                       "(client credentials: a fixture's `oauth2Clients` entry, or the username and password); "
                       "fixture `tokens` work as Bearer tokens too.",
        # Relative: Swagger UI's Authorize gets the token from the server that serves this document.
        "flows": {"clientCredentials": {"tokenUrl": "/auth/1/oauth2/token", "scopes": {
            scope: "Needed by: " + ", ".join(op.operation_id for op in OPERATIONS if scope in op.scopes)
            for scope in dict.fromkeys(scope for op in OPERATIONS for scope in op.scopes)}}},
    },
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
            if path.startswith(guarded_prefix):
                # A browser's request from an origin the CORS policy does not allow; a body that is not JSON
                # (web/csrf.py).
                codes += ["403", "415"] if operation.get("requestBody") else ["403"]
                if not path.endswith("/health"):
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
    for tag in reversed(dict.fromkeys(operation.tag for operation in OPERATIONS)):
        description = ("The vendor's sign-in calls: OAuth2 tokens and IBSSO sessions." if tag == SIGN_IN
                       else "The emulated Infobip OMNI API.")
        spec.setdefault("tags", []).insert(0, {"name": tag, "description": description})
    return spec
