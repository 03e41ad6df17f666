"""`modelreg benchmark` end to end: real local endpoints, recorded runs, the gate."""

import os

import pytest
from bench_servers import ServerThread, closed_port_url
from conftest import as_actor, register_flags

TARGET = "chat@1.0.0"


@pytest.fixture(scope="module")
def server():
    with ServerThread() as srv:
        yield srv


def _register(cli, endpoint, avg=200, p95=300):
    r = cli(
        "register",
        "chat",
        "--version",
        "1.0.0",
        "--provider",
        "p",
        "--capability",
        "chat",
        "--avg-latency",
        str(avg),
        "--p95-latency",
        str(p95),
        "--cost",
        "0",
        "--endpoint",
        endpoint,
    )
    assert r.exit_code == 0, r.stderr


def test_passing_run_records_check_and_unblocks_promotion(cli, server, registry):
    _register(cli, server.url("/ok?delay_ms=20"))
    r = cli("--actor", "bob", "benchmark", TARGET, "--requests", "40", "--concurrency", "4", "--json")
    assert r.exit_code == 0, r.stderr
    data = r.json
    assert data["run_id"] and data["completed"] == 40 and data["errors"] == {} and data["slo"]["passed"]
    assert 19 <= data["latency_ms"]["p50"] <= 60  # the endpoint's 20 ms, not the client's
    shown = cli("show", TARGET, "--json").json
    assert shown["checks"]["benchmark"]["result"] == "pass"
    assert shown["benchmarks"][0]["run_id"] == data["run_id"]
    bob = as_actor(registry, "bob")
    for check in ("evaluation", "security", "compliance"):
        bob.review(TARGET, check, True)
    bob.close()
    assert cli("--actor", "bob", "promote", TARGET).exit_code == 0


def test_slo_missed_exits_6_and_records_failure(cli, server):
    _register(cli, server.url("/ok?delay_ms=60"), avg=10, p95=20)
    r = cli("benchmark", TARGET, "--requests", "10", "--json")
    assert r.exit_code == 6
    failed = {c["name"] for c in r.json["slo"]["checks"] if not c["passed"]}
    assert failed == {"avg_latency_ms", "p95_latency_ms"} or failed >= {"p95_latency_ms"}
    assert cli("show", TARGET, "--json").json["checks"]["benchmark"]["result"] == "fail"


def test_errors_by_kind_and_error_rate(cli, server):
    _register(cli, server.url("/status/503"))
    r = cli("benchmark", TARGET, "--requests", "10", "--json")
    assert r.exit_code == 6 and r.json["errors"] == {"http_503": 10} and r.json["error_rate"] == 1.0
    r = cli("benchmark", TARGET, "--endpoint", closed_port_url(), "--requests", "5", "--json", "--no-record")
    assert r.exit_code == 6 and r.json["errors"] == {"connect": 5} and r.json["run_id"] is None


def test_table_output_has_histogram_and_verdict(cli, server):
    _register(cli, server.url("/ok?delay_ms=5"))
    r = cli("benchmark", TARGET, "--requests", "20")
    assert r.exit_code == 0
    assert "histogram" in r.stdout.lower() and "p95" in r.stdout and "PASS" in r.stdout.upper()


def test_api_key_never_stored_or_printed(cli, server, db_url, backend, tmp_path):
    canary = "sk-canary-" + os.urandom(8).hex()
    _register(cli, server.url("/ok?delay_ms=1"))
    r = cli("benchmark", TARGET, "--requests", "5", "--api-key-env", "BENCH_KEY", "--json", env={"BENCH_KEY": canary})
    assert r.exit_code == 0 and canary not in r.stdout + r.stderr
    assert canary not in cli("show", TARGET, "--json").stdout
    if backend == "sqlite":
        data_files = [p for p in tmp_path.iterdir() if p.name.startswith("registry.db")]
        assert data_files and all(canary.encode() not in p.read_bytes() for p in data_files)
    assert cli("benchmark", TARGET, "--api-key-env", "UNSET_VAR_X").exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ["--concurrency", "0"],
        ["--requests", "-1"],
        ["--rate", "0"],
        ["--requests", "5", "--duration", "1"],
        ["--timeout", "-1"],
        ["--endpoint", "ftp://x/y"],
        ["--header", "no-colon"],
        ["--payload", "/nonexistent"],
    ],
)
def test_bad_settings_exit_2(cli, server, args):
    _register(cli, server.url("/ok"))
    r = cli("benchmark", TARGET, *args)
    assert r.exit_code == 2 and r.stderr.startswith("error:") and r.stderr.count("\n") == 1


def test_unknown_version_and_no_endpoint(cli):
    assert cli("benchmark", "nope@1.0.0").exit_code == 3
    cli(*register_flags("bare", "1.0.0"))
    r = cli("benchmark", "bare@1.0.0")
    assert r.exit_code == 2 and "--endpoint" in r.stderr


def test_ctrl_c_stops_cleanly_and_records_an_aborted_run(cli, server, db_url):
    import signal
    import subprocess
    import sys
    import time

    _register(cli, server.url("/ok?delay_ms=10"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelreg", "benchmark", TARGET, "--duration", "60", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "MODELREG_DB": db_url},
        # a background job of a non-interactive shell starts with SIGINT ignored (and the benchmark
        # then respects that): start it as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(3)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.returncode == 130, err
    import json

    data = json.loads(out)
    assert data["aborted"] and data["completed"] > 10 and data["run_id"]
    assert "Traceback" not in err and "aborted" in err
    runs = cli("show", TARGET, "--json").json["benchmarks"]
    assert runs[0]["aborted"] is True and runs[0]["passed"] is False
    assert "benchmark" not in cli("show", TARGET, "--json").json["checks"]  # an aborted run records no check
