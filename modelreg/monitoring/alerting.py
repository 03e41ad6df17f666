"""`alerts check`: evaluate every rule, raise, dedupe and auto-resolve
alerts; and the operator's alert actions (list, ack, resolve).

Check evaluates every APPROVED / DEPRECATED version that has observations
(latency, error rate, usage anomaly, drift - see `rules`), every open
advisory (critical for live versions, info for TESTING / EXPERIMENTAL ones
whose promotion it blocks), retirement notices recorded by the sweep (info;
warning within 7 days) and fallbacks that resolve to nothing (warning).

Dedup: one active (open or acked) alert per stable key (`rules.dedup_key`;
`lifecycle:retirement:M@V` and `lifecycle:fallback:M:TARGET`). A repeated
condition refreshes last_seen, message and severity; an escalation re-opens
an acked alert and notifies again.

Auto-resolve: a metric alert (latency, error_rate, usage, drift) resolves
when its rule was evaluated on the latest window and no longer fires, or when
the version is no longer live. A rule that could not be evaluated (too few
requests, windows or sample values) leaves its alert as it is. Security
alerts resolve when no open advisory covers the version any more; lifecycle
alerts when the notice or the broken fallback is gone. An alert resolved by
hand whose condition persists is raised again as a new alert.

Each newly raised (or escalated) alert gets one `alert_delivery` row per
webhook of the policy whose min_severity it meets; `delivery` sends them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from modelreg.errors import Conflict, InvalidInput, NotFound
from modelreg.lifecycle import authority, fallbacks
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.status import LIVE
from modelreg.monitoring import baselines, drift, rules
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries
from modelreg.store.monitoring_tables import Alert, AlertDelivery
from modelreg.store.tables import ModelVersion
from modelreg.targets import format_target
from modelreg.version_ranges import affects, parse_affected
from modelreg.views import alert_view

METRIC_KINDS = ("latency", "error_rate", "usage", "drift")
ALERT_STATUSES = ("open", "acked", "resolved")
RETIREMENT_WARNING_DAYS = 7


def alert_target(a: Alert) -> str:
    return format_target(a.model_id, a.version)[:200] if a.model_id else "alerts"


def parse_id(alert_id: Any) -> int:
    if isinstance(alert_id, bool):
        raise InvalidInput(f"invalid alert id {alert_id!r}: expected a positive integer")
    try:
        value = int(str(alert_id).strip())
    except ValueError:
        raise InvalidInput(f"invalid alert id {str(alert_id)[:40]!r}: expected a positive integer") from None
    if value < 1 or value > 2**63 - 1:
        raise InvalidInput(f"invalid alert id {alert_id!r}: expected a positive integer")
    return value


class _Candidates:
    def __init__(self) -> None:
        self.found: dict[str, rules.AlertCandidate] = {}
        self.evaluated: set[str] = set()

    def add(self, items: list[rules.AlertCandidate]) -> None:
        for c in items:
            old = self.found.get(c.dedup_key)
            if old is None or rules.severity_rank(c.severity) > rules.severity_rank(old.severity):
                self.found[c.dedup_key] = c


def _metrics(tx, row: ModelVersion, cands: _Candidates) -> None:
    session = tx.session
    mid, ver = row.model_id, row.version
    windows = baselines.latest_windows(session, mid, ver, rules.USAGE_MAX_TRAILING + 1)
    if not windows:
        return
    latest = windows[-1]
    cands.evaluated.add(rules.dedup_key("latency", mid, ver))
    cands.add(rules.latency_regression(mid, ver, row.avg_latency_ms or None, row.p95_latency_ms or None, latest))
    threshold = min(1.0, tx.policy.error_rate_threshold)
    if latest.requests >= rules.ERROR_MIN_REQUESTS:
        cands.evaluated.add(rules.dedup_key("error_rate", mid, ver))
    cands.add(rules.error_rate_breach(mid, ver, threshold, latest))
    if len(windows) >= rules.USAGE_MIN_TRAILING + 1:
        cands.evaluated.add(rules.dedup_key("usage", mid, ver))
    cands.add(rules.usage_anomaly(mid, ver, windows))
    if latest.sample is not None and len(latest.sample) >= drift.MIN_LATEST:
        base = baselines.sample(session, row, latest, tx)
        if base is not None and len(base) >= drift.MIN_BASELINE:
            cands.evaluated.add(rules.dedup_key("drift", mid, ver))
            cands.add(rules.drift(mid, ver, base, latest.sample))


def _lifecycle(session, today: date, cands: _Candidates) -> None:
    nearest: dict[tuple[str, str], tuple[Any, ModelVersion]] = {}
    for notice, row in mq.current_notices(session):
        key = (row.model_id, row.version)
        if key not in nearest or notice.days_before < nearest[key][0].days_before:
            nearest[key] = (notice, row)
    for (mid, ver), (_notice, row) in sorted(nearest.items()):
        days_left = (date.fromisoformat(str(row.retire_on)) - today).days
        severity = "warning" if days_left <= RETIREMENT_WARNING_DAYS else "info"
        replacement = f"; replacement {row.replacement}" if row.replacement else ""
        message = (
            f"{mid}@{ver} is DEPRECATED and retires on {row.retire_on} ({max(days_left, 0)} day(s) left){replacement}"
        )
        cands.add([rules.AlertCandidate("lifecycle", severity, mid, ver, f"lifecycle:retirement:{mid}@{ver}", message)])
    for broken in fallbacks.broken(session):
        mid, target = broken["model_id"], broken["target"]
        dedup = f"lifecycle:fallback:{mid}:{target}"[:300]
        message = f"fallback {mid} -> {target} resolves to no version (retired or never approved)"
        cands.add([rules.AlertCandidate("lifecycle", "warning", mid, None, dedup, message)])


def _security(session, cands: _Candidates) -> None:
    versions: dict[str, list[tuple[str, str]]] = {}
    for a in mq.open_advisories(session):
        if a.model_id not in versions:
            versions[a.model_id] = queries.version_statuses(session, a.model_id)
        spec = parse_affected(a.affected)
        for ver, status in versions[a.model_id]:
            if affects(spec, ver):
                cands.add(rules.security(a.advisory_id, a.severity, a.model_id, ver, status))


def _queue(session, tx, alert: Alert) -> int:
    queued = 0
    for url in sorted({h.url for h in tx.policy.webhooks if rules.at_least(alert.severity, h.min_severity)}):
        row = session.get(AlertDelivery, (alert.id, url))
        if row is None:
            session.add(
                AlertDelivery(alert_id=int(alert.id or 0), url=url, status="pending", attempts=0, updated_at=tx.now)
            )
        else:
            row.status, row.updated_at = "pending", tx.now
        queued += 1
    return queued


def check(tx) -> dict[str, Any]:
    """Evaluate, upsert by dedup key, auto-resolve, queue deliveries. Returns
    {as_of, evaluated, raised, updated, refreshed, resolved, open {severity: n}, queued_deliveries}."""
    authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), "run the alert checks")
    session = tx.session
    today = date.fromisoformat(tx.now[:10])
    cands = _Candidates()
    live = {
        (r.model_id, r.version): r
        for m in queries.versions_of_models(session, {k[0] for k in mq.observed_versions(session)}, LIVE).values()
        for r in m
    }
    evaluated = sorted(k for k in mq.observed_versions(session) if k in live)
    for pair in evaluated:
        _metrics(tx, live[pair], cands)
    _security(session, cands)
    _lifecycle(session, today, cands)

    active = {a.dedup_key: a for a in mq.active_alerts(session)}
    raised, updated, resolved, refreshed = [], [], [], []
    queued = 0
    for key in sorted(cands.found):
        c = cands.found[key]
        alert = active.get(key)
        if alert is None:
            alert = Alert(
                dedup_key=key,
                kind=c.kind,
                severity=c.severity,
                status="open",
                model_id=c.model_id,
                version=c.version,
                message=c.message,
                first_seen=tx.now,
                last_seen=tx.now,
            )
            session.add(alert)
            session.flush()
            raised.append(alert)
            tx.audit(
                "alert.raise",
                alert_target(alert),
                None,
                {"id": alert.id, "kind": c.kind, "severity": c.severity, "key": key},
            )
            queued += _queue(session, tx, alert)
            continue
        before = {"id": alert.id, "severity": alert.severity, "status": alert.status}
        escalated = rules.severity_rank(c.severity) > rules.severity_rank(alert.severity)
        changed = c.severity != alert.severity
        alert.last_seen, alert.message, alert.severity = tx.now, c.message, c.severity
        if escalated and alert.status == "acked":
            alert.status, alert.acked_by = "open", None
        if changed:
            updated.append(alert)
            tx.audit(
                "alert.escalate" if escalated else "alert.update",
                alert_target(alert),
                before,
                {"id": alert.id, "severity": alert.severity, "status": alert.status},
            )
            if escalated:
                queued += _queue(session, tx, alert)
        else:
            refreshed.append(alert)
    all_live = {
        (r.model_id, r.version)
        for m in queries.versions_of_models(session, {a.model_id for a in active.values() if a.model_id}, LIVE).values()
        for r in m
    }
    for key, alert in sorted(active.items()):
        if key in cands.found:
            continue
        clears = alert.kind in ("security", "lifecycle") or (
            alert.kind in METRIC_KINDS and (key in cands.evaluated or (alert.model_id, alert.version) not in all_live)
        )
        if not clears:
            continue
        before_status = alert.status
        alert.status, alert.resolved_at = "resolved", tx.now
        resolved.append(alert)
        tx.audit(
            "alert.resolve",
            alert_target(alert),
            {"id": alert.id, "status": before_status},
            {"id": alert.id, "status": "resolved", "by": "check (condition cleared)"},
        )
    if refreshed:
        tx.audit("alerts.check", "alerts", None, {"refreshed": [a.id for a in refreshed]})
    session.flush()
    counts = {s: 0 for s in rules.SEVERITIES}
    for severity, n in mq.open_counts(session).items():
        counts[severity] = counts.get(severity, 0) + n
    return {
        "as_of": tx.now,
        "evaluated": [f"{m}@{v}" for m, v in evaluated],
        "raised": [alert_view(a) for a in raised],
        "updated": [alert_view(a) for a in updated],
        "refreshed": [alert_view(a) for a in refreshed],
        "resolved": [alert_view(a) for a in resolved],
        "open": counts,
        "queued_deliveries": queued,
    }


def open_at_or_above(report_or_counts: dict, minimum: str) -> int:
    """Open alerts at or above a severity, from check()'s report (or its counts)."""
    counts = report_or_counts.get("open", report_or_counts)
    level = rules.severity_rank(minimum)
    return sum(n for s, n in counts.items() if rules.severity_rank(s) >= level)


