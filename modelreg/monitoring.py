"""Monitoring and alerts over the database (SPEC section 7): ingest production
metric windows, keep drift baselines, raise / dedupe / auto-resolve alerts,
security advisories, signed webhook delivery and Prometheus rows.

The pure pieces live in ``modelreg.alerts`` (parsing, PSI, rules, advisory
ranges, signing, delivery, exposition format); this module wires them to the
tables of revision 0002 and to the audit trail. Every mutation runs in
``Registry.write`` (one transaction, retried on contention) and appends an
audit event. Nothing here imports typer or rich.

Ingest
    Bad lines (malformed, impossible values, unknown model or version,
    counts above the column's 2^31-1) are reported with their line numbers and
    skipped; good lines are written in one transaction. A window is identified
    by (model, version, window_start, window_end): re-ingesting it with the same
    values is a *duplicate* (nothing changes), with different values an
    *update* (the newer data replaces the row), so nothing is double-counted.
    ``strict=True`` refuses the whole input when any line is bad.

Baselines
    Latency is judged against the registered SLO. Drift compares the latest
    window's sample with a baseline sample: a pinned one (``pin_baseline``:
    the latest windows' samples), otherwise the first windows that start at or
    after approval, taken until they hold ``drift.MIN_BASELINE`` values. An
    observed baseline is stored the first time it is complete, so it stays
    fixed afterwards.

Check (``check``)
    Evaluates every APPROVED / DEPRECATED version that has observations
    (latency, error rate, usage anomaly, drift - see ``alerts.rules``), every
    open advisory (critical for live versions, info for TESTING /
    EXPERIMENTAL ones whose promotion it blocks), retirement notices recorded
    by the sweep (info; warning within 7 days) and fallbacks that resolve to
    nothing (warning).

    Dedup: one active (open or acked) alert per stable key (``rules.dedup_key``;
    ``lifecycle:retirement:M@V`` and ``lifecycle:fallback:M:TARGET``). A
    repeated condition refreshes last_seen, message and severity; an
    escalation re-opens an acked alert and notifies again.

    Auto-resolve: a metric alert (latency, error_rate, usage, drift) resolves
    when its rule was evaluated on the latest window and no longer fires, or
    when the version is no longer live (retired, rejected, back in testing).
    A rule that could not be evaluated (too few requests for an error rate,
    too few windows for usage, samples too small for drift) leaves its alert
    as it is. Security alerts resolve when no open advisory covers the
    version any more (withdrawn, or the version retired / rejected);
    lifecycle alerts when the notice or the broken fallback is gone. An
    alert resolved by hand whose condition persists is raised again as a new
    alert by the next check.

Delivery
    Each newly raised (or escalated) alert gets one ``alert_delivery`` row per
    configured webhook whose min_severity it meets. After the check's
    transaction commits, every pending or failed delivery is claimed
    (status ``sending``, so concurrent checks do not send twice; a claim older
    than ``LEASE_S`` is taken over) and posted, signed, with retries; the
    outcome (delivered / failed, attempts, last error) is recorded. Failed
    deliveries are retried by the next check, never dropped. Secrets are read
    from the environment at send time and never stored, printed or logged.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select

from modelreg import clock
from modelreg.alerts import advisories as adv
from modelreg.alerts import drift as drift_mod
from modelreg.alerts import rules
from modelreg.alerts.observations import LineError, parse_observations
from modelreg.alerts.observations import Observation as ObservationWindow
from modelreg.errors import Conflict, InvalidInput, NotFound
from modelreg.registry import chunks
from modelreg.store.monitoring_tables import Advisory, Alert, AlertDelivery, Baseline, Observation
from modelreg.store.tables import Model, ModelVersion, RetirementNotice
from modelreg.targets import format_target, parse_model_id, parse_target
from modelreg.views import alert_view

if TYPE_CHECKING:
    from modelreg.registry import Registry

LIVE = ("APPROVED", "DEPRECATED")
METRIC_KINDS = ("latency", "error_rate", "usage", "drift")
ALERT_STATUSES = ("open", "acked", "resolved")
MAX_DB_INT = 2**31 - 1  # observation.requests / errors are INTEGER columns
LEASE_S = 600  # a delivery claimed longer ago than this is taken over
RETIREMENT_WARNING_DAYS = 7
ALERT_KEYS = ("id", "kind", "severity", "status", "model_id", "version", "message", "first_seen", "last_seen")
ADVISORY_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-")

for _name in ("httpx", "httpcore"):  # request lines may carry URLs with tokens; keep them out of logs
    if logging.getLogger(_name).level < logging.WARNING:
        logging.getLogger(_name).setLevel(logging.WARNING)


# ---------------------------------------------------------------- helpers

def _window(row: Observation) -> ObservationWindow:
    return ObservationWindow(
        model_id=row.model_id, version=row.version,
        window_start=clock.parse_instant(row.window_start), window_end=clock.parse_instant(row.window_end),
        requests=row.requests, errors=row.errors, latency_avg_ms=row.latency_avg_ms,
        latency_p95_ms=row.latency_p95_ms, cost_usd=row.cost_usd,
        sample=json.loads(row.sample) if row.sample is not None else None)


def _alert_target(a: Alert) -> str:
    return format_target(a.model_id, a.version)[:200] if a.model_id else "alerts"


def _parse_id(alert_id: Any) -> int:
    if isinstance(alert_id, bool):
        raise InvalidInput(f"invalid alert id {alert_id!r}: expected a positive integer")
    try:
        value = int(str(alert_id).strip())
    except ValueError:
        raise InvalidInput(f"invalid alert id {str(alert_id)[:40]!r}: expected a positive integer") from None
    if value < 1 or value > 2**63 - 1:
        raise InvalidInput(f"invalid alert id {alert_id!r}: expected a positive integer")
    return value


# ---------------------------------------------------------------- ingest

def _bad_lines_error(errors: list[LineError], total_note: str) -> InvalidInput:
    details = [str(e) for e in errors[:20]]
    if len(errors) > 20:
        details.append(f"... and {len(errors) - 20} more bad line(s)")
    return InvalidInput(f"{len(errors)} bad line(s); {total_note}", details=details)


def ingest(reg: "Registry", text: str, *, fmt: str = "auto", strict: bool = False) -> dict[str, Any]:
    """Store observation windows. Returns {kept, updated, duplicates, skipped,
    errors [{line, message}], versions [M@V]}; raises InvalidInput (exit 2)
    in strict mode when any line is bad (nothing is written)."""
    if not isinstance(text, str):
        raise InvalidInput("observations: expected text")
    observations, errors = parse_observations(text, fmt)
    parsed = [(o.line, o) for o in observations]
    if strict and errors:
        raise _bad_lines_error(sorted(errors, key=lambda e: e.line), "nothing kept (--strict)")

    def work(tx) -> dict[str, Any]:
        session = tx.session
        bad = list(errors)
        model_ids = sorted({o.model_id for _, o in parsed})
        known_models: set[str] = set()
        known_versions: set[tuple[str, str]] = set()
        for part in chunks(model_ids):
            known_models.update(session.execute(select(Model.model_id).where(Model.model_id.in_(part))).scalars())
        by_model: dict[str, set[str]] = {}
        for _, o in parsed:
            by_model.setdefault(o.model_id, set()).add(o.version)
        for mid, versions in by_model.items():
            if mid not in known_models:
                continue
            for part in chunks(sorted(versions)):
                for ver in session.execute(select(ModelVersion.version).where(
                        ModelVersion.model_id == mid, ModelVersion.version.in_(part))).scalars():
                    known_versions.add((mid, ver))
        good: list[ObservationWindow] = []
        for line, o in parsed:
            if o.requests > MAX_DB_INT:
                bad.append(LineError(line, f"requests: at most {MAX_DB_INT} per window, got {o.requests}"))
            elif o.model_id not in known_models:
                bad.append(LineError(line, f"unknown model {o.model_id!r}"))
            elif (o.model_id, o.version) not in known_versions:
                bad.append(LineError(line, f"unknown version {o.model_id}@{o.version}"))
            else:
                good.append(o)
        bad.sort(key=lambda e: e.line)
        if strict and bad:
            raise _bad_lines_error(bad, "nothing kept (--strict)")

        per_version: dict[tuple[str, str], list[ObservationWindow]] = {}
        for o in good:
            per_version.setdefault((o.model_id, o.version), []).append(o)
        kept = updated = duplicates = 0
        new_rows: list[dict] = []
        for (mid, ver), windows in sorted(per_version.items()):
            existing: dict[tuple[str, str], Observation] = {}
            starts = sorted({clock.stamp(o.window_start) for o in windows})
            for part in chunks(starts):
                for row in session.execute(select(Observation).where(
                        Observation.model_id == mid, Observation.version == ver,
                        Observation.window_start.in_(part))).scalars():
                    existing[(row.window_start, row.window_end)] = row
            added_here = updated_here = 0
            for o in windows:
                values = {"requests": o.requests, "errors": o.errors, "latency_avg_ms": o.latency_avg_ms,
                          "latency_p95_ms": o.latency_p95_ms, "cost_usd": o.cost_usd,
                          "sample": json.dumps(o.sample, separators=(",", ":")) if o.sample is not None else None}
                ws, we = clock.stamp(o.window_start), clock.stamp(o.window_end)
                row = existing.get((ws, we))
                if row is None:
                    new_rows.append({"model_id": mid, "version": ver, "window_start": ws, "window_end": we,
                                     "ingested_at": tx.now, **values})
                    added_here += 1
                elif all(getattr(row, k) == v for k, v in values.items()):
                    duplicates += 1
                else:
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.ingested_at = tx.now
                    updated_here += 1
            kept += added_here
            updated += updated_here
            if added_here or updated_here:
                tx.audit("observations.ingest", f"{mid}@{ver}", None, {
                    "added": added_here, "updated": updated_here,
                    "from": min(clock.stamp(o.window_start) for o in windows),
                    "to": max(clock.stamp(o.window_end) for o in windows)})
        for part in chunks(new_rows, 1000):
            session.execute(insert(Observation), part)
        return {"kept": kept, "updated": updated, "duplicates": duplicates, "skipped": len(bad),
                "errors": [{"line": e.line, "message": e.message} for e in bad],
                "versions": [f"{m}@{v}" for m, v in sorted(per_version)]}

    if not parsed:  # nothing to look up or write
        return {"kept": 0, "updated": 0, "duplicates": 0, "skipped": len(errors),
                "errors": [{"line": e.line, "message": e.message} for e in sorted(errors, key=lambda e: e.line)],
                "versions": []}
    return reg.write(work)


def recent_observations(reg: "Registry", model_id: str, version: str, *, limit: int = 24) -> list[dict[str, Any]]:
    """The latest ``limit`` windows of a version, oldest first (for charts)."""
    from modelreg.registry import recent_windows

    def read(session):
        reg.version_row(session, model_id, version)
        return recent_windows(session, model_id, version, limit)
    return reg.db.run_read(read)


# ---------------------------------------------------------------- baselines

def _latest_windows(session, model_id: str, version: str, limit: int) -> list[ObservationWindow]:
    rows = list(session.execute(select(Observation).where(
        Observation.model_id == model_id, Observation.version == version)
        .order_by(Observation.window_end.desc(), Observation.window_start.desc()).limit(limit)).scalars())
    rows.reverse()
    return [_window(r) for r in rows]


def _observed_baseline(session, row: ModelVersion, before: str) -> tuple[list[float], int, str, str] | None:
    """Samples of the first windows at or after approval that end by ``before``,
    until MIN_BASELINE values; None when there are not enough yet."""
    if not row.approved_at:
        return None
    query = (select(Observation.window_start, Observation.window_end, Observation.sample)
             .where(Observation.model_id == row.model_id, Observation.version == row.version,
                    Observation.window_start >= row.approved_at, Observation.sample.is_not(None))
             .order_by(Observation.window_start, Observation.window_end))
    values: list[float] = []
    used, first, last = 0, None, None
    for ws, we, sample in session.execute(query):
        if we > before:
            break
        values.extend(json.loads(sample))
        used += 1
        first = first or ws
        last = we
        if len(values) >= drift_mod.MIN_BASELINE:
            return values, used, first, last
    return None


def baseline_sample(session, row: ModelVersion, latest: ObservationWindow, tx=None) -> list[float] | None:
    """The drift baseline of a version (pinned, stored, or observed now; an
    observed one is stored when ``tx`` is given)."""
    stored = session.get(Baseline, (row.model_id, row.version))
    if stored is not None:
        return json.loads(stored.sample)
    found = _observed_baseline(session, row, clock.stamp(latest.window_start))
    if found is None:
        return None
    values, used, first, last = found
    if tx is not None:
        session.add(Baseline(model_id=row.model_id, version=row.version, sample=json.dumps(values, separators=(",", ":")),
                             source="observed", created_at=tx.now))
        tx.audit("baseline.observed", f"{row.model_id}@{row.version}", None,
                 {"windows": used, "values": len(values), "from": first, "to": last})
    return values


def pin_baseline(reg: "Registry", target: str, *, windows: int | None = None) -> dict[str, Any]:
    """Pin the latest windows' samples as the drift baseline of MODEL@V: the
    newest ``windows`` windows with a sample, or (by default) as many of the
    newest as it takes to reach drift.MIN_BASELINE values."""
    model_id, version = parse_target(target)
    if windows is not None and (isinstance(windows, bool) or not isinstance(windows, int) or windows < 1):
        raise InvalidInput(f"--windows: expected a positive whole number, got {windows!r}")

    def work(tx):
        session = tx.session
        reg.version_row(session, model_id, version)
        query = (select(Observation.window_start, Observation.window_end, Observation.sample)
                 .where(Observation.model_id == model_id, Observation.version == version, Observation.sample.is_not(None))
                 .order_by(Observation.window_end.desc(), Observation.window_start.desc()))
        values: list[float] = []
        used, first, last = 0, None, None
        for ws, we, sample in session.execute(query):
            values = json.loads(sample) + values
            used += 1
            first, last = ws, last or we
            if (windows is not None and used >= windows) or (windows is None and len(values) >= drift_mod.MIN_BASELINE):
                break
        if not used:
            raise NotFound(f"{target} has no observation windows with a sample to pin (ingest some with `modelreg alerts ingest`)")
        existing = session.get(Baseline, (model_id, version))
        before = {"source": existing.source, "values": len(json.loads(existing.sample))} if existing else None
        if existing is None:
            existing = Baseline(model_id=model_id, version=version, sample="[]", source="pinned", created_at=tx.now)
            session.add(existing)
        existing.sample = json.dumps(values, separators=(",", ":"))
        existing.source, existing.created_at = "pinned", tx.now
        result = {"target": target, "source": "pinned", "windows": used, "values": len(values), "from": first, "to": last}
        tx.audit("baseline.pin", target, before, {k: v for k, v in result.items() if k != "target"})
        if len(values) < drift_mod.MIN_BASELINE:
            result["warning"] = (f"only {len(values)} values; drift is judged once the baseline holds "
                                 f"{drift_mod.MIN_BASELINE} (fewer would alert on noise)")
        return result
    return reg.write(work)


# ---------------------------------------------------------------- advisories

def _advisory_view(a: Advisory, versions: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    out = {"advisory_id": a.advisory_id, "model_id": a.model_id, "affected": a.affected, "severity": a.severity,
           "summary": a.summary, "status": a.status, "created_at": a.created_at, "created_by": a.created_by}
    if versions is not None:
        out["affected_versions"] = [{"version": v, "status": s} for v, s in versions if adv.affects(a.affected, v)]
    return out


def _versions_of(session, model_id: str) -> list[tuple[str, str]]:
    return list(session.execute(select(ModelVersion.version, ModelVersion.status).where(ModelVersion.model_id == model_id)
                                .order_by(ModelVersion.version_key)).all())


def add_advisory(reg: "Registry", advisory_id: str, *, model_id: str, affected: str, severity: str,
                 summary: str) -> dict[str, Any]:
    """Record a security advisory (exit 2 bad input, 3 unknown model, 4 duplicate)."""
    ident = advisory_id.strip() if isinstance(advisory_id, str) else ""
    if not ident or len(ident) > 64 or not set(ident) <= ADVISORY_ID_CHARS:
        raise InvalidInput(f"invalid advisory id {str(advisory_id)[:70]!r}: expected up to 64 letters, digits and . _ : - (e.g. CVE-2026-1234)")
    parse_model_id(model_id)
    adv.parse_affected(affected)  # validates (exit 2 on a bad spec)
    level = adv.parse_advisory_severity(severity)
    if not isinstance(summary, str) or not summary.strip() or len(summary) > 2000:
        raise InvalidInput("--summary: expected a non-empty text of at most 2000 characters")

    def work(tx):
        session = tx.session
        if session.get(Model, model_id) is None:
            raise NotFound(f"unknown model {model_id!r}")
        if session.get(Advisory, (ident, model_id)) is not None:
            raise Conflict(f"advisory {ident} for {model_id} already exists")
        row = Advisory(advisory_id=ident, model_id=model_id, affected=affected.strip(), severity=level,
                       summary=summary.strip(), status="open", created_at=tx.now, created_by=tx.actor)
        session.add(row)
        view = _advisory_view(row, _versions_of(session, model_id))
        tx.audit("advisory.add", model_id, None, {"advisory_id": ident, "affected": row.affected, "severity": level,
                                                  "affected_versions": [v["version"] for v in view["affected_versions"]]})
        return view
    return reg.write(work)


def withdraw_advisory(reg: "Registry", advisory_id: str, *, model_id: str) -> dict[str, Any]:
    """Mark an advisory withdrawn: it no longer blocks promotion; its alerts resolve on the next check."""
    def work(tx):
        row = tx.session.get(Advisory, (advisory_id, model_id))
        if row is None:
            raise NotFound(f"unknown advisory {advisory_id} for {model_id}")
        if row.status == "withdrawn":
            return {**_advisory_view(row), "changed": False}
        row.status = "withdrawn"
        tx.audit("advisory.withdraw", model_id, {"advisory_id": advisory_id, "status": "open"},
                 {"advisory_id": advisory_id, "status": "withdrawn"})
        return {**_advisory_view(row), "changed": True}
    return reg.write(work)


def list_advisories(reg: "Registry", *, model_id: str | None = None) -> list[dict[str, Any]]:
    def read(session):
        query = select(Advisory).order_by(Advisory.model_id, Advisory.advisory_id)
        if model_id is not None:
            parse_model_id(model_id)
            if session.get(Model, model_id) is None:
                raise NotFound(f"unknown model {model_id!r}")
            query = query.where(Advisory.model_id == model_id)
        rows = list(session.execute(query).scalars())
        versions = {m: _versions_of(session, m) for m in {a.model_id for a in rows}}
        return [_advisory_view(a, versions[a.model_id]) for a in rows]
    return reg.db.run_read(read)


# ---------------------------------------------------------------- alerts: reading and operator actions

def list_alerts(reg: "Registry", *, status: str | None = None, severity: str | None = None,
                model: str | None = None) -> list[dict[str, Any]]:
    """Alerts, most severe and most recent first. status: open | acked |
    resolved | all (default: open and acked); severity: exact match."""
    wanted = None
    if status is not None:
        value = status.strip().lower()
        if value not in ALERT_STATUSES + ("all", "active"):
            raise InvalidInput(f"invalid status {status!r}: expected one of open, acked, resolved, active, all")
        wanted = None if value == "all" else (["open", "acked"] if value == "active" else [value])
    else:
        wanted = ["open", "acked"]
    level = rules.parse_severity(severity) if severity is not None else None
    if model is not None:
        parse_model_id(model)

    def read(session):
        query = select(Alert)
        if wanted is not None:
            query = query.where(Alert.status.in_(wanted))
        if level is not None:
            query = query.where(Alert.severity == level)
        if model is not None:
            query = query.where(Alert.model_id == model)
        rows = list(session.execute(query).scalars())
        rows.sort(key=lambda a: (-rules.severity_rank(a.severity), _neg(a.last_seen), a.id))
        return [alert_view(a) for a in rows]
    return reg.db.run_read(read)


def _neg(text: str) -> tuple:
    return tuple(-ord(c) for c in text)


def _get_alert(session, alert_id: int) -> Alert:
    row = session.get(Alert, alert_id)
    if row is None:
        raise NotFound(f"unknown alert {alert_id}")
    return row


def ack_alert(reg: "Registry", alert_id: Any) -> dict[str, Any]:
    """open -> acked (already acked: no change; resolved: exit 4)."""
    ident = _parse_id(alert_id)

    def work(tx):
        row = _get_alert(tx.session, ident)
        if row.status == "resolved":
            raise Conflict(f"alert {ident} is resolved; nothing to acknowledge")
        if row.status == "acked":
            return {**alert_view(row), "changed": False}
        row.status, row.acked_by = "acked", tx.actor
        tx.audit("alert.ack", _alert_target(row), {"id": ident, "status": "open"}, {"id": ident, "status": "acked"})
        return {**alert_view(row), "changed": True}
    return reg.write(work)


def resolve_alert(reg: "Registry", alert_id: Any) -> dict[str, Any]:
    """open/acked -> resolved (already resolved: no change)."""
    ident = _parse_id(alert_id)

    def work(tx):
        row = _get_alert(tx.session, ident)
        if row.status == "resolved":
            return {**alert_view(row), "changed": False}
        before = row.status
        row.status, row.resolved_at = "resolved", tx.now
        tx.audit("alert.resolve", _alert_target(row), {"id": ident, "status": before},
                 {"id": ident, "status": "resolved", "by": "operator"})
        return {**alert_view(row), "changed": True}
    return reg.write(work)


# ---------------------------------------------------------------- check

class _Candidates:
    def __init__(self) -> None:
        self.found: dict[str, rules.AlertCandidate] = {}
        self.evaluated: set[str] = set()

    def add(self, items: list[rules.AlertCandidate]) -> None:
        for c in items:
            old = self.found.get(c.dedup_key)
            if old is None or rules.severity_rank(c.severity) > rules.severity_rank(old.severity):
                self.found[c.dedup_key] = c


def _evaluate_metrics(reg: "Registry", tx, row: ModelVersion, cands: _Candidates) -> None:
    session = tx.session
    mid, ver = row.model_id, row.version
    windows = _latest_windows(session, mid, ver, rules.USAGE_MAX_TRAILING + 1)
    if not windows:
        return
    latest = windows[-1]
    slo_avg = row.avg_latency_ms or None
    slo_p95 = row.p95_latency_ms or None
    cands.evaluated.add(rules.dedup_key("latency", mid, ver))
    cands.add(rules.latency_regression(mid, ver, slo_avg, slo_p95, latest))
    threshold = min(1.0, reg.config.error_rate_threshold)
    if latest.requests >= rules.ERROR_MIN_REQUESTS:
        cands.evaluated.add(rules.dedup_key("error_rate", mid, ver))
    cands.add(rules.error_rate_breach(mid, ver, threshold, latest))
    if len(windows) >= rules.USAGE_MIN_TRAILING + 1:
        cands.evaluated.add(rules.dedup_key("usage", mid, ver))
    cands.add(rules.usage_anomaly(mid, ver, windows))
    if latest.sample is not None and len(latest.sample) >= drift_mod.MIN_LATEST:
        base = baseline_sample(session, row, latest, tx)
        if base is not None and len(base) >= drift_mod.MIN_BASELINE:
            cands.evaluated.add(rules.dedup_key("drift", mid, ver))
            cands.add(rules.drift(mid, ver, base, latest.sample))


def _lifecycle(session, today: date, cands: _Candidates) -> None:
    from modelreg.routing import broken_fallbacks

    notices = session.execute(select(RetirementNotice, ModelVersion).join(
        ModelVersion, (ModelVersion.model_id == RetirementNotice.model_id) & (ModelVersion.version == RetirementNotice.version))
        .where(ModelVersion.status == "DEPRECATED", ModelVersion.retire_on == RetirementNotice.retire_on)).all()
    nearest: dict[tuple[str, str], tuple[RetirementNotice, ModelVersion]] = {}
    for notice, row in notices:
        key = (row.model_id, row.version)
        if key not in nearest or notice.days_before < nearest[key][0].days_before:
            nearest[key] = (notice, row)
    for (mid, ver), (notice, row) in sorted(nearest.items()):
        days_left = (date.fromisoformat(row.retire_on) - today).days
        severity = "warning" if days_left <= RETIREMENT_WARNING_DAYS else "info"
        replacement = f"; replacement {row.replacement}" if row.replacement else ""
        message = (f"{mid}@{ver} is DEPRECATED and retires on {row.retire_on} "
                   f"({max(days_left, 0)} day(s) left){replacement}")
        cands.add([rules.AlertCandidate("lifecycle", severity, mid, ver, f"lifecycle:retirement:{mid}@{ver}", message)])
    for broken in broken_fallbacks(session):
        mid, target = broken["model_id"], broken["target"]
        key = f"lifecycle:fallback:{mid}:{target}"[:300]
        message = f"fallback {mid} -> {target} resolves to no version (retired or never approved)"
        cands.add([rules.AlertCandidate("lifecycle", "warning", mid, None, key, message)])


def _security(session, cands: _Candidates) -> None:
    advisories = list(session.execute(select(Advisory).where(Advisory.status == "open")).scalars())
    versions: dict[str, list[tuple[str, str]]] = {}
    for a in advisories:
        if a.model_id not in versions:
            versions[a.model_id] = _versions_of(session, a.model_id)
        spec = adv.parse_affected(a.affected)
        for ver, status in versions[a.model_id]:
            if adv.affects(spec, ver):
                cands.add(rules.security(a.advisory_id, a.severity, a.model_id, ver, status))


def _queue_deliveries(session, tx, alert: Alert, hooks) -> int:
    queued = 0
    for url in sorted({h.url for h in hooks if rules.at_least(alert.severity, h.min_severity)}):
        row = session.get(AlertDelivery, (alert.id, url))
        if row is None:
            session.add(AlertDelivery(alert_id=alert.id, url=url, status="pending", attempts=0, updated_at=tx.now))
        else:
            row.status, row.updated_at = "pending", tx.now
        queued += 1
    return queued


def check(reg: "Registry", *, deliver: bool = True, timeout: float = 5.0, attempts: int = 3,
          backoff_s: float = 0.2) -> dict[str, Any]:
    """Evaluate every rule, upsert alerts by dedup key, auto-resolve what cleared
    (see the module doc), queue deliveries, then (after commit) deliver every
    pending or failed one. Returns {as_of, evaluated, raised, updated,
    resolved, open {severity: n}, deliveries {...}}."""
    hooks = list(reg.config.webhooks)

    def work(tx):
        session = tx.session
        today = clock.now().date()
        cands = _Candidates()
        live = {(r.model_id, r.version): r for r in session.execute(
            select(ModelVersion).where(ModelVersion.status.in_(LIVE))).scalars()}
        observed = set(session.execute(select(Observation.model_id, Observation.version).distinct()).all())
        evaluated = sorted(k for k in observed if tuple(k) in live)
        for key in evaluated:
            _evaluate_metrics(reg, tx, live[tuple(key)], cands)
        _security(session, cands)
        _lifecycle(session, today, cands)

        active = {a.dedup_key: a for a in session.execute(select(Alert).where(Alert.status != "resolved")).scalars()}
        raised, updated, resolved, refreshed = [], [], [], []
        queued = 0
        for key in sorted(cands.found):
            c = cands.found[key]
            alert = active.get(key)
            if alert is None:
                alert = Alert(dedup_key=key, kind=c.kind, severity=c.severity, status="open", model_id=c.model_id,
                              version=c.version, message=c.message, first_seen=tx.now, last_seen=tx.now)
                session.add(alert)
                session.flush()
                raised.append(alert)
                tx.audit("alert.raise", _alert_target(alert), None,
                         {"id": alert.id, "kind": c.kind, "severity": c.severity, "key": key})
                queued += _queue_deliveries(session, tx, alert, hooks)
                continue
            before = {"id": alert.id, "severity": alert.severity, "status": alert.status}
            escalated = rules.severity_rank(c.severity) > rules.severity_rank(alert.severity)
            changed = c.severity != alert.severity
            alert.last_seen, alert.message, alert.severity = tx.now, c.message, c.severity
            if escalated and alert.status == "acked":
                alert.status, alert.acked_by = "open", None
            if changed:
                updated.append(alert)
                tx.audit("alert.escalate" if escalated else "alert.update", _alert_target(alert), before,
                         {"id": alert.id, "severity": alert.severity, "status": alert.status})
                if escalated:
                    queued += _queue_deliveries(session, tx, alert, hooks)
            else:
                refreshed.append(alert)
        for key, alert in sorted(active.items()):
            if key in cands.found:
                continue
            clears = alert.kind in ("security", "lifecycle") or (
                alert.kind in METRIC_KINDS and (key in cands.evaluated or (alert.model_id, alert.version) not in live))
            if not clears:
                continue
            before = alert.status
            alert.status, alert.resolved_at = "resolved", tx.now
            resolved.append(alert)
            tx.audit("alert.resolve", _alert_target(alert), {"id": alert.id, "status": before},
                     {"id": alert.id, "status": "resolved", "by": "check (condition cleared)"})
        if refreshed:
            tx.audit("alerts.check", "alerts", None, {"refreshed": [a.id for a in refreshed]})
        session.flush()
        counts = {s: 0 for s in rules.SEVERITIES}
        for severity, n in session.execute(select(Alert.severity, func.count()).where(Alert.status == "open")
                                           .group_by(Alert.severity)).all():
            counts[severity] = counts.get(severity, 0) + n
        return {"as_of": tx.now, "evaluated": [f"{m}@{v}" for m, v in evaluated],
                "raised": [alert_view(a) for a in raised], "updated": [alert_view(a) for a in updated],
                "refreshed": [alert_view(a) for a in refreshed], "resolved": [alert_view(a) for a in resolved],
                "open": counts, "queued_deliveries": queued}

    report = reg.write(work)
    if deliver and hooks:
        report["deliveries"] = deliver_pending(reg, timeout=timeout, attempts=attempts, backoff_s=backoff_s)
    else:
        report["deliveries"] = {"delivered": 0, "failed": 0, "results": []}
    return report


def open_at_or_above(report_or_counts: dict, minimum: str) -> int:
    """Open alerts at or above a severity, from check()'s report (or its counts)."""
    counts = report_or_counts.get("open", report_or_counts)
    level = rules.severity_rank(minimum)
    return sum(n for s, n in counts.items() if rules.severity_rank(s) >= level)


