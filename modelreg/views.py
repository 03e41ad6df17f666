"""Rows -> the stable JSON shapes of SPEC section 9 (plain dicts, snake_case)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from modelreg.errors import DatabaseError
from modelreg.lifecycle.status import STAGE_OF


def _load(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)


def days_until(retire_on: str | None, today: date) -> int | None:
    if not retire_on:
        return None
    return (date.fromisoformat(retire_on) - today).days


def stage_of(row: Any) -> str:
    """The stage of a stored status; a status the code does not know is damage, not a bug."""
    stage = STAGE_OF.get(row.status)
    if stage is None:
        raise DatabaseError(
            f"integrity: {row.model_id}@{row.version} has an unknown status {row.status!r} (run `modelreg db check`)"
        )
    return stage


def check_view(c: Any) -> dict[str, Any]:
    return {"result": c.result, "actor": c.actor, "at": c.at, "note": c.note, "evidence": c.evidence}


def version_view(
    row: Any, checks: dict[str, Any] | None = None, *, weight: int = 0, today: date | None = None
) -> dict[str, Any]:
    out = {
        "model_id": row.model_id,
        "provider": row.provider,
        "version": row.version,
        "status": row.status,
        "stage": stage_of(row),
        "capabilities": _load(row.capabilities, []),
        "parameters": _load(row.parameters, {}),
        "performance": {
            "avg_latency_ms": row.avg_latency_ms,
            "p95_latency_ms": row.p95_latency_ms,
            "cost_per_request_usd": row.cost_per_request_usd,
        },
        "compliance": {
            "data_residency": _load(row.data_residency, []),
            "pii_handling": row.pii_handling,
            "approved_domains": _load(row.approved_domains, []),
        },
        "endpoint": row.endpoint,
        "endpoint_kind": row.endpoint_kind,
        "description": row.description,
        "registered_at": row.registered_at,
        "registered_by": row.registered_by,
        "approved_at": row.approved_at,
        "approved_by": row.approved_by,
        "deprecated_at": row.deprecated_at,
        "deprecation_reason": row.deprecation_reason,
        "retire_on": row.retire_on,
        "replacement": row.replacement,
        "retired_at": row.retired_at,
        "checks": {name: check_view(c) for name, c in (checks or {}).items()},
        "rollout_weight": weight,
    }
    if today is not None and row.status == "DEPRECATED":
        out["days_to_retirement"] = days_until(row.retire_on, today)
    return out


def alert_view(a: Any) -> dict[str, Any]:
    """The stable JSON of an alert (SPEC section 9)."""
    return {
        "id": a.id,
        "kind": a.kind,
        "severity": a.severity,
        "status": a.status,
        "model_id": a.model_id,
        "version": a.version,
        "message": a.message,
        "first_seen": a.first_seen,
        "last_seen": a.last_seen,
    }


def window_view(r: Any) -> dict[str, Any]:
    """One observation window as shown by `show` (and charted as sparklines)."""
    return {
        "window_start": r.window_start,
        "window_end": r.window_end,
        "requests": r.requests,
        "errors": r.errors,
        "error_rate": (r.errors / r.requests) if r.requests else None,
        "latency_avg_ms": r.latency_avg_ms,
        "latency_p95_ms": r.latency_p95_ms,
        "cost_usd": r.cost_usd,
    }


def benchmark_summary(run: Any) -> dict[str, Any]:
    results = json.loads(run.results)
    return {
        "run_id": run.run_id,
        "endpoint": run.endpoint,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "actor": run.actor,
        "mode": run.mode,
        "passed": run.passed,
        "aborted": run.aborted,
        "latency_ms": results.get("latency_ms"),
        "error_rate": results.get("error_rate"),
        "throughput_rps": results.get("throughput_rps"),
    }


def event_view(e: Any) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at,
        "actor": e.actor,
        "os_user": e.os_user,
        "action": e.action,
        "target": e.target,
        "before": json.loads(e.before),
        "after": json.loads(e.after),
        "policy_version": e.policy_version,
    }


def lineage_view(row: Any) -> dict[str, Any] | None:
    """A version's lineage (None when nothing was recorded)."""
    if row is None:
        return None
    return {
        "artifact": None if row.artifact_uri is None else {"uri": row.artifact_uri, "digest": row.artifact_digest},
        "source": row.source,
        "base_model": row.base_model,
        "datasets": _load(row.datasets, []),
        "evaluations": _load(row.evaluations, []),
    }


def card_view(found: tuple[str, int, str, str] | None) -> dict[str, Any] | None:
    """A version's model card without its text: {sha256, size, set_at, set_by}, or None."""
    if found is None:
        return None
    digest, size, at, by = found
    return {"sha256": digest, "size": size, "set_at": at, "set_by": by}
