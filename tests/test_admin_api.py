"""The admin API through HTTP (in-process): reset, journal, faults, state, accounts, snapshots, limits, token."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator

import pytest
from defusedxml.ElementTree import fromstring
from starlette.testclient import TestClient

from mock_omni import MockOmni
from mock_omni.api.routes import OPERATION_NAMES
from mock_omni.testing import admin_models
from mock_omni.testing.admin_client import AdminClient, AdminError
from mock_omni.testing.faults import ConnectionDropped

from .conftest import ALADDIN_BASIC, GENIE_BASIC, GENIE_KEY, OTHER_KEY, SEED_KEY

LIST = "/omni/1/scenarios"
SEED = f"{LIST}/{SEED_KEY}"
NEW = {"name": "New", "flow": [{"from": "InfoSMS", "channel": "SMS"}]}


pytestmark = pytest.mark.both_stores


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    details: dict[str, object] = body["requestError"]["serviceException"]
    return details


def keys(client: TestClient, auth: str = ALADDIN_BASIC) -> list[str]:
    return [s["key"] for s in client.get(LIST, headers={"Authorization": auth}).json()["scenarios"]]


def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/__admin/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


# --- reset --------------------------------------------------------------------------------

def test_reset_returns_to_fixtures_and_clears_journal_faults_and_buckets(client: TestClient) -> None:
    client.put("/__admin/rate-limits", json={"limits": {"create": "1/10m"}})
    assert client.post(LIST, json=NEW).status_code == 201
    assert client.post(LIST, json=NEW).status_code == 429
    client.post("/__admin/faults", json={"status": 500, "path": "/nowhere"})
    assert client.post("/__admin/accounts", json={"username": "temp"}).status_code == 201

    assert client.post("/__admin/reset").status_code == 200

    assert client.get("/__admin/requests").json()["requests"] == []
    assert keys(client) == [SEED_KEY, OTHER_KEY, "F9E67B67F89D2FD78611C910D7D40696"]
    assert client.get("/__admin/faults").json()["faults"] == []
    assert "temp" not in [a["username"] for a in client.get("/__admin/accounts").json()["accounts"]]
    assert client.get("/__admin/rate-limits").json()["rules"] == {
        "create": "20/10m", "update": "40/10m", "logs": "120/1m"}
    assert client.post(LIST, json=NEW).status_code == 201


def test_reset_of_one_account_leaves_the_others(client: TestClient) -> None:
    aladdin_new = client.post(LIST, json=NEW).json()["key"]
    genie_new = client.post(LIST, json=NEW, headers={"Authorization": GENIE_BASIC}).json()["key"]

    assert client.post("/__admin/reset", params={"account": "Aladdin"}).status_code == 200

    assert {e["account"] for e in client.get("/__admin/requests").json()["requests"]} == {"Genie"}
    assert aladdin_new not in keys(client)
    assert genie_new in keys(client, GENIE_BASIC)


def test_reset_of_an_unknown_account_is_404(client: TestClient) -> None:
    response = client.post("/__admin/reset", params={"account": "Nobody"})
    assert response.status_code == 404
    assert error_of(response)["messageId"] == "NOT_FOUND"


# --- journal --------------------------------------------------------------------------------

def test_journal_filters_newest_last_and_masks_credentials(client: TestClient) -> None:
    client.get(SEED)
    client.put(SEED, json={"name": "x"})
    client.get(f"{LIST}/{'0' * 32}")
    client.get(LIST, headers={"Authorization": GENIE_BASIC})

    everything = client.get("/__admin/requests").json()
    assert [(e["method"], e["status"]) for e in everything["requests"]] == [
        ("GET", 200), ("PUT", 200), ("GET", 404), ("GET", 200)]
    assert everything["requests"][1]["body"] == '{"name":"x"}'
    assert everything["requests"][0]["headers"]["authorization"] == "Basic ***"

    def found(**params: object) -> list[tuple[str, str, int]]:
        entries = client.get("/__admin/requests", params=params).json()["requests"]
        return [(e["method"], e["path"], e["status"]) for e in entries]

    assert found(method="put") == [("PUT", SEED, 200)]
    assert found(status=404) == [("GET", f"{LIST}/{'0' * 32}", 404)]
    assert found(account="Genie") == [("GET", LIST, 200)]
    assert found(path=SEED) == [("GET", SEED, 200), ("PUT", SEED, 200)]
    assert len(found(path=f"{LIST}/*")) == 3


def test_journal_delete_all_or_one_account(client: TestClient) -> None:
    client.get(LIST)
    client.get(LIST, headers={"Authorization": GENIE_BASIC})
    client.delete("/__admin/requests", params={"account": "Genie"})
    assert [e["account"] for e in client.get("/__admin/requests").json()["requests"]] == ["Aladdin"]
    client.delete("/__admin/requests")
    assert client.get("/__admin/requests").json()["requests"] == []


def test_journal_is_bounded_and_keeps_the_newest(new_app: Callable[..., MockOmni]) -> None:
    with TestClient(new_app(journal_limit=3), headers={"Authorization": ALADDIN_BASIC}) as client:
        for page in range(5):
            client.get(LIST, params={"page": page})
        journal = client.get("/__admin/requests").json()
    assert [e["query"] for e in journal["requests"]] == ["page=2", "page=3", "page=4"]
    assert journal["recorded"] == 5
    assert journal["limit"] == 3


# --- faults ---------------------------------------------------------------------------------

def test_fault_by_method_path_and_count(client: TestClient) -> None:
    rule = client.post("/__admin/faults", json={"method": "PUT", "path": f"{LIST}/*", "status": 500, "times": 2})
    assert rule.status_code == 201

    assert client.get(SEED).status_code == 200  # other method
    assert client.post(LIST, json=NEW).status_code == 201  # other path
    first = client.put(SEED, json={"name": "a"})
    assert first.status_code == 500
    assert error_of(first) == {"messageId": "GENERAL_ERROR", "text": "Something went wrong. Please contact support."}
    assert client.put(SEED, json={"name": "b"}).status_code == 500
    assert client.put(SEED, json={"name": "c"}).status_code == 200  # used up
    assert client.get(SEED).json()["name"] == "c"

    (listed,) = client.get("/__admin/faults").json()["faults"]
    assert (listed["hits"], listed["remaining"]) == (2, 0)


def test_fault_until_cleared_for_one_account_in_the_negotiated_format(client: TestClient) -> None:
    client.post("/__admin/faults", json={"status": 503, "account": "Genie", "times": None, "message": "Down"})
    for _ in range(3):
        response = client.get(LIST, headers={"Authorization": GENIE_BASIC, "Accept": "application/xml"})
        assert response.status_code == 503
        root = fromstring(response.text)
        assert root.tag == "ApiException"
        assert root.findtext("requestError/serviceException/text") == "Down"
    assert client.get(LIST).status_code == 200  # Aladdin is untouched
    assert client.delete("/__admin/faults").json() == {"removed": 1}
    assert client.get(LIST, headers={"Authorization": GENIE_BASIC}).status_code == 200


def test_fault_429_looks_like_the_limiter(client: TestClient) -> None:
    client.post("/__admin/faults", json={"status": 429})
    response = client.get(LIST)
    assert response.status_code == 429
    assert error_of(response) == {"messageId": "TOO_MANY_REQUESTS", "text": "Too many requests"}
    assert "retry-after" not in response.headers


def test_fault_delay_lets_the_request_through(client: TestClient) -> None:
    client.post("/__admin/faults", json={"delayMs": 1, "path": SEED, "times": 1})
    assert client.put(SEED, json={"name": "late"}).json()["name"] == "late"
    (rule,) = client.get("/__admin/faults").json()["faults"]
    assert (rule["delayMs"], rule["hits"], rule["remaining"]) == (1, 1, 0)


def test_fault_does_not_hide_a_401(client: TestClient) -> None:
    client.post("/__admin/faults", json={"status": 500})
    assert client.get(LIST, headers={"Authorization": "Basic bm86bm8="}).status_code == 401


def test_fault_drop_in_process_raises_in_the_client_and_is_journaled(client: TestClient) -> None:
    client.post("/__admin/faults", json={"drop": True, "times": 1})
    with pytest.raises(ConnectionDropped):
        client.get(LIST)
    assert client.get(LIST).status_code == 200
    statuses = [e["status"] for e in client.get("/__admin/requests").json()["requests"]]
    assert statuses == [0, 200]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"status": 418}, "status"),
        ({"status": "500"}, "status"),
        ({"method": "FETCH", "status": 500}, "method"),
        ({"status": 500, "times": 0}, "times"),
        ({"delayMs": -1}, "delayMs"),
        ({"delayMs": 600_000}, "delayMs"),
        ({"status": 500, "drop": True}, "drop"),
        ({"path": ""}, "path"),
        ({}, "status"),
        ({"status": 500, "when": "now"}, "when"),
    ],
)
def test_bad_fault_is_400_naming_the_field(client: TestClient, rule: dict[str, object], field: str) -> None:
    response = client.post("/__admin/faults", json=rule)
    assert response.status_code == 400
    assert field in error_of(response)["validationErrors"]  # type: ignore[operator]
    assert client.get("/__admin/faults").json()["faults"] == []


# --- state ----------------------------------------------------------------------------------

def test_state_round_trip(client: TestClient) -> None:
    created = client.post(LIST, json=NEW).json()
    client.put(f"{LIST}/{created['key']}", json={"default": True})
    exported = client.get("/__admin/state").json()

    client.post("/__admin/reset")
    assert created["key"] not in keys(client)
    assert client.put("/__admin/state", json=exported).json() == {"accounts": 2}

    assert client.get("/__admin/state").json() == exported
    assert client.get(f"{LIST}/{created['key']}").json()["default"] is True


def test_state_of_one_account(client: TestClient) -> None:
    document = client.get("/__admin/state", params={"account": "Genie"}).json()
    assert [a["username"] for a in document["accounts"]] == ["Genie"]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda d: d["accounts"][0]["scenarios"][1].update(default=True), "scenarios[1].default"),
        (lambda d: d["accounts"][0]["scenarios"][0].update(key="lowercase"), "scenarios[0].key"),
        (lambda d: d["accounts"][0]["scenarios"][0]["flow"][0].update(channel="PIGEON"), "channel"),
        (lambda d: d["accounts"][1].update(username="Aladdin"), "username"),
        (lambda d: d["accounts"][0].pop("password"), "password"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_bad_state_is_400_naming_the_field_and_changes_nothing(client: TestClient, mutate, named: str) -> None:  # type: ignore[no-untyped-def]
    client.post(LIST, json=NEW)
    before = client.get("/__admin/state").json()
    document = copy.deepcopy(before)
    mutate(document)

    response = client.put("/__admin/state", json=document)

    assert response.status_code == 400
    error = error_of(response)
    assert error["messageId"] == "INVALID_ARGUMENT"
    assert named in str(error["text"]) + str(error["validationErrors"])
    assert client.get("/__admin/state").json() == before


@pytest.mark.parametrize("body", [b"{not json", b"[]", b""])
def test_state_body_that_is_not_a_document_is_400(client: TestClient, body: bytes) -> None:
    before = client.get("/__admin/state").json()
    response = client.put("/__admin/state", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert client.get("/__admin/state").json() == before


def test_admin_bodies_are_bounded(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_models, "ADMIN_MAX_BODY", 100)
    response = client.put("/__admin/state", json={"accounts": [], "padding": "x" * 200})
    assert response.status_code == 413
    assert error_of(response)["messageId"] == "PAYLOAD_TOO_LARGE"


# --- accounts -------------------------------------------------------------------------------

def test_new_account_returns_working_credentials_and_is_isolated(client: TestClient) -> None:
    response = client.post("/__admin/accounts", json={"seedAccount": "Aladdin"})
    assert response.status_code == 201
    account = response.json()
    for header in account["authorization"].values():
        assert keys(client, header) == keys(client)  # same seed scenarios, all four schemes work
    new = client.post(LIST, json=NEW, headers={"Authorization": account["authorization"]["basic"]}).json()
    assert new["key"] not in keys(client)

    client.post("/__admin/reset", params={"account": account["username"]})
    assert new["key"] not in keys(client, account["authorization"]["basic"])
    assert len(keys(client, account["authorization"]["bearer"])) == 3


def test_new_account_empty_or_from_a_fixture_account_document(client: TestClient) -> None:
    empty = client.post("/__admin/accounts").json()
    assert keys(client, empty["authorization"]["basic"]) == []
    seeded = client.post("/__admin/accounts", json={
        "username": "suite-1", "password": "pw",
        "scenarios": [{"key": SEED_KEY, "flow": [{"channel": "SMS"}], "default": True}],
    }).json()
    assert seeded["username"] == "suite-1"
    assert keys(client, seeded["authorization"]["basic"]) == [SEED_KEY]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "Aladdin"}, "username"),
        ({"seedAccount": "Nobody"}, "seedAccount"),
        ({"scenarios": [{"flow": []}]}, "flow"),
        ({"apiKeys": ["003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9"]}, "apiKeys"),
    ],
)
def test_bad_new_account_is_400_and_adds_nothing(client: TestClient, body: dict[str, object], field: str) -> None:
    before = client.get("/__admin/accounts").json()
    response = client.post("/__admin/accounts", json=body)
    assert response.status_code == 400
    assert field in str(error_of(response))
    assert client.get("/__admin/accounts").json() == before


def test_remove_account_forgets_its_credentials_journal_and_faults(client: TestClient) -> None:
    account = client.post("/__admin/accounts").json()
    auth = account["authorization"]["basic"]
    client.get(LIST, headers={"Authorization": auth})
    client.post("/__admin/faults", json={"status": 500, "account": account["username"]})

    assert client.delete(f"/__admin/accounts/{account['username']}").status_code == 200

    assert client.get(LIST, headers={"Authorization": auth}).status_code == 401
    assert client.get("/__admin/requests", params={"account": account["username"]}).json()["requests"] == []
    assert client.get("/__admin/faults").json()["faults"] == []
    assert client.delete(f"/__admin/accounts/{account['username']}").status_code == 404


# --- snapshots ------------------------------------------------------------------------------

def test_snapshot_save_restore_and_later_changes_do_not_leak(client: TestClient) -> None:
    built = client.post(LIST, json=NEW).json()["key"]
    assert client.post("/__admin/snapshots/built").status_code == 201
    later = client.post(LIST, json=NEW).json()["key"]
    client.put(f"{LIST}/{built}", json={"name": "renamed"})

    assert client.post("/__admin/snapshots/built/restore").status_code == 200
    assert later not in keys(client)
    assert client.get(f"{LIST}/{built}").json()["name"] == "New"

    client.put(f"{LIST}/{built}", json={"name": "again"})
    client.post("/__admin/snapshots/built/restore")
    assert client.get(f"{LIST}/{built}").json()["name"] == "New"
    assert [s["name"] for s in client.get("/__admin/snapshots").json()["snapshots"]] == ["built"]
    assert client.delete("/__admin/snapshots/built").status_code == 200
    assert client.post("/__admin/snapshots/built/restore").status_code == 404


def test_snapshot_of_one_account_restores_only_it(client: TestClient) -> None:
    client.post("/__admin/snapshots/genie", params={"account": "Genie"})
    genie_new = client.post(LIST, json=NEW, headers={"Authorization": GENIE_BASIC}).json()["key"]
    aladdin_new = client.post(LIST, json=NEW).json()["key"]
    assert client.post("/__admin/snapshots/genie/restore").status_code == 404  # Genie's names are Genie's
    client.post("/__admin/snapshots/genie/restore", params={"account": "Genie"})
    assert genie_new not in keys(client, GENIE_BASIC)
    assert aladdin_new in keys(client)


def test_bad_snapshot_name_is_400(client: TestClient) -> None:
    assert client.post("/__admin/snapshots/a%20b").status_code == 400


# --- rate limits and clock ------------------------------------------------------------------

def test_rate_limit_at_run_time_and_recovery_by_advancing_the_clock(client: TestClient) -> None:
    response = client.put("/__admin/rate-limits", json={"limits": {"update": "2/1m"}, "account": "Aladdin"})
    assert response.status_code == 200
    assert [client.put(SEED, json={"name": str(i)}).status_code for i in range(3)] == [200, 200, 429]
    genie = client.put(f"{LIST}/{GENIE_KEY}", json={"name": "g"}, headers={"Authorization": GENIE_BASIC})
    assert genie.status_code == 200  # the limit was Aladdin's only

    assert client.post("/__admin/clock/advance", json={"seconds": 30}).json() == {"offsetSeconds": 30.0}
    assert client.put(SEED, json={"name": "after 30 s"}).status_code == 200
    assert client.put(SEED, json={"name": "again"}).status_code == 429


def test_rate_limits_off_and_back(client: TestClient) -> None:
    client.put("/__admin/rate-limits", json={"limits": "off"})
    assert all(client.post(LIST, json=NEW).status_code == 201 for _ in range(25))
    client.delete("/__admin/rate-limits")
    assert client.get("/__admin/rate-limits").json()["rules"] == {
        "create": "20/10m", "update": "40/10m", "logs": "120/1m"}


@pytest.mark.parametrize(
    "body", [{"limits": {"update": "5 per minute"}}, {"limits": {"delete": "1/1m"}}, {"limits": 5}, {},
             {"limits": {"update": "0/1m"}}, {"limits": {"logs": "5/0.0s"}}],
)
def test_bad_rate_limit_is_400_and_changes_nothing(client: TestClient, body: dict[str, object]) -> None:
    before = client.get("/__admin/rate-limits").json()
    assert client.put("/__admin/rate-limits", json=body).status_code == 400
    assert client.get("/__admin/rate-limits").json() == before


@pytest.mark.parametrize("seconds", [-1, "10", True, None])
def test_clock_only_moves_forward_by_a_number(client: TestClient, seconds: object) -> None:
    assert client.post("/__admin/clock/advance", json={"seconds": seconds}).status_code == 400
    assert client.get("/__admin/clock").json() == {"offsetSeconds": 0.0}


@pytest.mark.parametrize("account", [None, "Aladdin"])
def test_clock_goes_at_most_a_hundred_years_ahead_in_all(client: TestClient, account: str | None) -> None:
    """Each advance is at most ten years, but 800 of them reached the year 10000: every read of messages was a 500."""
    ten_years = 10 * 365 * 86400
    for _ in range(10):
        assert client.post("/__admin/clock/advance", json={"seconds": ten_years, "account": account}).status_code == 200
    refused = client.post("/__admin/clock/advance", json={"seconds": 1, "account": account})
    assert refused.status_code == 400
    assert "seconds" in refused.json()["requestError"]["serviceException"]["validationErrors"]
    scope = {} if account is None else {"account": account}
    assert client.get("/__admin/clock", params=scope).json() == {"offsetSeconds": 10.0 * ten_years}
    sent = {"destinations": [{"to": {"phoneNumber": "41793026727"}}], "sms": {"text": "a century on"},
            "viber": {"text": "a century on"}}
    assert client.post("/omni/1/advanced", json=sent, headers={"Authorization": ALADDIN_BASIC}).status_code == 200
    (log,) = client.get("/omni/1/logs", headers={"Authorization": ALADDIN_BASIC}).json()["results"]
    assert log["sentAt"].startswith("21")  # a hundred years on
    assert client.post("/__admin/reset").status_code == 200
    assert client.post("/__admin/clock/advance", json={"seconds": 1, "account": account}).status_code == 200


# --- token and OpenAPI ----------------------------------------------------------------------

@pytest.fixture
def guarded(new_app: Callable[..., MockOmni]) -> Iterator[TestClient]:
    with TestClient(new_app(admin_token="s3cret")) as client:
        yield client


@pytest.mark.parametrize("token", [None, "wrong", "s3cret "])
def test_admin_token_required_when_set(guarded: TestClient, token: str | None) -> None:
    headers = {"X-Admin-Token": token} if token is not None else {}
    response = guarded.post("/__admin/reset", headers=headers)
    assert response.status_code == 401
    assert error_of(response)["messageId"] == "UNAUTHORIZED"


def test_admin_token_accepted_and_health_stays_open(guarded: TestClient) -> None:
    assert guarded.post("/__admin/reset", headers={"X-Admin-Token": "s3cret"}).status_code == 200
    assert guarded.get("/__admin/health").status_code == 200


def test_admin_routes_are_tagged_apart_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    admin_paths = [path for path in paths if path.startswith("/__admin")]
    assert "/__admin/faults" in admin_paths and "/__admin/state" in admin_paths
    for path in admin_paths:
        for operation in paths[path].values():
            assert operation["tags"] == ["admin"]
    for path in (p for p in paths if p.startswith("/omni")):
        for operation in paths[path].values():
            assert "admin" not in operation.get("tags", [])


def test_unknown_admin_path_and_method_use_the_envelope(client: TestClient) -> None:
    assert error_of(client.get("/__admin/nothing"))["messageId"] == "NOT_FOUND"
    response = client.get("/__admin/reset")
    assert response.status_code == 405
    assert error_of(response)["messageId"] == "METHOD_NOT_ALLOWED"


def test_admin_client_quotes_names_in_paths(client: TestClient) -> None:
    admin = AdminClient(str(client.base_url), http=client)
    credentials = admin.new_account("team/a b", "pw")
    assert client.get(LIST, headers={"Authorization": credentials.basic}).json() == {"scenarios": []}
    admin.remove_account("team/a b")
    assert "team/a b" not in [account["username"] for account in admin.accounts()]


# --- bodies: validated by the models that are also their published schemas ------------------

BIG = "9" * 5000


@pytest.mark.parametrize(
    ("call", "body", "field"),
    [
        ("/__admin/faults", f'{{"status": {BIG}}}', "status"),
        ("/__admin/faults", f'{{"status": 500, "times": {BIG}}}', "times"),
        ("/__admin/faults", f'{{"delayMs": -{BIG}}}', "delayMs"),
        ("/__admin/faults", '{"delayMs": 1e999}', "delayMs"),
        ("/__admin/clock/advance", f'{{"seconds": {BIG}}}', "seconds"),
        ("/__admin/clock/advance", f'{{"seconds": {BIG}.5}}', "seconds"),
    ],
)
def test_integers_with_thousands_of_digits_are_400_naming_the_field(
    client: TestClient, call: str, body: str, field: str,
) -> None:
    response = client.post(call, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert field in error_of(response)["validationErrors"]  # type: ignore[operator]


def test_a_rate_limit_count_with_thousands_of_digits_is_400_naming_the_operation(client: TestClient) -> None:
    for spec in (f"{BIG}/1m", f"1/{BIG}s"):
        response = client.put("/__admin/rate-limits", json={"limits": {"update": spec}})
        assert response.status_code == 400
        assert list(error_of(response)["validationErrors"]) == ["limits.update"]  # type: ignore[call-overload]
    response = client.get("/__admin/requests", params={"status": BIG})
    assert response.status_code == 400 and "status" in error_of(response)["validationErrors"]  # type: ignore[operator]


def test_an_unknown_operation_name_stores_no_phantom_rule(client: TestClient) -> None:
    before = client.get("/__admin/rate-limits").json()
    response = client.put("/__admin/rate-limits", json={"limits": {"update ": "1/1h"}})
    assert response.status_code == 400
    assert error_of(response)["validationErrors"] == {"limits.update ": ["unknown field"]}
    assert client.get("/__admin/rate-limits").json() == before


@pytest.mark.parametrize("path", ["omni/1/scenarios/*", "omni/1/scenarios", "?omni*"])
def test_a_fault_path_without_its_leading_slash_is_400(client: TestClient, path: str) -> None:
    response = client.post("/__admin/faults", json={"status": 500, "path": path})
    assert response.status_code == 400
    assert list(error_of(response)["validationErrors"]) == ["path"]  # type: ignore[call-overload]
    assert client.get("/__admin/faults").json()["faults"] == []


@pytest.mark.parametrize("path", ["*", "*/scenarios/*", f"{LIST}/*"])
def test_fault_paths_that_can_match_are_taken(client: TestClient, path: str) -> None:
    assert client.post("/__admin/faults", json={"status": 503, "path": path, "times": 1}).status_code == 201
    assert client.get(SEED).status_code == 503


@pytest.mark.parametrize(
    ("method", "call", "body"),
    [
        ("POST", "/__admin/faults", {"status": 500, "account": "victim"}),
        ("PUT", "/__admin/rate-limits", {"limits": "off", "account": "victim"}),
        ("POST", "/__admin/clock/advance", {"seconds": 1, "account": "victim"}),
    ],
)
def test_naming_an_unknown_account_is_404_naming_the_field(
    client: TestClient, method: str, call: str, body: dict[str, object],
) -> None:
    response = client.request(method, call, json=body)
    assert response.status_code == 404
    assert error_of(response)["validationErrors"] == {"account": ["no account 'victim'"]}
    assert client.get("/__admin/faults").json()["faults"] == []


def test_fault_method_is_case_insensitive_like_the_journal_filter(client: TestClient) -> None:
    rule = client.post("/__admin/faults", json={"status": 503, "method": "put", "times": 1}).json()
    assert rule["method"] == "PUT"
    assert client.put(SEED, json={"name": "x"}).status_code == 503
    assert [e["status"] for e in client.get("/__admin/requests", params={"method": "put"}).json()["requests"]] == [503]


def test_body_errors_are_helpful(client: TestClient) -> None:
    def errors(call: str, body: object, method: str = "POST") -> object:
        return error_of(client.request(method, call, json=body))["validationErrors"]

    assert errors("/__admin/faults", {"status": 500, "when": "now"}) == {"when": ["unknown field"]}
    assert errors("/__admin/accounts", {"username": "a:b"}) == {"username": ["must not contain ':'"]}
    assert errors("/__admin/rate-limits", {"limits": {"update": "5/1x"}}, "PUT") == {
        "limits.update": ["COUNT/DURATION such as 5/1m (whole numbers, below a billion; ms, s, m, h or d), or off"]}
    assert errors("/__admin/state", {"accounts": [{"username": "u"}]}, "PUT") == {
        "accounts[0].password": ["Field required"]}
    response = client.post("/__admin/faults", content=b"[1]", headers={"Content-Type": "application/json"})
    assert error_of(response) == {"messageId": "BAD_REQUEST", "text": "The body must be a JSON object."}


def test_admin_body_schemas_are_generated_from_the_models(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    published = {
        ("/__admin/faults", "post"): admin_models.FaultIn,
        ("/__admin/state", "put"): admin_models.StateIn,
        ("/__admin/accounts", "post"): admin_models.NewAccountIn,
        ("/__admin/rate-limits", "put"): admin_models.LimitsIn,
        ("/__admin/clock/advance", "post"): admin_models.ClockIn,
        ("/__admin/reset", "post"): admin_models.ResetIn,
    }
    def without_none(node: object) -> object:  # FastAPI drops null-valued keys (``"default": null``)
        if isinstance(node, dict):
            return {key: without_none(value) for key, value in node.items() if value is not None}
        return [without_none(item) for item in node] if isinstance(node, list) else node

    for (path, method), model in published.items():
        schema = paths[path][method]["requestBody"]["content"]["application/json"]["schema"]
        generated = admin_models.body_doc(model, "")["requestBody"]["content"]["application/json"]["schema"]
        assert schema == without_none(generated)
        assert "$ref" not in str(schema)
    limits = paths["/__admin/rate-limits"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(limits["properties"]["limits"]["oneOf"][1]["properties"]) == set(OPERATION_NAMES)
    assert {"list", "get", "create", "update"} <= set(OPERATION_NAMES)


def test_an_empty_snapshot_name_is_400_naming_it(client: TestClient) -> None:
    admin = AdminClient(str(client.base_url), http=client)
    for call in (lambda: admin.snapshot(""), lambda: admin.restore(""), lambda: admin.delete_snapshot("")):
        with pytest.raises(AdminError) as caught:
            call()
        assert caught.value.status == 400 and caught.value.validation_errors == {"name": ["must not be empty"]}


def test_admin_client_raises_admin_error_for_an_answer_that_is_not_json() -> None:
    class Plain:
        status_code = 502
        text = "<html>Bad gateway</html>"

        def json(self) -> object:
            raise ValueError("not JSON")

    class Http:
        def request(self, *args: object, **kwargs: object) -> Plain:
            return Plain()

        def close(self) -> None:
            pass

    with pytest.raises(AdminError) as caught:
        AdminClient("http://127.0.0.1:1", http=Http()).reset()  # type: ignore[arg-type]
    assert caught.value.status == 502 and "Bad gateway" in caught.value.text

