"""Fixture files: the embedded default set, JSON and YAML, and one-line errors naming file, account, field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mock_omni.domain.fixtures import FixtureError, accounts_from_document, load_files

from .conftest import SEED_KEY

SCENARIO = {"key": "A" * 32, "name": "n", "flow": [{"from": "X", "channel": "SMS"}], "default": True}


def account(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"username": "u", "password": "p", "apiKeys": [], "tokens": [], "scenarios": [SCENARIO]}
    base.update(fields)
    return base


def test_embedded_default_has_the_seed_account_and_default() -> None:
    accounts = {a.username: a for a in load_files([])}
    aladdin = accounts["Aladdin"]
    assert aladdin.password == "open sesame"
    assert aladdin.default_key == SEED_KEY
    assert len(aladdin.scenarios) >= 2


def test_example_fixture_files_load() -> None:
    for path in sorted(Path("fixtures").glob("*.*")):
        assert load_files([path]), path


def test_json_and_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"accounts": [account(username="a", apiKeys=["k1"])]}))
    (tmp_path / "b.yaml").write_text(
        "accounts:\n  - username: b\n    password: p\n    scenarios:\n"
        "      - {name: y, flow: [{channel: VOICE}], default: true}\n"
    )
    accounts = load_files([tmp_path / "a.json", tmp_path / "b.yaml"], key_factory=lambda: "B" * 32)
    assert [a.username for a in accounts] == ["a", "b"]
    assert accounts[1].default_key == "B" * 32  # a key is generated when a fixture gives none


def test_export_round_trips_through_the_loader() -> None:
    from mock_omni.domain.store import Store

    store = Store(load_files([]))
    document = store.export()
    assert Store(accounts_from_document(document, "export")).export() == document


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "f.json: expected an object like {\"accounts\": [...]}"),
        ({"accounts": {}}, "f.json: accounts: must be a list"),
        ({"acounts": []}, "f.json: unknown field 'acounts'"),
        ({"accounts": [7]}, "f.json: accounts[0]: must be an object"),
        ({"accounts": [account(username="")]}, "f.json: accounts[0]: username: must be a non-empty string"),
        ({"accounts": [account(password=None)]}, "f.json: account 'u': password: must be a non-empty string"),
        ({"accounts": [account(pasword="x")]}, "f.json: account 'u': unknown field 'pasword'"),
        ({"accounts": [account(apiKeys="k")]}, "f.json: account 'u': apiKeys: must be a list of strings"),
        ({"accounts": [account(tokens=["t", "t"])]}, "f.json: account 'u': tokens: contains a duplicate"),
        ({"accounts": [account(scenarios=[{**SCENARIO, "key": "abc"}])]},
         "f.json: account 'u': scenarios[0].key: must be 32 uppercase hex characters, got 'abc'"),
        ({"accounts": [account(scenarios=[SCENARIO, {**SCENARIO, "key": "B" * 32}])]},
         "f.json: account 'u': scenarios[1].default: scenarios[0] is already the default; "
         "exactly one scenario must be default"),
        ({"accounts": [account(scenarios=[{**SCENARIO, "default": False}])]},
         "f.json: account 'u': scenarios: none has \"default\": true; exactly one must"),
        ({"accounts": [account(scenarios=[SCENARIO, {**SCENARIO, "default": False}])]},
         f"f.json: account 'u': scenarios[1].key: {'A' * 32} appears twice"),
        ({"accounts": [account(scenarios=[{**SCENARIO, "flow": [{"channel": "PIGEON"}]}])]},
         "f.json: account 'u': scenarios[0].flow[0].channel: Input should be 'SMS'"),
        ({"accounts": [account(scenarios=[{**SCENARIO, "flow": None}])]},
         "f.json: account 'u': scenarios[0].flow: is required"),
        ({"accounts": [account(scenarios=[{**SCENARIO, "colour": "red"}])]},
         "f.json: account 'u': scenarios[0]: unknown field 'colour'"),
        ({"accounts": [account(), account()]}, "f.json: account 'u': username: defined twice"),
        ({"accounts": [account(apiKeys=["k"]), account(username="v", apiKeys=["k"])]},
         "f.json: account 'v': apiKeys: a value is already used by account 'u'"),
    ],
)
def test_bad_documents_name_file_account_and_field(document: object, message: str) -> None:
    with pytest.raises(FixtureError) as info:
        accounts_from_document(document, "f.json")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"accounts": [')
    bad_yaml = tmp_path / "bad.yml"
    bad_yaml.write_text("accounts: [\n")
    with pytest.raises(FixtureError, match=r"^.*missing.json: file not found$"):
        load_files([tmp_path / "missing.json"])
    with pytest.raises(FixtureError, match=r"bad.json: not valid JSON: .* at line 1, column 15$"):
        load_files([bad_json])
    with pytest.raises(FixtureError, match=r"bad.yml: not valid YAML at line \d+"):
        load_files([bad_yaml])


def test_same_username_in_two_files(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps({"accounts": [account()]}))
    with pytest.raises(FixtureError, match=r"b.json: account 'u': username already defined in .*a.json"):
        load_files([tmp_path / "a.json", tmp_path / "b.json"])

