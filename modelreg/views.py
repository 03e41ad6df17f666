"""Rows -> the stable JSON shapes of SPEC section 9 (plain dicts, snake_case)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from modelreg.lifecycle import STAGE_OF


def _load(text: str | None, default: Any) -> Any:
    return default if text is None else json.loads(text)


def days_until(retire_on: str | None, today: date) -> int | None:
    if not retire_on:
        return None
    return (date.fromisoformat(retire_on) - today).days


def rollout_weight(row, model_canary: str | None, canary_weight: int | None, default_version: str | None) -> int:
    if model_canary and row.version == model_canary:
        return row.canary_weight or 0
    if row.version == default_version:
        return 100 - (canary_weight or 0) if model_canary else 100
    return 0


def version_view(row, checks: dict[str, dict] | None = None, *, weight: int = 0, today: date | None = None) -> dict[str, Any]:
    out = {
        "model_id": row.model_id,
        "provider": row.provider,
        "version": row.version,
        "status": row.status,
        "stage": STAGE_OF[row.status],
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
        "checks": checks or {},
        "rollout_weight": weight,
    }
    if today is not None and row.status == "DEPRECATED":
        out["days_to_retirement"] = days_until(row.retire_on, today)
    return out


def alert_view(a) -> dict[str, Any]:
    """The stable JSON of an alert (SPEC section 9)."""
    return {"id": a.id, "kind": a.kind, "severity": a.severity, "status": a.status, "model_id": a.model_id,
            "version": a.version, "message": a.message, "first_seen": a.first_seen, "last_seen": a.last_seen}


def window_view(r) -> dict[str, Any]:
    """One observation window as shown by `show` (and charted as sparklines)."""
    return {"window_start": r.window_start, "window_end": r.window_end, "requests": r.requests,
            "errors": r.errors, "error_rate": (r.errors / r.requests) if r.requests else None,
            "latency_avg_ms": r.latency_avg_ms, "latency_p95_ms": r.latency_p95_ms, "cost_usd": r.cost_usd}
