"""The rule that decides whether M@V may be approved (TESTING -> APPROVED).

`unmet_gates(policy, evidence, actor, now)` is a pure function: it reads only
the policy in force, the evidence recorded in this registry and who asks, and
lists every unmet gate (all of them, not the first). Who may approve at all
(the approver role) is `authority`'s business; this is what the approval
needs beyond the role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from modelreg import clock
from modelreg.policy import Policy


@dataclass(frozen=True)
class CheckRecord:
    name: str
    result: str  # pass | fail
    actor: str
    at: str


@dataclass(frozen=True)
class BenchmarkRecord:
    run_id: int
    passed: bool
    finished_at: str
    endpoint: str


@dataclass(frozen=True)
class Evidence:
    """What this registry recorded about one version (never what a file claims)."""

    target: str
    registered_by: str
    registered_endpoint: str | None
    checks: dict[str, CheckRecord] = field(default_factory=dict)  # the newest result of each check
    benchmark: BenchmarkRecord | None = None  # the newest complete run against the registered endpoint
    other_endpoint_runs: int = 0  # complete runs against other endpoints (shown, never counted)
    advisories: tuple[tuple[str, str], ...] = ()  # open advisories covering it: (id, severity)
    has_card: bool = False


def _age_days(stamp: str, now: datetime) -> float:
    return (now - clock.parse_instant(stamp)).total_seconds() / 86400


def unmet_gates(policy: Policy, evidence: Evidence, actor: str, now: datetime) -> list[str]:
    unmet: list[str] = []
    for name in policy.required_checks:
        if name == "benchmark":
            continue  # judged from the runs themselves, below
        found = evidence.checks.get(name)
        if found is None:
            unmet.append(f"check {name!r} has not been recorded")
        elif found.result != "pass":
            unmet.append(f"check {name!r} failed ({found.actor}, {found.at})")
    if "benchmark" in policy.required_checks:
        run = evidence.benchmark
        if evidence.registered_endpoint is None:
            unmet.append("no endpoint is registered, so no benchmark can count (register a version with --endpoint)")
        elif run is None:
            elsewhere = (
                f" ({evidence.other_endpoint_runs} run(s) against other endpoints do not count)"
                if evidence.other_endpoint_runs
                else ""
            )
            unmet.append(
                f"no benchmark run against the registered endpoint {evidence.registered_endpoint}{elsewhere} "
                "(run `modelreg benchmark`)"
            )
        elif not run.passed:
            unmet.append(f"the newest benchmark (run {run.run_id}) missed its SLO")
        elif _age_days(run.finished_at, now) > policy.benchmark_max_age_days:
            unmet.append(
                f"the newest passing benchmark (run {run.run_id}) is older than {policy.benchmark_max_age_days} days"
            )
    for advisory_id, severity in evidence.advisories:
        unmet.append(f"security advisory {advisory_id} ({severity}) affects {evidence.target}")
    if policy.require_model_card and not evidence.has_card:
        unmet.append("no model card is recorded (policy.require_model_card; `modelreg card set`)")
    if policy.approvers and actor not in policy.approvers:
        unmet.append(f"{actor!r} is not an approver (policy.approvers: {', '.join(policy.approvers)})")
    if policy.separation_of_duties and actor == evidence.registered_by:
        unmet.append(f"{actor!r} registered this version and may not approve it (separation_of_duties)")
    return unmet
