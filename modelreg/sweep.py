"""The cron sweep: retire what is due, raise each retirement notice once,
report fallbacks that point at nothing resolvable.

It runs in one write transaction under the writer lock, so two sweeps and any
number of operators can run at once: a version is retired by exactly one of
them, with one audit event, and a notice row is written once.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select

from modelreg import clock
from modelreg.routing import broken_fallbacks
from modelreg.store.tables import Model, ModelVersion, RetirementNotice

if TYPE_CHECKING:
    from modelreg.registry import Registry


class RetirementSweep:
    def __init__(self, registry: "Registry"):
        self.registry = registry

    def _plan(self, session, today: date) -> dict:
        deprecated = list(session.execute(select(ModelVersion).where(ModelVersion.status == "DEPRECATED")
                                          .order_by(ModelVersion.model_id, ModelVersion.version_key)).scalars())
        raised = {(n.model_id, n.version, n.retire_on, n.days_before)
                  for n in session.execute(select(RetirementNotice)).scalars()}
        thresholds = sorted(set(self.registry.policy.notice_before_retirement_days), reverse=True)
        due, notices, unchanged = [], [], 0
        for row in deprecated:
            retire_on = date.fromisoformat(row.retire_on)
            days_left = (retire_on - today).days
            if days_left <= 0:
                due.append(row)
                continue
            crossed = [d for d in thresholds if days_left <= d and (row.model_id, row.version, row.retire_on, d) not in raised]
            # a sweep that missed a threshold raises only the nearest one, and
            # records the ones passed over so they are never raised late
            for d in crossed:
                notices.append({"row": row, "days_before": d, "days_left": days_left, "announce": d == min(crossed)})
            if not crossed:
                unchanged += 1
        return {"due": due, "notices": notices, "unchanged": unchanged}

    @staticmethod
    def _report(as_of: str, plan: dict, broken: list[dict], dry_run: bool) -> dict:
        return {
            "as_of": as_of,
            "dry_run": dry_run,
            "retired": [f"{r.model_id}@{r.version}" for r in plan["due"]],
            "notices": [{"target": f"{n['row'].model_id}@{n['row'].version}", "days_left": n["days_left"],
                         "threshold_days": n["days_before"], "retire_on": n["row"].retire_on,
                         "replacement": n["row"].replacement} for n in plan["notices"] if n["announce"]],
            "broken_fallbacks": broken,
            "unchanged": plan["unchanged"],
        }

    def run(self, *, dry_run: bool = False) -> dict:
        moment = clock.now()
        today, as_of = moment.date(), clock.isoformat(moment)
        def work(tx):
            plan = self._plan(tx.session, today)
            from modelreg.registry import lock_model
            for row in plan["due"]:
                model = lock_model(tx.session, row.model_id)
                before = {"status": row.status, "retire_on": row.retire_on}
                row.status, row.retired_at, row.status_changed_at = "RETIRED", tx.now, tx.now
                model.row_version += 1
                tx.audit("retire", f"{row.model_id}@{row.version}", before, {"status": "RETIRED"})
            for notice in plan["notices"]:
                row = notice["row"]
                tx.session.add(RetirementNotice(model_id=row.model_id, version=row.version, retire_on=row.retire_on,
                                                days_before=notice["days_before"], raised_at=tx.now))
                tx.audit("retirement.notice", f"{row.model_id}@{row.version}", None,
                         {"days_before": notice["days_before"], "days_left": notice["days_left"], "retire_on": row.retire_on})
            tx.session.flush()
            return self._report(as_of, plan, broken_fallbacks(tx.session), dry_run)
        # a dry run does the same work in a transaction that is rolled back,
        # so what it reports is exactly what a real sweep would do now
        return self.registry.write(work, dry_run=dry_run)
