"""Resolution: the guide's getLatestApproved.

Each matching model contributes its production default among the matching
versions (`lifecycle.production`); across models an APPROVED pick beats a
DEPRECATED one (a deprecated version is a fallback of last resort, across
models as within one), then the most recently approved wins. A canary takes
its share of callers by a stable hash of (model, key). The fallback chain is
resolved to concrete versions; targets that resolve to nothing are reported
as `broken_fallbacks`, never silently dropped.

A bounded number of queries whatever the number of models: the matching
versions, then the matching models' rows and live versions in one query per
chunk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelreg.errors import InvalidInput, NotFound
from modelreg.lifecycle import fallbacks, production
from modelreg.lifecycle.status import RESOLVABLE, Status
from modelreg.store import queries
from modelreg.store.tables import ModelVersion

MAX_KEY = 256


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
    matching: dict[str, list[ModelVersion]] = {}
    for row in session.execute(queries.version_query(**where)).scalars():
        matching.setdefault(row.model_id, []).append(row)
    models = queries.models_by_id(session, matching)
    approved_models = {
        mid for mid, rows in queries.versions_of_models(session, matching, [Status.APPROVED.value]).items() if rows
    }
    picks = []
    for model_id, rows in matching.items():
        m = models[model_id]
        chosen = production.choose(
            rows, m.canary_version, model_has_approved=model_id in approved_models, prerelease=prerelease
        )
        if chosen is not None:
            picks.append((m, chosen, rows))
    if not picks:
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
    m, chosen, rows = max(picks, key=lambda p: (p[1].status == Status.APPROVED, p[1].approved_at or "", p[1].model_id))
    rollout = {"role": "stable", "weight": 100}
    if m.canary_version and chosen.status == Status.APPROVED:
        canary = next((r for r in rows if r.version == m.canary_version), None)
        if canary is None:
            canary_row = session.get(ModelVersion, (m.model_id, m.canary_version))
            weight = (canary_row.canary_weight if canary_row is not None else 0) or 0
        else:
            weight = canary.canary_weight or 0
        rollout = {"role": "stable", "weight": 100 - weight}
        if canary is not None and key is not None and bucket(m.model_id, key) < weight:
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
