"""The fixture-cost benchmark runs (its numbers are read by people, not asserted: no timed tests)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fixture_cost.py"


@pytest.mark.slow
def test_fixture_cost_smoke_mode_reports_every_number() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--smoke"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    number = r"-?\d+\.\d\d ms"
    for label in ("bare shared server:", "mock_omni fixture:", "bare shared TestClient:", "mock_omni_app fixture:",
                  "reset", "new account \\+ remove"):
        assert re.search(rf"{label}\s+mean\s+{number}, median\s+{number}", done.stdout), done.stdout
    assert re.search(rf"fixture cost per test: {number} \(goal <= 3 ms: (met|NOT met)\)", done.stdout)
    assert re.search(rf"in-process fixture cost per test: {number}", done.stdout)