def _neg(text: str) -> tuple:
    return tuple(-ord(c) for c in text)


def listing(
    session, *, status: str | None = None, severity: str | None = None, model: str | None = None
) -> list[dict[str, Any]]:
    """Alerts, most severe and most recent first. status: open | acked |
    resolved | active | all (default: open and acked); severity: exact match."""
    wanted: list[str] | None
    if status is not None:
        value = status.strip().lower()
        if value not in ALERT_STATUSES + ("all", "active"):
            raise InvalidInput(f"invalid status {status!r}: expected one of open, acked, resolved, active, all")
        wanted = None if value == "all" else (["open", "acked"] if value == "active" else [value])
    else:
        wanted = ["open", "acked"]
    level = rules.parse_severity(severity) if severity is not None else None
    rows = mq.alerts(session, statuses=wanted, severity=level, model_id=model)
    rows.sort(key=lambda a: (-rules.severity_rank(a.severity), _neg(a.last_seen), a.id))
    return [alert_view(a) for a in rows]


def _alert(session, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"unknown alert {alert_id}")
    return row


def ack(tx, alert_id: Any) -> dict[str, Any]:
    """open -> acked (already acked: no change; resolved: exit 4)."""
    ident = parse_id(alert_id)
    authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), "acknowledge alerts")
    row = _alert(tx.session, ident)
    if row.status == "resolved":
        raise Conflict(f"alert {ident} is resolved; nothing to acknowledge")
    if row.status == "acked":
        return {**alert_view(row), "changed": False}
    row.status, row.acked_by = "acked", tx.actor
    tx.audit("alert.ack", alert_target(row), {"id": ident, "status": "open"}, {"id": ident, "status": "acked"})
    return {**alert_view(row), "changed": True}


def resolve(tx, alert_id: Any) -> dict[str, Any]:
    """open/acked -> resolved (already resolved: no change)."""
    ident = parse_id(alert_id)
    authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), "resolve alerts")
    row = _alert(tx.session, ident)
    if row.status == "resolved":
        return {**alert_view(row), "changed": False}
    before = row.status
    row.status, row.resolved_at = "resolved", tx.now
    tx.audit(
        "alert.resolve",
        alert_target(row),
        {"id": ident, "status": before},
        {"id": ident, "status": "resolved", "by": "operator"},
    )
    return {**alert_view(row), "changed": True}
