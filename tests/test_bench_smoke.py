"""The benchmark scripts run end to end in smoke mode (a second per part), so they cannot rot.

No timing is asserted: only that every part runs, measures, and writes its table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import load, scale, sending
from bench.load import Request

ROOT = Path(__file__).resolve().parents[1]

WRK_OUTPUT = """Running 1s test @ http://127.0.0.1:8080/omni/1/scenarios
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.48ms  512.00us   9.10ms   80.00%
    Req/Sec    12.90k   300.00    13.20k    70.00%
  Latency Distribution
     50%  850.00us
     75%    2.60ms
     90%    3.00ms
     99%    1.20s
  12900 requests in 1.00s, 3.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:  12899.55
Transfer/sec:      3.50MB
STATUS 200 12893
STATUS 429 7
"""


def test_wrk_output_is_parsed_with_units() -> None:
    result = load.parse(WRK_OUTPUT)
    assert result.rate == 12899.55 and result.requests == 12900
    assert result.p50_ms == pytest.approx(0.85) and result.p99_ms == pytest.approx(1200.0)
    assert result.non_2xx == 7 and result.socket_errors == 3
    assert result.statuses == {200: 12893, 429: 7}
    assert result.max_ms == pytest.approx(9.10)


def test_unexpected_wrk_output_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        load.parse("wrk: connection refused")


def test_lua_script_quotes_bodies_and_rotates_paths() -> None:
    script = load.lua_script(Request("PUT", ("/a", "/b"), (("Content-Type", "application/json"),), '{"x": "a\\nb"}'))
    assert 'wrk.body = "{\\"x\\": \\"a\\\\nb\\"}"' in script
    assert 'local paths = {"/a", "/b"}' in script and "request = function()" in script
    assert 'wrk.path = "/a"' in load.lua_script(Request("GET", ("/a",)))
    counted = load.lua_script(Request("PUT", ("/a",), (), '{"name": "x #N y"}', counter="#N"))
    assert 'local before, after = "{\\"name\\": \\"x ", " y\\"}"' in counted and "before .. n .. after" in counted


def test_scale_requests_spread_over_the_whole_account() -> None:
    assert scale.spread(10) == list(range(10))
    picks = scale.spread(100_000)
    assert len(picks) == scale.SPREAD and picks[0] == 0 and picks[-1] == 99_999
    paths = scale.requests(100_000)["GET page"].paths
    assert paths[0].endswith("page=0") and paths[-1].endswith(f"page={100_000 // scale.PAGE_SIZE - 1}")


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk (Debian package) is not installed")
def test_bench_runs_end_to_end_in_smoke_mode(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    text = out.read_text()
    for heading in ("## 1. Throughput of the seed PUT", "## 2. Cold start", "## 3. Scale", "## 4. pytest fixture cost",
                    "## 5. Concurrency", "## 6. Sending", "## 6b. Reports and logs over",
                    "## 6c. Small calls beside bulk sends", "## 7. Replicas on Redis"):
        assert heading in text
    for row in ("| mock-omni JSON |", "| bare ASGI JSON |", "| mock-omni XML |", "| bare ASGI XML |",
                "| mock-omni JSON, every body new |", "| mock-omni XML, every body new |",
                "| mock-omni JSON, ASGI only (--asgi-only) |", "| uvicorn protocol, fixed bytes, JSON |",
                "| PUT promote |", "| GET one |", "| GET page |", "| send, 1 destination |",
                "| send, 1,000 destinations |", "| GET logs by messageId |", "| GET reports by bulkId |",
                "| send, 1 destination, 8 connections alone |",
                "| send, 1 destination, 8 connections beside 8 of bulk sends |",
                "| send, 1,000 destinations, 8 connections (the bulk load) |",
                "| one-destination sends beside bulk sends: p99 vs alone |"):
        assert row in text
    if shutil.which("redis-server"):
        for row in ("| mock-omni JSON, memory store |", "| mock-omni JSON, one replica on Redis |",
                    "| two replicas on Redis together, 16 connections each (rates added) |",
                    "| one-destination send, two replicas together, 16 connections each (rates added) |",
                    "## 7b. One replica on Redis against the memory store, call by call",
                    "| seed PUT JSON, every body new |", "| GET reports by messageId |",
                    "| one replica on Redis vs memory store: seed PUT JSON, every body new |",
                    "| one replica on Redis vs memory store: send, 1 destination |"):
            assert row in text
    # Correctness, not speed: every throughput and scale request answered 2xx, and the limit held.
    assert "| limit holds at 64/256 connections, nothing fails | yes | yes | yes |" in text
    counted = ("| mock-omni JSON", "| mock-omni XML", "| bare ASGI", "| uvicorn protocol, fixed bytes", "| PUT promote",
               "| GET one", "| GET page", "| send, 1 destination |", "| send, 1,000 destinations |", "| GET logs",
               "| GET reports", "| one replica on Redis alone", "| two replicas on Redis together, 16",
               "| seed PUT JSON, every body new |", "| one-destination send, one replica of two",
               "| one-destination send, two replicas together", "| send, 1 destination, 8 connections",
               "| send, 1,000 destinations, 8 connections")
    for line in text.splitlines():
        if line.startswith(counted):
            assert line.rstrip().endswith("| 0 |"), line


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/system-deps.sh)")
def test_comparing_a_revision_with_this_tree_runs_end_to_end() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.compare", "HEAD", "--seconds", "1", "--repeats", "1"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("ratio") == 4  # the seed PUT in JSON and XML, repeated and with every body new
    assert "seed PUT XML, every body new:" in done.stdout


def test_comparing_in_process_times_each_shape_without_wrk() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.compare", "HEAD", "--repeats", "1", "--no-rates",
                           "--in-process", "--calls", "100"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ratio" not in done.stdout  # no rates under wrk
    timed = [line for line in done.stdout.splitlines() if " us per call, this tree " in line]
    assert [line.partition(" in-process:")[0] for line in timed] == [
        "seed PUT JSON", "seed PUT XML", "seed PUT JSON, every body new", "seed PUT XML, every body new"]


@pytest.mark.parametrize("shape", ["json", "xml", "json-new", "xml-new"])
def test_the_in_process_timer_answers_the_seed_put_through_the_protocol(shape: str) -> None:
    # bench/inprocess.py exits with the answer's first bytes if a call was not answered 200.
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "inprocess.py"), "50", shape],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 0 < float(done.stdout) < 100_000  # microseconds per call


@pytest.mark.parametrize("fmt", ["json", "xml", "send", "json-new", "xml-new"])
def test_the_instruction_count_script_answers_the_seed_put(fmt: str) -> None:
    # What bench.compare --instructions runs under valgrind; here without it, a few calls.
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "instructions.py"), "20", fmt],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_sending_queries_spread_over_the_whole_store() -> None:
    paths = sending.queries(100_000)["GET logs by messageId"].paths
    assert len(paths) == scale.SPREAD and paths[0].endswith("messageId=M0") and paths[-1].endswith("=M99999")
    bulks = sending.queries(100_000)["GET reports by bulkId"].paths
    assert bulks[0].endswith("bulkId=B0&limit=50") and bulks[-1].endswith("bulkId=B99&limit=50")
    body = sending.send_body(3, 7, "B0")
    assert [d["messageId"] for d in body["destinations"]] == ["M7", "M8", "M9"]  # type: ignore[index]


def test_the_templated_wiremock_stub_echoes_the_name_in_the_mocks_own_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # WireMock itself is not run here (npm and java are the full bench's); the stub it would serve is checked.
    import json

    from bench import alternatives
    from bench.payloads import RESPONSE_BYTES

    monkeypatch.setattr(alternatives, "wiremock_jar", lambda: tmp_path / "wiremock.jar")
    alternatives.wiremock_command(8080, tmp_path, echo_name=True)
    stub = json.loads((tmp_path / "mappings" / "seed-put.json").read_text())
    assert stub["response"]["transformers"] == ["response-template"]
    template = "{{jsonPath request.body '$.name'}}"
    assert stub["response"]["body"].replace(template, "x #1") == RESPONSE_BYTES["json"].decode().replace(
        alternatives.SEED_NAME, "x #1")


def test_a_compiled_copy_shadows_its_modules_with_mypycs_extensions(tmp_path: Path) -> None:
    # What bench.compare --compile measures: here one small module, compiled for real (gcc), then imported.
    from bench.compare import compiled_copy

    copy = compiled_copy(ROOT, tmp_path, ["mock_omni/domain/memo.py"])
    probe = ("import mock_omni.domain.memo as m; memo = m.Memo(2, 10); memo.remember('a', 1, 1); "
             "memo.remember('a', 1, 1); print(m.__file__, memo.get('a'))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(copy)}, cwd=copy)
    assert done.returncode == 0, done.stderr[-2000:]
    where, value = done.stdout.split()
    assert where.startswith(str(copy)) and where.endswith(".so") and value == "1"


def compare_fails(*args: str, env: dict[str, str] | None = None) -> str:
    """bench.compare's stderr when it refuses ``args``: no traceback."""
    done = subprocess.run([sys.executable, "-m", "bench.compare", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.stderr.strip()


def test_compiling_without_a_c_compiler_is_one_line_before_anything_is_built() -> None:
    # mypyc found out after about 30 s of type checking (a git worktree made first), and bench.compare ended in a
    # traceback. The check's own line says it came before anything was made.
    said = compare_fails("HEAD", "--compile", "--no-rates", "--in-process", env={"CC": "no-such-cc"})
    assert said == ("bench.compare --compile: no C compiler: 'no-such-cc' is not on PATH "
                    "(mypyc needs one: apt-get install gcc)")


def test_compiling_without_pythons_headers_names_the_missing_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sysconfig

    from bench import compare

    assert compare.missing_for_compiling() is None  # this machine has all it needs
    paths = sysconfig.get_paths()
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {**paths, "include": str(tmp_path)})
    with pytest.raises(SystemExit) as refused:
        compare.main(["HEAD", "--compile", "--no-rates", "--in-process"])
    assert str(refused.value) == (f"bench.compare --compile: no Python headers: {tmp_path / 'Python.h'} is missing "
                                  "(mypyc needs them: apt-get install python3-dev)")


@pytest.mark.parametrize(("args", "said"), [
    (["HEAD", "--no-rates"], "--no-rates leaves nothing to measure: add --in-process or --instructions"),
    (["HEAD", "--no-rates", "--in-process", "--calls", "0"], "argument --calls: '0' is not a positive integer"),
    (["no-such-revision", "--no-rates", "--in-process"],
     "bench.compare: git cannot check out 'no-such-revision': fatal: invalid reference: no-such-revision"),
])
def test_what_bench_compare_cannot_do_is_one_line(args: list[str], said: str) -> None:
    assert compare_fails(*args).splitlines()[-1].endswith(said)


def test_a_module_mypyc_cannot_compile_is_its_first_error_in_one_line(tmp_path: Path) -> None:
    from bench.compare import compiled_copy

    source = tmp_path / "source"
    (source / "mock_omni").mkdir(parents=True)
    (source / "mock_omni" / "__init__.py").write_text("")
    (source / "mock_omni" / "broken.py").write_text('def count() -> int:\n    return "many"\n')
    shutil.copy(ROOT / "pyproject.toml", source / "pyproject.toml")
    with pytest.raises(RuntimeError) as failed:
        compiled_copy(source, tmp_path / "copy", ["mock_omni/broken.py"])
    assert str(failed.value).startswith("mypyc failed: mock_omni/broken.py:2: error: Incompatible return")
    assert "\n" not in str(failed.value)


def test_the_body_bounds_script_times_each_part_of_reading_a_new_body() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "body_bounds.py"), "20"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    times = {name.strip(): float(took) for name, _, took in
             (line.rstrip(" us").rpartition(" ") for line in done.stdout.splitlines())}
    assert set(times) == {"JSON body -> model (validate_json)", "XML body -> model (data_from_xml, validate_data)",
                          "XML body -> plain data (data_from_xml)", "XML body -> tree (parse_xml)",
                          "expat's parse alone (no handler, no tree)", "defusedxml.ElementTree.fromstring, for scale",
                          "an XML body over a JSON one"}
    assert all(took > 0 for name, took in times.items() if name != "an XML body over a JSON one")