# ---------------------------------------------------------------- delivery

def _payload(alert: Alert) -> dict[str, Any]:
    return {"event": "modelreg.alert", **alert_view(alert), "dedup_key": alert.dedup_key}


def deliver_pending(reg: "Registry", *, timeout: float = 5.0, attempts: int = 3, backoff_s: float = 0.2) -> dict[str, Any]:
    """Claim and send every pending / failed delivery to a configured webhook;
    record each outcome. Returns {delivered, failed, results [{alert_id, url,
    status, attempts, error}]} (urls without query strings or credentials)."""
    from modelreg.alerts import webhooks

    hooks = {h.url: h for h in reg.config.webhooks}
    if not hooks:
        return {"delivered": 0, "failed": 0, "results": []}
    cutoff = clock.stamp(clock.now() - timedelta(seconds=LEASE_S))

    def claim(tx):
        rows = list(tx.session.execute(select(AlertDelivery).where(
            AlertDelivery.url.in_(sorted(hooks)),
            AlertDelivery.status.in_(["pending", "failed"])
            | ((AlertDelivery.status == "sending") & (AlertDelivery.updated_at < cutoff)))
            .order_by(AlertDelivery.alert_id, AlertDelivery.url)).scalars())
        jobs = []
        for d in rows:
            alert = tx.session.get(Alert, d.alert_id)
            d.status, d.updated_at = "sending", tx.now
            jobs.append((d.alert_id, d.url, _payload(alert), _alert_target(alert)))
        return jobs

    jobs = reg.write(claim)
    results = []
    for alert_id, url, payload, target in jobs:
        hook = hooks[url]
        display = url
        try:
            if not hook.secret_env:
                raise InvalidInput("no secret_env configured for this webhook; not delivering unsigned")
            spec = webhooks.WebhookTarget(url, hook.secret_env, hook.min_severity)
            display = spec.display_url
            outcome = webhooks.deliver(spec, payload, timeout=timeout, attempts=attempts, backoff_s=backoff_s)
        except InvalidInput as exc:
            outcome = webhooks.DeliveryOutcome(False, 0, None, exc.message)
        result = {"alert_id": alert_id, "url": display, "status": "delivered" if outcome.ok else "failed",
                  "attempts": outcome.attempts, "http_status": outcome.status, "error": outcome.error}

        def record(tx, alert_id=alert_id, url=url, outcome=outcome, result=result, target=target):
            row = tx.session.get(AlertDelivery, (alert_id, url))
            if row is None:
                return
            row.status = result["status"]
            row.attempts += outcome.attempts
            row.last_error = outcome.error
            row.updated_at = tx.now
            tx.audit("alert.delivery", target, None, {"alert_id": alert_id, "url": result["url"], "status": row.status,
                                                      "attempts": row.attempts, "error": outcome.error})
        reg.write(record)
        results.append(result)
    return {"delivered": sum(r["status"] == "delivered" for r in results),
            "failed": sum(r["status"] == "failed" for r in results), "results": results}


