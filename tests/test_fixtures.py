"""Fixture files: the embedded default set, JSON and YAML, and one-line errors naming file, account, field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mock_omni.domain.fixtures import FixtureError, accounts_from_document, load_files

from .conftest import SEED_KEY, make_app

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
    from mock_omni.domain.accounts import Accounts

    store = Accounts(load_files([]))
    document = store.export()
    assert Accounts(accounts_from_document(document, "export")).export() == document


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
        # Secrets sent whole in a header: a non-ASCII or control character could never arrive as written.
        ({"accounts": [account(apiKeys=["clé-1"])]},
         "f.json: account 'u': apiKeys[0]: must be printable ASCII (HTTP headers carry it byte for byte)"),
        ({"accounts": [account(tokens=["ok", "tökén"])]},
         "f.json: account 'u': tokens[1]: must be printable ASCII"),
        ({"accounts": [account(tokens=["tab\there"])]}, "f.json: account 'u': tokens[0]: must be printable ASCII"),
        ({"accounts": [account(tokens=[" padded"])]}, "f.json: account 'u': tokens[0]: must have no spaces around it"),
        ({"accounts": [account(apiKeys=[""])]}, "f.json: account 'u': apiKeys[0]: must be a non-empty string"),
        # A lone surrogate (JSON "\ud800") is no text: it could never be written out again.
        ({"accounts": [account(username="a\ud800b")]},
         "f.json: accounts[0]: username: must be valid Unicode (it holds a lone surrogate)"),
        ({"accounts": [account(password="\udfff")]},
         "f.json: account 'u': password: must be valid Unicode (it holds a lone surrogate)"),
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


def test_a_missing_file_is_named_by_its_absolute_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FixtureError) as info:
        load_files(["fixtures/missing.json"])
    assert str(info.value) == f"{tmp_path / 'fixtures' / 'missing.json'}: file not found"


def test_non_ascii_is_fine_where_no_header_carries_it_whole() -> None:
    # Basic credentials travel base64-encoded UTF-8: a non-ASCII username or password can match.
    accounts = accounts_from_document({"accounts": [account(username="Ärger", password="pässwörd")]}, "f.json")
    assert (accounts[0].username, accounts[0].password) == ("Ärger", "pässwörd")


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_a_lone_surrogate_in_a_username_stops_start_up(tmp_path: Path, suffix: str) -> None:
    fixture = tmp_path / f"odd{suffix}"
    # Both escapes make a lone surrogate: JSON's \\ud800 and YAML's double-quoted "\\ud800".
    fixture.write_text('{"accounts": [{"username": "odd\\ud800", "password": "p"}]}' if suffix == ".json" else
                       'accounts:\n  - {username: "odd\\ud800", password: p}\n')
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--fixtures", str(fixture)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr == (f"mock-omni: {fixture}: accounts[0]: username: must be valid Unicode "
                             "(it holds a lone surrogate)\n")


def test_same_username_in_two_files(tmp_path: Path) -> None:
    for name in ("a.json", "b.json"):
        (tmp_path / name).write_text(json.dumps({"accounts": [account()]}))
    with pytest.raises(FixtureError, match=r"b.json: account 'u': username already defined in .*a.json"):
        load_files([tmp_path / "a.json", tmp_path / "b.json"])



def test_the_admin_api_refuses_a_non_ascii_api_key_naming_the_field() -> None:
    with TestClient(make_app()) as client:
        response = client.post("/__admin/accounts", json={"username": "new", "apiKeys": ["schlüssel"]})
        assert response.status_code == 400
        errors = response.json()["requestError"]["serviceException"]["validationErrors"]
        assert errors == {"account 'new'": ["apiKeys[0]: must be printable ASCII (HTTP headers carry it byte for "
                                            "byte)"]}
        assert "new" not in {a["username"] for a in client.get("/__admin/accounts").json()["accounts"]}
