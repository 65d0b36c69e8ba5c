"""Attacks on replicas sharing one Redis log (issue 19's store): each test is a defect found by trying to make
replicas disagree, lose or double-apply a call, hang or answer what memory would not.

In-process replicas on the session's Redis (loopback); every loop is bounded.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from .conftest import SEED_KEY

SEED = f"/omni/1/scenarios/{SEED_KEY}"


def test_a_replica_joining_applies_the_admin_changes_already_in_the_log(
        replicas: Callable[..., TestClient]) -> None:
    # Joining applies the log from app.__init__, before the app's web app could be built: every admin entry
    # already in the log failed there ("applying entry N of the log failed": AttributeError '_web') and was
    # skipped, so the late replica kept the clock, faults, accounts... of the fixtures.
    one = replicas()
    assert one.post("/__admin/clock/advance", json={"seconds": 600}).status_code == 200
    assert one.post("/__admin/accounts", json={"username": "Late", "password": "lamp"}).status_code in (200, 201)
    late = replicas()
    assert late.get("/__admin/clock").json() == one.get("/__admin/clock").json() == {"offsetSeconds": 600.0}
    assert late.get("/__admin/accounts").json() == one.get("/__admin/accounts").json()
    assert late.get("/__admin/errors").json() == one.get("/__admin/errors").json()


def test_a_reset_of_one_account_named_in_an_encoded_query_does_not_cut_the_log(
        replicas: Callable[..., TestClient]) -> None:
    # `?acc%6Funt=Genie` is `account=Genie` to the route (one account reset) but the log took it for a whole reset
    # (it looked for the bytes `account=`) and dropped every earlier entry: a replica joining later had Aladdin's
    # scenario as in the fixtures.
    one = replicas()
    assert one.put(SEED, json={"name": "kept"}).status_code == 200
    assert one.post("/__admin/reset?acc%6Funt=Genie").json() == {"reset": "Genie"}
    assert one.get(SEED).json()["name"] == "kept"
    assert replicas().get(SEED).json()["name"] == "kept"
