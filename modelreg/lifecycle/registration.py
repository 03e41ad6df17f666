"""Step 1 of the guide's process: new versions enter the lifecycle.

All-or-nothing: one transaction, bulk inserts, a refusal names the first
duplicate. A new version is TESTING, or EXPERIMENTAL when asked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import update
from sqlmodel import col

from modelreg.errors import Conflict, InvalidInput
from modelreg.lifecycle import authority, events
from modelreg.lifecycle import metadata as version_metadata
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.status import Status
from modelreg.manifest import VersionSpec
from modelreg.store import queries
from modelreg.store.tables import Label, Model, ModelVersion, VersionAttribute, VersionLineage, json_text

ATTRIBUTE_KINDS = ("capability", "residency", "domain")


def status_of(spec: VersionSpec) -> Status:
    return Status.EXPERIMENTAL if spec.experimental else Status.TESTING


def attribute_rows(spec: VersionSpec) -> list[dict[str, str]]:
    """The indexed lookup rows (capability, residency, domain) of a version."""
    rows: list[dict[str, str]] = []
    for kind, values in (
        ("capability", spec.capabilities),
        ("residency", spec.data_residency),
        ("domain", spec.approved_domains),
    ):
        rows.extend({"kind": kind, "value": v, "model_id": spec.model_id, "version": spec.version} for v in values)
    return rows


def _refuse_equal_precedence(session, by_model: dict[str, list[VersionSpec]], existing: dict[str, str]) -> None:
    """3.10.0 and 3.10.0+build.5 have equal SemVer precedence: one model
    cannot have both (which would resolve?)."""
    for mid, group in by_model.items():
        seen: dict[str, str] = {}
        for spec in group:
            key = spec.semver.sort_key()
            if key in seen:
                raise Conflict(
                    f"{spec.target} has the same precedence as {mid}@{seen[key]} (they differ only in "
                    "build metadata); a change is a new version"
                )
            seen[key] = spec.version
        if mid in existing:
            for version, key in queries.versions_with_keys(session, mid, list(seen)):
                raise Conflict(
                    f"{mid}@{seen[key]} has the same precedence as the registered {mid}@{version} "
                    "(they differ only in build metadata); a change is a new version"
                )


def register_versions(tx, specs: Sequence[VersionSpec]) -> list[dict[str, Any]]:
    if not specs:
        return []
    authority.require(tx, Role.OPERATOR, "register model versions")
    session = tx.session
    existing_models = queries.providers_of(session, {s.model_id for s in specs})
    for spec in specs:
        known = existing_models.get(spec.model_id)
        if known is not None and known != spec.provider:
            raise Conflict(
                f"{spec.target}: model {spec.model_id} is registered under provider {known!r}, not {spec.provider!r}"
            )
    by_model: dict[str, list[VersionSpec]] = {}
    for spec in specs:
        by_model.setdefault(spec.model_id, []).append(spec)
    duplicates: list[str] = []
    for mid, group in by_model.items():
        if mid in existing_models:
            duplicates.extend(f"{mid}@{v}" for v in queries.existing_versions(session, mid, [s.version for s in group]))
    if duplicates:
        more = f" (and {len(duplicates) - 1} more)" if len(duplicates) > 1 else ""
        raise Conflict(f"{duplicates[0]} is already registered{more}; a change is a new version")
    queries.lock_models(session, [m for m in by_model if m in existing_models])
    _refuse_equal_precedence(session, by_model, existing_models)

    owners = {mid: _owner_of(group) for mid, group in by_model.items()}
    new_models = [
        {
            "model_id": mid,
            "provider": group[0].provider,
            "description": group[0].description,
            "owner": owners[mid][0] or tx.actor,
            "contacts": json_text(owners[mid][1] or []),
            "created_at": tx.now,
            "fallbacks": "[]",
            "row_version": 0,
        }
        for mid, group in by_model.items()
        if mid not in existing_models
    ]
    queries.insert_rows(session, Model, new_models)
    for mid in sorted(m for m in by_model if m in existing_models):
        owner, contacts = owners[mid]
        if owner is not None or contacts is not None:
            update_model(tx, mid, owner=owner, contacts=contacts)
    version_rows, attr_rows, event_rows, out = [], [], [], []
    label_rows: list[dict[str, Any]] = []
    lineage_rows: list[dict[str, Any]] = []
    for spec in specs:
        semver = spec.semver
        status = status_of(spec).value
        version_rows.append(
            {
                "model_id": spec.model_id,
                "version": spec.version,
                "version_key": semver.sort_key(),
                "prerelease": semver.is_prerelease,
                "provider": spec.provider,
                "status": status,
                "capabilities": json_text(spec.capabilities),
                "parameters": json_text({k: p.to_dict() for k, p in spec.parameters.items()}),
                "avg_latency_ms": spec.avg_latency_ms,
                "p95_latency_ms": spec.p95_latency_ms,
                "cost_per_request_usd": spec.cost_per_request_usd,
                "data_residency": json_text(spec.data_residency),
                "pii_handling": spec.pii_handling,
                "approved_domains": json_text(spec.approved_domains),
                "endpoint": spec.endpoint,
                "endpoint_kind": spec.endpoint_kind,
                "description": spec.description,
                "registered_at": tx.now,
                "registered_by": tx.actor,
                "status_changed_at": tx.now,
            }
        )
        attr_rows.extend(attribute_rows(spec))
        label_rows.extend(
            {"model_id": spec.model_id, "version": spec.version, "key": k, "value": v} for k, v in spec.labels.items()
        )
        if not spec.lineage.is_empty():
            lineage_rows.append(lineage_row(spec))
        # labels and lineage are rows of their own, covered by this event (the history stays one line each)
        tx.audit("register", spec.target, None, {"status": status, "provider": spec.provider})
        event_rows.append((spec.target, {"status": status, "provider": spec.provider}))
        out.append({"model_id": spec.model_id, "version": spec.version, "status": status})
    queries.insert_rows(session, ModelVersion, version_rows)
    queries.insert_rows(session, VersionAttribute, attr_rows)
    queries.insert_rows(session, Label, label_rows)
    queries.insert_rows(session, VersionLineage, lineage_rows)
    for spec in specs:
        if spec.card is not None:
            version_metadata.set_card(tx, spec.model_id, spec.version, spec.card, f"{spec.target}: modelCard")
    for part in queries.chunks(sorted(by_model)):
        session.execute(
            update(Model).where(col(Model.model_id).in_(part)).values(row_version=col(Model.row_version) + 1)
        )
    events.emit_many(tx, "version.registered", event_rows)
    return out


def lineage_row(spec: VersionSpec) -> dict[str, Any]:
    lineage = spec.lineage
    return {
        "model_id": spec.model_id,
        "version": spec.version,
        "artifact_uri": lineage.artifact_uri,
        "artifact_digest": lineage.artifact_digest,
        "source": lineage.source,
        "base_model": lineage.base_model,
        "datasets": json_text(lineage.datasets),
        "evaluations": json_text([e.to_dict() for e in lineage.evaluations]),
    }


def _owner_of(group: Sequence[VersionSpec]) -> tuple[str | None, list[str] | None]:
    """The owner and contacts the versions of one model name (they must agree)."""
    found: dict[str, Any] = {}
    for spec in group:
        for key, value in (("owner", spec.owner), ("contacts", spec.contacts)):
            if value is None:
                continue
            if key in found and found[key] != value:
                raise InvalidInput(f"{spec.target}: {key} differs from another version of {spec.model_id} in this file")
            found[key] = value
    return found.get("owner"), found.get("contacts")


def update_model(
    tx,
    model_id: str,
    *,
    owner: str | None = None,
    description: str | None = None,
    contacts: list[str] | None = None,
) -> dict[str, Any]:
    """Change a model's owner, contacts or description (audited)."""
    authority.require(tx, Role.OPERATOR, f"change model {model_id}")
    model = queries.lock_model(tx.session, model_id)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key, value in (("owner", owner), ("description", description)):
        if value is not None and getattr(model, key) != value:
            before[key], after[key] = getattr(model, key), value
            setattr(model, key, value)
    if contacts is not None and json.loads(model.contacts) != contacts:
        before["contacts"], after["contacts"] = json.loads(model.contacts), contacts
        model.contacts = json_text(contacts)
    if after:
        model.row_version += 1
        tx.audit("model.update", model_id, before, after)
    return {"model_id": model_id, **after}
