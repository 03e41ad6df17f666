"""The registry's queries: models, versions, checks, benchmark runs, the
audit trail. Callers ask for rows by meaning; the SQL lives here.

Every function takes an open session (a read, or a write transaction's
`tx.session`) and returns rows or plain values; none decides a rule.
Lookups of many keys go in chunks, so no statement exceeds the backends'
parameter limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import and_, func, insert, or_, select, text
from sqlalchemy.exc import DBAPIError

from modelreg.errors import InvalidInput, NotFound, did_you_mean
from modelreg.store.tables import (
    AuditEvent,
    AuditHead,
    BenchmarkRun,
    CheckResult,
    ConsumerUsage,
    Label,
    Model,
    ModelCard,
    ModelVersion,
    VersionAttribute,
    VersionLineage,
)

CHUNK = 500
MODEL_LABEL = ""  # the `version` of a model's own labels
SUGGESTION_POOL = 200  # at most this many rows read to suggest a name for a typo
T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _pg_array(column: Any) -> tuple[str, Any]:
    """The PostgreSQL array type of a column, and how to make a value of it."""
    kind = column.type.python_type if hasattr(column.type, "python_type") else str
    if kind is bool:
        return "boolean[]", bool
    if kind is int:
        return "bigint[]", int
    if kind is float:
        return "double precision[]", float
    return "text[]", str


def insert_rows(session, table: Any, rows: Sequence[dict], *, returning: Any = None) -> list[Any]:
    """Bulk INSERT. On PostgreSQL one `INSERT ... SELECT FROM unnest(arrays)` per
    chunk: a statement of one parameter per column (cheap to send and parse),
    firing the statement-level guard triggers once per chunk, not per row.
    Returns `returning` values in order."""
    table = getattr(table, "__table__", table)
    if not rows:
        return []
    out: list[Any] = []
    if session.get_bind().dialect.name == "postgresql":
        columns = list(rows[0])
        types = {c: _pg_array(table.c[c]) for c in columns}
        names = ", ".join(f'"{c}"' for c in columns)
        arrays = ", ".join(f"CAST(:{c} AS {types[c][0]})" for c in columns)
        tail = f" RETURNING {returning.name}" if returning is not None else ""
        # WITH ORDINALITY keeps the rows' order, so RETURNING comes back in it
        statement = text(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM unnest({arrays}) '
            f"WITH ORDINALITY AS u({names}, ord) ORDER BY ord{tail}"
        )
        for part in chunks(list(rows), 20000):
            params = {c: [None if r[c] is None else types[c][1](r[c]) for r in part] for c in columns}
            result = session.execute(statement, params)
            if returning is not None:
                out.extend(result.scalars())
        return out
    for part in chunks(list(rows), 5000):
        if returning is not None:
            out.extend(
                session.execute(insert(table).returning(returning, sort_by_parameter_order=True), list(part)).scalars()
            )
        else:
            session.execute(insert(table), list(part))
    return out


def like_literal(text: str) -> str:
    """`text` matched literally by LIKE ... ESCAPE '\\'."""
    return "".join("\\" + ch if ch in "%_\\" else ch for ch in text)


def like_pattern(glob: str) -> str:
    """A shell glob (* ?) as a SQL LIKE pattern with '\\' escapes."""
    return like_literal(glob).replace("*", "%").replace("?", "_")


# -- "did you mean": a few near names, never the registry ---------------------------
def _halves(text: str) -> tuple[str, str]:
    """LIKE patterns for names sharing the first or the last half of `text`
    (one typo, dropped or added character leaves one half intact)."""
    half = max(1, len(text) // 2)
    return like_literal(text[:half]) + "%", "%" + like_literal(text[-half:])


def near_model_ids(session, given: str) -> list[str]:
    """Candidates for a mistyped model id: one query, at most SUGGESTION_POOL
    ids, the closest in length first (difflib ranks them)."""
    head, tail = _halves(given)
    return list(
        session.execute(
            select(Model.model_id)
            .where(or_(Model.model_id.like(head, escape="\\"), Model.model_id.like(tail, escape="\\")))
            .order_by(func.abs(func.length(Model.model_id) - len(given)), Model.model_id)
            .limit(SUGGESTION_POOL)
        ).scalars()
    )


def near_versions(session, model_id: str, given: str) -> list[str]:
    """Candidates for a mistyped version of a model: one query, at most
    SUGGESTION_POOL versions, the closest in length, then the newest, first."""
    head, tail = _halves(given)
    return list(
        session.execute(
            select(ModelVersion.version)
            .where(
                ModelVersion.model_id == model_id,
                or_(ModelVersion.version.like(head, escape="\\"), ModelVersion.version.like(tail, escape="\\")),
            )
            .order_by(func.abs(func.length(ModelVersion.version) - len(given)), ModelVersion.version_key.desc())
            .limit(SUGGESTION_POOL)
        ).scalars()
    )


def unknown_model(session, model_id: str, what: str = "model") -> NotFound:
    return NotFound(f"unknown {what} {model_id!r}{did_you_mean(model_id, near_model_ids(session, model_id))}")


def unknown_version(session, model_id: str, version_text: str, what: str = "version") -> NotFound:
    """Not found: the model (with the nearest ids), or its version (with the nearest versions)."""
    if session.get(Model, model_id) is None:
        return unknown_model(session, model_id, "model" if what == "version" else f"{what} model")
    near = [f"{model_id}@{v}" for v in near_versions(session, model_id, version_text)]
    return NotFound(f"unknown {what} {model_id}@{version_text}{did_you_mean(f'{model_id}@{version_text}', near)}")


# -- models and versions ---------------------------------------------------------
def model(session, model_id: str) -> Model:
    row = session.get(Model, model_id)
    if row is None:
        raise unknown_model(session, model_id)
    return row


def lock_model(session, model_id: str) -> Model:
    """The model row, locked for the rest of the transaction (a PostgreSQL
    row lock; a SQLite write transaction already holds the database)."""
    row = session.execute(select(Model).where(Model.model_id == model_id).with_for_update()).scalar_one_or_none()
    if row is None:
        raise unknown_model(session, model_id)
    return row


def lock_models(session, model_ids: Iterable[str]) -> None:
    """Lock many model rows in one ordered statement per chunk (no deadlock
    between two writers locking overlapping sets)."""
    for part in chunks(sorted(set(model_ids))):
        session.execute(
            select(Model.model_id).where(Model.model_id.in_(part)).order_by(Model.model_id).with_for_update()
        )


def version(session, model_id: str, version_text: str) -> ModelVersion:
    row = session.get(ModelVersion, (model_id, version_text))
    if row is None:
        raise unknown_version(session, model_id, version_text)
    return row


def models_by_id(session, model_ids: Iterable[str]) -> dict[str, Model]:
    out: dict[str, Model] = {}
    for part in chunks(sorted(set(model_ids))):
        for row in session.execute(select(Model).where(Model.model_id.in_(part))).scalars():
            out[row.model_id] = row
    return out


def owners_of(session, model_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """model_id -> {owner, contacts} (for lifecycle events and notices)."""
    return {
        m.model_id: {"owner": m.owner, "contacts": json.loads(m.contacts)}
        for m in models_by_id(session, model_ids).values()
    }


def providers_of(session, model_ids: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in chunks(sorted(set(model_ids))):
        out.update(session.execute(select(Model.model_id, Model.provider).where(Model.model_id.in_(part))).all())
    return out


def existing_versions(session, model_id: str, versions: Sequence[str]) -> list[str]:
    found: list[str] = []
    for part in chunks(list(versions)):
        found.extend(
            session.execute(
                select(ModelVersion.version).where(ModelVersion.model_id == model_id, ModelVersion.version.in_(part))
            ).scalars()
        )
    return found


def versions_with_keys(session, model_id: str, keys: Sequence[str]) -> list[tuple[str, str]]:
    """(version, version_key) of a model's versions with these precedence keys."""
    found: list[tuple[str, str]] = []
    for part in chunks(list(keys)):
        found.extend(
            tuple(r)
            for r in session.execute(
                select(ModelVersion.version, ModelVersion.version_key).where(
                    ModelVersion.model_id == model_id, ModelVersion.version_key.in_(part)
                )
            )
        )
    return found


