"""The SQL of bearer tokens and consumer usage (revision 0005)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, func, select, text, tuple_
from sqlmodel import col

from modelreg.store.tables import ApiToken, ConsumerUsage

UsageKey = tuple[str, str, str]  # consumer, model_id, version


def token_consumer(session, digest: str) -> str | None:
    """The name of the live token with this SHA-256, or None. On PostgreSQL
    through a function a reader may call (the table is the admin's)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.execute(text("SELECT modelreg_token_consumer(:d)"), {"d": digest}).scalar()
    return session.execute(
        select(ApiToken.name).where(col(ApiToken.digest) == digest, col(ApiToken.revoked_at).is_(None))
    ).scalar()


def tokens(session) -> list[ApiToken]:
    return list(session.execute(select(ApiToken).order_by(col(ApiToken.name))).scalars())


def add_usage(session, counts: dict[UsageKey, int], now: str) -> None:
    """Add counts for today (UTC); versions that do not exist are skipped. On
    PostgreSQL one call of a function a reader may call, stamped by the server."""
    if not counts:
        return
    keys = sorted(counts)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT modelreg_record_usage(:c, :m, :v, :n)"),
            {
                "c": [k[0] for k in keys],
                "m": [k[1] for k in keys],
                "v": [k[2] for k in keys],
                "n": [counts[k] for k in keys],
            },
        )
        return
    add_usage_at(session, [(k, counts[k], now) for k in keys])


def add_usage_at(session, rows: Sequence[tuple[UsageKey, int, str]]) -> None:
    """Add counts seen at given times (ingested windows; SQLite's flush). Day = the time's UTC date."""
    statement = text(
        "INSERT INTO consumer_usage (consumer, model_id, version, day, requests, last_seen) "
        "SELECT CAST(:c AS VARCHAR), CAST(:m AS VARCHAR), CAST(:v AS VARCHAR), CAST(:day AS VARCHAR), "
        "CAST(:n AS BIGINT), CAST(:at AS VARCHAR) WHERE EXISTS (SELECT 1 FROM model_version "
        "WHERE model_id = CAST(:m AS VARCHAR) AND version = CAST(:v AS VARCHAR)) "
        "ON CONFLICT (consumer, model_id, version, day) DO UPDATE SET "
        "requests = consumer_usage.requests + excluded.requests, "
        "last_seen = CASE WHEN excluded.last_seen > consumer_usage.last_seen "
        "THEN excluded.last_seen ELSE consumer_usage.last_seen END"
    )
    for (consumer, model_id, version), n, at in rows:
        session.execute(statement, {"c": consumer, "m": model_id, "v": version, "day": at[:10], "n": n, "at": at})


def consumers_of(session, targets: Iterable[tuple[str, str]], since_day: str) -> dict[tuple[str, str], list[dict]]:
    """(model_id, version) -> [{consumer, requests, last_seen}] since a UTC day, busiest first."""
    wanted = sorted(set(targets))
    out: dict[tuple[str, str], list[dict]] = {t: [] for t in wanted}
    if not wanted:
        return out
    rows = session.execute(
        select(
            ConsumerUsage.model_id,
            ConsumerUsage.version,
            ConsumerUsage.consumer,
            func.sum(ConsumerUsage.requests),
            func.max(ConsumerUsage.last_seen),
        )
        .where(
            tuple_(col(ConsumerUsage.model_id), col(ConsumerUsage.version)).in_(bindparam("pairs", expanding=True)),
            col(ConsumerUsage.day) >= since_day,
        )
        .group_by(col(ConsumerUsage.model_id), col(ConsumerUsage.version), col(ConsumerUsage.consumer)),
        {"pairs": wanted},
    ).all()
    for model_id, version, consumer, requests, last_seen in rows:
        out[(model_id, version)].append({"consumer": consumer, "requests": int(requests), "last_seen": last_seen})
    for found in out.values():
        found.sort(key=lambda c: (-c["requests"], c["consumer"]))
    return out


def used_by(session, consumer: str, since_day: str) -> list[tuple[str, str]]:
    """The (model_id, version) pairs a consumer used since a UTC day."""
    rows = session.execute(
        select(ConsumerUsage.model_id, ConsumerUsage.version)
        .where(col(ConsumerUsage.consumer) == consumer, col(ConsumerUsage.day) >= since_day)
        .distinct()
    ).all()
    return [(m, v) for m, v in rows]


def usage_rows(session) -> list[Any]:
    return list(session.execute(select(ConsumerUsage)).scalars())
