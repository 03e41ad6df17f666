"""The SLO verdict of a benchmark run."""

from __future__ import annotations


def _check(name: str, limit, observed) -> dict:
    passed = limit is None or (observed is not None and observed <= limit)
    return {"name": name, "limit": limit, "observed": observed, "passed": bool(passed)}


def evaluate_slo(
    result_dict: dict, avg_latency_ms: float | None, p95_latency_ms: float | None, max_error_rate: float
) -> dict:
    """{passed, checks: [{name, limit, observed, passed}]}.

    A limit of None (no registered SLO for that figure) passes with limit null.
    A run with zero completed requests fails every check (there is nothing to
    vouch for), and an aborted run is judged on what it measured.
    """
    latency = result_dict.get("latency_ms") or {}
    completed = result_dict.get("completed") or 0
    observed_avg = latency.get("avg") if completed else None
    observed_p95 = latency.get("p95") if completed else None
    error_rate = result_dict.get("error_rate")
    checks = [
        _check("avg_latency_ms", avg_latency_ms, observed_avg),
        _check("p95_latency_ms", p95_latency_ms, observed_p95),
        _check("error_rate", max_error_rate, error_rate),
    ]
    if not completed:
        for c in checks:
            c["passed"] = False
    return {"passed": all(c["passed"] for c in checks), "checks": checks}
