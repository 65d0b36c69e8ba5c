"""The route table: every vendor operation, one entry each (moto's ``urls.py``).

Routing and the 405 ``Allow`` header, the rate-limit operation names and the vendor's
limits, the fast path's eligibility, XML element names, scopes and the vendor part of
/openapi.json are all derived from ``OPERATIONS``. Adding an operation is adding an
entry here and its handler in the resource's module.
"""

from __future__ import annotations

from ..domain.credentials import LOGS, MANAGE, SEND
from ..domain.delivery import GENERAL_STATUSES
from ..domain.scenarios import CHANNELS, ScenarioIn
from ..domain.send_request import OmniAdvancedRequest, OmniSimpleRequest
from ..domain.signin import SessionIn, TokenRequest
from . import examples
from .handlers import scenarios, sending, signin
from .limits import Rule
from .routing import Operation, QueryParam, Router
from .schemas import (
    DeliveryReports,
    OmniLogsResponse,
    OmniResponse,
    ScenarioOut,
    ScenariosResponse,
    SessionOut,
    TokenResponse,
)

SCENARIOS = "OMNI scenarios (vendor API)"
SIGN_IN = "Sign-in (vendor API)"
#: Documented on every OMNI call (the vendor's OpenAPI): 400, 401, 403, 409 and 500.
COMMON = (400, 401, 403, 409, 500)
SCENARIO_XML = {"flow": "step"}
# The vendor documents 409 on scenario calls with a description but no messageId or text:
# an injected 409 says the description (messageId CONFLICT is ours).
INVALID_SCENARIO = {409: "invalid scenario"}
SENDING = "OMNI messages (vendor API)"
SEND_ERRORS = (400, 401, 403, 500)


def _channel(description: str) -> QueryParam:
    return QueryParam("channel", "enum", description, choices=CHANNELS, schema="OmniChannel")


def _limit(what: str) -> QueryParam:
    return QueryParam("limit", "int32", f"Maximal number of {what} returned (at most 1000).", default=50,
                      maximum=1000)



OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "list", "GET", "/omni/1/scenarios", scenarios.list_scenarios,
        "get-omni-failover-scenarios", "List all OMNI failover scenarios", SCENARIOS,
        description="Scenarios of the authenticated account, in creation order.",
        scopes=MANAGE, errors=COMMON, response=ScenariosResponse,
        query=(
            QueryParam("isDefault", "boolean", "Only the default scenario (true) or only the others (false)."),
            QueryParam("limit", "int32", "Maximal number of scenarios returned.", default=100),
            QueryParam("page", "int32", "Zero-based page of scenarios.", default=0),
        ),
        xml_root="scenariosResponse", xml_items={**SCENARIO_XML, "scenarios": "scenario"},
        examples=examples.SCENARIO_LIST, texts=INVALID_SCENARIO,
    ),
    Operation(
        "create", "POST", "/omni/1/scenarios", scenarios.create_scenario,
        "create-omni-failover-scenario", "Create new OMNI failover scenario", SCENARIOS,
        description="Creates a scenario with a new key. `flow` is required; the account's first scenario "
                    "becomes its default. Limited to 20 requests per 10 minutes.",
        status=201, scopes=MANAGE, limit=Rule(20, 600.0), errors=(*COMMON, 429),
        body=ScenarioIn, response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO, texts={409: "creating scenario is forbidden"},
    ),
    Operation(
        "get", "GET", "/omni/1/scenarios/{scenarioKey}", scenarios.get_scenario,
        "get-omni-failover-scenario", "Get specific OMNI failover scenario", SCENARIOS,
        scopes=MANAGE, errors=(*COMMON, 404), response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO, texts=INVALID_SCENARIO,
    ),
    Operation(
        "update", "PUT", "/omni/1/scenarios/{scenarioKey}", scenarios.update_scenario,
        "update-omni-failover-scenario", "Update OMNI failover scenario", SCENARIOS,
        description="Partial update: fields left out keep their value. `default: true` makes the scenario the "
                    "account's default; `default: false` on the default is refused with `Exactly one scenario "
                    "must be default.`. Limited to 40 requests per 10 minutes.",
        scopes=MANAGE, limit=Rule(40, 600.0), errors=(*COMMON, 404, 429),
        body=ScenarioIn, response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO, texts=INVALID_SCENARIO,
    ),
    # The sign-in calls are the vendor's account-management pages (Create OAuth2 token, Create
    # session, Destroy session), not part of its OMNI OpenAPI; statuses as those pages list them.
    Operation(
        "token", "POST", "/auth/1/oauth2/token", signin.create_token,
        "create-oauth2-token", "Create OAuth2 token", SIGN_IN,
        description="OAuth2 client credentials grant (RFC 6749 section 4.4): a form with `grant_type="
                    "client_credentials`, `client_id` and `client_secret` (or the two by HTTP Basic), optionally "
                    "`scope`. A client is an `oauth2Clients` entry of a fixture account, or the account's username "
                    "and password (every scope). The token works as `Authorization: Bearer <access_token>` until it "
                    "expires on the mock's clock (`--token-lifetime`, default 3600 s). Errors as RFC 6749 5.2.",
        errors=(400, 500), body=TokenRequest, response=TokenResponse, form=True, json_only=True,
        headers=((b"cache-control", b"no-store"), (b"pragma", b"no-cache")), authenticated=False,
    ),
    Operation(
        "login", "POST", "/auth/1/session", signin.create_session,
        "create-session", "Create session", SIGN_IN,
        description="Creates an IBSSO session for a username and password; while the session lives, the same "
                    "token is answered again. It ends after `--session-idle` seconds without a call (the "
                    "vendor's hour, on the mock's clock) or by Destroy session.",
        errors=(400, 429, 500), body=SessionIn, response=SessionOut, xml_root="session", authenticated=False,
        examples=examples.SESSION,
    ),
    Operation(
        "logout", "DELETE", "/auth/1/session", signin.end_session,
        "destroy-session", "Destroy session", SIGN_IN,
        description="Ends the session whose token is in `Authorization: IBSSO <token>` (a fixture token too, "
                    "until the account is reset); afterwards the token is refused with 401.",
        status=204, errors=(401, 403, 429, 500), security=("IBSSOTokenHeader",),
    ),
    Operation(
        "send", "POST", "/omni/1/advanced", sending.send_advanced,
        "send-omni-failover-message", "Send OMNI failover message", SENDING,
        description="Sends one message per destination through the scenario (`scenarioKey`, else the account's "
                    "default), trying the flow's channels in order until one delivers. Every channel of the flow "
                    "needs its payload (`sms`, `viber`, ...). `bulkId` is generated when the request has more than "
                    "one destination and none is given.",
        scopes=SEND, errors=SEND_ERRORS, body=OmniAdvancedRequest, response=OmniResponse,
        xml_root="omniResponse", xml_items={"messages": "message"}, examples=examples.SEND,
    ),
    Operation(
        "text", "POST", "/omni/1/text", sending.send_text,
        "send-omni-simple-message", "Send OMNI message with one text (legacy)", SENDING,
        description="The simple send of the official clients 2.x, no longer in the vendor's OpenAPI: the same "
                    "`text` on every step of the flow (`mailSubject` for an EMAIL step).",
        scopes=SEND, errors=SEND_ERRORS, body=OmniSimpleRequest, response=OmniResponse,
        xml_root="omniResponse", xml_items={"messages": "message"}, examples=examples.TEXT,
    ),
    Operation(
        "reports", "GET", "/omni/1/reports", sending.get_reports,
        "get-omni-failover-delivery-reports", "Get OMNI failover delivery reports", SENDING,
        description="One-time delivery reports, newest first: each message's final report is returned once, "
                    "then never again.",
        scopes=SEND, errors=SEND_ERRORS, response=DeliveryReports,
        query=(
            QueryParam("bulkId", "string", "Only the reports of this bulk."),
            QueryParam("messageId", "string", "Only the report of this message."),
            _limit("reports"),
            _channel("Only reports of messages that ended on this channel."),
        ),
        xml_root="omniReportsResponse", xml_items={"results": "result"}, examples={"response": examples.REPORTS},
    ),
    Operation(
        "logs", "GET", "/omni/1/logs", sending.get_logs,
        "get-omni-failover-message-logs", "Get OMNI failover message logs", SENDING,
        description="Every message's current state, newest first, as often as asked. Without `sentSince`, the "
                    "messages sent in the last 48 hours. Limited to 120 requests per minute.",
        scopes=LOGS, errors=(*SEND_ERRORS, 429), response=OmniLogsResponse,
        # The vendor states 120 requests per 0 minutes; a rate needs a duration: one unit, a minute.
        limit=Rule(120, 60.0),
        query=(
            QueryParam("from", "string", "Sender of the message's current (or last) step."),
            QueryParam("to", "string", "The message destination address."),
            QueryParam("bulkId", "string-list", "Bulk IDs, repeated or comma-separated."),
            QueryParam("messageId", "string-list", "Message IDs, repeated or comma-separated."),
            QueryParam("generalStatus", "enum", "Status group of the message.", choices=GENERAL_STATUSES,
                       schema="IpCoreGeneralStatus"),
            _channel("Channel of the message's current (or last) step."),
            QueryParam("sentSince", "date-time", "Lower limit on the time of sending."),
            QueryParam("sentUntil", "date-time", "Upper limit on the time of sending."),
            _limit("logs"),
            QueryParam("mcc", "string", "Mobile country code."),
            QueryParam("mnc", "string", "Mobile network code."),
        ),
        xml_root="omniLogsResponse", xml_items={"results": "result"}, examples={"response": examples.LOGS},
    ),
)

# The vendor's Scenario: Update page sends its curl example to /sms/1/omni/1/scenarios/{key};
# that page is the final word on update, so the prefix is served as an alias of /omni/.
ALIASES = {"/sms/1/omni/": "/omni/"}

ROUTER = Router(OPERATIONS, ALIASES)
#: Operation names, as rate-limit specs use them.
OPERATION_NAMES: tuple[str, ...] = tuple(operation.name for operation in OPERATIONS)
#: The vendor's limits (x-throttling-info), the limiter's default profile.
VENDOR_LIMITS: dict[str, Rule] = {op.name: op.limit for op in OPERATIONS if op.limit is not None}
