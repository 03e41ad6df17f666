"""The monitoring queries: observation windows, baselines, alerts and their
deliveries, advisories. Kept apart from `queries` because they load the
monitoring tables, which commands such as find and register never need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from modelreg.store.monitoring_tables import Advisory, Alert, AlertDelivery, Baseline, Observation
from modelreg.store.queries import chunks
from modelreg.store.tables import EventDelivery, LifecycleEvent, ModelVersion, RetirementNotice

SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


# -- observation windows ----------------------------------------------------------
def latest_windows(session, model_id: str, version: str, limit: int) -> list[Observation]:
    """The latest `limit` windows of a version, oldest first."""
    rows = list(
        session.execute(
            select(Observation)
            .where(Observation.model_id == model_id, Observation.version == version)
            .order_by(Observation.window_end.desc(), Observation.window_start.desc())
            .limit(limit)
        ).scalars()
    )
    rows.reverse()
    return rows


def windows_starting(session, model_id: str, version: str, starts: Sequence[str]) -> list[Observation]:
    found: list[Observation] = []
    for part in chunks(list(starts)):
        found.extend(
            session.execute(
                select(Observation).where(
                    Observation.model_id == model_id, Observation.version == version, Observation.window_start.in_(part)
                )
            ).scalars()
        )
    return found


def samples_since(session, model_id: str, version: str, since: str):
    """(window_start, window_end, sample) of windows with a sample starting at or after `since`, oldest first."""
    return session.execute(
        select(Observation.window_start, Observation.window_end, Observation.sample)
        .where(
            Observation.model_id == model_id,
            Observation.version == version,
            Observation.window_start >= since,
            Observation.sample.is_not(None),
        )
        .order_by(Observation.window_start, Observation.window_end)
    )


def samples_newest_first(session, model_id: str, version: str):
    return session.execute(
        select(Observation.window_start, Observation.window_end, Observation.sample)
        .where(Observation.model_id == model_id, Observation.version == version, Observation.sample.is_not(None))
        .order_by(Observation.window_end.desc(), Observation.window_start.desc())
    )


def observed_versions(session) -> set[tuple[str, str]]:
    return {tuple(r) for r in session.execute(select(Observation.model_id, Observation.version).distinct())}


def delete_windows(session, model_id: str, version: str, *, start: str | None, end: str | None) -> int:
    from sqlalchemy import delete

    statement = delete(Observation).where(Observation.model_id == model_id, Observation.version == version)
    if start is not None:
        statement = statement.where(Observation.window_start >= start)
    if end is not None:
        statement = statement.where(Observation.window_end <= end)
    return session.execute(statement).rowcount or 0


def baseline(session, model_id: str, version: str) -> Baseline | None:
    return session.get(Baseline, (model_id, version))


# -- alerts -------------------------------------------------------------------------
def active_alerts(session, model_id: str | None = None, version: str | None = None) -> list[Alert]:
    """Open and acked alerts (of one version when given), most severe first."""
    query = select(Alert).where(Alert.status != "resolved")
    if model_id is not None:
        query = query.where(Alert.model_id == model_id, Alert.version == version)
    rows = session.execute(query).scalars()
    return sorted(rows, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.id))


def alerts(session, *, statuses: Sequence[str] | None, severity: str | None, model_id: str | None) -> list[Alert]:
    query = select(Alert)
    if statuses is not None:
        query = query.where(Alert.status.in_(list(statuses)))
    if severity is not None:
        query = query.where(Alert.severity == severity)
    if model_id is not None:
        query = query.where(Alert.model_id == model_id)
    return list(session.execute(query).scalars())


def open_counts(session) -> dict[str, int]:
    return dict(
        session.execute(
            select(Alert.severity, func.count()).where(Alert.status == "open").group_by(Alert.severity)
        ).all()
    )


def open_counts_by_version(session) -> dict[tuple[str, str], dict[str, int]]:
    counts: dict[tuple[str, str], dict[str, int]] = {}
    for mid, ver, severity, n in session.execute(
        select(Alert.model_id, Alert.version, Alert.severity, func.count())
        .where(Alert.status != "resolved", Alert.version.is_not(None))
        .group_by(Alert.model_id, Alert.version, Alert.severity)
    ).all():
        counts.setdefault((mid, ver), {})[severity] = n
    return counts


def deliveries_to_claim(
    session,
    urls: Sequence[str],
    cutoff: str,
    *,
    events: bool = False,
    failed_before: str | None = None,
    limit: int | None = None,
) -> list[Any]:
    """Pending deliveries to these URLs, failed ones (last tried before
    `failed_before`, when given), and ones claimed longer ago than `cutoff`."""
    table = EventDelivery if events else AlertDelivery
    key = table.event_id if events else table.alert_id
    failed = table.status == "failed"
    if failed_before is not None:
        failed = failed & (table.updated_at < failed_before)
    query = (
        select(table)
        .where(
            table.url.in_(list(urls)),
            (table.status == "pending") | failed | ((table.status == "sending") & (table.updated_at < cutoff)),
        )
        .order_by(key, table.url)
    )
    return list(session.execute(query if limit is None else query.limit(limit)).scalars())


def deliveries(session, alert_id: int | None = None) -> list[AlertDelivery]:
    query = select(AlertDelivery).order_by(AlertDelivery.alert_id, AlertDelivery.url)
    if alert_id is not None:
        query = query.where(AlertDelivery.alert_id == alert_id)
    return list(session.execute(query).scalars())


# -- lifecycle events -----------------------------------------------------------------
def lifecycle_events(
    session, *, since: int = 0, limit: int | None = None, target: str | None = None
) -> list[LifecycleEvent]:
    query = select(LifecycleEvent).where(col(LifecycleEvent.id) > since)
    if target is not None:
        query = query.where(LifecycleEvent.target == target)
    query = query.order_by(LifecycleEvent.id)
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def event_deliveries(session, event_ids: Sequence[int]) -> dict[int, list[EventDelivery]]:
    out: dict[int, list[EventDelivery]] = {}
    for part in chunks(list(event_ids)):
        for row in session.execute(
            select(EventDelivery)
            .where(EventDelivery.event_id.in_(part))
            .order_by(EventDelivery.event_id, EventDelivery.url)
        ).scalars():
            out.setdefault(row.event_id, []).append(row)
    return out


# -- advisories -----------------------------------------------------------------------
def open_advisories(session, model_id: str | None = None) -> list[Advisory]:
    query = select(Advisory).where(Advisory.status == "open")
    if model_id is not None:
        query = query.where(Advisory.model_id == model_id)
    return list(session.execute(query.order_by(Advisory.model_id, Advisory.advisory_id)).scalars())


def advisories(session, model_id: str | None = None) -> list[Advisory]:
    query = select(Advisory).order_by(Advisory.model_id, Advisory.advisory_id)
    if model_id is not None:
        query = query.where(Advisory.model_id == model_id)
    return list(session.execute(query).scalars())


# -- retirement notices ------------------------------------------------------------------
def notices_raised(session) -> set[tuple[str, str, str, int]]:
    return {
        tuple(r)
        for r in session.execute(
            select(
                RetirementNotice.model_id,
                RetirementNotice.version,
                RetirementNotice.retire_on,
                RetirementNotice.days_before,
            )
        )
    }


def current_notices(session) -> list[tuple[RetirementNotice, ModelVersion]]:
    """Notices of versions still DEPRECATED with the same retire date."""
    return [
        tuple(r)
        for r in session.execute(
            select(RetirementNotice, ModelVersion)
            .join(
                ModelVersion,
                (ModelVersion.model_id == RetirementNotice.model_id)
                & (ModelVersion.version == RetirementNotice.version),
            )
            .where(ModelVersion.status == "DEPRECATED", ModelVersion.retire_on == RetirementNotice.retire_on)
        ).all()
    ]
