"""The route table: every vendor operation, one entry each (moto's ``urls.py``).

Routing and the 405 ``Allow`` header, the rate-limit operation names and the vendor's
limits, the fast path's eligibility, XML element names, scopes and the vendor part of
/openapi.json are all derived from ``OPERATIONS``. Adding an operation is adding an
entry here and its handler in the resource's module.
"""

from __future__ import annotations

from ..domain.scenarios import ScenarioIn
from . import examples, scenarios
from .ratelimit import Rule
from .routing import Operation, QueryParam, Router
from .schemas import ScenarioOut, ScenariosResponse

SCENARIOS = "OMNI scenarios (vendor API)"
#: The vendor's x-scopes of every scenario call.
MANAGE = ("omni-failover:manage",)
#: Documented on every OMNI call (the vendor's OpenAPI): 400, 401, 403, 409 and 500.
COMMON = (400, 401, 403, 409, 500)
SCENARIO_XML = {"flow": "step"}

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
        examples=examples.SCENARIO_LIST,
    ),
    Operation(
        "create", "POST", "/omni/1/scenarios", scenarios.create_scenario,
        "create-omni-failover-scenario", "Create new OMNI failover scenario", SCENARIOS,
        description="Creates a scenario with a new key. `flow` is required; the account's first scenario "
                    "becomes its default. Limited to 20 requests per 10 minutes.",
        status=201, scopes=MANAGE, limit=Rule(20, 600.0), errors=(*COMMON, 429),
        body=ScenarioIn, response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO,
    ),
    Operation(
        "get", "GET", "/omni/1/scenarios/{scenarioKey}", scenarios.get_scenario,
        "get-omni-failover-scenario", "Get specific OMNI failover scenario", SCENARIOS,
        scopes=MANAGE, errors=(*COMMON, 404), response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO,
    ),
    Operation(
        "update", "PUT", "/omni/1/scenarios/{scenarioKey}", scenarios.update_scenario,
        "update-omni-failover-scenario", "Update OMNI failover scenario", SCENARIOS,
        description="Partial update: fields left out keep their value. `default: true` makes the scenario the "
                    "account's default; `default: false` on the default is refused with `Exactly one scenario "
                    "must be default.`. Limited to 40 requests per 10 minutes.",
        scopes=MANAGE, limit=Rule(40, 600.0), errors=(*COMMON, 404, 429),
        body=ScenarioIn, response=ScenarioOut, xml_root="scenario", xml_items=SCENARIO_XML,
        examples=examples.SCENARIO,
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
