"""Exact percentiles, summaries and the latency histogram."""

from __future__ import annotations

import math
from typing import Sequence


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


def histogram(values_ms: Sequence[float], buckets: int = 20) -> list[dict]:
    """Buckets [{lo_ms, hi_ms, count}] covering min..max.

    Linear buckets when the spread is small; log-spaced when max/min is large,
    so a long tail (a stall) does not squash the body into one bar.
    """
    if not values_ms:
        return []
    lo, hi = min(values_ms), max(values_ms)
    if hi <= lo:
        return [{"lo_ms": round(lo, 3), "hi_ms": round(hi, 3), "count": len(values_ms)}]
    use_log = lo > 0 and hi / lo > 20
    if use_log:
        llo, lhi = math.log(lo), math.log(hi)
        edges = [math.exp(llo + (lhi - llo) * i / buckets) for i in range(buckets + 1)]
    else:
        edges = [lo + (hi - lo) * i / buckets for i in range(buckets + 1)]
    edges[0], edges[-1] = lo, hi
    counts = [0] * buckets
    for v in values_ms:
        if use_log:
            i = int((math.log(v) - llo) / (lhi - llo) * buckets) if v > lo else 0
        else:
            i = int((v - lo) / (hi - lo) * buckets)
        counts[min(max(i, 0), buckets - 1)] += 1
    return [
        {"lo_ms": round(edges[i], 3), "hi_ms": round(edges[i + 1], 3), "count": counts[i]} for i in range(buckets)
    ]