def versions_of(session, model_id: str, statuses: Sequence[str] | None = None) -> list[ModelVersion]:
    """A model's versions, newest (SemVer precedence) first."""
    query = select(ModelVersion).where(ModelVersion.model_id == model_id)
    if statuses is not None:
        query = query.where(ModelVersion.status.in_(list(statuses)))
    return list(session.execute(query.order_by(ModelVersion.version_key.desc())).scalars())


def version_statuses(session, model_id: str) -> list[tuple[str, str]]:
    """(version, status) of a model, oldest first."""
    return [
        tuple(r)
        for r in session.execute(
            select(ModelVersion.version, ModelVersion.status)
            .where(ModelVersion.model_id == model_id)
            .order_by(ModelVersion.version_key)
        )
    ]


def versions_of_models(session, model_ids: Iterable[str], statuses: Sequence[str]) -> dict[str, list[ModelVersion]]:
    """The versions in `statuses` of many models, in one query per chunk."""
    out: dict[str, list[ModelVersion]] = {}
    for part in chunks(sorted(set(model_ids))):
        for row in session.execute(
            select(ModelVersion).where(ModelVersion.model_id.in_(part), ModelVersion.status.in_(list(statuses)))
        ).scalars():
            out.setdefault(row.model_id, []).append(row)
    return out


