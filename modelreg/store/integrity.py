"""`modelreg db check`: is the storage sound, does the audit chain verify,
does every stored status mean something?"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from modelreg.errors import AuditBroken, DatabaseError
from modelreg.store import audit
from modelreg.store.database import Database, describe


def check(db: Database, statuses: tuple[str, ...]) -> dict[str, Any]:
    """`statuses`: the ones the lifecycle knows (any other stored value is damage)."""
    report: dict[str, Any] = {"ok": True}
    try:
        with db.engine.connect() as conn:
            if db.is_sqlite:
                rows = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check").fetchall()]
                report["storage"] = "ok" if rows == ["ok"] else "; ".join(rows[:5])
            else:
                report["storage"] = "ok (PostgreSQL checks its own storage)"
    except DBAPIError as exc:
        report["storage"] = f"damaged: {describe(exc, db.url)}"
    if report["storage"] != "ok" and not report["storage"].startswith("ok "):
        report.update(ok=False, audit="not checked", statuses="not checked")
        return report
    try:
        result = db.run_read(audit.verify)
        report["audit"] = (
            f"intact ({result.events} events)" if result.ok else f"broken at event {result.first_bad}: {result.reason}"
        )
        report["audit_ok"] = result.ok
        placeholders = ", ".join(f"'{s}'" for s in statuses)
        bad = db.run_read(
            lambda s: s.execute(
                text(
                    f"SELECT model_id, version, status FROM model_version WHERE status NOT IN ({placeholders}) LIMIT 5"
                )
            ).all()
        )
        report["statuses"] = "ok" if not bad else "unknown status " + ", ".join(f"{m}@{v}: {st!r}" for m, v, st in bad)
    except DatabaseError as exc:
        report.update(audit=f"unreadable: {exc.message}", statuses="not checked", audit_ok=False)
    report["ok"] = report.get("audit_ok", False) and report["statuses"] == "ok"
    return report


def raise_for(report: dict[str, Any]) -> None:
    if not (report["storage"] == "ok" or report["storage"].startswith("ok ")):
        raise DatabaseError(f"the database is damaged: {report['storage']}")
    if not report.get("audit_ok", False):
        raise AuditBroken(f"audit chain {report['audit']}")
    if report["statuses"] != "ok":
        raise DatabaseError(f"integrity: {report['statuses']}")
