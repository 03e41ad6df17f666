"""The SQL of labels, lineage and model cards (revision 0006)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select
from sqlmodel import col

from modelreg.store.queries import MODEL_LABEL, chunks, version_chunks
from modelreg.store.tables import Label, ModelCard, VersionLineage

Key = tuple[str, str]  # (model_id, version)


def labels_of(session, model_id: str, version: str = MODEL_LABEL) -> dict[str, str]:
    rows = session.execute(
        select(Label.key, Label.value).where(col(Label.model_id) == model_id, col(Label.version) == version)
    ).all()
    return dict(sorted((k, v) for k, v in rows))


def labels_for(session, model_ids: Iterable[str]) -> dict[Key, dict[str, str]]:
    """(model_id, version) -> labels, for every model and version of these models
    (a model's own labels under version "")."""
    out: dict[Key, dict[str, str]] = {}
    for part in chunks(sorted(set(model_ids))):
        for row in session.execute(
            select(Label).where(col(Label.model_id).in_(part)).order_by(col(Label.key))
        ).scalars():
            out.setdefault((row.model_id, row.version), {})[row.key] = row.value
    return out


def all_labels(session) -> list[Label]:
    return list(
        session.execute(select(Label).order_by(col(Label.model_id), col(Label.version), col(Label.key))).scalars()
    )


def set_label_rows(session, model_id: str, version: str, labels: dict[str, str]) -> None:
    for key, value in labels.items():
        row = session.get(Label, (model_id, version, key))
        if row is None:
            session.add(Label(model_id=model_id, version=version, key=key, value=value))
        elif row.value != value:
            row.value = value
    session.flush()


def delete_labels(session, model_id: str, version: str, keys: Sequence[str]) -> None:
    if keys:
        session.execute(
            delete(Label).where(
                col(Label.model_id) == model_id, col(Label.version) == version, col(Label.key).in_(list(keys))
            )
        )


# -- lineage -----------------------------------------------------------------------------------
def lineage_for(session, keys: Sequence[Key]) -> dict[Key, VersionLineage]:
    out: dict[Key, VersionLineage] = {}
    for mid, part in version_chunks(keys):
        for row in session.execute(
            select(VersionLineage).where(col(VersionLineage.model_id) == mid, col(VersionLineage.version).in_(part))
        ).scalars():
            out[(row.model_id, row.version)] = row
    return out


def derived_from(session, names: Sequence[str]) -> list[VersionLineage]:
    """Versions whose base model is one of `names` (e.g. "m@1.0.0" or "m")."""
    if not names:
        return []
    return list(
        session.execute(
            select(VersionLineage)
            .where(col(VersionLineage.base_model).in_(list(names)))
            .order_by(col(VersionLineage.model_id), col(VersionLineage.version))
        ).scalars()
    )


def all_lineage(session) -> list[VersionLineage]:
    return list(session.execute(select(VersionLineage)).scalars())


# -- model cards ----------------------------------------------------------------------------------
def card(session, model_id: str, version: str) -> ModelCard | None:
    return session.get(ModelCard, (model_id, version))


def cards_for(session, keys: Sequence[Key]) -> dict[Key, tuple[str, int, str, str]]:
    """(model_id, version) -> (sha256, size, set_at, set_by) of the versions that have a card (no bodies read)."""
    out: dict[Key, tuple[str, int, str, str]] = {}
    for mid, part in version_chunks(keys):
        for m, v, digest, size, at, by in session.execute(
            select(
                ModelCard.model_id,
                ModelCard.version,
                ModelCard.sha256,
                ModelCard.size,
                ModelCard.set_at,
                ModelCard.set_by,
            ).where(col(ModelCard.model_id) == mid, col(ModelCard.version).in_(part))
        ).all():
            out[(m, v)] = (digest, size, at, by)
    return out


def all_cards(session) -> list[ModelCard]:
    return list(session.execute(select(ModelCard)).scalars())
