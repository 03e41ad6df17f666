"""The production-default rule (SPEC section 5), defined once.

A model's production default is the APPROVED version most recently made
default (promoted without a canary, or completed from one); failing that,
its highest APPROVED version (pre-releases only when asked for). A canary
is never the default. DEPRECATED versions stay resolvable, flagged, only
while the model has no APPROVED version at all.

Pure functions over version rows (anything with `version`, `status`,
`prerelease`, `default_since`, `version_key`), and `picks_sql`: the same
rule as one SQL statement, to choose among thousands of models without
loading their rows (`tests/test_rules_routing.py` holds the two equal on
both backends).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import and_, case, func, not_, or_, select, true
from sqlalchemy.orm import aliased

from modelreg.lifecycle.status import RESOLVABLE, Status
from modelreg.store.tables import Model, ModelVersion


class VersionRow(Protocol):
    version: str
    status: str
    prerelease: bool
    default_since: str | None
    version_key: str


def choose(
    candidates: Iterable[Any], canary_version: str | None, *, model_has_approved: bool, prerelease: bool = False
) -> Any | None:
    """The version of one model to serve among `candidates` (the model's
    versions that match a query). `model_has_approved`: whether the model has
    any APPROVED version at all, matching or not."""
    rows = list(candidates)
    approved = [
        v
        for v in rows
        if v.status == Status.APPROVED
        and v.version != canary_version
        and (prerelease or not v.prerelease or v.default_since)
    ]
    defaults = [v for v in approved if v.default_since]
    if defaults:
        return max(defaults, key=lambda v: (v.default_since, v.version_key))
    if approved:
        return max(approved, key=lambda v: v.version_key)
    if model_has_approved:
        return None  # DEPRECATED versions stay resolvable only while no APPROVED version exists
    deprecated = [v for v in rows if v.status == Status.DEPRECATED]
    return max(deprecated, key=lambda v: (v.default_since or "", v.version_key), default=None)


def _eligible_default(v: Any, prerelease: bool) -> Any:
    """SQL: an APPROVED row `choose` may make the default (not the canary:
    a probe of the model's primary key; a pre-release only when asked for or
    once it was the default)."""
    model: Any = aliased(Model)
    canary = select(model.canary_version).where(model.model_id == v.model_id).scalar_subquery()
    return and_(
        v.status == Status.APPROVED,
        func.coalesce(canary, "") != v.version,
        true() if prerelease else or_(not_(v.prerelease), v.default_since.is_not(None)),
    )


def _preference(v: Any, binary: Callable[[Any], Any]) -> tuple[Any, ...]:
    """SQL ORDER BY of `choose` within one tier: made default most recently (a
    version never made default sorts after every one that was: '' before any
    time), then highest precedence."""
    return (
        binary(func.coalesce(v.default_since, "")).desc(),
        binary(v.version_key).desc(),
    )


def newest_default_sql(
    matching: Callable[[Any, Sequence[str]], Any],
    *,
    prerelease: bool = False,
    binary: Callable[[Any], Any] = lambda c: c,
    window: int | None = None,
) -> Any:
    """The common case of resolving across models, without visiting every
    model: walk the matching APPROVED versions newest-approved first (the
    index ix_model_version_approved) and take the first one that is its own
    model's pick. That one is the pick with the highest (approved_at,
    model_id), which is what `routing.resolve` wants.

    `window` None: one walk that stops at the first pick (SQLite follows the
    index and probes each version's filters). A number: only that many of
    the newest matching versions are tried, as a plain ORDER BY ... LIMIT
    that a cost-based planner estimates well (PostgreSQL: without it, the
    pick test's unknown selectivity makes it read every match and sort);
    when none of them is a pick, no row, and `picks_sql` decides.

    `matching(entity, statuses)`: a SELECT of the rows of `entity`
    (ModelVersion or an alias of it) in `statuses` that match the query
    (`queries.version_query`). Returns a SELECT of (model_id, version) with
    at most one row."""
    v: Any = ModelVersion
    walked: Any = aliased(ModelVersion)
    approved = [Status.APPROVED.value]

    def pick_of(row: Any) -> Any:  # the version `choose` serves of row's model
        return (
            matching(v, approved)
            .with_only_columns(v.version)
            .where(v.model_id == row.model_id, _eligible_default(v, prerelease))
            .order_by(*_preference(v, binary))
            .limit(1)
            .scalar_subquery()
        )

    def newest_first(row: Any) -> tuple[Any, Any]:
        return binary(row.approved_at).desc(), binary(row.model_id).desc()

    candidates = matching(walked, approved).where(_eligible_default(walked, prerelease))
    if window is None:
        return (
            candidates.with_only_columns(walked.model_id, walked.version)
            .where(walked.version == pick_of(walked))
            .order_by(*newest_first(walked))
            .limit(1)
        )
    walk = (
        candidates.with_only_columns(walked.model_id, walked.version, walked.approved_at)
        .order_by(*newest_first(walked))
        .limit(window)
        .subquery("walk")
        .c
    )
    return (
        select(walk.model_id, walk.version).where(walk.version == pick_of(walk)).order_by(*newest_first(walk)).limit(1)
    )


def picks_sql(
    matching: Callable[[Any, Sequence[str]], Any],
    *,
    prerelease: bool = False,
    binary: Callable[[Any], Any] = lambda c: c,
) -> Any:
    """`choose` for every model at once, over the resolvable rows of
    `matching` (as in `newest_default_sql`). Returns a SELECT of each model's
    pick (model_id, version, status, approved_at), models that serve nothing
    left out. `binary` wraps text columns to compare them byte-wise, as
    Python does (PostgreSQL: COLLATE "C").

    Per model the rows rank by tier (0: APPROVED and eligible as default,
    1: DEPRECATED, 2: never chosen), then as `choose` orders them; a
    DEPRECATED first pick counts only when the model has no APPROVED version
    at all (probed for those few models, not for every row)."""
    v: Any = ModelVersion
    other: Any = aliased(ModelVersion)
    tier = case((_eligible_default(v, prerelease), 0), (v.status == Status.DEPRECATED, 1), else_=2)
    rank = func.row_number().over(partition_by=v.model_id, order_by=(tier, *_preference(v, binary)))
    ranked = (
        matching(v, RESOLVABLE)
        .with_only_columns(v.model_id, v.version, v.status, v.approved_at, tier.label("tier"), rank.label("rank"))
        .subquery("ranked")
    )
    has_approved = (
        select(other.model_id).where(other.model_id == ranked.c.model_id, other.status == Status.APPROVED).exists()
    )
    return select(ranked.c.model_id, ranked.c.version, ranked.c.status, ranked.c.approved_at).where(
        ranked.c.rank == 1, or_(ranked.c.tier == 0, and_(ranked.c.tier == 1, not_(has_approved)))
    )


def production_default(versions: Iterable[Any], canary_version: str | None) -> Any | None:
    """The production default among all of a model's versions."""
    rows = list(versions)
    return choose(rows, canary_version, model_has_approved=any(v.status == Status.APPROVED for v in rows))


def rollout_weight(
    version: str, status: str, canary_version: str | None, canary_weight: int | None, default_version: str | None
) -> int:
    """The share of traffic (0-100) a version gets from `resolve --key`."""
    if status != Status.APPROVED and status != Status.DEPRECATED:
        return 0
    if canary_version and version == canary_version:
        return canary_weight or 0
    if version == default_version:
        return 100 - (canary_weight or 0) if canary_version else 100
    return 0
