"""The benchmark's statistics, pinned by behaviour (issue 17): exact
percentiles against the standard library's, the summaries' keys and rounding,
the send-lag summary, and the histogram's spacing, bounds and row limit.

Pure: no database, no server."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelreg.bench.stats import histogram, lag_summary, percentile, summarize

samples = st.lists(st.floats(min_value=0.001, max_value=1e6, allow_nan=False), min_size=2, max_size=60)


@given(samples, st.integers(min_value=1, max_value=99))
def test_percentile_is_linear_between_closest_ranks(values, q):
    # statistics.quantiles(method="inclusive") is the same definition: cut q of 99
    expected = statistics.quantiles(values, n=100, method="inclusive")[q - 1]
    assert percentile(sorted(values), q) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(samples)
def test_percentile_ends_are_the_extremes(values):
    ordered = sorted(values)
    assert percentile(ordered, 0) == ordered[0]
    assert percentile(ordered, 100) == ordered[-1]


def test_percentile_of_one_or_no_sample():
    assert percentile([7], 95) == 7.0 and isinstance(percentile([7], 95), float)
    assert isinstance(percentile([1, 2], 50), float)
    with pytest.raises(ValueError):
        percentile([], 50)


def test_summary_of_a_hundred_samples():
    assert summarize(list(range(100, 0, -1))) == {
        "min": 1,
        "avg": 50.5,
        "p50": 50.5,
        "p90": 90.1,
        "p95": 95.05,
        "p99": 99.01,
        "max": 100,
    }


def test_summary_rounds_to_its_digits():
    assert summarize([1.23456]) == dict.fromkeys(("min", "avg", "p50", "p90", "p95", "p99", "max"), 1.235)
    assert summarize([1.23456, 2.0], ndigits=1) == {
        "min": 1.2,
        "avg": 1.6,
        "p50": 1.6,
        "p90": 1.9,
        "p95": 2.0,
        "p99": 2.0,
        "max": 2.0,
    }
    assert summarize([]) is None


def test_lag_summary():
    assert lag_summary([]) is None
    assert lag_summary([3.0, 1.0, 2.0]) == {"p50": 2.0, "p99": 2.98, "max": 3.0}
    assert lag_summary([0.00049, 1.23456]) == {"p50": 0.618, "p99": 1.222, "max": 1.235}


def test_histogram_is_linear_up_to_twice_the_minimum_and_logarithmic_above():
    # max/min == 2: equal widths of 1/768 at both ends
    assert histogram([1.0, 2.0]) == [
        {"lo_ms": 1.0, "hi_ms": 1.001, "count": 1},
        {"lo_ms": 1.001, "hi_ms": 1.999, "count": 0},
        {"lo_ms": 1.999, "hi_ms": 2.0, "count": 1},
    ]
    # max/min == 4: log-spaced, the last bucket 4 * (1 - 4**(-1/768)) wide
    assert histogram([1.0, 4.0]) == [
        {"lo_ms": 1.0, "hi_ms": 1.002, "count": 1},
        {"lo_ms": 1.002, "hi_ms": 3.993, "count": 0},
        {"lo_ms": 3.993, "hi_ms": 4.0, "count": 1},
    ]
    # a minimum of 0 has no logarithm: linear
    assert histogram([0.0, 5.0]) == [
        {"lo_ms": 0.0, "hi_ms": 0.007, "count": 1},
        {"lo_ms": 0.007, "hi_ms": 4.993, "count": 0},
        {"lo_ms": 4.993, "hi_ms": 5.0, "count": 1},
    ]


def test_histogram_halves_its_buckets_until_the_rows_fit():
    # 6 log buckets would need 5 rows (one a gap); 3 fit in 4
    assert histogram([10.0, 20.0, 30.0, 40.0], max_rows=4) == [
        {"lo_ms": 10.0, "hi_ms": 15.874, "count": 1},
        {"lo_ms": 15.874, "hi_ms": 25.198, "count": 1},
        {"lo_ms": 25.198, "hi_ms": 40.0, "count": 2},
    ]
    # the same samples at the default 12 rows keep the finest buckets
    rows = histogram([10.0, 20.0, 30.0, 40.0])
    assert [r["count"] for r in rows] == [1, 0, 1, 0, 1, 0, 1]
    assert rows[0]["hi_ms"] == round(10 * 4 ** (1 / 768), 3)


@given(
    st.lists(st.floats(min_value=0, max_value=1e5, allow_nan=False), min_size=1, max_size=200),
    st.integers(min_value=3, max_value=12),
)
def test_histogram_rows_are_contiguous_complete_and_within_the_limit(values, max_rows):
    rows = histogram(values, max_rows=max_rows)
    assert 1 <= len(rows) <= max_rows
    assert sum(r["count"] for r in rows) == len(values)
    assert rows[0]["lo_ms"] == round(min(values), 3) and rows[-1]["hi_ms"] == round(max(values), 3)
    assert rows[0]["count"] and rows[-1]["count"]
    for a, b in zip(rows, rows[1:]):
        assert a["hi_ms"] == b["lo_ms"]
        assert a["count"] or b["count"]


def test_no_samples_is_named():
    with pytest.raises(ValueError, match=r"^no samples$"):
        percentile([], 50)


def test_the_log_scale_starts_above_twice_the_minimum_whatever_the_magnitude():
    # max/min 4 with min below 1 (a product would say 1): log-spaced, the first edge 0.5 * 4**(1/768)
    assert histogram([0.5, 2.0])[0]["hi_ms"] == round(0.5 * 4 ** (1 / 768), 3)
    # max/min 2.5: log-spaced too (not only above 3)
    assert histogram([1.0, 2.5])[0]["hi_ms"] == round(2.5 ** (1 / 768), 3)
    assert histogram([1.0, 2.5])[-1]["lo_ms"] == round(2.5 ** (767 / 768), 3)


def test_rows_exactly_at_the_limit_keep_the_finest_buckets():
    # 4 samples, 3 gaps: 7 rows fit in 7
    rows = histogram([10.0, 20.0, 30.0, 40.0], max_rows=7)
    assert [r["count"] for r in rows] == [1, 0, 1, 0, 1, 0, 1]
    assert rows[0]["hi_ms"] == round(10 * 4 ** (1 / 768), 3)
