"""Population stability index (PSI) between a baseline and a latest sample.

    PSI = sum over bins of (a_i - e_i) * ln(a_i / e_i)

with e_i the baseline share and a_i the latest share of bin i.

Bins: edges are the baseline's quantiles at 1/bins, 2/bins, ... (so each bin
holds about the same share of the baseline); repeated edges (ties, e.g. many
zeros) are merged, so a heavily tied baseline gets fewer bins.  The outer bins
are open (-inf, e1] and (e_last, +inf); a value equal to an edge belongs to
the lower bin.

Empty bins: a share of 0 would make ln() infinite, so every share is floored
at EPSILON (1e-4) before the sum.  A bin empty on both sides contributes 0.

Thresholds (the usual industry reading): PSI <= 0.1 no significant change;
> 0.1 warning (moderate shift); > 0.25 critical (major shift).

Minimum sample sizes: MIN_BASELINE = MIN_LATEST = 500 values.  PSI has a
positive bias from sampling noise alone: for two samples of the *same*
distribution with k bins, PSI is roughly (1/n + 1/m) * chi-square(k-1), mean
(k-1)(1/n + 1/m).  With 10 bins and 500 values each, the mean is 0.036 and
a false "warning" (> 0.1) happens about 0.3% of the time; with 100 values
each the mean alone would be 0.18 - every check would alert on noise.  Below
the minimum, ``population_stability_index`` returns None and no drift alert
is raised (the rule skips); ``min_size`` can lower it for tests.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

from modelreg.errors import InvalidInput

EPSILON = 1e-4
MIN_BASELINE = 500
MIN_LATEST = 500
WARNING_PSI = 0.1
CRITICAL_PSI = 0.25


def _finite(values: Sequence[float], what: str) -> list[float]:
    out = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidInput(f"{what}: expected numbers, got {type(value).__name__}")
        number = float(value)
        if not math.isfinite(number):
            raise InvalidInput(f"{what}: expected finite numbers, got {number!r}")
        out.append(number)
    return out


def quantile_edges(baseline: Sequence[float], bins: int) -> list[float]:
    """Inner bin edges: baseline quantiles (nearest-rank), duplicates merged."""
    ordered = sorted(baseline)
    n = len(ordered)
    edges: list[float] = []
    for i in range(1, bins):
        edge = ordered[min(n - 1, max(0, math.ceil(i * n / bins) - 1))]
        if not edges or edge > edges[-1]:
            edges.append(edge)
    return edges


def _shares(values: list[float], edges: list[float]) -> list[float]:
    counts = [0] * (len(edges) + 1)
    for value in values:
        counts[bisect_left(edges, value)] += 1
    return [c / len(values) for c in counts]


def population_stability_index(
    baseline: Sequence[float],
    latest: Sequence[float],
    bins: int = 10,
    *,
    min_baseline: int = MIN_BASELINE,
    min_latest: int = MIN_LATEST,
) -> float | None:
    """PSI of ``latest`` against ``baseline``; None when either sample is too small.

    Raises InvalidInput for bins < 2 or non-finite values.
    """
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise InvalidInput(f"bins: expected an integer >= 2, got {bins!r}")
    base = _finite(baseline, "baseline sample")
    new = _finite(latest, "latest sample")
    if len(base) < max(1, min_baseline) or len(new) < max(1, min_latest):
        return None
    edges = quantile_edges(base, bins)
    expected = _shares(base, edges)
    actual = _shares(new, edges)
    psi = 0.0
    for e, a in zip(expected, actual):
        if e == 0 and a == 0:
            continue
        e = max(e, EPSILON)
        a = max(a, EPSILON)
        psi += (a - e) * math.log(a / e)
    return psi


def drift_severity(psi: float | None) -> str | None:
    """None (no alert), "warning" (PSI > 0.1) or "critical" (PSI > 0.25)."""
    if psi is None or not isinstance(psi, (int, float)) or math.isnan(psi):
        return None
    if psi > CRITICAL_PSI:
        return "critical"
    if psi > WARNING_PSI:
        return "warning"
    return None
