"""Handlers of the scenario resource: parse (done by the dispatcher), call the store, return the data."""

from __future__ import annotations

from ...domain.backend import Backend
from ...domain.scenarios import ScenarioFields
from ..routing import Call


def list_scenarios(backend: Backend, call: Call) -> dict[str, object]:
    is_default, limit, page = call.query["isDefault"], call.query["limit"], call.query["page"]
    assert (is_default is None or isinstance(is_default, bool)) and isinstance(limit, int) and isinstance(page, int)
    return {"scenarios": backend.accounts.list_scenarios(call.account, is_default, limit, page)}


def get_scenario(backend: Backend, call: Call) -> dict[str, object]:
    return backend.accounts.get(call.account, call.params["scenarioKey"])


def create_scenario(backend: Backend, call: Call) -> dict[str, object]:
    body: ScenarioFields = call.body
    return backend.accounts.create(call.account, body)


def update_scenario(backend: Backend, call: Call) -> dict[str, object]:
    body: ScenarioFields = call.body
    return backend.accounts.update(call.account, call.params["scenarioKey"], body)
