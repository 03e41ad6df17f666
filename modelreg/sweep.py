"""The cron sweep: retire what is due, raise each retirement notice once,
report fallbacks that point at nothing resolvable.

It runs in one write transaction under the writer lock, so two sweeps and any
number of operators can run at once: a version is retired by exactly one of
them, with one audit event, and a notice row is written once.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, insert, select, update

from modelreg import clock
from modelreg.routing import broken_fallbacks
from modelreg.registry import chunks
from modelreg.store.tables import Model, ModelVersion, RetirementNotice

if TYPE_CHECKING:
    from modelreg.registry import Registry


class RetirementSweep:
    def __init__(self, registry: "Registry"):
        self.registry = registry

    def _plan(self, session, today: date) -> dict:
        # plain rows with the four columns the sweep needs (not ORM objects: a
        # registry can hold thousands of DEPRECATED versions)
        deprecated = session.execute(
            select(ModelVersion.model_id, ModelVersion.version, ModelVersion.retire_on, ModelVersion.replacement)
            .where(ModelVersion.status == "DEPRECATED")
            .order_by(ModelVersion.model_id, ModelVersion.version_key)).all()
        raised = set(session.execute(select(RetirementNotice.model_id, RetirementNotice.version,
                                            RetirementNotice.retire_on, RetirementNotice.days_before)).all())
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
            session = tx.session
            due = plan["due"]
            if due:
                models = sorted({row.model_id for row in due})
                for part in chunks(models):  # one ordered lock statement per chunk, not one per version
                    session.execute(select(Model.model_id).where(Model.model_id.in_(part))
                                    .order_by(Model.model_id).with_for_update())
                retire = (update(ModelVersion.__table__)
                          .where(ModelVersion.__table__.c.model_id == bindparam("m"),
                                 ModelVersion.__table__.c.version == bindparam("v"),
                                 ModelVersion.__table__.c.status == "DEPRECATED")
                          .values(status="RETIRED", retired_at=tx.now, status_changed_at=tx.now))
                session.execute(retire, [{"m": row.model_id, "v": row.version} for row in due])
                for part in chunks(models):
                    session.execute(update(Model).where(Model.model_id.in_(part)).values(row_version=Model.row_version + 1))
                for row in due:
                    tx.audit("retire", f"{row.model_id}@{row.version}", {"status": "DEPRECATED", "retire_on": row.retire_on},
                             {"status": "RETIRED"})
            if plan["notices"]:
                session.execute(insert(RetirementNotice), [
                    {"model_id": n["row"].model_id, "version": n["row"].version, "retire_on": n["row"].retire_on,
                     "days_before": n["days_before"], "raised_at": tx.now} for n in plan["notices"]])
                for notice in plan["notices"]:
                    row = notice["row"]
                    tx.audit("retirement.notice", f"{row.model_id}@{row.version}", None,
                             {"days_before": notice["days_before"], "days_left": notice["days_left"], "retire_on": row.retire_on})
            return self._report(as_of, plan, broken_fallbacks(session), dry_run)
        # a dry run does the same work in a transaction that is rolled back,
        # so what it reports is exactly what a real sweep would do now
        return self.registry.write(work, dry_run=dry_run)
