"""Reading the registry: find, show (a model or a version), tree, history.

Each function takes an open session and returns the stable JSON shapes of
`views`; the filters are validated here, the SQL is `store.queries`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from modelreg import clock
from modelreg.errors import InvalidInput
from modelreg.lifecycle import production, usage
from modelreg.lifecycle.status import LIVE, NOT_ARCHIVED, STAGES, Status, status_filter
from modelreg.manifest import ascii_lower, check_slug
from modelreg.metadata import check_base_model, check_owner, parse_label_flags
from modelreg.names import check_consumer
from modelreg.store import metadata_queries, queries
from modelreg.store.tables import ModelVersion
from modelreg.views import (
    benchmark_summary,
    card_view,
    days_until,
    event_view,
    lineage_view,
    stage_of,
    version_view,
    window_view,
)

BROAD_MATCH = 2000  # above this many matches, find pages by walking versions in order ...
DENSE_MATCH = 4  # ... when they are also at least 1 in DENSE_MATCH of all versions (spread thin, a walk reads far)
MAX_GLOB = 200


def filters(
    *,
    provider: str | None = None,
    capabilities: Iterable[str] = (),
    status: str | None = None,
    stage: str | None = None,
    domain: str | None = None,
    residency: str | None = None,
    max_p95: float | None = None,
    max_cost: float | None = None,
    model: str | None = None,
    include_retired: bool = False,
    statuses: list[str] | None = None,
    used_by: str | None = None,
    labels: Iterable[str] = (),
    owner: str | None = None,
    base_model: str | None = None,
) -> dict[str, Any]:
    """Validated `find` filters as keyword arguments for `queries.version_query`.
    Provider, capability, domain and residency compare case-insensitively
    (they are stored lower-case)."""
    for value in (max_p95, max_cost):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or value != value
            or value < 0
            or value == float("inf")
        ):
            raise InvalidInput("--max-p95 and --max-cost take non-negative numbers")
    if model is not None:
        if (
            not isinstance(model, str)
            or not model
            or len(model) > MAX_GLOB
            or any(c.isspace() or ord(c) < 32 for c in model)
        ):
            raise InvalidInput(f"invalid --model glob {str(model)[:60]!r}")
        model = ascii_lower(model)

    def slug(flag: str, value: str | None) -> str | None:
        return None if value is None else check_slug(flag, ascii_lower(value) if isinstance(value, str) else value)

    return {
        "provider": slug("--provider", provider),
        "capabilities": sorted({str(slug("--capability", c)) for c in capabilities}),
        "domain": slug("--domain", domain),
        "residency": slug("--residency", residency),
        "model": model,
        "max_p95": max_p95,
        "max_cost": max_cost,
        "statuses": statuses
        if statuses is not None
        else status_filter(status=status, stage=stage, include_archived=include_retired),
        "used_by": None if used_by is None else (check_consumer(used_by, "--used-by"), usage.since_day()),
        "labels": sorted(parse_label_flags(labels).items()),
        "owner": None if owner is None else check_owner("--owner", owner),
        "base_model": None if base_model is None else check_base_model("--base-model", base_model),
    }


def views(session, rows: list[ModelVersion]) -> list[dict[str, Any]]:
    """Version rows -> views with their latest checks and rollout weights (a
    bounded number of queries however many rows)."""
    checks = queries.latest_checks_for(session, [(r.model_id, r.version) for r in rows])
    model_ids = {r.model_id for r in rows}
    models = queries.models_by_id(session, model_ids)
    live = queries.versions_of_models(session, model_ids, LIVE)
    keys = [(r.model_id, r.version) for r in rows]
    labels = metadata_queries.labels_for(session, model_ids)
    lineage = metadata_queries.lineage_for(session, keys)
    cards = metadata_queries.cards_for(session, keys)
    ref = clock.today()
    out = []
    for r in rows:
        m = models[r.model_id]
        model_live = live.get(r.model_id, [])
        default = production.production_default(model_live, m.canary_version)
        canary_weight = next((v.canary_weight for v in model_live if v.version == m.canary_version), None)
        weight = production.rollout_weight(
            r.version, r.status, m.canary_version, canary_weight, default.version if default else None
        )
        view = version_view(r, checks[(r.model_id, r.version)], weight=weight, today=ref)
        key = (r.model_id, r.version)
        view.update(
            owner=m.owner,
            contacts=json.loads(m.contacts),
            labels={**labels.get((r.model_id, queries.MODEL_LABEL), {}), **labels.get(key, {})},
            lineage=lineage_view(lineage.get(key)),
            card=card_view(cards.get(key)),
        )
        out.append(view)
    return out


def find(session, *, limit: int | None = 50, offset: int = 0, **given: Any) -> tuple[list[dict[str, Any]], int]:
    """Versions matching every filter, newest first within each model; and the total count."""
    limit = queries.check_positive_limit(limit)
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0 or offset > 10**9:
        raise InvalidInput("--offset takes a whole number from 0")
    where = filters(**given)
    total = queries.count(session, queries.version_query(**where))
    walk = bool(limit) and total > BROAD_MATCH
    if walk:
        versions = queries.estimated_versions(session)
        walk = versions is None or total * DENSE_MATCH >= versions
    query = queries.version_query(**where, walk_in_order=walk)
    rows = queries.page(session, query, limit=limit, offset=offset)
    return views(session, rows), total


def version(session, model_id: str, version_text: str) -> dict[str, Any]:
    from modelreg.store import monitoring_queries as mq

    row = queries.version(session, model_id, version_text)
    view = views(session, [row])[0]
    view["benchmarks"] = [
        benchmark_summary(r) for r in queries.benchmark_runs(session, model_id, version_text, limit=5)
    ]
    view["observations"] = [window_view(w) for w in mq.latest_windows(session, model_id, version_text, 24)]
    from modelreg.views import alert_view

    view["alerts"] = [alert_view(a) for a in mq.active_alerts(session, model_id, version_text)]
    view["consumers"] = usage.seen(session, [(row.model_id, row.version)])[(row.model_id, row.version)]
    return view


def deprecations(session) -> list[dict[str, Any]]:
    """What retires when: every DEPRECATED version, soonest first, with its
    replacement and the consumers still seen using it."""
    rows, _ = find(session, statuses=[Status.DEPRECATED.value], limit=None)
    still_used = usage.seen(session, [(v["model_id"], v["version"]) for v in rows])
    items = [
        {
            "model_id": v["model_id"],
            "version": v["version"],
            "provider": v["provider"],
            "deprecated_at": v["deprecated_at"],
            "retire_on": v["retire_on"],
            "days_left": v.get("days_to_retirement"),
            "replacement": v["replacement"],
            "reason": v["deprecation_reason"],
            "consumers": usage.names(still_used.get((v["model_id"], v["version"]), [])),
        }
        for v in rows
    ]
    items.sort(key=lambda d: (d["retire_on"] or "9999-12-31", d["model_id"], d["version"]))
    return items


def model(session, model_id: str) -> dict[str, Any]:
    m = queries.model(session, model_id)
    rows = queries.versions_of(session, model_id)
    default = production.production_default([r for r in rows if r.status in LIVE], m.canary_version)
    return {
        "model_id": m.model_id,
        "provider": m.provider,
        "description": m.description,
        "owner": m.owner,
        "contacts": json.loads(m.contacts),
        "labels": metadata_queries.labels_of(session, model_id),
        "created_at": m.created_at,
        "fallbacks": json.loads(m.fallbacks),
        "production_default": default.version if default else None,
        "canary": m.canary_version,
        "versions": views(session, rows),
    }


def tree(session, *, include_retired: bool = False) -> dict[str, dict[str, list[dict]]]:
    """stage -> model -> [{version, status, ...}] (newest version first)."""
    rows = queries.tree_rows(session, None if include_retired else list(NOT_ARCHIVED))
    canaries = queries.canaries(session)
    passed = queries.passed_checks_everywhere(session)
    ref = clock.today()
    out: dict[str, dict[str, list[dict]]] = {stage: {} for stage in STAGES}
    for row in rows:
        mid, ver, status, retire_on, weight = row
        entry = {
            "version": ver,
            "status": status,
            "checks_passed": sorted(passed.get((mid, ver), ())),
            "canary_weight": weight if canaries.get(mid) == ver else None,
            "days_to_retirement": days_until(retire_on, ref) if status == "DEPRECATED" else None,
        }
        out[stage_of(row)].setdefault(mid, []).append(entry)
    if not include_retired:
        out.pop("archived")
    return out


def history(session, model_id: str, version_text: str | None = None) -> list[dict[str, Any]]:
    queries.model(session, model_id)
    if version_text is not None:
        queries.version(session, model_id, version_text)
    return [event_view(e) for e in queries.audit_events_of(session, model_id, version_text)]


MAX_LINEAGE_DEPTH = 20


def lineage(session, model_id: str, version_text: str) -> dict[str, Any]:
    """What M@V derives from (its base model, and that one's, while they are
    registered versions) and what derives from it, directly or through others."""
    queries.version(session, model_id, version_text)
    target = f"{model_id}@{version_text}"
    own = metadata_queries.lineage_for(session, [(model_id, version_text)]).get((model_id, version_text))
    ancestors: list[dict[str, Any]] = []
    seen = {target}
    base = own.base_model if own else None
    while base and base not in seen and len(ancestors) < MAX_LINEAGE_DEPTH:
        seen.add(base)
        mid, at, ver = base.partition("@")
        found = metadata_queries.lineage_for(session, [(mid, ver)]).get((mid, ver)) if at else None
        registered = bool(at) and queries.existing_versions(session, mid, [ver]) == [ver]
        ancestors.append({"base_model": base, "registered": registered})
        base = found.base_model if found else None
    descendants: list[dict[str, Any]] = []
    frontier = [(model_id, version_text)]
    depth = 0
    while frontier and depth < MAX_LINEAGE_DEPTH:
        depth += 1
        names = [f"{m}@{v}" for m, v in frontier] + ([model_id] if depth == 1 else [])
        frontier = []
        for row in metadata_queries.derived_from(session, names):
            child = f"{row.model_id}@{row.version}"
            if child in seen:
                continue
            seen.add(child)
            descendants.append({"target": child, "base_model": row.base_model, "depth": depth})
            frontier.append((row.model_id, row.version))
    return {
        "target": target,
        "lineage": lineage_view(own),
        "derives_from": ancestors,
        "derived": descendants,
    }
