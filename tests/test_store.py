"""The backend without HTTP: the four operations, paging and the exactly-one-default rule."""

from __future__ import annotations

import itertools

import pytest

from mock_omni.domain.accounts import EXACTLY_ONE_DEFAULT, Account, Accounts, random_key
from mock_omni.domain.errors import InvalidArgument, NotFound
from mock_omni.domain.scenarios import Scenario, ScenarioIn, Step


def keys() -> itertools.count[int]:
    return itertools.count(1)


def make_store(n: int = 3) -> Accounts:
    counter = keys()
    account = Account("alice", "pw", ["k1"], ["t1"])
    for i in range(n):
        account.add(Scenario(f"{i:032X}", f"s{i}", (Step("InfoSMS", "SMS"),)), default=(i == 0))
    return Accounts([account], key_factory=lambda: f"{next(counter) + 1000:032X}")


def body(**fields: object) -> ScenarioIn:
    return ScenarioIn.model_validate(fields)


def defaults(store: Accounts, user: str = "alice") -> list[object]:
    return [s["key"] for s in store.list_scenarios(user, limit=10_000) if s["default"]]


def test_random_keys_are_32_uppercase_hex_and_differ() -> None:
    a, b = random_key(), random_key()
    assert len(a) == 32 and a == a.upper() and int(a, 16) >= 0
    assert a != b


def test_create_returns_the_full_scenario_with_a_new_key() -> None:
    store = make_store()
    created = store.create("alice", body(name="n", flow=[{"from": "X", "channel": "EMAIL"}]))
    assert created == {"key": f"{1001:032X}", "name": "n", "flow": [{"from": "X", "channel": "EMAIL"}],
                       "default": False}
    assert store.get("alice", created["key"]) == created  # type: ignore[arg-type]


def test_first_scenario_of_an_account_becomes_default() -> None:
    store = Accounts([Account("bob", "pw")], key_factory=lambda: "A" * 32)
    created = store.create("bob", body(flow=[{"channel": "SMS"}], default=False))
    assert created["default"] is True


def test_create_with_default_true_takes_the_flag_from_the_previous_default() -> None:
    store = make_store()
    created = store.create("alice", body(flow=[{"channel": "SMS"}], default=True))
    assert defaults(store) == [created["key"]]


def test_create_without_flow_is_invalid_and_changes_nothing() -> None:
    store = make_store()
    before = store.export()
    with pytest.raises(InvalidArgument) as info:
        store.create("alice", body(name="x"))
    assert info.value.validation_errors == {"flow": ["must not be null"]}
    assert store.export() == before


def test_update_is_partial() -> None:
    store = make_store()
    key = f"{1:032X}"
    updated = store.update("alice", key, body(name="renamed"))
    assert updated == {"key": key, "name": "renamed", "flow": [{"from": "InfoSMS", "channel": "SMS"}],
                       "default": False}
    updated = store.update("alice", key, body(flow=[{"channel": "VOICE"}]))
    assert updated["name"] == "renamed" and updated["flow"] == [{"channel": "VOICE"}]


def test_promoting_moves_the_default() -> None:
    store = make_store()
    key = f"{2:032X}"
    assert store.update("alice", key, body(default=True))["default"] is True
    assert defaults(store) == [key]


def test_demoting_the_default_is_refused_and_nothing_changes() -> None:
    store = make_store()
    before = store.export()
    with pytest.raises(InvalidArgument) as info:
        store.update("alice", f"{0:032X}", body(name="changed", default=False))
    assert info.value.text == EXACTLY_ONE_DEFAULT
    assert store.export() == before


def test_default_false_on_a_non_default_changes_nothing_about_defaults() -> None:
    store = make_store()
    store.update("alice", f"{1:032X}", body(default=False))
    assert defaults(store) == [f"{0:032X}"]


def test_unknown_key_and_unknown_account_are_not_found() -> None:
    store = make_store()
    with pytest.raises(NotFound):
        store.get("alice", "F" * 32)
    with pytest.raises(NotFound):
        store.update("alice", "F" * 32, body(name="x"))
    with pytest.raises(NotFound):
        store.get("nobody", f"{0:032X}")


@pytest.mark.parametrize(
    ("is_default", "limit", "page", "expected"),
    [
        (None, 100, 0, [0, 1, 2, 3, 4]),
        (None, 2, 0, [0, 1]),
        (None, 2, 2, [4]),
        (None, 2, 3, []),
        (None, 0, 0, []),
        (True, 100, 0, [2]),
        (True, 100, 1, []),
        (True, 0, 0, []),
        (False, 100, 0, [0, 1, 3, 4]),
        (False, 1, 0, [0]),
        (False, 2, 1, [3, 4]),
        (False, 3, 0, [0, 1, 3]),
        (False, 3, 1, [4]),
        (False, 1, 2, [3]),
    ],
)
def test_list_filters_and_pages_in_creation_order(
    is_default: bool | None, limit: int, page: int, expected: list[int]
) -> None:
    store = make_store(5)
    store.update("alice", f"{2:032X}", body(default=True))
    listed = store.list_scenarios("alice", is_default, limit, page)
    assert [s["key"] for s in listed] == [f"{i:032X}" for i in expected]


def test_export_and_snapshot_are_independent_copies() -> None:
    store = make_store()
    snapshot = store.snapshot()
    store.update("alice", f"{1:032X}", body(default=True))
    assert snapshot[0].default_key == f"{0:032X}"
    store.replace(snapshot)
    assert defaults(store) == [f"{0:032X}"]


def test_credentials_are_indexed_by_digest() -> None:
    store = make_store()
    assert store.account_for_api_key("k1").username == "alice"  # type: ignore[union-attr]
    assert store.account_for_token("t1").username == "alice"  # type: ignore[union-attr]
    assert store.account_for_api_key("t1") is None


def test_add_account_refuses_a_taken_username_or_secret_and_changes_nothing() -> None:
    store = make_store()
    revision = store.revision
    with pytest.raises(InvalidArgument):
        store.add_account(Account("alice", "other"))
    with pytest.raises(InvalidArgument):
        store.add_account(Account("carol", "pw", ["k1"]))
    assert store.revision == revision and store.usernames() == ["alice"]
    store.add_account(Account("carol", "pw", ["k2"]))
    assert store.account_for_api_key("k2").username == "carol"  # type: ignore[union-attr]
    store.remove_account("carol")
    assert store.account_for_api_key("k2") is None
