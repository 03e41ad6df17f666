"""Several benchmark processes (workers) and the client's own health, against real local endpoints."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from array import array

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_servers import ServerThread

from modelreg.bench import BenchmarkSettings, run_benchmark
from modelreg.bench.health import ProcessHealth, client_verdict
from modelreg.bench.runner import BenchmarkResult, LoadShare
from modelreg.bench.stats import summarize
from modelreg.errors import InvalidInput

CPU_SHARE_SANE = 1.5  # one process (a few threads at most) hardly goes past one core


@pytest.fixture(scope="module")
def srv():
    with ServerThread() as server:
        yield server


def test_closed_loop_split_across_two_processes(srv):
    before = srv.state.requests
    d = run_benchmark(
        BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=10"), requests=41, concurrency=5, workers=2, warmup=4)
    ).to_dict()
    assert d["workers"] == 2 and d["mode"] == "closed"
    assert d["requests"] == 41 and d["completed"] == 41 and d["errors"] == {}
    assert srv.state.requests - before == 45  # 41 measured + 4 warmup, none twice
    assert 10.0 <= d["latency_ms"]["p50"] <= 40.0
    assert d["tokens"] == {"prompt": 205, "completion": 41, "total": 246}
    assert sum(b["count"] for b in d["histogram"]) == 41
    client = d["client"]
    assert len(client["per_worker"]) == 2
    assert all(0 <= w["cpu_share"] <= 1.5 for w in client["per_worker"])
    assert d["aborted"] is False


def test_open_loop_schedules_interleave_to_the_asked_rate(srv):
    d = run_benchmark(
        BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=2"), rate=300, duration_s=1.0, workers=2)
    ).to_dict()
    assert d["mode"] == "open" and d["requests"] == 300 and d["completed"] == 300
    # the union of the two schedules (every other request each) is the asked rate
    assert d["achieved_rate_rps"] == pytest.approx(300, rel=0.1)
    assert 0.9 <= d["duration_s"] < 2.5


def test_ctrl_c_stops_every_worker_with_a_partial_result(srv):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT handling needs the main thread")
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        # after the workers have started (about half a second to import) and measured a while
        timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        t = time.monotonic()
        timer.start()
        result = run_benchmark(
            BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=20"), duration_s=30, concurrency=4, workers=2)
        )
        timer.join()
        handler_after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, original)
    assert time.monotonic() - t < 10
    d = result.to_dict()
    assert d["aborted"] is True and d["completed"] > 0
    assert d["requests"] == d["completed"] + sum(d["errors"].values())
    assert len(d["client"]["per_worker"]) == 2  # both sent back what they measured
    assert handler_after is signal.default_int_handler


def test_merged_percentiles_are_those_over_all_samples():
    s = BenchmarkSettings(endpoint="http://h/x", workers=2, concurrency=2)
    a = BenchmarkResult(settings=s, attempted=3, latencies_ms=array("d", [1.0, 2.0, 100.0]), duration_s=1.0)
    b = BenchmarkResult(settings=s, attempted=4, latencies_ms=array("d", [3.0, 4.0, 5.0]), duration_s=1.5)
    b.errors["timeout"] += 1
    merged = BenchmarkResult.merge(s, [a, b]).to_dict()
    assert merged["latency_ms"] == summarize([1.0, 2.0, 100.0, 3.0, 4.0, 5.0])
    assert merged["latency_ms"]["p50"] == 3.5  # not the mean of the two processes' medians (2.0, 4.0)
    assert merged["requests"] == 7 and merged["errors"] == {"timeout": 1} and merged["duration_s"] == 1.5


def test_load_share_splits_whole_numbers_evenly():
    assert [LoadShare(k, 3).part(10) for k in range(3)] == [4, 3, 3]
    assert [LoadShare(k, 2).part(1) for k in range(2)] == [1, 0]


@pytest.mark.parametrize("kw", [{"workers": 0}, {"workers": 65}, {"workers": 1.5}, {"workers": 4, "concurrency": 2}])
def test_invalid_workers(kw):
    with pytest.raises(InvalidInput):
        BenchmarkSettings(endpoint="http://h/x", **kw).validate()


# -- the client's own health --------------------------------------------------------------


def test_every_run_reports_the_clients_health(srv):
    d = run_benchmark(BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=5"), duration_s=0.5, concurrency=2)).to_dict()
    c = d["client"]
    assert set(c) >= {
        "event_loop",
        "loop_lag_p99_ms",
        "loop_lag_max_ms",
        "cpu_share",
        "gc_collections",
        "gc_pause_max_ms",
        "bottleneck",
        "reason",
    }
    assert c["event_loop"] in ("uvloop", "asyncio")
    assert c["loop_lag_p99_ms"] is not None and c["loop_lag_p99_ms"] >= 0
    assert 0 < c["cpu_share"] < CPU_SHARE_SANE
    assert isinstance(c["bottleneck"], bool)
    assert (c["reason"] is None) == (not c["bottleneck"])


def test_a_stalled_client_is_flagged_not_passed_off_as_endpoint_latency(srv):
    # a progress display that blocks the event loop 30 ms at every call (10 a second)
    def slow_progress(done, total):
        time.sleep(0.03)

    d = run_benchmark(
        BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=5"), duration_s=1.0, concurrency=2), on_progress=slow_progress
    ).to_dict()
    c = d["client"]
    assert c["bottleneck"] is True
    assert "event-loop lag" in c["reason"]
    assert c["loop_lag_max_ms"] >= 20


def test_verdict_names_each_reason():
    busy = ProcessHealth(loop_lag_ms=array("d", [0.5] * 98 + [40.0, 50.0]), cpu_s=0.95, wall_s=1.0)
    v = client_verdict([busy], schedule_kept=False)
    assert v["bottleneck"] is True
    assert "95% of a CPU" in v["reason"] and "event-loop lag" in v["reason"] and "schedule" in v["reason"]
    calm = ProcessHealth(loop_lag_ms=array("d", [0.5] * 100), cpu_s=0.1, wall_s=1.0)
    v = client_verdict([calm])
    assert v["bottleneck"] is False and v["reason"] is None and "per_worker" not in v
    assert client_verdict([])["loop_lag_p99_ms"] is None  # aborted before measuring


def test_a_result_larger_than_the_socket_buffer_arrives_whole(srv):
    # 300 streams x 199 inter-token gaps: ~240 kB of samples from each worker
    d = run_benchmark(
        BenchmarkSettings(
            endpoint=srv.url("/sse?ttft_ms=0&itl_ms=0&tokens=200&run=big"),
            stream=True,
            requests=300,
            concurrency=8,
            workers=2,
        )
    ).to_dict()
    assert d["completed"] == 300 and d["errors"] == {}
    assert d["tokens"]["completion"] == 300 * 200
