"""Exact percentiles, summaries and the latency histogram."""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Exact percentile (linear interpolation between closest ranks) of sorted data, q in [0, 100]."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("no samples")
    if n == 1:
        return float(sorted_values[0])
    k = (n - 1) * (q / 100.0)
    lo = math.floor(k)
    hi = min(lo + 1, n - 1)
    frac = k - lo
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac)


def summarize(values_ms: Sequence[float], *, ndigits: int = 3) -> dict | None:
    """{min, avg, p50, p90, p95, p99, max} in ms over all samples, or None when there are none."""
    if not values_ms:
        return None
    s = sorted(values_ms)
    out = {
        "min": s[0],
        "avg": math.fsum(s) / len(s),
        "p50": percentile(s, 50),
        "p90": percentile(s, 90),
        "p95": percentile(s, 95),
        "p99": percentile(s, 99),
        "max": s[-1],
    }
    return {k: round(v, ndigits) for k, v in out.items()}


def lag_summary(values_ms: Sequence[float]) -> dict | None:
    if not values_ms:
        return None
    s = sorted(values_ms)
    return {"p50": round(percentile(s, 50), 3), "p99": round(percentile(s, 99), 3), "max": round(s[-1], 3)}


HISTOGRAM_ROWS = 12
_FINEST_BUCKETS = 768  # halved until the histogram fits in HISTOGRAM_ROWS rows


def histogram(values_ms: Sequence[float], max_rows: int = HISTOGRAM_ROWS) -> list[dict]:
    """The latency histogram: at most ``max_rows`` buckets ``{lo_ms, hi_ms, count}``.

    Contiguous buckets from min to max, counts adding up to the sample count.
    They are equal-width, log-spaced when max/min > 2 (so a long tail does not
    squash the body into one bar), at the finest of 768, 384, ... 12 buckets that
    fits in ``max_rows`` once each run of empty buckets is merged into a single
    row with count 0 (a gap: the terminal draws it as one "..." line).
    """
    if not len(values_ms):
        return []
    lo, hi = min(values_ms), max(values_ms)
    if hi <= lo:
        return [{"lo_ms": round(lo, 3), "hi_ms": round(hi, 3), "count": len(values_ms)}]
    use_log = lo > 0 and hi / lo > 2
    base, span = (math.log(lo), math.log(hi) - math.log(lo)) if use_log else (lo, hi - lo)

    def edge_at(i: int, buckets: int) -> float:
        if i <= 0:
            return lo
        if i >= buckets:
            return hi
        return math.exp(base + span * i / buckets) if use_log else base + span * i / buckets

    # counts of the finest buckets by bisecting the sorted samples at their edges
    # (a million samples take a sort, not a million logarithms)
    ordered = sorted(values_ms)
    cuts = [0] + [bisect_left(ordered, edge_at(i, _FINEST_BUCKETS)) for i in range(1, _FINEST_BUCKETS)] + [len(ordered)]
    fine_counts = {i: cuts[i + 1] - cuts[i] for i in range(_FINEST_BUCKETS) if cuts[i + 1] > cuts[i]}
    buckets = _FINEST_BUCKETS
    shift = 0
    while True:
        counts: dict[int, int] = {}
        for i, c in fine_counts.items():
            counts[i >> shift] = counts.get(i >> shift, 0) + c
        occupied = sorted(counts)
        gaps = sum(1 for a, b in zip(occupied, occupied[1:]) if b > a + 1)
        if len(occupied) + gaps <= max_rows or buckets <= max_rows:
            break
        buckets //= 2
        shift += 1

    def edge(i: int) -> float:
        return edge_at(i, buckets)

    rows = []
    for n, i in enumerate(occupied):
        if n and i > occupied[n - 1] + 1:
            rows.append({"lo_ms": round(edge(occupied[n - 1] + 1), 3), "hi_ms": round(edge(i), 3), "count": 0})
        rows.append({"lo_ms": round(edge(i), 3), "hi_ms": round(edge(i + 1), 3), "count": counts[i]})
    return rows
