"""Resolution: the guide's getLatestApproved, controlled rollout by a stable
hash, and fallback chains resolved to concrete versions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from modelreg.errors import Conflict, InvalidInput, NotFound, PolicyRefused
from modelreg.lifecycle import RESOLVABLE
from modelreg.store.tables import Model, ModelVersion
from modelreg.targets import parse_model_id, parse_target

if TYPE_CHECKING:
    from modelreg.registry import Registry

MAX_FALLBACKS = 16


@dataclass
class Resolution:
    model_id: str
    version: str
    provider: str
    recommended_parameters: dict[str, Any]
    fallbacks: list[dict[str, str]] = field(default_factory=list)
    deprecation: dict[str, Any] | None = None
    rollout: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model_id": self.model_id, "version": self.version, "provider": self.provider,
                "recommended_parameters": self.recommended_parameters, "fallbacks": self.fallbacks,
                "deprecation": self.deprecation, "rollout": self.rollout}

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


def choose_version(versions: list[ModelVersion], model: Model, *, any_approved: bool,
                   prerelease: bool = False) -> ModelVersion | None:
    """A model's production default among `versions` (already filtered)."""
    approved = [v for v in versions if v.status == "APPROVED" and v.version != model.canary_version
                and (prerelease or not v.prerelease or v.default_since)]
    defaults = [v for v in approved if v.default_since]
    if defaults:
        return max(defaults, key=lambda v: (v.default_since, v.version_key))
    if approved:
        return max(approved, key=lambda v: v.version_key)
    if any_approved:
        return None  # DEPRECATED versions stay resolvable only while no APPROVED version exists
    deprecated = [v for v in versions if v.status == "DEPRECATED"]
    return max(deprecated, key=lambda v: (v.default_since or "", v.version_key), default=None)


def _model_versions(session, model_id: str) -> list[ModelVersion]:
    return list(session.execute(select(ModelVersion).where(ModelVersion.model_id == model_id,
                                                           ModelVersion.status.in_(RESOLVABLE))).scalars())


def resolve_target(session, target: str) -> ModelVersion | None:
    """A fallback target ('m' or 'm@v') -> the concrete version it means now."""
    model_id, version = parse_target(target, version_required=False)
    model = session.get(Model, model_id)
    if model is None:
        return None
    if version is not None:
        row = session.get(ModelVersion, (model_id, version))
        return row if row is not None and row.status in RESOLVABLE else None
    rows = _model_versions(session, model_id)
    return choose_version(rows, model, any_approved=any(r.status == "APPROVED" for r in rows))


def _fallback_chain(session, model: Model) -> list[dict[str, str]]:
    chain = []
    for target in json.loads(model.fallbacks):
        row = resolve_target(session, target)
        if row is not None:
            chain.append({"model_id": row.model_id, "version": row.version, "target": target})
    return chain


def resolve(reg: "Registry", *, model: str | None, provider: str | None, capabilities: list[str], domain: str | None,
            residency: str | None, key: str | None, prerelease: bool = False) -> Resolution:
    from modelreg.registry import version_query
    if key is not None and (not key or len(key) > 256):
        raise InvalidInput("--key: expected 1 to 256 characters")
    query = version_query(provider=provider, capabilities=capabilities, domain=domain, residency=residency,
                          model=model, statuses=list(RESOLVABLE))

    def read(session):
        matching: dict[str, list[ModelVersion]] = {}
        for row in session.execute(query).scalars():
            matching.setdefault(row.model_id, []).append(row)
        picks = []
        for model_id, rows in matching.items():
            m = session.get(Model, model_id)
            any_approved = any(r.status == "APPROVED" for r in _model_versions(session, model_id))
            chosen = choose_version(rows, m, any_approved=any_approved, prerelease=prerelease)
            if chosen is not None:
                picks.append((m, chosen, rows))
        if not picks:
            what = ", ".join(f"{k}={v}" for k, v in (("model", model), ("provider", provider), ("capabilities", ",".join(capabilities) or None),
                                                     ("domain", domain), ("residency", residency)) if v)
            raise NotFound(f"no approved model matches ({what or 'no filters'})")
        m, chosen, rows = max(picks, key=lambda p: (p[1].approved_at or "", p[1].model_id))
        rollout = {"role": "stable", "weight": 100}
        if m.canary_version and chosen.status == "APPROVED":
            canary = next((r for r in rows if r.version == m.canary_version), None)
            weight = (canary.canary_weight if canary else session.get(ModelVersion, (m.model_id, m.canary_version)).canary_weight) or 0
            rollout = {"role": "stable", "weight": 100 - weight}
            if canary is not None and key is not None and bucket(m.model_id, key) < weight:
                chosen, rollout = canary, {"role": "canary", "weight": weight}
        deprecation = None
        if chosen.status == "DEPRECATED":
            deprecation = {"retire_on": chosen.retire_on, "replacement": chosen.replacement}
        params = {name: spec["default"] for name, spec in json.loads(chosen.parameters).items()}
        return Resolution(chosen.model_id, chosen.version, chosen.provider, params,
                          [{"model_id": f["model_id"], "version": f["version"]} for f in _fallback_chain(session, m)],
                          deprecation, rollout)
    return reg.db.run_read(read)


