"""The smoke every declared Python version runs (``make pythons``): a real server sends, reports and pushes.

``make test`` runs the whole suite on the venv's Python and this file on every other version
pyproject.toml declares (its classifiers), each in a venv of its own: what broke on a version
we declared but never ran (``int.to_bytes`` without a byte order, ``asyncio.timeout``) breaks here.
"""

from __future__ import annotations

import sys

import httpx
import pytest

from .conftest import ALADDIN_BASIC
from .receiver import receiver
from .server import running

#: A bound for the test not to hang, not a timing assertion.
WITHIN = 20.0


def test_this_python_is_one_the_package_declares() -> None:
    from importlib.metadata import metadata

    declared = metadata("mock-omni").get_all("Classifier") or []
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"Programming Language :: Python :: {version}" in declared, (version, declared)


def test_a_send_is_reported_and_pushed_on_this_python() -> None:
    with receiver() as hook, running() as server, httpx.Client(
        base_url=server.url, headers={"Authorization": ALADDIN_BASIC}, timeout=WITHIN,
    ) as client:
        flow = [{"channel": "SMS", "from": "S-SMS"}]
        created = client.post("/omni/1/scenarios", json={"flow": flow})
        assert created.status_code == 201, created.text
        # No messageId from the client: the mock draws one (the path that needed a byte order on 3.10).
        answer = client.post("/omni/1/advanced", json={
            "scenarioKey": created.json()["key"], "destinations": [{"to": {"phoneNumber": "41793026727"}}],
            "sms": {"text": "hello"}, "notifyUrl": f"{hook.url}/hook", "callbackData": "smoke"})
        assert answer.status_code == 200, answer.text
        message_id = answer.json()["messages"][0]["messageId"]
        assert message_id

        advanced = client.post("/__admin/clock/advance", json={"seconds": 3600})
        assert advanced.status_code == 200, advanced.text
        delivered = client.get("/__admin/callbacks", params={"state": "delivered", "count": 1, "wait": WITHIN})
        assert delivered.json()["reached"], delivered.text
        pushed = hook.reports()
        assert [report["messageId"] for report in pushed] == [message_id], pushed
        assert pushed[0]["callbackData"] == "smoke"
        assert pushed[0]["status"]["groupName"] == "DELIVERED", pushed
        logs = client.get("/omni/1/logs", params={"messageId": message_id})
        assert [entry["messageId"] for entry in logs.json()["results"]] == [message_id], logs.text


def test_the_plugin_fixture_works_on_this_python(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner="""
        import httpx

        def test_send(mock_omni):
            assert mock_omni.url.startswith("http://127.0.0.1:")
            answer = httpx.get(mock_omni.url + "/omni/1/scenarios", auth=(mock_omni.username, mock_omni.password))
            assert answer.status_code == 200, answer.text
            assert [(e["method"], e["status"]) for e in mock_omni.requests()] == [("GET", 200)]
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1)
