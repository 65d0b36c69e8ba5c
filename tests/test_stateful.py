"""A Hypothesis state machine: random creates, updates, promotions and demotions against a simple model.

After every step, the app and the model agree, and the account has exactly one default.
"""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from starlette.testclient import TestClient

from mock_omni.api.codecs import to_xml
from mock_omni.domain.scenarios import CHANNELS

from .conftest import ALADDIN_BASIC, make_app, store_settings

LIST = "/omni/1/scenarios"
names = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs", "Cc"]), max_size=20)
steps = st.lists(st.fixed_dictionaries({"channel": st.sampled_from(CHANNELS)}, optional={"from": names}),
                 min_size=1, max_size=4)


class ScenarioMachine(RuleBasedStateMachine):
    #: ``memory``, or the URL of a Redis (each run on a store of its own): the machine runs on both stores.
    store = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.app = make_app(rate_limits={}, **store_settings(self.store))
        self.client = TestClient(self.app, headers={"Authorization": ALADDIN_BASIC})
        self.model: dict[str, dict[str, object]] = {
            s["key"]: s for s in self.client.get(LIST).json()["scenarios"]
        }
        self.order = list(self.model)

    def teardown(self) -> None:
        self.client.close()
        self.app.close()

    def _default(self) -> str:
        return next(k for k, s in self.model.items() if s["default"])

    def _set_default(self, key: str) -> None:
        for k, scenario in self.model.items():
            scenario["default"] = k == key

    @rule(name=st.none() | names, flow=steps, default=st.none() | st.booleans(), fmt=st.sampled_from(["json", "xml"]))
    def create(self, name: str | None, flow: list[dict[str, str]], default: bool | None, fmt: str) -> None:
        body: dict[str, object] = {"flow": flow}
        if name is not None:
            body["name"] = name
        if default is not None:
            body["default"] = default
        if fmt == "xml":
            headers = {"Content-Type": "application/xml", "Accept": "application/json"}
            response = self.client.post(LIST, content=to_xml(body, "scenario"), headers=headers)
        else:
            response = self.client.post(LIST, json=body)
        assert response.status_code == 201, response.text
        created = response.json()
        expected = {"key": created["key"], **body, "default": bool(default)}
        expected.pop("default")
        assert {k: v for k, v in created.items() if k != "default"} == expected
        self.model[created["key"]] = created
        self.order.append(created["key"])
        if default:
            self._set_default(created["key"])
        assert created["default"] is bool(default)

    @rule(data=st.data(), name=st.none() | names, flow=st.none() | steps)
    def rename_or_reflow(self, data: st.DataObject, name: str | None, flow: list[dict[str, str]] | None) -> None:
        key = data.draw(st.sampled_from(self.order))
        body: dict[str, object] = {}
        if name is not None:
            body["name"] = name
        if flow is not None:
            body["flow"] = flow
        response = self.client.put(f"{LIST}/{key}", json=body)
        assert response.status_code == 200, response.text
        self.model[key] = {**self.model[key], **body}
        assert response.json() == self.model[key]

    @rule(data=st.data())
    def promote(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.order))
        response = self.client.put(f"{LIST}/{key}", json={"default": True})
        assert response.status_code == 200
        self._set_default(key)

    @rule(data=st.data())
    def demote(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(self.order))
        response = self.client.put(f"{LIST}/{key}", json={"default": False, "name": "demoted?"})
        if key == self._default():
            assert response.status_code == 400
            error = response.json()["requestError"]["serviceException"]
            assert error["text"] == "Exactly one scenario must be default."
        else:
            assert response.status_code == 200
            self.model[key]["name"] = "demoted?"

    @rule(limit=st.integers(0, 5), page=st.integers(0, 5), is_default=st.none() | st.booleans())
    def list_page(self, limit: int, page: int, is_default: bool | None) -> None:
        query = f"limit={limit}&page={page}" + ("" if is_default is None else f"&isDefault={str(is_default).lower()}")
        listed = self.client.get(f"{LIST}?{query}").json()["scenarios"]
        keys = [k for k in self.order if is_default is None or self.model[k]["default"] is is_default]
        assert [s["key"] for s in listed] == keys[page * limit:(page + 1) * limit]

    @invariant()
    def app_matches_model_with_exactly_one_default(self) -> None:
        listed = self.client.get(LIST).json()["scenarios"]
        assert listed == [self.model[k] for k in self.order]
        assert sum(1 for s in listed if s["default"]) == 1


SETTINGS = settings(max_examples=25, stateful_step_count=20, deadline=None)


@pytest.mark.both_stores
def test_scenario_state_machine(store: str) -> None:
    machine = type("ScenarioMachineOn", (ScenarioMachine,), {"store": store})
    run_state_machine_as_test(machine, settings=SETTINGS)
