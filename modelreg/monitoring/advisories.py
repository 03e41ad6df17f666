"""Security advisories: a vulnerability against a PEP 440 range of a model's
versions. An open advisory blocks promotion of the versions it covers (a
gate) and raises critical alerts for live ones."""

from __future__ import annotations

from typing import Any

from modelreg.errors import Conflict, InvalidInput, NotFound
from modelreg.lifecycle import authority, events
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.status import PRE_RELEASE
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries
from modelreg.store.monitoring_tables import Advisory
from modelreg.version_ranges import affects, parse_advisory_severity, parse_affected

ADVISORY_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")
MAX_SUMMARY = 2000


def view(a: Advisory, versions: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "advisory_id": a.advisory_id,
        "model_id": a.model_id,
        "affected": a.affected,
        "severity": a.severity,
        "summary": a.summary,
        "status": a.status,
        "created_at": a.created_at,
        "created_by": a.created_by,
    }
    if versions is not None:
        out["affected_versions"] = [{"version": v, "status": s} for v, s in versions if affects(a.affected, v)]
    return out


def check_id(advisory_id: Any) -> str:
    ident = advisory_id.strip() if isinstance(advisory_id, str) else ""
    if not ident or len(ident) > 64 or not set(ident) <= ADVISORY_ID_CHARS:
        raise InvalidInput(
            f"invalid advisory id {str(advisory_id)[:70]!r}: expected up to 64 letters, digits and "
            ". _ : - (e.g. CVE-2026-1234)"
        )
    return ident


def add(tx, advisory_id: str, *, model_id: str, affected: str, severity: str, summary: str) -> dict[str, Any]:
    """Record an advisory (exit 2 bad input, 3 unknown model, 4 duplicate)."""
    ident = check_id(advisory_id)
    parse_affected(affected)  # validates (exit 2 on a bad spec)
    level = parse_advisory_severity(severity)
    if not isinstance(summary, str) or not summary.strip() or len(summary) > MAX_SUMMARY:
        raise InvalidInput(f"--summary: expected a non-empty text of at most {MAX_SUMMARY} characters")
    authority.require(tx, Role.OPERATOR, "add a security advisory")
    session = tx.session
    queries.lock_model(session, model_id)
    if session.get(Advisory, (ident, model_id)) is not None:
        raise Conflict(f"advisory {ident} for {model_id} already exists")
    row = Advisory(
        advisory_id=ident,
        model_id=model_id,
        affected=affected.strip(),
        severity=level,
        summary=summary.strip(),
        status="open",
        created_at=tx.now,
        created_by=tx.actor,
    )
    session.add(row)
    out = view(row, queries.version_statuses(session, model_id))
    hit = [v["version"] for v in out["affected_versions"]]
    tx.audit(
        "advisory.add",
        model_id,
        None,
        {"advisory_id": ident, "affected": row.affected, "severity": level, "affected_versions": hit},
    )
    events.emit(
        tx,
        "advisory.added",
        model_id,
        {"advisory_id": ident, "severity": level, "affected": row.affected, "affected_versions": hit},
    )
    return out


def withdraw(tx, advisory_id: str, *, model_id: str) -> dict[str, Any]:
    """Mark an advisory withdrawn: it no longer blocks promotion; its alerts
    resolve on the next check. An approver's act, and not the registrant's of
    a version it blocks (separation of duties)."""
    ident = check_id(advisory_id)
    authority.require(tx, Role.APPROVER, f"withdraw advisory {ident}")
    session = tx.session
    queries.lock_model(session, model_id)
    row = session.get(Advisory, (ident, model_id))
    if row is None:
        raise NotFound(f"unknown advisory {ident} for {model_id}")
    if row.status == "withdrawn":
        return {**view(row), "changed": False}
    for version in queries.versions_of(session, model_id, PRE_RELEASE):
        if affects(row.affected, version.version):
            authority.separate_from_registrant(
                tx, version.registered_by, f"withdraw advisory {ident}, which blocks {model_id}@{version.version}"
            )
    row.status = "withdrawn"
    tx.audit(
        "advisory.withdraw",
        model_id,
        {"advisory_id": ident, "status": "open"},
        {"advisory_id": ident, "status": "withdrawn"},
    )
    events.emit(tx, "advisory.withdrawn", model_id, {"advisory_id": ident})
    return {**view(row), "changed": True}


def listing(session, *, model_id: str | None = None) -> list[dict[str, Any]]:
    if model_id is not None:
        queries.model(session, model_id)
    rows = mq.advisories(session, model_id)
    versions = {m: queries.version_statuses(session, m) for m in {a.model_id for a in rows}}
    return [view(a, versions[a.model_id]) for a in rows]
