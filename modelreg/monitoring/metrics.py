"""Per-version gauges for Prometheus: what `alerts export` writes and `serve`
answers on /metrics."""

from __future__ import annotations

import math
from typing import Any

from modelreg.lifecycle.status import NOT_ARCHIVED
from modelreg.monitoring import baselines, drift, prometheus
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries


def rows(session) -> list[dict[str, Any]]:
    """One row per version that is not archived, for prometheus.render."""
    counts = mq.open_counts_by_version(session)
    out = []
    for status in NOT_ARCHIVED:
        for v in queries.versions_of_status(session, status):
            row: dict[str, Any] = {
                "model_id": v.model_id,
                "version": v.version,
                "status": v.status,
                "latency_avg_ms": None,
                "latency_p95_ms": None,
                "error_rate": None,
                "drift_psi": None,
                "open_alerts": counts.get((v.model_id, v.version), {}),
            }
            latest = baselines.latest_windows(session, v.model_id, v.version, 1)
            if latest:
                w = latest[0]
                row["latency_avg_ms"], row["latency_p95_ms"] = float(w.latency_avg_ms), float(w.latency_p95_ms)
                row["error_rate"] = (w.errors / w.requests) if w.requests else None
                if w.sample:
                    base = baselines.sample(session, v, w)
                    if base:
                        psi = drift.population_stability_index(base, w.sample)
                        row["drift_psi"] = psi if psi is None or math.isfinite(psi) else None
            out.append(row)
    return out


def render(session) -> str:
    return prometheus.render(rows(session))
