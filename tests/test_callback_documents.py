"""Callbacks in state documents: exported with their account, read back checked field by field (imports,
fixture files, reset bodies), never sent again, and their ids never repeated."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.domain.callbacks import Attempt, Callback, callback_from_document
from mock_omni.domain.fixtures import Extras, FixtureError, accounts_from_document

from .conftest import ALADDIN_BASIC
from .test_fixtures import account

DELIVERED: dict[str, Any] = {
    "id": 7, "messageId": "M1", "channel": "SMS", "reportStatus": "DELIVERED", "url": "http://127.0.0.1:9/hook",
    "contentType": "application/json", "body": '{"results": []}', "created": 1424709671.833, "state": "delivered",
    "reason": None, "attempts": [{"at": 1424709672.0, "status": 200, "error": None, "milliseconds": 3.5}],
}


def test_a_callback_round_trips_through_its_document() -> None:
    callback = Callback(3, "Aladdin", "http://h/x", "application/xml", b"<a>\xc3\xa9</a>", 1.5, "M", "SMS",
                        "DELIVERED", "failed", [Attempt(2.0, None, "ConnectError", 1.25)], "no 2xx answer")
    assert callback_from_document("Aladdin", json.loads(json.dumps(callback.document()))) == callback


@pytest.mark.parametrize(("change", "problem"), [
    ({"id": 0}, "id: must be an integer from 1 to 9007199254740992"),
    ({"id": 10 ** 4000}, "id: must be an integer from 1 to 9007199254740992"),
    ({"id": True}, "id: must be an integer"),
    ({"id": 1.0}, "id: must be an integer"),
    ({"created": float("nan")}, "created: must be a number from 0 to 9007199254740992"),
    ({"created": float("inf")}, "created: must be a number from 0 to 9007199254740992"),
    ({"created": -10 ** 5000}, "created: must be a number from 0 to 9007199254740992"),
    ({"state": "sent"}, "state: must be one of pending, delivered, failed, dropped"),
    ({"url": ""}, "url: must be a non-empty string"),
    ({"body": 5}, "body: must be a string"),
    ({"attempts": {}}, "attempts: must be a list"),
    ({"attempts": [5]}, "attempts[0]: must be an object"),
    ({"attempts": [{"at": 1, "status": 99, "milliseconds": 1}]}, "attempts[0].status: must be an HTTP status or null"),
    ({"attempts": [{"at": 1, "status": 200}]}, "attempts[0].milliseconds: must be a number"),
    ({"secret": 1}, "secret: unknown field"),
])
def test_a_bad_callback_document_names_its_field(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        callback_from_document("u", DELIVERED | change)
    assert str(caught.value) == problem


def test_a_fixture_error_names_the_account_and_the_callback() -> None:
    document = {"accounts": [account(callbacks=[DELIVERED, DELIVERED | {"state": 1}])]}
    with pytest.raises(FixtureError) as caught:
        accounts_from_document(document, "f.json", extras=None)
    assert str(caught.value) == ("f.json: account 'u': callbacks[1].state: must be one of pending, delivered, "
                                 "failed, dropped")


def test_ids_are_unique_across_the_accounts_of_a_document() -> None:
    document = {"accounts": [account(callbacks=[DELIVERED]), account(username="v", callbacks=[DELIVERED])]}
    with pytest.raises(FixtureError) as caught:
        accounts_from_document(document, "f.json", extras=Extras())
    assert str(caught.value) == ("f.json: account 'v': callbacks[0].id: 7 is already the id of a callback of "
                                 "account 'u'")


def test_a_bad_callback_in_a_fixture_file_stops_start_up_in_one_line(tmp_path: Path) -> None:
    fixture = tmp_path / "team.json"
    fixture.write_text(json.dumps({"accounts": [account(callbacks=[DELIVERED | {"id": -1}])]}))
    result = subprocess.run([sys.executable, "-m", "mock_omni", "serve", "--port", "0", "--fixtures", str(fixture)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode == 2
    assert result.stderr == (f"mock-omni: {fixture}: account 'u': callbacks[0].id: must be an integer from 1 to "
                             "9007199254740992\n")


@pytest.mark.both_stores
def test_fixture_callbacks_are_records_a_reset_returns_to_and_none_is_sent(
        new_app: Callable[..., MockOmni], tmp_path: Path) -> None:
    pending = DELIVERED | {"id": 9, "messageId": "M2", "state": "pending", "attempts": []}
    fixture = tmp_path / "team.json"
    fixture.write_text(json.dumps({"accounts": [account(username="Aladdin", password="open sesame",
                                                        callbacks=[DELIVERED, pending])]}))
    app = new_app(fixtures=[str(fixture)])
    with TestClient(app, headers={"Authorization": ALADDIN_BASIC}) as client:
        first = client.get("/__admin/callbacks").json()
        assert [(c["id"], c["state"], c["reason"]) for c in first["callbacks"]] == [
            (7, "delivered", None), (9, "dropped", "pending when the state was exported")]
        assert first["pending"] == 0
        assert client.delete("/__admin/callbacks").status_code == 200
        assert client.get("/__admin/callbacks").json()["callbacks"] == []
        assert client.post("/__admin/reset").status_code == 200
        assert client.get("/__admin/callbacks").json()["callbacks"] == first["callbacks"]
        exported = client.get("/__admin/state").json()["accounts"][0]["callbacks"]
        assert [c["id"] for c in exported] == [7, 9]
