"""The benchmark engine against real local HTTP servers (tests/bench_servers.py)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_servers import ServerThread, closed_port_url

from modelreg.bench import BenchmarkSettings, evaluate_slo, run_benchmark
from modelreg.bench.stats import histogram, percentile, summarize
from modelreg.errors import InvalidInput

SECRET = "sk-test-DO-NOT-LEAK-1234567890"


@pytest.fixture(scope="module")
def srv():
    with ServerThread() as server:
        yield server


def bench(url, **kw):
    return run_benchmark(BenchmarkSettings(endpoint=url, **kw)).to_dict()


# -- closed loop, plain responses ----------------------------------------------------------


def test_fixed_delay_p50_matches_the_endpoint(srv):
    d = bench(srv.url("/ok?delay_ms=50"), requests=40, concurrency=4, warmup=4)
    assert d["completed"] == 40 and d["requests"] == 40 and d["errors"] == {}
    assert d["error_rate"] == 0.0
    lat = d["latency_ms"]
    # the endpoint's 50 ms, not the client's overhead (generous for a busy 2-core box)
    assert 50.0 <= lat["p50"] <= 60.0, lat
    assert lat["min"] <= lat["p50"] <= lat["p90"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert d["tokens"] == {"prompt": 200, "completion": 40, "total": 240}
    assert d["mode"] == "closed" and d["aborted"] is False
    assert 4 * 1000 / 60 * 0.5 < d["throughput_rps"] < 4 * 1000 / 50 * 1.05
    assert sum(b["count"] for b in d["histogram"]) == 40
    assert d["ttft_ms"] is None and d["itl_ms"] is None
    assert d["schedule_kept"] is None and d["send_lag_ms"] is None


def test_5xx_counted_by_status(srv):
    d = bench(srv.url("/status/503"), requests=6, concurrency=2)
    assert d["errors"] == {"http_503": 6}
    assert d["completed"] == 0 and d["error_rate"] == 1.0
    assert d["latency_ms"]["p50"] is None


def test_malformed_json_and_wrong_shape_are_bad_body(srv):
    assert bench(srv.url("/malformed"), requests=3)["errors"] == {"bad_body": 3}
    assert bench(srv.url("/wrongshape"), requests=3)["errors"] == {"bad_body": 3}
    # the plain json kind accepts any JSON
    assert bench(srv.url("/wrongshape"), requests=3, endpoint_kind="json")["completed"] == 3


def test_connection_refused_is_connect():
    t = time.monotonic()
    d = bench(closed_port_url(), requests=4, concurrency=2, timeout_s=5)
    assert d["errors"] == {"connect": 4}
    assert d["error_rate"] == 1.0
    assert time.monotonic() - t < 3


def test_endpoint_that_never_answers_times_out(srv):
    t = time.monotonic()
    d = bench(srv.url("/hang"), requests=3, concurrency=3, timeout_s=0.5)
    elapsed = time.monotonic() - t
    assert d["errors"] == {"timeout": 3}
    assert 0.45 <= elapsed < 2.0


def test_reset_mid_response_is_an_error_not_a_hang(srv):
    t = time.monotonic()
    d = bench(srv.url("/reset"), requests=3, timeout_s=5)
    assert d["completed"] == 0 and sum(d["errors"].values()) == 3
    assert set(d["errors"]) <= {"connect", "bad_body"}
    assert time.monotonic() - t < 3


def test_redirect_is_not_followed(srv):
    before = srv.state.requests
    d = bench(srv.url("/redirect"), requests=2)
    assert d["errors"] == {"http_302": 2}
    assert srv.state.requests - before == 2  # the Location was never fetched


def test_mixed_errors_are_counted_by_kind_and_give_the_rate_over_attempted(srv):
    # the n-th request to this URL behaves as seq[n % 5]: every kind twice in 10 requests,
    # whatever order the 5 concurrent requests reach the endpoint in
    url = srv.url("/mixed?seq=ok,503,malformed,hang,close&run=engine-mixed")
    t = time.monotonic()
    d = bench(url, requests=10, concurrency=5, timeout_s=0.5)
    assert d["errors"] == {"http_503": 2, "bad_body": 2, "timeout": 2, "connect": 2}
    assert d["requests"] == 10 and d["completed"] == 2
    assert d["error_rate"] == 0.8
    assert d["latency_ms"]["p50"] is not None  # the two answers are measured
    assert sum(b["count"] for b in d["histogram"]) == 2
    assert time.monotonic() - t < 5


def test_warmup_is_not_counted(srv):
    before = srv.state.requests
    ok = bench(srv.url("/ok"), requests=10, warmup=5)
    assert ok["requests"] == 10 and ok["completed"] == 10
    assert ok["error_rate"] == 0.0
    assert srv.state.requests - before == 15  # the warmup was sent, just not measured


# -- streams ----------------------------------------------------------------------------


def test_sse_ttft_itl_usage_split_chunks_comments_role_first(srv):
    url = srv.url("/sse?ttft_ms=80&itl_ms=15&tokens=6&split=1&comments=1&role_first=1&usage=1")
    d = bench(url, requests=4, concurrency=2, stream=True)
    assert d["errors"] == {} and d["completed"] == 4
    # a role-only first chunk (sent at once) must not count as the first token
    assert 78.0 <= d["ttft_ms"]["p50"] <= 95.0, d["ttft_ms"]
    assert 10.0 <= d["itl_ms"]["p50"] <= 20.0, d["itl_ms"]
    # latency runs to [DONE]: 80 + 5 * 15
    assert d["latency_ms"]["p50"] >= 150
    assert d["tokens"] == {"prompt": 28, "completion": 24, "total": 52}
    # the request asked for a stream
    assert json.loads(srv.state.last_body)["stream"] is True


def test_stream_cut_mid_way_is_stream_broken(srv):
    d = bench(srv.url("/sse?ttft_ms=10&itl_ms=5&tokens=10&cut_after=3"), requests=3, stream=True)
    assert d["errors"] == {"stream_broken": 3}


def test_stream_without_done_is_stream_broken(srv):
    d = bench(srv.url("/sse?ttft_ms=5&itl_ms=2&tokens=3&done=0"), requests=2, stream=True)
    assert d["errors"] == {"stream_broken": 2}


# -- open loop ------------------------------------------------------------------------


def test_open_loop_shows_the_stall_in_the_tail(srv):
    srv.reset_clock()
    d = bench(srv.url("/stall?period_s=1&pause_s=0.3"), rate=100, duration_s=2.0, timeout_s=5)
    assert d["mode"] == "open"
    assert d["requests"] == 200 and d["completed"] == 200
    lat = d["latency_ms"]
    # about 30% of the requests land in a 300 ms pause: measured from their scheduled
    # time, the tail shows it; the median (outside the pauses) stays small. A 30% share
    # keeps the median clear of the pause even when the run starts a little late.
    assert lat["p99"] >= 250, lat
    assert lat["p50"] < 150, lat
    assert d["achieved_rate_rps"] == pytest.approx(100, rel=0.1)
    assert d["send_lag_ms"]["p50"] < 10
    assert isinstance(d["schedule_kept"], bool)
    # a closed loop with one worker waits through the pause once and hides it (coordinated omission)
    srv.reset_clock()
    c = bench(srv.url("/stall?period_s=1&pause_s=0.3"), duration_s=1.0, timeout_s=5)
    assert c["latency_ms"]["max"] >= 250 and c["latency_ms"]["p99"] < 100


def test_open_loop_requests_count(srv):
    d = bench(srv.url("/ok?delay_ms=5"), rate=200, requests=50)
    assert d["requests"] == 50 and d["completed"] == 50
    assert 0.2 <= d["duration_s"] < 1.0


# -- control ----------------------------------------------------------------------------


def test_duration_run_ends_on_time(srv):
    t = time.monotonic()
    d = bench(srv.url("/ok?delay_ms=20"), duration_s=0.6, concurrency=3)
    assert time.monotonic() - t < 1.2
    assert 0.55 <= d["duration_s"] <= 1.0
    assert d["completed"] > 20


def test_ctrl_c_returns_partial_result_marked_aborted(srv):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("SIGINT handling needs the main thread")
    # a background job of a non-interactive shell starts with SIGINT ignored: act as a terminal would
    original = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        timer = threading.Timer(0.4, lambda: os.kill(os.getpid(), signal.SIGINT))
        t = time.monotonic()
        timer.start()
        result = run_benchmark(BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=20"), duration_s=30, concurrency=2))
        timer.join()
        handler_after = signal.getsignal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, original)
    assert time.monotonic() - t < 2
    assert result.aborted is True
    d = result.to_dict()
    assert d["aborted"] is True and d["completed"] > 0
    assert d["requests"] == d["completed"] + sum(d["errors"].values())
    assert handler_after is signal.default_int_handler  # our handler was removed again


def test_progress_is_throttled(srv):
    calls = []
    run_benchmark(
        BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=1"), duration_s=1.0, concurrency=4),
        on_progress=lambda done, total: calls.append((time.monotonic(), done, total)),
    )
    assert 3 <= len(calls) <= 13
    assert all(total is None for _, _, total in calls)
    dones = [c[1] for c in calls]
    assert dones == sorted(dones)


def test_progress_reports_the_total(srv):
    calls = []
    run_benchmark(
        BenchmarkSettings(endpoint=srv.url("/ok?delay_ms=30"), requests=10),
        on_progress=lambda done, total: calls.append((done, total)),
    )
    assert calls[-1] == (10, 10)


# -- secrets and settings ---------------------------------------------------------------


def test_api_key_is_sent_but_never_stored_or_shown(srv):
    s = BenchmarkSettings(
        endpoint=srv.url("/ok?api-key=" + SECRET),
        api_key=SECRET,
        headers=(
            ("X-Api-Key", SECRET),
            ("X-Auth-Token", SECRET),
            ("Authorization", "Bearer " + SECRET),
            ("X-Trace", "visible"),
        ),
        requests=1,
    )
    for text in (repr(s), str(s), json.dumps(s.to_record())):
        assert SECRET not in text
    rec = s.to_record()
    # names only: a custom header is as likely to carry a credential as not (issue 12 #23)
    assert rec["headers"] == [["X-Api-Key", None], ["X-Auth-Token", None], ["Authorization", None], ["X-Trace", None]]
    assert rec["api_key_set"] is True
    result = run_benchmark(s)
    assert SECRET not in json.dumps(result.to_dict())
    sent = "\n".join(srv.state.last_headers)
    assert f"Bearer {SECRET}" in sent and "X-Trace: visible" in sent


def test_payload_and_headers_are_sent(srv):
    bench(srv.url("/ok"), requests=1, payload=b'{"hello": 1}', headers=(("X-Team", "ml"),))
    assert srv.state.last_body == b'{"hello": 1}'
    assert "X-Team: ml" in srv.state.last_headers


@pytest.mark.parametrize(
    "kw",
    [
        {"endpoint": "ftp://example.com/x"},
        {"endpoint": "file:///etc/passwd"},
        {"endpoint": ""},
        {"endpoint": "not a url"},
        {"endpoint": "http://h/x", "requests": 0},
        {"endpoint": "http://h/x", "requests": -5},
        {"endpoint": "http://h/x", "requests": 10, "duration_s": 5.0},
        {"endpoint": "http://h/x", "duration_s": 0},
        {"endpoint": "http://h/x", "concurrency": 0},
        {"endpoint": "http://h/x", "rate": -1.0},
        {"endpoint": "http://h/x", "rate": float("nan")},
        {"endpoint": "http://h/x", "warmup": -1},
        {"endpoint": "http://h/x", "timeout_s": 0},
        {"endpoint": "http://h/x", "max_error_rate": 1.5},
        {"endpoint": "http://h/x", "endpoint_kind": "grpc"},
        {"endpoint": "http://h/x", "headers": (("X-Bad", "a\r\nInjected: 1"),)},
        {"endpoint": "http://h/x", "headers": (("Bad Name", "v"),)},
    ],
)
def test_invalid_settings_are_invalid_input(kw):
    s = BenchmarkSettings(api_key=SECRET, **kw)
    with pytest.raises(InvalidInput) as err:
        s.validate()
    assert "\n" not in err.value.message and SECRET not in err.value.message
    with pytest.raises(InvalidInput):
        run_benchmark(s)


@hyp_settings(max_examples=60, deadline=None)
@given(
    requests=st.one_of(st.none(), st.integers(-3, 5)),
    duration=st.one_of(st.none(), st.floats(-1, 5), st.just(float("nan"))),
    concurrency=st.integers(-2, 5),
    rate=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    warmup=st.integers(-2, 3),
    timeout=st.floats(allow_nan=True, allow_infinity=True),
)
def test_validate_only_raises_invalid_input(requests, duration, concurrency, rate, warmup, timeout):
    s = BenchmarkSettings(
        endpoint="http://127.0.0.1:9/x",
        requests=requests,
        duration_s=duration,
        concurrency=concurrency,
        rate=rate,
        warmup=warmup,
        timeout_s=timeout,
    )
    try:
        s.validate()
    except InvalidInput:
        return
    assert concurrency >= 1 and warmup >= 0 and timeout > 0
    assert not (requests is not None and duration is not None)


def test_default_payloads():
    chat = json.loads(BenchmarkSettings(endpoint="http://h/x", stream=True).body())
    assert chat["stream"] is True and chat["messages"]
    assert BenchmarkSettings(endpoint="http://h/x", endpoint_kind="json").body() == b"{}"


# -- statistics and SLO -------------------------------------------------------------------


def test_exact_percentiles():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50.5
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 95) == 7.0
    s = summarize([3.0, 1.0, 2.0])
    assert s["min"] == 1.0 and s["max"] == 3.0 and s["p50"] == 2.0 and s["avg"] == 2.0
    h = histogram([1.0] * 99 + [1000.0])
    assert sum(b["count"] for b in h) == 100 and h[0]["lo_ms"] == 1.0 and h[-1]["hi_ms"] == 1000.0


def test_slo_verdict():
    d = {"completed": 100, "requests": 100, "error_rate": 0.0, "latency_ms": {"avg": 40.0, "p95": 90.0}}
    v = evaluate_slo(d, 50.0, 100.0, 0.01)
    assert v["passed"] is True
    assert [c["name"] for c in v["checks"]] == ["avg_latency_ms", "p95_latency_ms", "error_rate"]
    v = evaluate_slo(d, 30.0, 100.0, 0.01)
    assert v["passed"] is False and v["checks"][0]["passed"] is False and v["checks"][0]["observed"] == 40.0
    bad = dict(d, error_rate=0.05)
    assert evaluate_slo(bad, 50.0, 100.0, 0.01)["passed"] is False
    none_done = {"completed": 0, "requests": 5, "error_rate": 1.0, "latency_ms": {"avg": None, "p95": None}}
    assert evaluate_slo(none_done, None, None, 1.0)["passed"] is False
    # no registered latency SLO: those checks pass with limit null
    v = evaluate_slo(d, None, None, 0.01)
    assert v["passed"] is True and v["checks"][0]["limit"] is None


# -- renderer ---------------------------------------------------------------------------


def test_render_benchmark_plain_text(srv):
    import io

    from rich.console import Console

    from modelreg.cli.benchmark_view import make_progress, render_benchmark

    calls = []
    quiet = Console(file=io.StringIO())  # not a terminal: the progress bar draws nothing
    with make_progress(quiet) as cb:
        result = run_benchmark(
            BenchmarkSettings(
                endpoint=srv.url("/sse?ttft_ms=20&itl_ms=2&tokens=4"), stream=True, requests=6, api_key=SECRET
            ),
            on_progress=lambda done, total: (calls.append(done), cb(done, total)),
        )
    assert quiet.file.getvalue() == ""
    d = result.to_dict()
    d["run_id"] = 42
    d["slo"] = evaluate_slo(d, 1.0, None, 0.01)
    buf = io.StringIO()
    render_benchmark(d, Console(file=buf, width=100, no_color=True, force_terminal=False))
    text = buf.getvalue()
    for needle in (
        "42",
        "completed",
        "p95",
        "first token",
        "inter-token",
        "histogram",
        "SLO: FAILED",
        "avg latency",
        "none set",
        "error rate",
    ):
        assert needle in text, needle
    assert SECRET not in text
    # zero completed requests and an aborted run still render
    empty = bench(srv.url("/status/500"), requests=2)
    empty.update(run_id=1, slo=evaluate_slo(empty, 10.0, 20.0, 0.01), aborted=True)
    buf = io.StringIO()
    render_benchmark(empty, Console(file=buf, width=80, no_color=True))
    assert "http_500 2" in buf.getvalue() and "ABORTED" in buf.getvalue()
