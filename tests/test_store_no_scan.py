"""No vendor operation walks an account's scenarios: the containers here fail on any full walk."""

from __future__ import annotations

from typing import NoReturn

from mock_omni.domain.accounts import Account, Accounts
from mock_omni.domain.scenarios import Scenario, ScenarioIn, Step


class NoWalkDict(dict[str, object]):
    def _walked(self, *_: object) -> NoReturn:
        raise AssertionError("an operation walked every scenario")

    __iter__ = keys = values = items = _walked  # type: ignore[assignment]


class NoWalkList(list[str]):
    def _walked(self, *_: object) -> NoReturn:
        raise AssertionError("an operation walked every scenario")

    __iter__ = __contains__ = __reversed__ = index = count = sort = copy = _walked  # type: ignore[assignment]


SIZE = 1000


def guarded_store() -> Accounts:
    account = Account("alice", "pw")
    for i in range(SIZE):
        account.add(Scenario(f"{i:032X}", f"s{i}", (Step("InfoSMS", "SMS"),)), default=(i == 0))
    store = Accounts([account], key_factory=lambda: "F" * 32)
    guarded = store.account("alice")
    assert guarded is not None
    guarded.scenarios = NoWalkDict(guarded.scenarios)  # type: ignore[assignment]
    guarded.positions = NoWalkDict(guarded.positions)  # type: ignore[assignment]
    guarded.order = NoWalkList(guarded.order)
    return store


def test_the_guards_catch_a_walk() -> None:
    account = guarded_store().account("alice")
    assert account is not None
    for walk in (lambda: list(account.scenarios), lambda: list(account.order), lambda: "x" in account.order):
        try:
            walk()
        except AssertionError:
            continue
        raise AssertionError("guard did not fire")


def test_paging_reading_creating_and_promoting_walk_nothing() -> None:
    store = guarded_store()
    last = f"{SIZE - 1:032X}"
    page = store.list_scenarios("alice", None, 5, 150)
    assert [s["key"] for s in page] == [f"{i:032X}" for i in range(750, 755)]
    assert [s["key"] for s in store.list_scenarios("alice", True, 5, 0)] == [f"{0:032X}"]
    assert [s["key"] for s in store.list_scenarios("alice", False, 2, 0)] == [f"{1:032X}", f"{2:032X}"]
    assert store.get("alice", last)["name"] == f"s{SIZE - 1}"
    promoted = store.update("alice", last, ScenarioIn.model_validate({"default": True, "name": "n"}))
    assert promoted == {"key": last, "name": "n", "flow": [{"from": "InfoSMS", "channel": "SMS"}], "default": True}
    assert store.get("alice", f"{0:032X}")["default"] is False
    created = store.create("alice", ScenarioIn.model_validate({"flow": [{"channel": "SMS"}], "default": True}))
    assert created["key"] == "F" * 32 and created["default"] is True
    assert store.list_scenarios("alice", None, 1, SIZE)[0]["key"] == "F" * 32
