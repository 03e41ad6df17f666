"""The canonical registry document (format 1), from the database, as TOML.

The document holds every model (provider, owner, created_at, description,
fallbacks) and under it every version: its status, every timestamp and actor
of its lifecycle, the manifest part (capabilities, parameters, performance
SLO, compliance, endpoint), deprecation fields and canary weight, its check
results, benchmark runs (settings and results) and the retirement notices
raised for it; and the security advisories. Alerts, observations and the
audit trail are operational records of one database and are not exported.

Determinism: models sorted by id, versions by SemVer precedence, checks by
(time, insertion order), benchmark runs by run id, advisories by (model,
id); None is omitted (TOML has no null), as are empty check / run / notice
lists and an empty parameter table. Inside benchmark settings and results a
null value is omitted too; a value that still could not be written as TOML
(a null inside a list) is kept as JSON text, so nothing is ever lost.
Timestamps are fixed-width UTC text (`2026-03-01T12:00:00.000000Z`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from modelreg.store import metadata_queries
from modelreg.store.monitoring_tables import Advisory
from modelreg.store.tables import (
    BenchmarkRun,
    CheckResult,
    Model,
    ModelCard,
    ModelVersion,
    RetirementNotice,
    VersionLineage,
    json_text,
)

FORMAT = 1
MAX_TEXT = 4000

# version keys, in the order they are written
LIFECYCLE_KEYS = (
    "status",
    "registered_at",
    "registered_by",
    "status_changed_at",
    "approved_at",
    "approved_by",
    "default_since",
    "canary_weight",
    "deprecated_at",
    "deprecated_by",
    "deprecation_reason",
    "retire_on",
    "replacement",
    "retired_at",
    "rejected_at",
)
SPEC_KEYS = ("description", "capabilities", "endpoint", "endpoint_kind", "parameters", "performance", "compliance")
# lineage: recorded at registration and immutable, like the manifest part (the manifest's keys)
LINEAGE_KEYS = ("artifact", "source", "base_model", "datasets", "evaluations")
METADATA_KEYS = ("labels", "card")  # changeable: `label set|unset`, `card set`
CARD_KEYS = ("sha256", "set_at", "set_by", "body")
RECORD_KEYS = ("checks", "benchmarks", "retirement_notices")
STAMP_KEYS = tuple(k for k in LIFECYCLE_KEYS if k != "status")
MODEL_KEYS = ("provider", "owner", "contacts", "labels", "created_at", "description", "fallbacks", "versions")
CHECK_KEYS = ("name", "result", "actor", "at", "note", "evidence")
RUN_KEYS = (
    "run_id",
    "endpoint",
    "actor",
    "started_at",
    "finished_at",
    "mode",
    "passed",
    "aborted",
    "settings",
    "results",
)
NOTICE_KEYS = ("retire_on", "days_before", "raised_at")
ADVISORY_KEYS = ("model_id", "advisory_id", "affected", "severity", "summary", "status", "created_at", "created_by")


# -- canonical values ----------------------------------------------------------
def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _drop_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v}


class _NotToml(Exception):
    pass


def _tomlable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list):
        if any(v is None for v in value):
            raise _NotToml
        return [_tomlable(v) for v in value]
    return value


def payload_to_file(value: Any) -> Any:
    """A benchmark settings/results JSON value -> its canonical TOML form."""
    try:
        return _tomlable(value)
    except _NotToml:
        return json_text(value)


def payload_from_file(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _key_text(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def path_text(parts: list[str]) -> str:
    return ".".join(_key_text(p) for p in parts)


# -- export ----------------------------------------------------------------------
def lineage_entry(row: VersionLineage | None) -> dict[str, Any]:
    """A version's lineage as the manifest keys (artifact, source, base_model, datasets, evaluations)."""
    if row is None:
        return {}
    out: dict[str, Any] = {
        "artifact": None if row.artifact_uri is None else {"uri": row.artifact_uri, "digest": row.artifact_digest},
        "source": row.source,
        "base_model": row.base_model,
        "datasets": json.loads(row.datasets) or None,
        "evaluations": [_drop_none(e) for e in json.loads(row.evaluations)] or None,
    }
    return _drop_none(out)


def card_entry(row: ModelCard) -> dict[str, Any]:
    return {"sha256": row.sha256, "set_at": row.set_at, "set_by": row.set_by, "body": row.body}


