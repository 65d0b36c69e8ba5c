"""SIGKILL, repeatedly, in the middle of 64 connections of mixed changes with --state-file.

Extends tests/test_state_file.py (4 workers, one account, one kill) to every operation of the soak
on four accounts, killed three times in a row, each restart loading the previous run's file: the
file always parses, no acknowledged create is lost, and every account has exactly one default.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import httpx
import pytest

from .. import server
from .soak import Result, soak
from .test_soak import _fixture

ROUNDS = 3
KILL_AFTER_REQUESTS = 1500
CONNECTIONS = 64


async def _soak_then_kill(srv: server.Server, accounts: list, killed: list[bool]) -> Result:  # type: ignore[type-arg]
    result = Result()

    def injected(account: str, op: str, status: int) -> bool:
        return killed[0] and status == 0  # connections cut by the kill

    load = asyncio.create_task(soak(srv.url, accounts, 60, CONNECTIONS, injected=injected, result=result))
    while result.requests < KILL_AFTER_REQUESTS and not load.done():
        await asyncio.sleep(0.01)
    killed[0] = True
    srv.process.send_signal(signal.SIGKILL)
    await load
    return result


@pytest.mark.slow
def test_repeated_sigkill_under_mixed_load_loses_no_acknowledged_create(tmp_path: Path) -> None:
    accounts = _fixture(tmp_path / "soak.json")
    state = tmp_path / "state.json"
    args = ["--rate-limit", "off", "--fixtures", str(tmp_path / "soak.json"), "--state-file", str(state)]
    for round_ in range(ROUNDS):
        srv = server.start(args)
        killed = [False]
        try:
            result = asyncio.run(_soak_then_kill(srv, accounts, killed))
            srv.process.wait(timeout=10)
        finally:
            server.stop(srv)
        assert result.violations == [], (round_, result.violations[:10])
        assert result.requests >= KILL_AFTER_REQUESTS
        document = json.loads(state.read_text("utf-8"))  # never torn
        assert {a["username"] for a in document["accounts"]} == {a.name for a in accounts}

        with server.running(args) as again:
            for account in accounts:
                with httpx.Client(base_url=again.url, headers={"Authorization": account.authorization},
                                  timeout=30) as http:
                    listed = http.get("/omni/1/scenarios", params={"limit": "100000"}).json()["scenarios"]
                missing = set(account.keys) - {s["key"] for s in listed}
                assert not missing, (round_, account.name, missing)  # every acknowledged create survived
                assert [s["default"] for s in listed].count(True) == 1, (round_, account.name)
