"""The docker-compose example test runner: lists the scenarios and checks that exactly one is default.

Standard library only, so it runs in a bare python image. Configured by OMNI_BASE_URL
and OMNI_AUTHORIZATION (the docker-compose.yml ``tests`` service sets both).
"""

import json
import os
import sys
import urllib.request


def main() -> int:
    base = os.environ.get("OMNI_BASE_URL", "http://127.0.0.1:8080")
    request = urllib.request.Request(
        base + "/omni/1/scenarios",
        headers={"Authorization": os.environ["OMNI_AUTHORIZATION"], "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        scenarios = json.load(response)["scenarios"]
    defaults = [s["key"] for s in scenarios if s["default"]]
    print(f"{len(scenarios)} scenarios, default {defaults}")
    return 0 if len(defaults) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
