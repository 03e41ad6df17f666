"""Steps 2-5 of the guide's registration process and the lifecycle after it:
review, benchmark records, gated promotion, controlled rollout, deprecation.

Each operation runs in one write transaction that first locks the model row,
checks the current state, changes it and appends one audit event.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from modelreg import clock
from modelreg.errors import Conflict, InvalidInput, NotFound, PolicyRefused
from modelreg.lifecycle import require_transition
from modelreg.manifest import SLUG
from modelreg.store.tables import BenchmarkRun, CheckResult, Model, ModelVersion
from modelreg.targets import parse_target

if TYPE_CHECKING:
    from modelreg.registry import Registry

MAX_NOTE = 2000


def _lock(reg: "Registry", tx, model_id: str, version: str) -> tuple[Model, ModelVersion]:
    from modelreg.registry import lock_model
    model = lock_model(tx.session, model_id)
    row = reg.version_row(tx.session, model_id, version)
    return model, row


def _snapshot(row: ModelVersion) -> dict[str, Any]:
    return {"status": row.status, "canary_weight": row.canary_weight, "retire_on": row.retire_on,
            "replacement": row.replacement}


def _percent(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
        raise InvalidInput(f"{what}: expected a whole percentage from 1 to 99, got {value!r}")
    return value


def check_name(name: str) -> str:
    if not isinstance(name, str) or not SLUG.match(name.strip().lower()):
        raise InvalidInput(f"invalid check name {str(name)[:40]!r}: expected a slug such as evaluation, security, compliance")
    return name.strip().lower()


def latest_checks(session, model_id: str, version: str) -> dict[str, CheckResult]:
    rows = session.execute(select(CheckResult).where(CheckResult.model_id == model_id, CheckResult.version == version)
                           .order_by(CheckResult.id)).scalars()
    return {row.name: row for row in rows}


# -- step 2/3: evaluation, security & compliance review ----------------------
def review(reg: "Registry", target: str, check: str, passed: bool, *, reject: bool = False, note: str = "") -> dict:
    model_id, version = parse_target(target)
    name = check_name(check)
    if name == "benchmark":
        raise InvalidInput("the benchmark check is recorded by `modelreg benchmark`, from a measured run")
    if reject and passed:
        raise InvalidInput("--reject goes with --fail")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"--note: at most {MAX_NOTE} characters")

    def work(tx):
        _model, row = _lock(reg, tx, model_id, version)
        if row.status in ("RETIRED", "REJECTED"):
            raise Conflict(f"{target} is {row.status}; checks can no longer be recorded")
        if reject:
            require_transition(target, row.status, "REJECTED")
        result = "pass" if passed else "fail"
        tx.session.add(CheckResult(model_id=model_id, version=version, name=name, result=result, actor=tx.actor,
                                   at=tx.now, note=note))
        tx.audit("review", target, None, {"check": name, "result": result, "note": note})
        if reject:
            before = _snapshot(row)
            row.status, row.rejected_at, row.status_changed_at = "REJECTED", tx.now, tx.now
            tx.audit("reject", target, before, _snapshot(row))
        return {"target": target, "check": name, "result": result, "actor": tx.actor, "at": tx.now,
                "status": row.status}
    return reg.write(work)


# -- step 4: performance benchmarking ----------------------------------------
def record_benchmark(reg: "Registry", target: str, *, endpoint: str, settings: dict, results: dict, passed: bool,
                     aborted: bool = False, started_at: str | None = None) -> int:
    """Record a run; a passing, complete run also records the `benchmark` check."""
    model_id, version = parse_target(target)

    def work(tx):
        _model, row = _lock(reg, tx, model_id, version)
        run = BenchmarkRun(model_id=model_id, version=version, endpoint=endpoint, actor=tx.actor,
                           started_at=started_at or tx.now, finished_at=tx.now,
                           mode="open" if settings.get("rate") else "closed", passed=passed and not aborted,
                           aborted=aborted, settings=json.dumps(settings, sort_keys=True),
                           results=json.dumps(results, sort_keys=True))
        tx.session.add(run)
        tx.session.flush()
        verdict = "aborted" if aborted else ("pass" if passed else "fail")
        tx.audit("benchmark", target, None, {"run_id": run.run_id, "result": verdict})
        if not aborted and row.status not in ("RETIRED", "REJECTED"):
            tx.session.add(CheckResult(model_id=model_id, version=version, name="benchmark",
                                       result="pass" if passed else "fail", actor=tx.actor, at=tx.now,
                                       note=f"p95 {results.get('latency_ms', {}).get('p95')} ms",
                                       evidence=f"benchmark run {run.run_id}"))
        return run.run_id
    return reg.write(work)


# -- step 5: approval & deployment --------------------------------------------
def _age_days(stamp: str, now: datetime) -> float:
    return (now - clock.parse_instant(stamp)).total_seconds() / 86400


def unmet_gates(reg: "Registry", session, row: ModelVersion, actor: str) -> list[str]:
    """Every reason TESTING -> APPROVED is refused (all of them, not the first)."""
    policy = reg.policy
    unmet: list[str] = []
    checks = latest_checks(session, row.model_id, row.version)
    for name in policy.required_checks:
        if name == "benchmark":
            continue  # judged from the runs themselves, below
        found = checks.get(name)
        if found is None:
            unmet.append(f"check {name!r} has not been recorded")
        elif found.result != "pass":
            unmet.append(f"check {name!r} failed ({found.actor}, {found.at})")
    if "benchmark" in policy.required_checks:
        run = session.execute(select(BenchmarkRun).where(
            BenchmarkRun.model_id == row.model_id, BenchmarkRun.version == row.version,
            BenchmarkRun.aborted.is_(False)).order_by(BenchmarkRun.run_id.desc()).limit(1)).scalar_one_or_none()
        now = clock.now()
        if run is None:
            unmet.append("no benchmark run recorded (run `modelreg benchmark`)")
        elif not run.passed:
            unmet.append(f"the newest benchmark (run {run.run_id}) missed its SLO")
        elif _age_days(run.finished_at, now) > policy.benchmark_max_age_days:
            unmet.append(f"the newest passing benchmark (run {run.run_id}) is older than {policy.benchmark_max_age_days} days")
    for advisory in open_advisories(session, row.model_id, row.version):
        unmet.append(f"security advisory {advisory.advisory_id} ({advisory.severity}) affects {row.version}")
    if policy.approvers and actor not in policy.approvers:
        unmet.append(f"{actor!r} is not an approver (policy.approvers: {', '.join(policy.approvers)})")
    if policy.separation_of_duties and actor == row.registered_by:
        unmet.append(f"{actor!r} registered this version and may not approve it (separation_of_duties)")
    return unmet


def open_advisories(session, model_id: str, version: str) -> list:
    """Open advisories whose PEP 440 range contains this version (the security gate)."""
    from modelreg.alerts.advisories import affects
    from modelreg.store.monitoring_tables import Advisory
    rows = session.execute(select(Advisory).where(Advisory.model_id == model_id, Advisory.status == "open")).scalars()
    return [a for a in rows if affects(a.affected, version)]


def _production_default(session, model_id: str) -> ModelVersion | None:
    rows = session.execute(select(ModelVersion).where(
        ModelVersion.model_id == model_id, ModelVersion.status == "APPROVED",
        ModelVersion.default_since.is_not(None))).scalars()
    return max(rows, key=lambda r: (r.default_since, r.version_key), default=None)


def promote(reg: "Registry", target: str, *, canary: int | None = None, dry_run: bool = False) -> dict:
    model_id, version = parse_target(target)
    if canary is not None:
        _percent(canary, "--canary")

    def plan(session, model: Model, row: ModelVersion, actor: str) -> dict:
        if row.status == "EXPERIMENTAL":
            if canary is not None:
                raise InvalidInput("--canary applies to TESTING -> APPROVED, not EXPERIMENTAL -> TESTING")
            return {"target": target, "from": row.status, "to": "TESTING", "unmet": []}
        if row.status == "DEPRECATED":
            raise Conflict(f"{target} is DEPRECATED; `modelreg deprecate {target} --cancel` reinstates it")
        require_transition(target, row.status, "APPROVED")
        out = {"target": target, "from": row.status, "to": "APPROVED", "unmet": unmet_gates(reg, session, row, actor)}
        if canary is not None:
            if model.canary_version:
                raise Conflict(f"{model_id} already has a canary ({model.canary_version}); `modelreg rollout {model_id} --complete` or --abort it first")
            stable = _production_default(session, model_id)
            if stable is None:
                raise Conflict(f"{model_id} has no production default to share traffic with; promote without --canary")
            out["canary"] = {"weight": canary, "stable": stable.version}
        return out

    if dry_run:
        def read(session):
            model = session.get(Model, model_id)
            row = reg.version_row(session, model_id, version)
            result = plan(session, model, row, reg.actor)
            result["dry_run"] = True
            result["would_succeed"] = not result["unmet"]
            return result
        return reg.db.run_read(read)

    def work(tx):
        model, row = _lock(reg, tx, model_id, version)
        result = plan(tx.session, model, row, tx.actor)
        if result["unmet"]:
            raise PolicyRefused(f"{target} cannot be promoted to APPROVED: {len(result['unmet'])} unmet gate(s)",
                                details=result["unmet"])
        before = _snapshot(row)
        row.status, row.status_changed_at = result["to"], tx.now
        if result["to"] == "APPROVED":
            row.approved_at, row.approved_by = tx.now, tx.actor
            if canary is None:
                row.default_since = tx.now
            else:
                row.canary_weight = canary
                model.canary_version = row.version
        model.row_version += 1
        tx.audit("promote" if canary is None else "promote.canary", target, before, _snapshot(row))
        result["dry_run"] = False
        return result
    return reg.write(work)


def rollout(reg: "Registry", model_id: str, *, set_weight: int | None = None, complete: bool = False,
            abort: bool = False) -> dict:
    from modelreg.targets import parse_model_id
    parse_model_id(model_id)
    if sum([set_weight is not None, complete, abort]) != 1:
        raise InvalidInput("give exactly one of --set PCT, --complete, --abort")
    if set_weight is not None:
        _percent(set_weight, "--set")

    def work(tx):
        from modelreg.registry import lock_model
        model = lock_model(tx.session, model_id)
        if not model.canary_version:
            raise Conflict(f"{model_id} has no rollout in progress (start one with `modelreg promote {model_id}@V --canary PCT`)")
        row = tx.session.get(ModelVersion, (model_id, model.canary_version))
        target = f"{model_id}@{row.version}"
        before = _snapshot(row)
        if set_weight is not None:
            row.canary_weight = set_weight
            action, outcome = "rollout.set", {"canary": row.version, "weight": set_weight}
        elif complete:
            row.canary_weight, row.default_since = None, tx.now
            model.canary_version = None
            action, outcome = "rollout.complete", {"default": row.version}
        else:
            row.canary_weight, row.status, row.status_changed_at = None, "TESTING", tx.now
            row.approved_at = row.approved_by = None
            model.canary_version = None
            action, outcome = "rollout.abort", {"canary": row.version, "status": "TESTING"}
        model.row_version += 1
        tx.audit(action, target, before, _snapshot(row))
        return {"model_id": model_id, "action": action.split(".")[1], **outcome}
    return reg.write(work)


# -- deprecation -------------------------------------------------------------
def _retire_date(policy, notice_days: int | None, retire_on: str | None) -> date:
    today = clock.now().date()
    if notice_days is not None and retire_on is not None:
        raise InvalidInput("give --notice-days or --retire-on, not both")
    if retire_on is not None:
        try:
            when = date.fromisoformat(retire_on)
        except (TypeError, ValueError):
            raise InvalidInput(f"invalid --retire-on {str(retire_on)[:40]!r}: expected a date YYYY-MM-DD") from None
        days = (when - today).days
    else:
        days = policy.deprecation_notice_days if notice_days is None else notice_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > 36500:
            raise InvalidInput(f"invalid --notice-days {days!r}: expected whole days from 0 to 36500")
        when = today + timedelta(days=days)
    if days < policy.deprecation_notice_days:
        raise PolicyRefused(f"a notice of {days} day(s) is shorter than the policy's {policy.deprecation_notice_days} "
                            f"(policy.deprecation_notice_days); retire on {today + timedelta(days=policy.deprecation_notice_days)} or later")
    return when


def deprecate(reg: "Registry", target: str, *, reason: str, notice_days: int | None = None,
              retire_on: str | None = None, replacement: str | None = None) -> dict:
    model_id, version = parse_target(target)
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_NOTE:
        raise InvalidInput("--reason is required (why this version is deprecated)")
    if replacement is not None:
        rep_model, rep_version = parse_target(replacement)
        if (rep_model, rep_version) == (model_id, version):
            raise InvalidInput("a version cannot replace itself")

    def work(tx):
        model, row = _lock(reg, tx, model_id, version)
        require_transition(target, row.status, "DEPRECATED")
        if model.canary_version and (model.canary_version == version or _is_default(tx.session, model_id, version)):
            raise Conflict(f"{model_id} has a rollout in progress; complete or abort it before deprecating {target}")
        when = _retire_date(reg.policy, notice_days, retire_on)
        if replacement is not None:
            rep = tx.session.get(ModelVersion, (rep_model, rep_version))
            if rep is None:
                raise NotFound(f"unknown replacement {replacement}")
            if rep.status in ("RETIRED", "REJECTED", "DEPRECATED"):
                raise Conflict(f"replacement {replacement} is {rep.status}; name a live version")
        before = _snapshot(row)
        row.status, row.status_changed_at = "DEPRECATED", tx.now
        row.deprecated_at, row.deprecated_by = tx.now, tx.actor
        row.deprecation_reason, row.retire_on, row.replacement = reason.strip(), when.isoformat(), replacement
        model.row_version += 1
        tx.audit("deprecate", target, before, {**_snapshot(row), "reason": row.deprecation_reason})
        return {"target": target, "status": row.status, "retire_on": row.retire_on, "replacement": replacement,
                "days_of_notice": (when - clock.now().date()).days}
    return reg.write(work)


def _is_default(session, model_id: str, version: str) -> bool:
    default = _production_default(session, model_id)
    return default is not None and default.version == version


def cancel_deprecation(reg: "Registry", target: str) -> dict:
    model_id, version = parse_target(target)

    def work(tx):
        model, row = _lock(reg, tx, model_id, version)
        if row.status != "DEPRECATED":
            raise Conflict(f"{target} is {row.status}, not DEPRECATED; nothing to cancel")
        before = _snapshot(row)
        row.status, row.status_changed_at = "APPROVED", tx.now
        row.deprecated_at = row.deprecated_by = row.deprecation_reason = row.retire_on = row.replacement = None
        model.row_version += 1
        tx.audit("deprecate.cancel", target, before, _snapshot(row))
        return {"target": target, "status": row.status}
    return reg.write(work)
