"""Evidence: steps 2-4 of the guide's process (reviews and benchmark runs),
recorded in this registry by whoever did them, and read back for the gates.

Evidence is only ever recorded here, by the actor who ran the check or the
benchmark; an import never brings any in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from modelreg.errors import Conflict, InvalidInput, did_you_mean
from modelreg.lifecycle import authority, events
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.gates import BenchmarkRecord, CheckRecord, Evidence
from modelreg.lifecycle.status import ARCHIVED
from modelreg.manifest import SLUG, endpoint_identity
from modelreg.policy import Policy
from modelreg.store import queries
from modelreg.store.tables import BenchmarkRun, CheckResult, ModelVersion, json_text
from modelreg.version_ranges import affects

MAX_NOTE = 2000


def check_name(name: Any, known: Sequence[str] = ()) -> str:
    """A check name as stored (a slug, lower case); a bad one is refused
    naming the nearest of `known` (the policy's required checks)."""
    if not isinstance(name, str) or not SLUG.match(name.strip().lower()):
        hint = did_you_mean(str(name).strip().lower(), known) if isinstance(name, str) else ""
        raise InvalidInput(
            f"invalid check name {str(name)[:40]!r}: expected a slug such as evaluation, security, compliance{hint}"
        )
    return name.strip().lower()


def unrequired_check_hint(name: str, policy: Policy) -> str:
    """For a check the policy does not require (any name may be recorded):
    "; did you mean 'evaluation'?" when it looks like a typo of one it does,
    else ""."""
    if name in policy.required_checks:
        return ""
    return did_you_mean(name, policy.required_checks)


def review(tx, model_id: str, version: str, check: str, passed: bool, *, note: str = "") -> dict[str, Any]:
    """Record an evaluation, security or compliance result (steps 2-3).
    (`--reject` is `transitions.reject_after_review`, in the same transaction.)"""
    name = check_name(check, tx.policy.required_checks)
    if name == "benchmark":
        raise InvalidInput("the benchmark check is recorded by `modelreg benchmark`, from a measured run")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise InvalidInput(f"--note: at most {MAX_NOTE} characters")
    target = f"{model_id}@{version}"
    authority.require(tx, Role.OPERATOR, f"record the {name} review of {target}")
    queries.lock_model(tx.session, model_id)
    row = queries.version(tx.session, model_id, version)
    if name in authority.SOD_CHECKS:
        authority.separate_from_registrant(tx, row.registered_by, f"record the {name} review of {target}")
    if row.status in ARCHIVED:
        raise Conflict(f"{target} is {row.status}; checks can no longer be recorded")
    result = "pass" if passed else "fail"
    tx.session.add(
        CheckResult(model_id=model_id, version=version, name=name, result=result, actor=tx.actor, at=tx.now, note=note)
    )
    tx.audit("review", target, None, {"check": name, "result": result, "note": note})
    events.emit(tx, "review.recorded", target, {"check": name, "result": result})
    return {"target": target, "check": name, "result": result, "actor": tx.actor, "at": tx.now, "status": row.status}


def record_benchmark(
    tx,
    model_id: str,
    version: str,
    *,
    endpoint: str,
    settings: dict,
    results: dict,
    passed: bool,
    aborted: bool = False,
    started_at: str | None = None,
) -> dict[str, Any]:
    """Record a measured run (step 4). A complete run also records the
    `benchmark` check; it counts for the gate only when it measured the
    version's registered endpoint (any other endpoint is recorded and shown)."""
    target = f"{model_id}@{version}"
    authority.require(tx, Role.OPERATOR, f"record a benchmark of {target}")
    queries.lock_model(tx.session, model_id)
    row = queries.version(tx.session, model_id, version)
    measured = endpoint_identity(endpoint)
    registered = endpoint_identity(row.endpoint) if row.endpoint else None
    counts = registered is not None and measured == registered
    run = BenchmarkRun(
        model_id=model_id,
        version=version,
        endpoint=measured,
        actor=tx.actor,
        started_at=started_at or tx.now,
        finished_at=tx.now,
        mode="open" if settings.get("rate") else "closed",
        passed=passed and not aborted,
        aborted=aborted,
        settings=json_text(settings),
        results=json_text(results),
    )
    tx.session.add(run)
    tx.session.flush()
    verdict = "aborted" if aborted else ("pass" if passed else "fail")
    tx.audit(
        "benchmark",
        target,
        None,
        {"run_id": run.run_id, "result": verdict, "endpoint": measured, "registered_endpoint": counts},
    )
    if not aborted and row.status not in ARCHIVED and counts:
        p95 = (results.get("latency_ms") or {}).get("p95") if isinstance(results, dict) else None
        tx.session.add(
            CheckResult(
                model_id=model_id,
                version=version,
                name="benchmark",
                result="pass" if passed else "fail",
                actor=tx.actor,
                at=tx.now,
                note=f"p95 {p95} ms",
                evidence=f"benchmark run {run.run_id}",
            )
        )
    return {"run_id": run.run_id, "counts_for_gate": counts, "endpoint": measured}


def load(session, row: ModelVersion) -> Evidence:
    """Everything the gates read about one version, from this registry."""
    from modelreg.store import monitoring_queries

    checks = {
        name: CheckRecord(c.name, c.result, c.actor, c.at)
        for name, c in queries.latest_checks(session, row.model_id, row.version).items()
    }
    registered = endpoint_identity(row.endpoint) if row.endpoint else None
    benchmark, elsewhere = None, 0
    for run in queries.benchmark_runs(session, row.model_id, row.version, complete_only=True):
        if registered is not None and run.endpoint == registered:
            benchmark = BenchmarkRecord(int(run.run_id or 0), bool(run.passed), run.finished_at, run.endpoint)
            break
        elsewhere += 1
    advisories = tuple(
        (a.advisory_id, a.severity)
        for a in monitoring_queries.open_advisories(session, row.model_id)
        if affects(a.affected, row.version)
    )
    return Evidence(
        target=f"{row.model_id}@{row.version}",
        registered_by=row.registered_by,
        registered_endpoint=registered,
        checks=checks,
        benchmark=benchmark,
        other_endpoint_runs=elsewhere,
        advisories=advisories,
        has_card=queries.has_card(session, row.model_id, row.version),
    )
