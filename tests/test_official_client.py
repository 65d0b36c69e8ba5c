"""The official infobip-api-python-client 2.3.0 (Python 2.7, the last with OMNI) against a real server:
scenarios, advanced and simple sends, one-time reports and logs (dates parsed by the client).

`make test` installs the client for Python 2.7 into .venv/py27-infobip-client; the test is skipped, saying
why, only where Python 2.7 is not on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mock_omni.testing.admin_client import AdminClient

from . import server
from .conftest import SEED_KEY

PY27 = os.environ.get("MOCK_OMNI_PY27", "")
CLIENT_DIR = os.environ.get("MOCK_OMNI_PY27_CLIENT", ".venv/py27-infobip-client")
SCRIPT = Path(__file__).with_name("official_client.py")


needs_py27 = pytest.mark.skipif(not PY27 or not os.access(PY27, os.X_OK),
                                reason="Python 2.7 is not installed on this machine")


def run_client(*args: str) -> dict[str, Any]:
    if not (Path(CLIENT_DIR) / "infobip").is_dir():
        pytest.fail(f"Python 2.7 is here but the client is not installed in {CLIENT_DIR}: run `make py27-client`")
    result = subprocess.run(
        [PY27, str(SCRIPT), *args], capture_output=True, text=True, timeout=60,
        env={"PYTHONPATH": str(Path(CLIENT_DIR).resolve()), "PATH": os.environ.get("PATH", "")},
    )
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@needs_py27
def test_official_client_round_trip() -> None:
    with server.running() as srv:
        data = run_client(srv.url)
    key = data["created"]["key"]
    flow = [{"from": "InfoSMS", "channel": "SMS"}, {"from": "ViberSender", "channel": "VIBER"}]
    assert data["created"] == {"key": key, "name": "Official client scenario", "flow": flow}
    assert data["listed"][0] == SEED_KEY and data["listed"][-1] == key
    assert data["fetched"] == data["created"]
    assert data["updated"] == {"key": key, "name": "Renamed by the official client", "flow": flow}
    assert data["defaults"] == [key]  # the client's `defaultScenario: true` promoted it
    assert data["not_found"] == {"messageId": "NOT_FOUND", "text": "Scenario not found."}
    assert data["unauthorized"] == {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
    _check_sending(data)


def _check_sending(data: dict[str, Any]) -> None:
    advanced = data["advanced"]
    assert advanced["bulkId"] == "OFFICIAL-BULK"
    assert [(m["to"], m["status"]) for m in advanced["messages"]] == [
        ("41793026727", "PENDING_ENROUTE"), ("447700900008", "PENDING_ENROUTE")]
    first, failover = (m["messageId"] for m in advanced["messages"])
    assert first == "OFFICIAL-1" and len(failover) == 36
    simple = data["simple"]
    assert simple["bulkId"] is None and len(simple["messageIds"]) == 1
    # Reports: newest first, each once; the test destination's SMS failed over to Viber.
    reports = {r["messageId"]: r for r in data["reports"]}
    assert [r["messageId"] for r in data["reports"]][0] == simple["messageIds"][0]
    assert set(reports) == {first, failover, *simple["messageIds"]}
    assert (reports[failover]["channel"], reports[failover]["price"]) == ("VIBER", 0.0104)
    assert {r["status"] for r in data["reports"]} == {"DELIVERED_TO_HANDSET"}
    assert reports[first]["bulkId"] == "OFFICIAL-BULK" and reports[simple["messageIds"][0]]["bulkId"] is None
    assert data["reports_again"] == 0
    # The client parsed every date; the mock's clock is the wall clock here.
    now = datetime.now(UTC).replace(tzinfo=None)
    for report in data["reports"]:
        sent = datetime.strptime(report["sentAt"], "%Y-%m-%dT%H:%M:%S.%f")
        assert abs((now - sent).total_seconds()) < 120 and report["doneAt"] == report["sentAt"]
    # Logs: repeatable, newest first, with the sender and text of the step that delivered.
    assert data["logs"][0] == data["logs"][1]
    logs = {log["messageId"]: log for log in data["logs"][0]}
    assert (logs[failover]["from"], logs[failover]["channel"]) == ("ViberSender", "VIBER")
    assert logs[first]["text"] == "Sent by the official client" and logs[first]["sentAt"] == reports[first]["sentAt"]
    assert logs[simple["messageIds"][0]]["text"] == "Simple text"


@needs_py27
def test_official_client_sees_403_for_a_key_without_the_scope_and_signs_in_with_a_session() -> None:
    with server.running() as srv, AdminClient(srv.url) as admin:
        account = admin.new_account(seed_account="Aladdin",
                                    api_keys=[{"key": "logs-only-key", "scopes": ["omni-failover:logs:read"]}])
        session = admin.session(account.username)
        data = run_client(srv.url, "logs-only-key", session.token)
    forbidden = {"messageId": "FORBIDDEN", "text": "Forbidden"}
    assert data["forbidden_list"] == forbidden and data["forbidden_get"] == forbidden
    assert data["session_list"][0] == SEED_KEY and len(data["session_list"]) == 3


@needs_py27
@pytest.mark.parametrize("args", [[], ["--asgi-only"]], ids=["serve", "asgi-only"])
def test_official_client_meets_a_reset_and_a_truncated_answer(args: list[str]) -> None:
    """The network faults as the 2.3.0 client (httplib) lets them through to the app: the socket error of a
    reset, httplib's IncompleteRead for an answer cut mid-body; the next call is answered."""
    with server.running(args) as srv, AdminClient(srv.url) as admin:
        admin.fault(connection="reset", path="/omni/1/scenarios")
        admin.fault(connection="truncate", path="/omni/1/scenarios")
        outcomes = run_client(srv.url, "--calls", "3")
        statuses = [entry["status"] for entry in admin.requests()]
    reset, truncated, answered = outcomes
    assert reset["error"].startswith("socket.error: [Errno 104] Connection reset by peer"), reset
    assert truncated["error"].startswith("httplib.IncompleteRead: IncompleteRead("), truncated
    assert answered["keys"][0] == SEED_KEY
    assert statuses == [0, 200, 200]
