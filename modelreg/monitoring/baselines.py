"""Drift baselines.

Latency is judged against the registered SLO. Drift compares the latest
window's sample with a baseline sample: a pinned one (`pin`: the latest
windows' samples), otherwise the first windows that start at or after
approval, taken until they hold `drift.MIN_BASELINE` values. An observed
baseline is stored the first time it is complete, so it stays fixed
afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from modelreg import clock
from modelreg.errors import InvalidInput, NotFound
from modelreg.lifecycle import authority
from modelreg.lifecycle.authority import Role
from modelreg.monitoring import drift
from modelreg.monitoring.observations import Observation as Window
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries
from modelreg.store.monitoring_tables import Baseline, Observation
from modelreg.store.tables import ModelVersion


def window(row: Observation) -> Window:
    return Window(
        model_id=row.model_id,
        version=row.version,
        window_start=clock.parse_instant(row.window_start),
        window_end=clock.parse_instant(row.window_end),
        requests=row.requests,
        errors=row.errors,
        latency_avg_ms=row.latency_avg_ms,
        latency_p95_ms=row.latency_p95_ms,
        cost_usd=row.cost_usd,
        sample=json.loads(row.sample) if row.sample is not None else None,
    )


def latest_windows(session, model_id: str, version: str, limit: int) -> list[Window]:
    return [window(r) for r in mq.latest_windows(session, model_id, version, limit)]


def _observed(session, row: ModelVersion, before: str) -> tuple[list[float], int, str, str] | None:
    """Samples of the first windows at or after approval that end by `before`,
    until MIN_BASELINE values; None when there are not enough yet."""
    if not row.approved_at:
        return None
    values: list[float] = []
    used, first, last = 0, None, None
    for ws, we, sample in mq.samples_since(session, row.model_id, row.version, row.approved_at):
        if we > before:
            break
        values.extend(json.loads(sample))
        used += 1
        first = first or ws
        last = we
        if len(values) >= drift.MIN_BASELINE:
            return values, used, first, last
    return None


def sample(session, row: ModelVersion, latest: Window, tx=None) -> list[float] | None:
    """The drift baseline of a version (pinned, stored, or observed now; an
    observed one is stored when `tx` is given)."""
    stored = mq.baseline(session, row.model_id, row.version)
    if stored is not None:
        return json.loads(stored.sample)
    found = _observed(session, row, clock.stamp(latest.window_start))
    if found is None:
        return None
    values, used, first, last = found
    if tx is not None:
        session.add(
            Baseline(
                model_id=row.model_id,
                version=row.version,
                sample=json.dumps(values, separators=(",", ":")),
                source="observed",
                created_at=tx.now,
            )
        )
        tx.audit(
            "baseline.observed",
            f"{row.model_id}@{row.version}",
            None,
            {"windows": used, "values": len(values), "from": first, "to": last},
        )
    return values


def pin(tx, model_id: str, version: str, *, windows: int | None = None) -> dict[str, Any]:
    """Pin the latest windows' samples as the drift baseline of MODEL@V: the
    newest `windows` windows with a sample, or (by default) as many of the
    newest as it takes to reach drift.MIN_BASELINE values."""
    target = f"{model_id}@{version}"
    if windows is not None and (isinstance(windows, bool) or not isinstance(windows, int) or not 1 <= windows <= 10**6):
        raise InvalidInput(f"--windows: expected a positive whole number, got {windows!r}")
    authority.require(tx, Role.OPERATOR, f"pin the drift baseline of {target}")
    session = tx.session
    queries.version(session, model_id, version)
    values: list[float] = []
    used, first, last = 0, None, None
    for ws, we, raw in mq.samples_newest_first(session, model_id, version):
        values = json.loads(raw) + values
        used += 1
        first, last = ws, last or we
        if (windows is not None and used >= windows) or (windows is None and len(values) >= drift.MIN_BASELINE):
            break
    if not used:
        raise NotFound(
            f"{target} has no observation windows with a sample to pin (ingest some with `modelreg alerts ingest`)"
        )
    existing = mq.baseline(session, model_id, version)
    before = {"source": existing.source, "values": len(json.loads(existing.sample))} if existing else None
    if existing is None:
        existing = Baseline(model_id=model_id, version=version, sample="[]", source="pinned", created_at=tx.now)
        session.add(existing)
    existing.sample = json.dumps(values, separators=(",", ":"))
    existing.source, existing.created_at = "pinned", tx.now
    result = {"target": target, "source": "pinned", "windows": used, "values": len(values), "from": first, "to": last}
    tx.audit("baseline.pin", target, before, {k: v for k, v in result.items() if k != "target"})
    if len(values) < drift.MIN_BASELINE:
        result["warning"] = (
            f"only {len(values)} values; drift is judged once the baseline holds "
            f"{drift.MIN_BASELINE} (fewer would alert on noise)"
        )
    return result