def versions_of_status(session, status: str) -> list[ModelVersion]:
    return list(
        session.execute(
            select(ModelVersion)
            .where(ModelVersion.status == status)
            .order_by(ModelVersion.model_id, ModelVersion.version_key)
        ).scalars()
    )


def versions_with_status(session, status: str) -> list[Any]:
    """Light rows (model_id, version, retire_on, replacement) of every version in `status`."""
    return list(
        session.execute(
            select(ModelVersion.model_id, ModelVersion.version, ModelVersion.retire_on, ModelVersion.replacement)
            .where(ModelVersion.status == status)
            .order_by(ModelVersion.model_id, ModelVersion.version_key)
        ).all()
    )


def canaries(session) -> dict[str, str]:
    return dict(
        session.execute(select(Model.model_id, Model.canary_version).where(Model.canary_version.is_not(None))).all()
    )


def fallback_lists(session, *, non_empty: bool = False) -> list[tuple[str, str]]:
    """(model_id, fallbacks JSON) of every model."""
    query = select(Model.model_id, Model.fallbacks)
    if non_empty:
        query = query.where(Model.fallbacks != "[]")
    return [tuple(r) for r in session.execute(query)]


def version_query(
    *,
    provider: str | None = None,
    capabilities: Iterable[str] = (),
    domain: str | None = None,
    residency: str | None = None,
    model: str | None = None,
    statuses: Sequence[str] | None = None,
    max_p95: float | None = None,
    max_cost: float | None = None,
    used_by: tuple[str, str] | None = None,
    labels: Sequence[tuple[str, str]] = (),
    owner: str | None = None,
    base_model: str | None = None,
    walk_in_order: bool = False,
    entity: Any = None,
):
    """SELECT of versions matching every filter (values already validated).

    Capability, domain and residency lookups go through the indexed
    version_attribute table: joined (best when they are selective), or as
    EXISTS probes when `walk_in_order` (best for a page of a broad match: the
    database walks versions in display order and stops at the limit instead of
    sorting every match). `entity`: an alias of ModelVersion to select from
    instead (for a statement that compares versions with each other)."""
    v = ModelVersion if entity is None else entity
    query = select(v)
    conditions = []
    if provider is not None:
        conditions.append(v.provider == provider)
    if statuses is not None:
        conditions.append(v.status.in_(list(statuses)))
    if max_p95 is not None:
        conditions.append(v.p95_latency_ms <= max_p95)
    if max_cost is not None:
        conditions.append(v.cost_per_request_usd <= max_cost)
    if model is not None:
        if any(ch in model for ch in "*?"):
            conditions.append(v.model_id.like(like_pattern(model), escape="\\"))
        else:
            conditions.append(v.model_id == model)
    if used_by is not None:  # (consumer, first day): seen resolving or calling the version since then
        conditions.append(
            select(ConsumerUsage.model_id)
            .where(
                ConsumerUsage.consumer == used_by[0],
                ConsumerUsage.day >= used_by[1],
                ConsumerUsage.model_id == v.model_id,
                ConsumerUsage.version == v.version,
            )
            .exists()
        )
    for key, value in labels:  # all of them (EXISTS probes on the (key, value) index)
        conditions.append(label_condition(key, value, v))
    if owner is not None:
        conditions.append(select(Model.model_id).where(Model.model_id == v.model_id, Model.owner == owner).exists())
    if base_model is not None:
        conditions.append(base_model_condition(base_model, v))
    attr_filters = [("capability", c) for c in sorted(set(capabilities))]
    if domain is not None:
        attr_filters.append(("domain", domain))
    if residency is not None:
        attr_filters.append(("residency", residency))
    for kind, value in attr_filters:
        if walk_in_order:
            conditions.append(
                select(VersionAttribute.model_id)
                .where(
                    VersionAttribute.kind == kind,
                    VersionAttribute.value == value,
                    VersionAttribute.model_id == v.model_id,
                    VersionAttribute.version == v.version,
                )
                .exists()
            )
            continue
        alias = (
            select(VersionAttribute.model_id, VersionAttribute.version)
            .where(VersionAttribute.kind == kind, VersionAttribute.value == value)
            .subquery()
        )
        query = query.join(alias, and_(alias.c.model_id == v.model_id, alias.c.version == v.version))
    if conditions:
        query = query.where(*conditions)
    return query


