"""Ordered fallbacks of a model: what each target means now, cycles across
the whole graph, and the one way to change them.

A target is `model` (its production default at resolve time) or an exact
`model@version` (while that version is resolvable).
"""

from __future__ import annotations

import json
from typing import Any

from modelreg.errors import Conflict, InvalidInput, PolicyRefused
from modelreg.lifecycle import authority, production
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.status import LIVE, RESOLVABLE
from modelreg.store import queries
from modelreg.store.tables import Model, ModelVersion
from modelreg.targets import parse_target

MAX_FALLBACKS = 16


def resolve_target(session, target: str) -> ModelVersion | None:
    """A fallback target ('m' or 'm@v') -> the concrete version it means now."""
    model_id, version = parse_target(target, version_required=False)
    model = session.get(Model, model_id)
    if model is None:
        return None
    if version is not None:
        row = session.get(ModelVersion, (model_id, version))
        return row if row is not None and row.status in RESOLVABLE else None
    return production.production_default(queries.versions_of(session, model_id, RESOLVABLE), model.canary_version)


def chain(session, model: Model) -> list[dict[str, str]]:
    """The model's fallbacks resolved to concrete versions (unresolvable ones left out)."""
    out = []
    for target in json.loads(model.fallbacks):
        row = resolve_target(session, target)
        if row is not None:
            out.append({"model_id": row.model_id, "version": row.version, "target": target})
    return out


def broken(session) -> list[dict[str, str]]:
    """Fallback targets that no longer resolve to anything (e.g. retired)."""
    out = []
    for model_id, fallbacks in queries.fallback_lists(session, non_empty=True):
        for target in json.loads(fallbacks):
            if resolve_target(session, target) is None:
                out.append({"model_id": model_id, "target": target})
    return out


def graph(session) -> dict[str, list[str]]:
    return {
        model_id: [parse_target(t, version_required=False)[0] for t in json.loads(fallbacks)]
        for model_id, fallbacks in queries.fallback_lists(session)
    }


def find_cycle(edges: dict[str, list[str]], start: str) -> list[str] | None:
    path: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node == start and path:
            return path + [node]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for nxt in edges.get(node, []):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        return None

    return visit(start)


def normalize(targets: list[str]) -> tuple[list[tuple[str, str | None]], list[str]]:
    if len(targets) > MAX_FALLBACKS:
        raise InvalidInput(f"at most {MAX_FALLBACKS} fallbacks per model")
    parsed = [parse_target(t, version_required=False) for t in targets]
    normalized = [f"{m}@{v}" if v else m for m, v in parsed]
    if len(set(normalized)) != len(normalized):
        raise InvalidInput("a fallback target is listed twice")
    return parsed, normalized


def set_fallbacks(tx, model_id: str, targets: list[str], *, clearing: bool = False) -> dict[str, Any]:
    if not clearing and not targets:
        raise InvalidInput("give at least one fallback target (or use `fallback clear`)")
    parsed, normalized = normalize(targets)
    model = queries.lock_model(tx.session, model_id)
    live = queries.versions_of(tx.session, model_id, LIVE)
    if live:
        authority.require(tx, Role.APPROVER, f"change the fallbacks of {model_id}, which has approved versions")
    else:
        authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), f"change the fallbacks of {model_id}")
    for target_model, target_version in parsed:
        if tx.session.get(Model, target_model) is None:
            raise queries.unknown_model(tx.session, target_model, "fallback target model")
        if target_version is not None and tx.session.get(ModelVersion, (target_model, target_version)) is None:
            raise queries.unknown_version(tx.session, target_model, target_version, "fallback target")
        if target_model == model_id:
            raise Conflict(f"{model_id} cannot fall back to itself")
    edges = graph(tx.session)
    edges[model_id] = [m for m, _ in parsed]
    cycle = find_cycle(edges, model_id)
    if cycle:
        raise Conflict(f"fallbacks would form a cycle: {' -> '.join(cycle)}")
    unresolvable = [text for text in normalized if resolve_target(tx.session, text) is None]
    if unresolvable:
        raise PolicyRefused(
            f"fallback target(s) with no resolvable (APPROVED or DEPRECATED) version: {', '.join(unresolvable)}"
        )
    before = json.loads(model.fallbacks)
    model.fallbacks = json.dumps(normalized)
    model.row_version += 1
    tx.audit("fallback.clear" if clearing else "fallback.set", model_id, before, normalized)
    return {"model_id": model_id, "fallbacks": normalized}
