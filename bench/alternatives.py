"""What users would pick instead: WireMock 3 standalone and Prism, from npm into ``bench/.tools``.

The bench installs them itself (``npm install`` once, git-ignored); ``make test`` never needs them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .payloads import ALADDIN_BASIC, RESPONSE_BYTES, SEED_JSON, SEED_PATH, SEED_RESPONSE

#: The seed's scenario name, which a templated stub replaces by the request's.
SEED_NAME = str(SEED_RESPONSE["name"])

TOOLS = Path(__file__).resolve().parent / ".tools"
PACKAGES = ("wiremock@3", "@stoplight/prism-cli@5")
VENDOR_OPENAPI = Path(__file__).resolve().parents[2] / "shared" / "reference" / "infobip-omni-failover-openapi.json"


def install() -> str | None:
    """Install the npm tools if missing; None when ready, else why they cannot be used."""
    if wiremock_jar() is not None and prism_bin().exists():
        return None
    if shutil.which("npm") is None or shutil.which("java") is None:
        return "npm or java not found"
    TOOLS.mkdir(exist_ok=True)
    manifest = TOOLS / "package.json"
    if not manifest.exists():
        manifest.write_text('{"private": true}\n')
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES],
        cwd=TOOLS, capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        return f"npm install failed: {done.stderr.strip()[-300:]}"
    return None if wiremock_jar() is not None and prism_bin().exists() else "npm packages lack the jar or prism"


def wiremock_jar() -> Path | None:
    jars = sorted((TOOLS / "node_modules" / "wiremock" / "build").glob("wiremock-standalone-*.jar"))
    return jars[-1] if jars else None


def prism_bin() -> Path:
    return TOOLS / "node_modules" / ".bin" / "prism"


def wiremock_command(port: int, root: Path, match_body: bool = False, echo_name: bool = False) -> list[str]:
    """WireMock serving one static stub of the seed PUT (same answer bytes), request journal off.

    The stub matches method, path and credentials; with ``match_body`` also the JSON body
    (``equalToJson``), which is closer to the work mock-omni does on every request. With ``echo_name``
    the answer is a response template echoing the request's ``name`` (``{{jsonPath request.body '$.name'}}``):
    what a user writes so the stub answers a new name with it, as mock-omni does.
    """
    mappings = root / "mappings"
    mappings.mkdir(parents=True, exist_ok=True)
    request: dict[str, object] = {
        "method": "PUT", "url": SEED_PATH, "headers": {"Authorization": {"equalTo": ALADDIN_BASIC}},
    }
    if match_body:
        request["bodyPatterns"] = [{"equalToJson": SEED_JSON}]
    response: dict[str, object] = {
        "status": 200, "body": RESPONSE_BYTES["json"].decode(), "headers": {"Content-Type": "application/json"},
    }
    if echo_name:
        body = RESPONSE_BYTES["json"].decode()
        assert body.count(SEED_NAME) == 1
        response["body"] = body.replace(SEED_NAME, "{{jsonPath request.body '$.name'}}")
        response["transformers"] = ["response-template"]
    stub = {"request": request, "response": response}
    (mappings / "seed-put.json").write_text(json.dumps(stub))
    jar = wiremock_jar()
    assert jar is not None
    return [
        "java", "-jar", str(jar), "--port", str(port), "--bind-address", "127.0.0.1", "--root-dir", str(root),
        "--disable-banner", "--no-request-journal",
    ]


def prism_command(port: int, spec: Path = VENDOR_OPENAPI) -> list[str]:
    """Prism mocking the vendor's own OpenAPI (validates the request, answers the example)."""
    return [str(prism_bin()), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
