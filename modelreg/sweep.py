"""The cron sweep: retire what is due, raise each retirement notice once,
report fallbacks that point at nothing resolvable.

It runs in one write transaction under the writer lock, so two sweeps and any
number of operators can run at once: a version is retired by exactly one of
them (through `lifecycle.transitions.retire_due`), with one audit event, and a
notice row is written once. The date is the transaction's: the server's
clock on PostgreSQL; MODELREG_NOW only rehearses (`--dry-run`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from modelreg import clock
from modelreg.lifecycle import fallbacks, transitions, usage
from modelreg.lifecycle.status import Status
from modelreg.store import monitoring_queries as mq
from modelreg.store import queries
from modelreg.store.tables import RetirementNotice


class RetirementSweep:
    """One sweep over the registry, inside a write transaction."""

    def __init__(self, tx):
        self.tx = tx
        self.today = date.fromisoformat(tx.now[:10])

    def plan(self) -> dict[str, Any]:
        session = self.tx.session
        # plain rows with the columns the sweep needs (not ORM objects: a
        # registry can hold thousands of DEPRECATED versions)
        deprecated = queries.versions_with_status(session, Status.DEPRECATED.value)
        raised = mq.notices_raised(session)
        thresholds = sorted(set(self.tx.policy.notice_before_retirement_days), reverse=True)
        due, notices, unchanged = [], [], 0
        for row in deprecated:
            days_left = (date.fromisoformat(row.retire_on) - self.today).days
            if days_left <= 0:
                due.append(row)
                continue
            crossed = [
                d for d in thresholds if days_left <= d and (row.model_id, row.version, row.retire_on, d) not in raised
            ]
            # a sweep that missed a threshold raises only the nearest one, and
            # records the ones passed over so they are never raised late
            for d in crossed:
                notices.append({"row": row, "days_before": d, "days_left": days_left, "announce": d == min(crossed)})
            if not crossed:
                unchanged += 1
        return {"due": due, "notices": notices, "unchanged": unchanged}

    def run(self, *, dry_run: bool = False) -> dict[str, Any]:
        tx = self.tx
        plan = self.plan()
        retired = transitions.retire_due(tx, plan["due"])
        if plan["notices"]:
            queries.insert_rows(
                tx.session,
                RetirementNotice,
                [
                    {
                        "model_id": n["row"].model_id,
                        "version": n["row"].version,
                        "retire_on": n["row"].retire_on,
                        "days_before": n["days_before"],
                        "raised_at": tx.now,
                    }
                    for n in plan["notices"]
                ],
            )
            for notice in plan["notices"]:
                row = notice["row"]
                tx.audit(
                    "retirement.notice",
                    f"{row.model_id}@{row.version}",
                    None,
                    {
                        "days_before": notice["days_before"],
                        "days_left": notice["days_left"],
                        "retire_on": row.retire_on,
                    },
                )
        announced = [n for n in plan["notices"] if n["announce"]]
        still_used = usage.seen(tx.session, [(n["row"].model_id, n["row"].version) for n in announced], tx.now)
        owners = queries.owners_of(tx.session, {n["row"].model_id for n in announced})
        return {
            "as_of": clock.isoformat(clock.parse_instant(tx.now)),
            "dry_run": dry_run,
            "retired": retired,
            "notices": [
                {
                    "target": f"{n['row'].model_id}@{n['row'].version}",
                    "days_left": n["days_left"],
                    "threshold_days": n["days_before"],
                    "retire_on": n["row"].retire_on,
                    "replacement": n["row"].replacement,
                    "consumers": usage.names(still_used.get((n["row"].model_id, n["row"].version), [])),
                    **owners[n["row"].model_id],
                }
                for n in announced
            ],
            "broken_fallbacks": fallbacks.broken(tx.session),
            "unchanged": plan["unchanged"],
        }