# -- fallbacks ------------------------------------------------------------------
def _graph(session) -> dict[str, list[str]]:
    graph = {}
    for model_id, fallbacks in session.execute(select(Model.model_id, Model.fallbacks)):
        graph[model_id] = [parse_target(t, version_required=False)[0] for t in json.loads(fallbacks)]
    return graph


def _find_cycle(graph: dict[str, list[str]], start: str) -> list[str] | None:
    path: list[str] = []
    seen: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node == start and path:
            return path + [node]
        if node in seen:
            return None
        seen.add(node)
        path.append(node)
        for nxt in graph.get(node, []):
            found = visit(nxt)
            if found:
                return found
        path.pop()
        return None
    return visit(start)


def set_fallbacks(reg: "Registry", model_id: str, targets: list[str], *, clearing: bool = False) -> dict:
    parse_model_id(model_id)
    if not clearing and not targets:
        raise InvalidInput("give at least one fallback target (or use `fallback clear`)")
    if len(targets) > MAX_FALLBACKS:
        raise InvalidInput(f"at most {MAX_FALLBACKS} fallbacks per model")
    parsed = [parse_target(t, version_required=False) for t in targets]
    normalized = [f"{m}@{v}" if v else m for m, v in parsed]
    if len(set(normalized)) != len(normalized):
        raise InvalidInput("a fallback target is listed twice")

    def work(tx):
        from modelreg.registry import lock_model
        model = lock_model(tx.session, model_id)
        for (target_model, target_version), text in zip(parsed, normalized):
            if tx.session.get(Model, target_model) is None:
                raise NotFound(f"unknown fallback target model {target_model!r}")
            if target_version is not None and tx.session.get(ModelVersion, (target_model, target_version)) is None:
                raise NotFound(f"unknown fallback target {text}")
            if target_model == model_id:
                raise Conflict(f"{model_id} cannot fall back to itself")
        graph = _graph(tx.session)
        graph[model_id] = [m for m, _ in parsed]
        cycle = _find_cycle(graph, model_id)
        if cycle:
            raise Conflict(f"fallbacks would form a cycle: {' -> '.join(cycle)}")
        unresolvable = [text for text in normalized if resolve_target(tx.session, text) is None]
        if unresolvable:
            raise PolicyRefused(f"fallback target(s) with no resolvable (APPROVED or DEPRECATED) version: {', '.join(unresolvable)}")
        before = json.loads(model.fallbacks)
        model.fallbacks = json.dumps(normalized)
        model.row_version += 1
        tx.audit("fallback.clear" if clearing else "fallback.set", model_id, before, normalized)
        return {"model_id": model_id, "fallbacks": normalized}
    return reg.write(work)


def show_fallbacks(reg: "Registry", model_id: str) -> dict:
    parse_model_id(model_id)

    def read(session):
        model = session.get(Model, model_id)
        if model is None:
            raise NotFound(f"unknown model {model_id!r}")
        out = []
        for target in json.loads(model.fallbacks):
            row = resolve_target(session, target)
            out.append({"target": target, "resolves_to": f"{row.model_id}@{row.version}" if row else None,
                        "status": row.status if row else None})
        return {"model_id": model_id, "fallbacks": out}
    return reg.db.run_read(read)


def broken_fallbacks(session) -> list[dict[str, str]]:
    """Fallback targets that no longer resolve to anything (e.g. retired)."""
    out = []
    for model_id, fallbacks in session.execute(select(Model.model_id, Model.fallbacks).where(Model.fallbacks != "[]")):
        for target in json.loads(fallbacks):
            if resolve_target(session, target) is None:
                out.append({"model_id": model_id, "target": target})
    return out
