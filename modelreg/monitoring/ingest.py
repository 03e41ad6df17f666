"""Ingest production metric windows.

Bad lines (malformed, impossible values, unknown model or version, counts
above the column's 2^31-1, windows ending more than FUTURE_SKEW in the
future) are reported with their line numbers and skipped; good lines are
written in one transaction. A window is identified by (model, version,
window_start, window_end): re-ingesting it with the same values is a
duplicate (nothing changes), with different values an update (the newer data
replaces the row), so nothing is double-counted. `strict` refuses the whole
input when any line is bad.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from modelreg import clock
from modelreg.errors import InvalidInput
from modelreg.lifecycle import authority
from modelreg.lifecycle.authority import Role
from modelreg.monitoring.observations import LineError, parse_observations
from modelreg.monitoring.observations import Observation as Window
from modelreg.store import application_queries as aq
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries
from modelreg.store.monitoring_tables import Observation

MAX_DB_INT = 2**31 - 1  # observation.requests / errors are INTEGER columns
FUTURE_SKEW = timedelta(minutes=10)  # clocks disagree a little; a window from next year is wrong data


def bad_lines_error(errors: list[LineError], total_note: str) -> InvalidInput:
    details = [str(e) for e in errors[:20]]
    if len(errors) > 20:
        details.append(f"... and {len(errors) - 20} more bad line(s)")
    return InvalidInput(f"{len(errors)} bad line(s); {total_note}", details=details)


def parse(text: str, fmt: str, strict: bool) -> tuple[list[Window], list[LineError]]:
    if not isinstance(text, str):
        raise InvalidInput("observations: expected text")
    observations, errors = parse_observations(text, fmt)
    if strict and errors:
        raise bad_lines_error(sorted(errors, key=lambda e: e.line), "nothing kept (--strict)")
    return observations, errors


def report(kept: int, updated: int, duplicates: int, bad: list[LineError], versions: list[str]) -> dict[str, Any]:
    return {
        "kept": kept,
        "updated": updated,
        "duplicates": duplicates,
        "skipped": len(bad),
        "errors": [{"line": e.line, "message": e.message} for e in sorted(bad, key=lambda e: e.line)],
        "versions": versions,
    }


def store(tx, observations: list[Window], errors: list[LineError], *, strict: bool) -> dict[str, Any]:
    """Write the good windows (see the module doc). Returns {kept, updated,
    duplicates, skipped, errors [{line, message}], versions [M@V]}."""
    authority.require(tx, Role.OPERATOR, "ingest observation windows")
    session = tx.session
    bad = list(errors)
    latest_allowed = clock.parse_instant(tx.now) + FUTURE_SKEW
    known_models = set(queries.models_by_id(session, {o.model_id for o in observations}))
    by_model: dict[str, set[str]] = {}
    for o in observations:
        by_model.setdefault(o.model_id, set()).add(o.version)
    known_versions = {
        (mid, v)
        for mid, versions in by_model.items()
        if mid in known_models
        for v in queries.existing_versions(session, mid, sorted(versions))
    }
    good: list[Window] = []
    for o in observations:
        if o.requests > MAX_DB_INT or o.errors > MAX_DB_INT:
            bad.append(LineError(o.line, f"requests: at most {MAX_DB_INT} per window, got {o.requests}"))
        elif o.window_end > latest_allowed:
            bad.append(
                LineError(
                    o.line,
                    f"window_end {clock.isoformat(o.window_end)} is in the future "
                    f"(more than {int(FUTURE_SKEW.total_seconds() // 60)} minutes ahead of "
                    f"{clock.isoformat(clock.parse_instant(tx.now))})",
                )
            )
        elif o.model_id not in known_models:
            bad.append(LineError(o.line, f"unknown model {o.model_id!r}"))
        elif (o.model_id, o.version) not in known_versions:
            bad.append(LineError(o.line, f"unknown version {o.model_id}@{o.version}"))
        else:
            good.append(o)
    if strict and bad:
        raise bad_lines_error(sorted(bad, key=lambda e: e.line), "nothing kept (--strict)")

    per_version: dict[tuple[str, str], list[Window]] = {}
    for o in good:
        per_version.setdefault((o.model_id, o.version), []).append(o)
    kept = updated = duplicates = 0
    new_rows: list[dict] = []
    usage_rows: list[tuple[tuple[str, str, str], int, str]] = []
    for (mid, ver), windows in sorted(per_version.items()):
        starts = sorted({clock.stamp(o.window_start) for o in windows})
        existing = {(r.window_start, r.window_end): r for r in mq.windows_starting(session, mid, ver, starts)}
        pending: dict[tuple[str, str], dict] = {}  # new in this input: a second copy is a duplicate or an update
        added_here = updated_here = 0
        for o in windows:
            values = {
                "requests": o.requests,
                "errors": o.errors,
                "latency_avg_ms": o.latency_avg_ms,
                "latency_p95_ms": o.latency_p95_ms,
                "cost_usd": o.cost_usd,
                "sample": json.dumps(o.sample, separators=(",", ":")) if o.sample is not None else None,
            }
            key = (clock.stamp(o.window_start), clock.stamp(o.window_end))
            row = existing.get(key)
            new = pending.get(key)
            if row is None and new is None:
                if o.consumer is not None:  # a new window only: re-ingesting never counts twice
                    usage_rows.append(((o.consumer, mid, ver), o.requests, key[1]))
                pending[key] = {
                    "model_id": mid,
                    "version": ver,
                    "window_start": key[0],
                    "window_end": key[1],
                    "ingested_at": tx.now,
                    **values,
                }
                added_here += 1
            elif all((new[k] if new is not None else getattr(row, k)) == v for k, v in values.items()):
                duplicates += 1
            else:
                if new is not None:
                    new.update(values)
                elif row is not None:
                    for k, v in values.items():
                        setattr(row, k, v)
                    row.ingested_at = tx.now
                updated_here += 1
        new_rows.extend(pending.values())
        kept += added_here
        updated += updated_here
        if added_here or updated_here:
            tx.audit(
                "observations.ingest",
                f"{mid}@{ver}",
                None,
                {
                    "added": added_here,
                    "updated": updated_here,
                    "from": min(clock.stamp(o.window_start) for o in windows),
                    "to": max(clock.stamp(o.window_end) for o in windows),
                },
            )
    queries.insert_rows(session, Observation, new_rows)
    aq.add_usage_at(session, [u for u in usage_rows if u[1] > 0])
    return report(kept, updated, duplicates, bad, [f"{m}@{v}" for m, v in sorted(per_version)])


def delete_windows(tx, model_id: str, version: str, *, start: str | None = None, end: str | None = None) -> dict:
    """Remove wrong data (e.g. a window dated in the future), audited."""
    authority.require(tx, Role.OPERATOR, f"delete observation windows of {model_id}@{version}")
    queries.version(tx.session, model_id, version)
    start_stamp = clock.stamp(clock.parse_instant(start, what="--from")) if start else None
    end_stamp = clock.stamp(clock.parse_instant(end, what="--to")) if end else None
    removed = mq.delete_windows(tx.session, model_id, version, start=start_stamp, end=end_stamp)
    if removed:
        tx.audit(
            "observations.delete", f"{model_id}@{version}", {"windows": removed}, {"from": start_stamp, "to": end_stamp}
        )
    return {"target": f"{model_id}@{version}", "deleted": removed}