def deliveries(reg: "Registry", alert_id: Any | None = None) -> list[dict[str, Any]]:
    """Delivery rows (url shown without query or credentials)."""
    from modelreg.alerts.webhooks import WebhookTarget

    def show(url: str) -> str:
        try:
            return WebhookTarget(url, "X").display_url
        except InvalidInput:
            return url.split("?")[0]

    def read(session):
        query = select(AlertDelivery).order_by(AlertDelivery.alert_id, AlertDelivery.url)
        if alert_id is not None:
            query = query.where(AlertDelivery.alert_id == _parse_id(alert_id))
        return [{"alert_id": d.alert_id, "url": show(d.url), "status": d.status, "attempts": d.attempts,
                 "last_error": d.last_error, "updated_at": d.updated_at} for d in session.execute(query).scalars()]
    return reg.db.run_read(read)


# ---------------------------------------------------------------- Prometheus

def metrics_rows(reg: "Registry") -> list[dict[str, Any]]:
    """One row per version that is not archived, for alerts.prometheus.render."""
    def read(session):
        versions = list(session.execute(select(ModelVersion).where(ModelVersion.status.not_in(["RETIRED", "REJECTED"]))
                                        .order_by(ModelVersion.model_id, ModelVersion.version_key)).scalars())
        counts: dict[tuple[str, str], dict[str, int]] = {}
        for mid, ver, severity, n in session.execute(
                select(Alert.model_id, Alert.version, Alert.severity, func.count())
                .where(Alert.status != "resolved", Alert.version.is_not(None))
                .group_by(Alert.model_id, Alert.version, Alert.severity)).all():
            counts.setdefault((mid, ver), {})[severity] = n
        rows = []
        for v in versions:
            row = {"model_id": v.model_id, "version": v.version, "status": v.status, "latency_avg_ms": None,
                   "latency_p95_ms": None, "error_rate": None, "drift_psi": None,
                   "open_alerts": counts.get((v.model_id, v.version), {})}
            latest = _latest_windows(session, v.model_id, v.version, 1)
            if latest:
                w = latest[0]
                row["latency_avg_ms"], row["latency_p95_ms"] = float(w.latency_avg_ms), float(w.latency_p95_ms)
                row["error_rate"] = (w.errors / w.requests) if w.requests else None
                if w.sample:
                    base = baseline_sample(session, v, w)
                    if base:
                        psi = drift_mod.population_stability_index(base, w.sample)
                        row["drift_psi"] = psi if psi is None or math.isfinite(psi) else None
            rows.append(row)
        return rows
    return reg.db.run_read(read)


def export_prometheus(reg: "Registry", path: str | None = None) -> str:
    """The metrics in the Prometheus text format; written atomically to ``path`` when given."""
    from modelreg.alerts import prometheus

    text = prometheus.render(metrics_rows(reg))
    if path is not None:
        prometheus.write_atomic(path, text)
    return text
