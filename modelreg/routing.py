"""Resolution: the guide's getLatestApproved.

Each matching model contributes its production default among the matching
versions (`lifecycle.production`); across models an APPROVED pick beats a
DEPRECATED one (a deprecated version is a fallback of last resort, across
models as within one), then the most recently approved wins. A canary takes
its share of callers by a stable hash of (model, key). The fallback chain is
resolved to concrete versions; targets that resolve to nothing are reported
as `broken_fallbacks`, never silently dropped.

A bounded number of queries whatever the number of models, and no row
loaded per model. By exact model id, that model's few matching versions and
the rule in Python. Across models, SQL finds the winner: a walk of the
matching APPROVED versions newest-approved first that stops at the first one
that is its own model's pick (`production.newest_default_sql`, a few rows on
an index), else the rule over every matching model in one statement
(`production.picks_sql`: DEPRECATED fallbacks, or nothing). Then the
winner's row, its canary and its fallbacks are read.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select

from modelreg.errors import InvalidInput, NotFound
from modelreg.lifecycle import fallbacks, production
from modelreg.lifecycle.status import RESOLVABLE, Status
from modelreg.store import queries
from modelreg.store.tables import ModelVersion

MAX_KEY = 256
WALK = 10  # PostgreSQL: newest approved versions tried before the rule visits every matching model


@dataclass
class Resolution:
    model_id: str
    version: str
    provider: str
    recommended_parameters: dict[str, Any]
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    deprecation: dict[str, Any] | None = None
    rollout: dict[str, Any] = field(default_factory=dict)
    broken_fallbacks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "version": self.version,
            "provider": self.provider,
            "recommended_parameters": self.recommended_parameters,
            "fallbacks": self.fallbacks,
            "deprecation": self.deprecation,
            "rollout": self.rollout,
            "broken_fallbacks": self.broken_fallbacks,
        }

    # the guide's camelCase names, for callers porting from its TypeScript
    @property
    def modelId(self) -> str:  # noqa: N802
        return self.model_id

    @property
    def recommendedParameters(self) -> dict[str, Any]:  # noqa: N802
        return self.recommended_parameters


def bucket(model_id: str, key: str) -> int:
    """0..99, stable across processes and machines for (model, key)."""
    digest = hashlib.sha256(f"{model_id}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


@functools.lru_cache(maxsize=256)
def _statements(where: tuple[tuple[str, Any], ...], prerelease: bool, dialect: str, walk: int) -> tuple[Any, Any]:
    """The two statements that find the winning model for these filters:
    the newest APPROVED pick among the newest approved versions (the common
    case, a few rows read), and the rule over every matching model (when the
    first finds nothing: no APPROVED pick near the top, a DEPRECATED one, or
    none at all). Built once per distinct query (building them costs more than
    running them) and reused: statements are immutable."""
    binary = (lambda c: c) if dialect == "sqlite" else (lambda c: c.collate("C"))

    def matching(entity, statuses):
        return queries.version_query(**dict(where), statuses=statuses, walk_in_order=True, entity=entity)

    picks = production.picks_sql(matching, prerelease=prerelease, binary=binary).subquery("picks")
    best_of_all = (
        select(picks.c.model_id, picks.c.version, picks.c.status)
        .order_by(
            (picks.c.status == Status.APPROVED).desc(),
            binary(func.coalesce(picks.c.approved_at, "")).desc(),
            binary(picks.c.model_id).desc(),
        )
        .limit(1)
    )
    window = None if dialect == "sqlite" else walk  # see newest_default_sql
    newest = production.newest_default_sql(matching, prerelease=prerelease, binary=binary, window=window)
    return newest, best_of_all


def _pick_of_one_model(session, where: dict[str, Any], prerelease: bool) -> ModelVersion | None:
    """By exact model id: its few matching versions, and the rule in Python."""
    rows = list(session.execute(queries.version_query(**where)).scalars())
    if not rows:
        return None
    m = queries.model(session, rows[0].model_id)
    has_approved = any(r.status == Status.APPROVED for r in rows) or bool(
        queries.versions_of(session, m.model_id, [Status.APPROVED.value])
    )
    return production.choose(rows, m.canary_version, model_has_approved=has_approved, prerelease=prerelease)


def _matches(session, where: dict[str, Any], model_id: str, row: ModelVersion | None) -> bool:
    if row is None:
        return False
    query = queries.version_query(**{**where, "model": model_id}).where(ModelVersion.version == row.version)
    return session.execute(select(query.exists())).scalar()


def resolve(
    session,
    *,
    model: str | None = None,
    provider: str | None = None,
    capabilities: Sequence[str] = (),
    domain: str | None = None,
    residency: str | None = None,
    key: str | None = None,
    prerelease: bool = False,
) -> Resolution:
    from modelreg.catalog import filters

    if key is not None and (not isinstance(key, str) or not key or len(key) > MAX_KEY):
        raise InvalidInput(f"--key: expected 1 to {MAX_KEY} characters")
    where = filters(
        provider=provider,
        capabilities=capabilities,
        domain=domain,
        residency=residency,
        model=model,
        statuses=list(RESOLVABLE),
    )
    if model is not None and not any(ch in model for ch in "*?"):
        best = _pick_of_one_model(session, where, prerelease)
    else:
        newest_approved, best_of_all = _statements(
            tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in where.items() if k != "statuses"),
            prerelease,
            session.get_bind().dialect.name,
            WALK,
        )
        best = session.execute(newest_approved).first() or session.execute(best_of_all).first()
    if best is None:
        what = ", ".join(
            f"{k}={v}"
            for k, v in (
                ("model", model),
                ("provider", provider),
                ("capabilities", ",".join(capabilities) or None),
                ("domain", domain),
                ("residency", residency),
            )
            if v
        )
        raise NotFound(f"no approved model matches ({what or 'no filters'})")
    m = queries.model(session, best.model_id)
    chosen = best if isinstance(best, ModelVersion) else queries.version(session, m.model_id, best.version)
    rollout = {"role": "stable", "weight": 100}
    if m.canary_version and chosen.status == Status.APPROVED:
        canary = session.get(ModelVersion, (m.model_id, m.canary_version))
        weight = (canary.canary_weight if canary is not None else 0) or 0
        rollout = {"role": "stable", "weight": 100 - weight}
        # callers are split only when the canary itself matches the query
        if key is not None and bucket(m.model_id, key) < weight and _matches(session, where, m.model_id, canary):
            chosen, rollout = canary, {"role": "canary", "weight": weight}
    deprecation = None
    if chosen.status == Status.DEPRECATED:
        deprecation = {
            "retire_on": chosen.retire_on,
            "replacement": chosen.replacement,
            "deprecated_at": chosen.deprecated_at,
        }
    params = {name: spec["default"] for name, spec in json.loads(chosen.parameters).items()}
    resolved = fallbacks.chain(session, m)
    targets = {f["target"] for f in resolved}
    broken = [t for t in json.loads(m.fallbacks) if t not in targets]
    return Resolution(
        chosen.model_id,
        chosen.version,
        chosen.provider,
        params,
        [{"model_id": f["model_id"], "version": f["version"]} for f in resolved],
        deprecation,
        rollout,
        broken,
    )


def show_fallbacks(session, model_id: str) -> dict[str, Any]:
    m = queries.model(session, model_id)
    out = []
    for target in json.loads(m.fallbacks):
        row = fallbacks.resolve_target(session, target)
        out.append(
            {
                "target": target,
                "resolves_to": f"{row.model_id}@{row.version}" if row else None,
                "status": row.status if row else None,
            }
        )
    return {"model_id": model_id, "fallbacks": out}
