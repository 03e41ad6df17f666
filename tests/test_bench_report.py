"""The latency histogram's data (stats.histogram) and its terminal drawing (issue 16)."""

from __future__ import annotations

import io
import random

import pytest
from rich.console import Console

from modelreg.bench.stats import HISTOGRAM_ROWS, histogram, summarize
from modelreg.cli.benchmark_view import render_benchmark

rng = random.Random(16)
SHAPES = {
    "tight": [50 + rng.random() * 3 for _ in range(2000)],
    "tight_with_one_stall": [50 + rng.random() * 3 for _ in range(2000)] + [900.0],
    "bimodal": [rng.gauss(20, 1) for _ in range(500)] + [rng.gauss(300, 20) for _ in range(500)],
    "long_tail": [rng.expovariate(1 / 5) + 1 for _ in range(5000)],
    "sparse": [rng.uniform(1, 1000) for _ in range(40)],
    "two": [1.0, 2.0],
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_histogram_is_contiguous_complete_and_short(name):
    values = SHAPES[name]
    rows = histogram(values)
    assert 1 <= len(rows) <= HISTOGRAM_ROWS
    assert sum(r["count"] for r in rows) == len(values)
    assert rows[0]["lo_ms"] == round(min(values), 3) and rows[-1]["hi_ms"] == round(max(values), 3)
    for a, b in zip(rows, rows[1:]):
        assert a["hi_ms"] == b["lo_ms"]  # contiguous
        assert a["count"] or b["count"]  # a run of empty buckets is one row
    assert rows[0]["count"] and rows[-1]["count"]


def test_a_stall_is_one_gap_not_seventeen_empty_rows():
    rows = histogram(SHAPES["tight_with_one_stall"])
    assert [r["count"] for r in rows][-2:] == [0, 1]
    body = [r for r in rows if r["count"] and r["hi_ms"] < 100]
    assert len(body) >= 6  # the body keeps its shape instead of one fat bar
    assert all(r["hi_ms"] - r["lo_ms"] < 1.0 for r in body)


def test_degenerate_inputs():
    assert histogram([]) == []
    assert histogram([7.0] * 5) == [{"lo_ms": 7.0, "hi_ms": 7.0, "count": 5}]


def _render(values, **extra) -> str:
    result = {
        "endpoint": "http://127.0.0.1:1/x",
        "mode": "closed",
        "concurrency": 4,
        "requests": len(values),
        "completed": len(values),
        "errors": {},
        "error_rate": 0.0,
        "duration_s": 1.0,
        "throughput_rps": 10.0,
        "latency_ms": summarize(values),
        "histogram": histogram(values),
        "run_id": None,
        **extra,
    }
    buf = io.StringIO()
    render_benchmark(result, Console(file=buf, width=120, no_color=True))
    return buf.getvalue()


def test_drawing_marks_the_percentiles_and_draws_a_gap_as_one_line():
    text = _render(SHAPES["tight_with_one_stall"])
    lines = text.split("Latency histogram (ms)\n", 1)[1].splitlines()
    rows = [line for line in lines if "|" in line]
    assert len(rows) <= HISTOGRAM_ROWS
    marked = [line for line in rows if "◀" in line or "<-" in line]
    assert any("p50" in line for line in marked) and any("p99" in line for line in marked)
    gap_rows = [line for line in rows if line.strip().startswith(("⋮", ":"))]
    assert len(gap_rows) == 1
    assert "900.0" in rows[-1]  # the stall is its own row at the end


def test_drawing_warns_when_the_client_limited_the_run():
    client = {
        "loop_lag_p99_ms": 42.0,
        "cpu_share": 0.97,
        "gc_collections": 3,
        "gc_pause_max_ms": 0.4,
        "bottleneck": True,
        "reason": "a client process used 97% of a CPU",
    }
    text = _render(SHAPES["tight"], client=client, workers=1)
    assert "loop lag p99 42.00 ms" in text and "CPU 97%" in text
    assert "WARNING" in text and "limited this run" in text and "97% of a CPU" in text
    calm = dict(client, bottleneck=False, reason=None, loop_lag_p99_ms=0.8, cpu_share=0.2)
    assert "WARNING" not in _render(SHAPES["tight"], client=calm, workers=2)
    assert "2 worker processes" in _render(SHAPES["tight"], client=calm, workers=2)
