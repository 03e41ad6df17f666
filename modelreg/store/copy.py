"""`modelreg db copy SRC DST`: move a registry verbatim between databases
(SQLite -> PostgreSQL keeps the history).

The source's audit chain must verify; the target must be an empty registry
at this revision (a new SQLite file is created). Every table is copied in
chunks (bounded memory) in one transaction on the target, the audit chain
row for row (on PostgreSQL through the restore functions of revision 0004,
which only an admin may call and only into an empty registry), then the
target's chain is verified and must end at the source's head.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, text, update

from modelreg.errors import AuditBroken, Conflict
from modelreg.store import audit, queries
from modelreg.store.database import Database
from modelreg.store.tables import AuditEvent, AuditHead, Model, PolicyVersion, SQLModel

CHUNK = 2000
SKIPPED = {"audit_event", "audit_head", "alembic_version", "restore_marker"}


def _tables():
    from modelreg.store import monitoring_tables  # noqa: F401  (registers the monitoring tables on the metadata)

    return [t for t in SQLModel.metadata.sorted_tables if t.name not in SKIPPED]


def copy(
    source: Database,
    target: Database,
    *,
    actor: str,
    actor_source: str,
    os_user: str,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, Any]:
    checked = source.run_read(audit.verify)
    if not checked.ok:
        raise AuditBroken(
            f"the source's audit chain is broken at event {checked.first_bad}: {checked.reason}; nothing was copied"
        )
    counts: dict[str, int] = {}

    def work(tx) -> dict[str, Any]:
        session = tx.session
        if session.execute(select(Model.model_id).limit(1)).first() is not None or queries.audit_head(session)[0] != 0:
            raise Conflict(f"{target.url.split('@')[-1]} is not an empty registry; `db copy` only fills an empty one")
        if tx.is_sqlite:
            session.execute(PolicyVersion.__table__.delete())
        else:
            session.execute(text("SELECT modelreg_restore_begin()"))
        with source.engine.connect() as src:
            for table in _tables():
                n = 0
                for rows in src.execute(select(table)).mappings().partitions(CHUNK):
                    if tx.is_sqlite:
                        session.execute(insert(table), [dict(r) for r in rows])
                    else:  # as the owner, through the restore function (no role may insert such rows itself)
                        session.execute(
                            text("SELECT modelreg_restore_rows(:t, CAST(:rows AS jsonb))"),
                            {"t": table.name, "rows": json.dumps([dict(r) for r in rows])},
                        )
                    n += len(rows)
                counts[table.name] = n
                if progress:
                    progress(table.name, n)
            n = 0
            columns = [c.name for c in AuditEvent.__table__.columns]
            for rows in src.execute(select(AuditEvent.__table__).order_by(AuditEvent.seq)).mappings().partitions(CHUNK):
                if tx.is_sqlite:
                    session.execute(insert(AuditEvent.__table__), [dict(r) for r in rows])
                else:
                    session.execute(
                        text(
                            "SELECT modelreg_restore_audit(CAST(:seq AS bigint[]), CAST(:at AS text[]), CAST(:actor AS text[]), "
                            "CAST(:action AS text[]), CAST(:target AS text[]), CAST(:before AS text[]), "
                            "CAST(:after AS text[]), CAST(:prev_hash AS text[]), CAST(:hash AS text[]), "
                            "CAST(:os_user AS text[]), CAST(:policy_version AS integer[]))"
                        ),
                        {c: [r[c] for r in rows] for c in columns},
                    )
                n += len(rows)
            counts["audit_event"] = n
        head = checked.head or (0, audit.GENESIS)
        if tx.is_sqlite:
            session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=head[0], hash=head[1]))
        else:
            session.execute(text("SELECT modelreg_restore_end(:s, :h)"), {"s": head[0], "h": head[1]})
        return counts

    target.write(work, actor=actor, actor_source=actor_source, os_user=os_user)
    after = target.run_read(audit.verify)
    if not after.ok or after.head != checked.head:
        raise AuditBroken(
            f"the copied audit chain does not verify ({after.reason or 'its head differs'}); "
            "the target holds the copy as it is"
        )
    return {
        "tables": counts,
        "events": after.events,
        "head": f"{after.head[0]}:{after.head[1]}" if after.head else None,
    }