def label_condition(key: str, value: str, v: Any = ModelVersion) -> Any:
    """A version carries key=value: its own label, or its model's when the version does not set that key."""
    own = select(Label.model_id).where(
        Label.key == key,
        Label.model_id == v.model_id,
        Label.version == v.version,
    )
    return or_(
        own.where(Label.value == value).exists(),
        and_(
            select(Label.model_id)
            .where(
                Label.key == key,
                Label.value == value,
                Label.model_id == v.model_id,
                Label.version == MODEL_LABEL,
            )
            .exists(),
            ~own.exists(),
        ),
    )


def base_model_condition(base_model: str, v: Any = ModelVersion) -> Any:
    return (
        select(VersionLineage.model_id)
        .where(
            VersionLineage.base_model == base_model,
            VersionLineage.model_id == v.model_id,
            VersionLineage.version == v.version,
        )
        .exists()
    )


def count(session, query) -> int:
    return session.execute(select(func.count()).select_from(query.subquery())).scalar_one()


def estimated_versions(session) -> int | None:
    """The planner's row count of model_version (SQLite's sqlite_stat1, PostgreSQL's
    pg_class.reltuples): free to read; None before the first ANALYZE."""
    try:
        if session.get_bind().dialect.name == "sqlite":
            stat = session.execute(text("SELECT stat FROM sqlite_stat1 WHERE tbl = 'model_version' LIMIT 1")).scalar()
            return int(str(stat).split()[0]) if stat else None
        rows = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'model_version'::regclass")).scalar()
        return int(rows) if rows is not None and rows >= 0 else None
    except DBAPIError:  # SQLite: no sqlite_stat1 before the first ANALYZE
        return None


def page(session, query, *, limit: int | None, offset: int = 0) -> list[ModelVersion]:
    ordered = query.order_by(ModelVersion.model_id, ModelVersion.version_key.desc())
    if limit:
        ordered = ordered.limit(limit)
    if offset:
        ordered = ordered.offset(offset)
    return list(session.execute(ordered).scalars())


def tree_rows(session, statuses: Sequence[str] | None) -> list[Any]:
    query = select(
        ModelVersion.model_id,
        ModelVersion.version,
        ModelVersion.status,
        ModelVersion.retire_on,
        ModelVersion.canary_weight,
    )
    if statuses is not None:
        query = query.where(ModelVersion.status.in_(list(statuses)))
    return list(session.execute(query.order_by(ModelVersion.model_id, ModelVersion.version_key.desc())).all())


# -- checks and benchmark runs --------------------------------------------------------
def latest_checks(session, model_id: str, version_text: str) -> dict[str, CheckResult]:
    """The newest result of each check (by recording order) of one version."""
    rows = session.execute(
        select(CheckResult)
        .where(CheckResult.model_id == model_id, CheckResult.version == version_text)
        .order_by(CheckResult.id)
    ).scalars()
    return {row.name: row for row in rows}


