"""Fixture loading shares equal flows and keeps no string of the parsed document."""

from __future__ import annotations

import gc
import json
from pathlib import Path

from mock_omni.domain.fixtures import account_from_data, load_files
from mock_omni.domain.scenarios import StepIn, steps_from_input


def _scenarios(count: int) -> list[dict[str, object]]:
    return [
        {"key": f"{i + 1:032X}", "name": f"Scenario {i}", "default": i == 0,
         "flow": [{"from": "InfoSMS", "channel": "SMS"}, {"from": "Viber sender", "channel": "VIBER"}]}
        for i in range(count)
    ]


def test_equal_flows_share_one_tuple() -> None:
    first = steps_from_input([StepIn(sender="InfoSMS", channel="SMS"), StepIn(channel="EMAIL")])
    second = steps_from_input([StepIn(sender="InfoSMS", channel="SMS"), StepIn(channel="EMAIL")])
    assert first == second and first is second
    assert steps_from_input([StepIn(sender="Other", channel="SMS")]) != first


def test_loaded_scenarios_keep_values_but_not_the_documents_strings() -> None:
    raw = {"username": "u", "password": "p", "scenarios": _scenarios(3)}
    account = account_from_data(raw, "test.json", "accounts[0]")
    for item, key in zip(raw["scenarios"], account.order, strict=True):  # type: ignore[call-overload]
        scenario = account.scenarios[key]
        assert scenario.key == item["key"] and scenario.key is not item["key"]
        assert scenario.name == item["name"] and scenario.name is not item["name"]
    assert account.scenarios[account.order[0]].flow is account.scenarios[account.order[2]].flow


def test_loading_leaves_the_garbage_collector_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text(json.dumps({"accounts": [{"username": "u", "password": "p", "scenarios": _scenarios(5)}]}))
    assert gc.isenabled()
    assert len(load_files([path])[0].scenarios) == 5
    assert gc.isenabled()
    gc.disable()
    try:
        load_files([path])
        assert not gc.isenabled()
    finally:
        gc.enable()
