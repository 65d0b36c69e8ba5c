"""docker-compose.yml and the Dockerfile: valid, in agreement, and their command line really serves.

No Docker engine runs here, so the image's command runs as a plain process with the
compose service's environment and its fixtures mount mapped to the host directory.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None, reason="docker-compose is not installed (scripts/system-deps.sh installs it as root)")
START_TIMEOUT = 20


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction, args in dockerfile_instructions():
        if instruction == "ENV":
            for pair in shlex.split(args):
                name, _, value = pair.partition("=")
                env[name] = value
    return env


def dockerfile_json(instruction: str) -> list[str]:
    """The exec-form (JSON array) argument of CMD, or of HEALTHCHECK's CMD."""
    for name, args in dockerfile_instructions():
        if name == instruction:
            return json.loads(args[args.index("["):])  # type: ignore[no-any-return]
    raise AssertionError(f"no {instruction} in the Dockerfile")


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    """The compose file as docker-compose itself resolves it (which also validates it)."""
    assert DOCKER_COMPOSE is not None
    result = subprocess.run([DOCKER_COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)  # type: ignore[no-any-return]


def service(compose: dict[str, object], name: str) -> dict[str, object]:
    return compose["services"][name]  # type: ignore[index,no-any-return]


def test_the_dockerfile_runs_as_non_root_and_serves_on_all_interfaces() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0][0] == "FROM" and "slim" in instructions[0][1]
    users = [args for name, args in instructions if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert dockerfile_json("CMD") == ["mock-omni", "serve", "--host", "0.0.0.0"]
    assert any(name == "RUN" and "pip install /src" in args for name, args in instructions)
    health = dockerfile_json("HEALTHCHECK")
    assert health[:2] == ["python", "-c"] and "/__admin/health" in health[2] and "curl" not in " ".join(health)


@needs_compose
def test_compose_agrees_with_the_dockerfile(compose: dict[str, object]) -> None:
    mock = service(compose, "mock")
    port = dockerfile_env()["MOCK_OMNI_PORT"]
    exposed = [args for name, args in dockerfile_instructions() if name == "EXPOSE"]
    assert exposed == [port]
    assert mock["environment"]["MOCK_OMNI_PORT"] == port  # type: ignore[index]
    published = mock["ports"]
    assert published == [f"127.0.0.1:{port}:{port}/tcp"]
    assert mock["healthcheck"]["test"] == ["CMD", *dockerfile_json("HEALTHCHECK")]  # type: ignore[index]
    # No command override: the image's CMD is what runs.
    assert "command" not in mock
    assert mock["volumes"] == [f"{ROOT / 'fixtures'}:/fixtures:ro"]


@needs_compose
def test_the_example_runner_waits_for_a_healthy_mock(compose: dict[str, object]) -> None:
    runner = service(compose, "tests")
    assert runner["depends_on"] == {"mock": {"condition": "service_healthy"}}
    port = dockerfile_env()["MOCK_OMNI_PORT"]
    assert runner["environment"]["OMNI_BASE_URL"] == f"http://mock:{port}"  # type: ignore[index]
    assert runner["profiles"] == ["example"]


@contextmanager
def image_command(compose: dict[str, object], name: str, **overrides: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The image's CMD with the image's and service ``name``'s env, fixtures mounted, on a free port."""
    definition = service(compose, name)
    mounts = {}
    for volume in definition["volumes"]:  # type: ignore[attr-defined]
        source, target, _ = volume.split(":")
        mounts[target] = source
    env = {**dockerfile_env(), **definition["environment"]}  # type: ignore[dict-item]
    for target, source in mounts.items():
        env = {name: value.replace(target, source) for name, value in env.items()}
    env["MOCK_OMNI_PORT"] = "0"  # a free port instead of 8080, which may be taken here
    env.update(overrides)
    command = dockerfile_json("CMD")
    executable = Path(sys.executable).parent / command[0]
    process = subprocess.Popen([str(executable), *command[1:]], env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert " serving on http://0.0.0.0:" in line, (line, process.stderr.read() if process.poll() else "")
        port = line.strip().rsplit(":", 1)[1]
        yield f"http://127.0.0.1:{port}", {**env, "MOCK_OMNI_PORT": port}
    finally:
        process.kill()
        process.communicate(timeout=10)


@pytest.fixture
def image_process(compose: dict[str, object]) -> Iterator[tuple[str, dict[str, str]]]:
    with image_command(compose, "mock") as running:
        yield running


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The image's healthcheck, exactly as the container runs it."""
    health = dockerfile_json("HEALTHCHECK")
    return subprocess.run([sys.executable, *health[1:]], env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=30)


@needs_compose
def test_the_image_command_serves_the_mounted_fixtures_and_passes_its_healthcheck(
    image_process: tuple[str, dict[str, str]],
) -> None:
    url, env = image_process
    # The YAML fixture exists only in the mounted directory, not in the embedded set.
    auth = "Basic " + base64.b64encode(b"billing-service:billing-secret").decode()
    response = httpx.get(f"{url}/omni/1/scenarios/0A1B2C3D4E5F60718293A4B5C6D7E8F9",
                         headers={"Authorization": auth}, timeout=10)
    assert response.status_code == 200
    assert response.json()["name"] == "Invoices by e-mail, SMS fallback"
    check = healthcheck(env)
    assert check.returncode == 0, check.stderr


@needs_compose
def test_other_containers_reach_the_mock_by_its_service_name(
    compose: dict[str, object], image_process: tuple[str, dict[str, str]],
) -> None:
    """What the compose file sets lets ``http://mock:8080`` in (Host: mock:8080); any other name is refused."""
    url, env = image_process
    runner = service(compose, "tests")
    service_url = httpx.URL(runner["environment"]["OMNI_BASE_URL"])  # type: ignore[index]
    auth = {"Authorization": runner["environment"]["OMNI_AUTHORIZATION"]}  # type: ignore[index]
    with httpx.Client(base_url=url, headers=auth, timeout=10, trust_env=False) as http:
        assert http.get("/omni/1/scenarios", headers={"Host": f"{service_url.host}:{service_url.port}"}).status_code \
            == 200
        refused = http.get("/omni/1/scenarios", headers={"Host": f"other-service:{service_url.port}"})
    assert refused.status_code == 403 and "MOCK_OMNI_ALLOWED_HOSTS=other-service" in refused.text
    replica = service(compose, "replica-1")["environment"]["MOCK_OMNI_ALLOWED_HOSTS"]  # type: ignore[index]
    assert set(replica.split(",")) == {"replica-1", "replica-2"}


def test_the_healthcheck_fails_when_nothing_serves() -> None:
    # Port 9 (discard) on loopback: nothing listens there.
    assert healthcheck({"MOCK_OMNI_PORT": "9"}).returncode != 0


@needs_compose
def test_the_example_test_runner_passes_against_the_image_command(
    compose: dict[str, object], image_process: tuple[str, dict[str, str]],
) -> None:
    url, _ = image_process
    runner = service(compose, "tests")
    env = {**runner["environment"], "OMNI_BASE_URL": url}  # type: ignore[dict-item]
    script = ROOT / "examples" / Path(runner["command"][1]).name  # type: ignore[index]
    result = subprocess.run([sys.executable, str(script)], env={**os.environ, **env}, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert "default ['CD265875E3A6EA43478D5F37A635BE4A']" in result.stdout


@needs_compose
def test_the_replicas_profile_is_redis_and_two_replicas_with_healthchecks(compose: dict[str, object]) -> None:
    redis_service, replicas = service(compose, "redis"), [service(compose, f"replica-{n}") for n in (1, 2)]
    assert redis_service["profiles"] == ["replicas"] and "redis-cli" in redis_service["healthcheck"]["test"]  # type: ignore[index,operator]
    assert "--appendonly" in redis_service["command"]  # type: ignore[operator]
    assert "redis" not in service(compose, "mock").get("depends_on", {})  # type: ignore[attr-defined]
    ports = []
    for replica in replicas:
        assert replica["profiles"] == ["replicas"]
        assert replica["depends_on"] == {"redis": {"condition": "service_healthy"}}
        assert replica["environment"]["MOCK_OMNI_STORE"] == "redis://redis:6379/0"  # type: ignore[index]
        assert replica["healthcheck"]["test"] == ["CMD", *dockerfile_json("HEALTHCHECK")]  # type: ignore[index]
        assert "command" not in replica  # the image's CMD, as the mock service
        ports += replica["ports"]  # type: ignore[arg-type]
    assert ports == ["127.0.0.1:8081:8080/tcp", "127.0.0.1:8082:8080/tcp"]
    assert replicas[0]["environment"] == replicas[1]["environment"]


@needs_compose
def test_the_replicas_command_lines_share_one_state_and_check_redis(compose: dict[str, object], tmp_path: Path) -> None:
    """Both replicas' CMD with their env, on a Redis of the test's own (for "redis:6379")."""
    from .redis_server import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed (scripts/system-deps.sh installs it as root)")
    own = RedisServer(tmp_path)
    own.start()
    try:
        store = service(compose, "replica-1")["environment"]["MOCK_OMNI_STORE"]  # type: ignore[index]
        store = store.replace("redis:6379", f"127.0.0.1:{own.port}")
        auth = {"Authorization": "Basic " + base64.b64encode(b"billing-service:billing-secret").decode()}
        key = "/omni/1/scenarios/0A1B2C3D4E5F60718293A4B5C6D7E8F9"
        with image_command(compose, "replica-1", MOCK_OMNI_STORE=store) as (one, one_env), \
                image_command(compose, "replica-2", MOCK_OMNI_STORE=store) as (two, two_env):
            assert httpx.put(one + key, json={"name": "set on one"}, headers=auth, timeout=10).status_code == 200
            assert httpx.get(two + key, headers=auth, timeout=10).json()["name"] == "set on one"
            assert healthcheck(one_env).returncode == 0 and healthcheck(two_env).returncode == 0
            own.stop()
            # Redis gone: the replicas are unhealthy (a load balancer stops sending them calls).
            assert healthcheck(one_env).returncode != 0
    finally:
        own.stop()


def test_what_the_dockerfile_copies_builds_a_package_with_every_asset(tmp_path: Path) -> None:
    """The image installs from the COPYed files only: the package built from them holds the static files."""
    source = tmp_path / "src"
    source.mkdir()
    for name, args in dockerfile_instructions():
        if name == "COPY":
            *sources, target = args.split()
            assert target.startswith("/src")
            for item in sources:
                origin = ROOT / item
                destination = source / Path(target).relative_to("/src") / (origin.name if target.endswith("/") else "")
                if origin.is_dir():
                    shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy(origin, destination)
    # setuptools' build_py, the step of `pip install` that collects modules and package data (offline).
    built = tmp_path / "build"
    result = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "--quiet", "build_py",
                             "--build-lib", str(built)], cwd=source, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = {path.relative_to(built).as_posix() for path in built.rglob("*")}
    assert "mock_omni/server/cli.py" in names
    for needed in ("mock_omni/static/dashboard.html", "mock_omni/static/dashboard.js", "mock_omni/static/dashboard.css",
                   "mock_omni/static/swagger-ui/swagger-ui-bundle.js", "mock_omni/static/swagger-ui/swagger-ui.css",
                   "mock_omni/static/swagger-ui/LICENSE", "mock_omni/data/default-fixtures.json",
                   "mock_omni/replication/log.lua", "mock_omni/replication/restart.lua"):
        assert needed in names, needed