def version_chunks(keys: Iterable[tuple[str, str]]) -> Iterator[tuple[str, Sequence[str]]]:
    """(model_id, version) keys -> (model_id, a chunk of its versions): lookups of many
    versions as `model_id = ? AND version IN (...)` statements within the parameter limits."""
    by_model: dict[str, list[str]] = {}
    for mid, ver in keys:
        by_model.setdefault(mid, []).append(ver)
    for mid, versions in by_model.items():
        for part in chunks(versions):
            yield mid, part


def latest_checks_for(session, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, CheckResult]]:
    """The newest result of each check of many versions."""
    out: dict[tuple[str, str], dict[str, CheckResult]] = {k: {} for k in keys}
    for mid, part in version_chunks(keys):
        for row in session.execute(
            select(CheckResult)
            .where(CheckResult.model_id == mid, CheckResult.version.in_(part))
            .order_by(CheckResult.id)
        ).scalars():
            out[(row.model_id, row.version)][row.name] = row
    return out


def all_checks(session, model_id: str, version_text: str) -> list[CheckResult]:
    return list(
        session.execute(
            select(CheckResult)
            .where(CheckResult.model_id == model_id, CheckResult.version == version_text)
            .order_by(CheckResult.id)
        ).scalars()
    )


def passed_checks_everywhere(session) -> dict[tuple[str, str], set[str]]:
    """For the tree: the checks whose newest result is a pass, per version."""
    latest: dict[tuple[str, str, str], str] = {}
    for mid, ver, name, result in session.execute(
        select(CheckResult.model_id, CheckResult.version, CheckResult.name, CheckResult.result).order_by(CheckResult.id)
    ):
        latest[(mid, ver, name)] = result
    passed: dict[tuple[str, str], set[str]] = {}
    for (mid, ver, name), result in latest.items():
        if result == "pass":
            passed.setdefault((mid, ver), set()).add(name)
    return passed


def benchmark_runs(
    session, model_id: str, version_text: str, *, limit: int | None = None, complete_only: bool = False
) -> list[BenchmarkRun]:
    """Runs of a version, newest first."""
    query = select(BenchmarkRun).where(BenchmarkRun.model_id == model_id, BenchmarkRun.version == version_text)
    if complete_only:
        query = query.where(BenchmarkRun.aborted.is_(False))
    query = query.order_by(BenchmarkRun.run_id.desc())
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


# -- the audit trail ---------------------------------------------------------------
def audit_head(session) -> tuple[int, str]:
    row = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return (row[0], row[1]) if row else (0, "0" * 64)


def audit_events_of(session, model_id: str, version_text: str | None = None) -> list[AuditEvent]:
    where: Any
    if version_text is not None:
        where = AuditEvent.target == f"{model_id}@{version_text}"
    else:
        where = or_(
            AuditEvent.target == model_id, and_(AuditEvent.target >= f"{model_id}@", AuditEvent.target < f"{model_id}A")
        )
    return list(session.execute(select(AuditEvent).where(where).order_by(AuditEvent.seq)).scalars())


def audit_events(session, *, since: int = 0, upto: int | None = None) -> Iterator[AuditEvent]:
    """Every event after `since`, oldest first, streamed (no list of the whole chain)."""
    query = select(AuditEvent).where(AuditEvent.seq > since)
    if upto is not None:
        query = query.where(AuditEvent.seq <= upto)
    yield from session.execute(query.order_by(AuditEvent.seq).execution_options(yield_per=2000)).scalars()


def server_now(session) -> str:
    """The database server's clock as the schema's fixed-width UTC text (PostgreSQL)."""
    return session.execute(
        text("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    ).scalar_one()


def has_card(session, model_id: str, version_text: str) -> bool:
    return (
        session.execute(
            select(ModelCard.model_id).where(ModelCard.model_id == model_id, ModelCard.version == version_text)
        ).first()
        is not None
    )


def check_positive_limit(limit: Any) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0 or limit > 10**9:
        raise InvalidInput("--limit takes a whole number from 0 (no limit) to 1000000000")
    return limit or None