def version_entry(row: ModelVersion, lineage: VersionLineage | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(row, k) for k in LIFECYCLE_KEYS}
    out["description"] = row.description or ""
    out["capabilities"] = json.loads(row.capabilities)
    out["endpoint"] = row.endpoint
    out["endpoint_kind"] = row.endpoint_kind
    params = json.loads(row.parameters)
    out["parameters"] = {name: params[name] for name in sorted(params)} or None
    out["performance"] = {
        "avg_latency_ms": row.avg_latency_ms,
        "p95_latency_ms": row.p95_latency_ms,
        "cost_per_request_usd": row.cost_per_request_usd,
    }
    out["compliance"] = {
        "data_residency": json.loads(row.data_residency),
        "pii_handling": row.pii_handling,
        "approved_domains": json.loads(row.approved_domains),
    }
    out.update(lineage_entry(lineage))
    return _drop_none(out)


def check_entry(row: CheckResult) -> dict[str, Any]:
    return _drop_none(
        {
            "name": row.name,
            "result": row.result,
            "actor": row.actor,
            "at": row.at,
            "note": row.note,
            "evidence": row.evidence,
        }
    )


def run_entry(row: BenchmarkRun) -> dict[str, Any]:
    return {
        "run_id": row.run_id,
        "endpoint": row.endpoint,
        "actor": row.actor,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "mode": row.mode,
        "passed": bool(row.passed),
        "aborted": bool(row.aborted),
        "settings": payload_to_file(json.loads(row.settings)),
        "results": payload_to_file(json.loads(row.results)),
    }


def advisory_entry(row: Advisory) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "advisory_id": row.advisory_id,
        "affected": row.affected,
        "severity": row.severity,
        "summary": row.summary or "",
        "status": row.status,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


def finish_version(entry: dict[str, Any], checks: list[dict], runs: list[dict], notices: list[dict]) -> dict:
    if checks:
        entry["checks"] = sorted(checks, key=lambda c: c["at"])  # stable: insertion order within one instant
    if runs:
        entry["benchmarks"] = sorted(runs, key=lambda r: r["run_id"])
    if notices:
        entry["retirement_notices"] = sorted(notices, key=lambda n: (n["retire_on"], -n["days_before"]))
    return entry


def build_document(session) -> dict[str, Any]:
    """The whole registry as the canonical document (plain, TOML-ready values)."""
    checks: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(CheckResult).order_by(col(CheckResult.id))).scalars():
        checks.setdefault((row.model_id, row.version), []).append(check_entry(row))
    runs: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(BenchmarkRun).order_by(col(BenchmarkRun.run_id))).scalars():
        runs.setdefault((row.model_id, row.version), []).append(run_entry(row))
    notices: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(RetirementNotice)).scalars():
        notices.setdefault((row.model_id, row.version), []).append(
            {"retire_on": row.retire_on, "days_before": row.days_before, "raised_at": row.raised_at}
        )
    lineage = {(r.model_id, r.version): r for r in metadata_queries.all_lineage(session)}
    cards = {(r.model_id, r.version): card_entry(r) for r in metadata_queries.all_cards(session)}
    labels: dict[tuple[str, str], dict[str, str]] = {}
    for label in metadata_queries.all_labels(session):
        labels.setdefault((label.model_id, label.version), {})[label.key] = label.value
    versions: dict[str, list[ModelVersion]] = {}
    for row in session.execute(
        select(ModelVersion).order_by(ModelVersion.model_id, ModelVersion.version_key, ModelVersion.version)
    ).scalars():
        versions.setdefault(row.model_id, []).append(row)
    models: dict[str, Any] = {}
    for m in session.execute(select(Model).order_by(Model.model_id)).scalars():
        entry = {
            "provider": m.provider,
            "owner": m.owner,
            **_drop_empty({"contacts": json.loads(m.contacts), "labels": labels.get((m.model_id, ""), {})}),
            "created_at": m.created_at,
            "description": m.description or "",
            "fallbacks": json.loads(m.fallbacks),
            "versions": {},
        }
        for row in versions.get(m.model_id, []):
            key = (m.model_id, row.version)
            entry["versions"][row.version] = finish_version(
                {
                    **version_entry(row, lineage.get(key)),
                    **_drop_empty({"labels": labels.get(key, {}), "card": cards.get(key, {})}),
                },
                checks.get(key, []),
                runs.get(key, []),
                notices.get(key, []),
            )
        models[m.model_id] = entry
    advisories = [
        advisory_entry(a)
        for a in session.execute(select(Advisory).order_by(Advisory.model_id, Advisory.advisory_id)).scalars()
    ]
    doc: dict[str, Any] = {"format": FORMAT}
    if advisories:
        doc["advisories"] = advisories
    doc["models"] = models
    return doc


def to_toml(doc: dict[str, Any]) -> str:
    import tomli_w

    header = (
        "# modelreg registry export (format 1). Apply with `modelreg import FILE`;\n"
        "# compare with `modelreg diff FILE`.\n"
    )
    return header + tomli_w.dumps(doc)
