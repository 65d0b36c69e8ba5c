"""``/__admin/delivery-rules``: how sent messages' steps end (first match wins), and the test destinations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from ...domain.delivery import TEST_DESTINATIONS, DeliveryRuleIn
from ...domain.errors import NotFound
from ..admin_models import body_doc, parse_body
from .common import account_query, answer, raw_body

if TYPE_CHECKING:
    from ..admin import Admin


def add_routes(router: APIRouter, admin: Admin) -> None:
    rules = admin.state.delivery_rules

    @router.get("/delivery-rules")
    async def delivery_rules(account: str | None = account_query()) -> Response:
        """The outcome rules in force (first match wins), then the ready-made test destinations."""
        return answer({"rules": [rule.to_dict() for rule in rules.rules(account)],
                       "testDestinations": [test.to_dict() for test in TEST_DESTINATIONS],
                       "defaultDelaySeconds": rules.default_delay})

    @router.post("/delivery-rules", status_code=201, openapi_extra=body_doc(DeliveryRuleIn, "An outcome rule"))
    async def add_delivery_rule(request: Request) -> Response:
        """Decide how matching steps end: DELIVERED (after delaySeconds), UNDELIVERABLE, REJECTED or EXPIRED."""
        rule, _ = parse_body(DeliveryRuleIn, await raw_body(request))
        return answer(admin.add_delivery_rule(rule).to_dict(), 201)

    @router.delete("/delivery-rules")
    async def clear_delivery_rules(account: str | None = account_query()) -> Response:
        """Remove every outcome rule (or one account's); the test destinations stay."""
        return answer({"removed": rules.clear(account)})

    @router.delete("/delivery-rules/{rule_id}")
    async def remove_delivery_rule(rule_id: int = Path(ge=1, le=2**62)) -> Response:
        """Remove one outcome rule."""
        if not rules.remove(rule_id):
            raise NotFound(f"Delivery rule {rule_id} not found.")
        return answer({"removed": rule_id})
