"""Changing what a model or version carries beside its manifest: labels
and the model card (operators and approvers, audited in the change's
transaction). Lineage is recorded at registration (`registration`) and
never changes, as the manifest does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelreg.errors import InvalidInput, NotFound
from modelreg.lifecycle import authority
from modelreg.lifecycle.authority import Role
from modelreg.metadata import check_card, check_label_key
from modelreg.store import metadata_queries, queries
from modelreg.store.tables import ModelCard

WRITERS = (Role.OPERATOR, Role.APPROVER)


def _subject(tx, model_id: str, version: str | None) -> tuple[str, str]:
    """(target, stored version) of a model or one of its versions; unknown ones are NotFound."""
    queries.lock_model(tx.session, model_id)
    if version is None:
        return model_id, queries.MODEL_LABEL
    queries.version(tx.session, model_id, version)
    return f"{model_id}@{version}", version


def set_labels(tx, model_id: str, version: str | None, labels: dict[str, str]) -> dict[str, Any]:
    """Add or change labels (already validated) of a model (version None) or a version."""
    if not labels:
        raise InvalidInput("label set: give at least one key=value")
    authority.require_any(tx, WRITERS, "change labels")
    target, stored = _subject(tx, model_id, version)
    before = metadata_queries.labels_of(tx.session, model_id, stored)
    changed = {k: v for k, v in labels.items() if before.get(k) != v}
    if changed:
        metadata_queries.set_label_rows(tx.session, model_id, stored, changed)
        tx.audit("label.set", target, {k: before.get(k) for k in changed}, changed)
    return {"target": target, "labels": {**before, **labels}, "changed": sorted(changed)}


def unset_labels(tx, model_id: str, version: str | None, keys: Sequence[str]) -> dict[str, Any]:
    wanted = sorted({check_label_key("label unset", k) for k in keys})
    if not wanted:
        raise InvalidInput("label unset: give at least one key")
    authority.require_any(tx, WRITERS, "change labels")
    target, stored = _subject(tx, model_id, version)
    before = metadata_queries.labels_of(tx.session, model_id, stored)
    gone = [k for k in wanted if k in before]
    if gone:
        metadata_queries.delete_labels(tx.session, model_id, stored, gone)
        tx.audit("label.unset", target, {k: before[k] for k in gone}, None)
    return {
        "target": target,
        "labels": {k: v for k, v in before.items() if k not in gone},
        "changed": gone,
    }


def set_card(tx, model_id: str, version: str, body: Any, source: str = "card") -> dict[str, Any]:
    """Store (or replace) a version's Markdown card with its SHA-256."""
    text, digest, size = check_card(source, body)
    authority.require_any(tx, WRITERS, "set model cards")
    target, _ = _subject(tx, model_id, version)
    row = metadata_queries.card(tx.session, model_id, version)
    before = None if row is None else {"sha256": row.sha256, "size": row.size}
    if row is None:
        row = ModelCard(
            model_id=model_id, version=version, body=text, sha256=digest, size=size, set_at=tx.now, set_by=tx.actor
        )
        tx.session.add(row)
    elif row.sha256 != digest:
        row.body, row.sha256, row.size, row.set_at, row.set_by = text, digest, size, tx.now, tx.actor
    if before is None or before["sha256"] != digest:
        tx.audit("card.set", target, before, {"sha256": digest, "size": size})
    return {"target": target, "sha256": row.sha256, "size": row.size, "set_at": row.set_at, "set_by": row.set_by}


def card(session, model_id: str, version: str) -> dict[str, Any]:
    queries.version(session, model_id, version)
    row = metadata_queries.card(session, model_id, version)
    if row is None:
        raise NotFound(f"{model_id}@{version} has no model card (`modelreg card set {model_id}@{version} FILE.md`)")
    return {
        "target": f"{model_id}@{version}",
        "sha256": row.sha256,
        "size": row.size,
        "set_at": row.set_at,
        "set_by": row.set_by,
        "body": row.body,
    }
