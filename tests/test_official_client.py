"""The official infobip-api-python-client 2.3.0 (Python 2.7, the last with OMNI) against a real server.

`make test` installs the client for Python 2.7 into .venv/py27-infobip-client; the test is skipped, saying
why, only where Python 2.7 is not on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from . import server
from .conftest import SEED_KEY

PY27 = os.environ.get("MOCK_OMNI_PY27", "")
CLIENT_DIR = os.environ.get("MOCK_OMNI_PY27_CLIENT", ".venv/py27-infobip-client")
SCRIPT = Path(__file__).with_name("official_client.py")


@pytest.mark.skipif(not PY27 or not os.access(PY27, os.X_OK), reason="Python 2.7 is not installed on this machine")
def test_official_client_round_trip() -> None:
    if not (Path(CLIENT_DIR) / "infobip").is_dir():
        pytest.fail(f"Python 2.7 is here but the client is not installed in {CLIENT_DIR}: run `make py27-client`")
    with server.running() as srv:
        result = subprocess.run(
            [PY27, str(SCRIPT), srv.url], capture_output=True, text=True, timeout=60,
            env={"PYTHONPATH": str(Path(CLIENT_DIR).resolve()), "PATH": os.environ.get("PATH", "")},
        )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    key = data["created"]["key"]
    flow = [{"from": "InfoSMS", "channel": "SMS"}, {"from": "ViberSender", "channel": "VIBER"}]
    assert data["created"] == {"key": key, "name": "Official client scenario", "flow": flow}
    assert data["listed"][0] == SEED_KEY and data["listed"][-1] == key
    assert data["fetched"] == data["created"]
    assert data["updated"] == {"key": key, "name": "Renamed by the official client", "flow": flow}
    assert data["defaults"] == [key]  # the client's `defaultScenario: true` promoted it
    assert data["not_found"] == {"messageId": "NOT_FOUND", "text": "Scenario not found."}
    assert data["unauthorized"] == {"messageId": "UNAUTHORIZED", "text": "Invalid login details"}
