"""The status machine and the approval gates as pure functions (issue 17):
every transition allowed or refused as the table says, every gate judged at
its boundary, and what each refusal tells the user (the allowed moves, the
failing check with who and when, the run that missed, the policy key)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from modelreg.errors import Conflict, InvalidInput
from modelreg.lifecycle import status as st
from modelreg.lifecycle.gates import BenchmarkRecord, CheckRecord, Evidence, unmet_gates
from modelreg.lifecycle.status import Status
from modelreg.policy import Policy

ALL = ["EXPERIMENTAL", "TESTING", "APPROVED", "DEPRECATED", "RETIRED", "REJECTED"]
ALLOWED = {
    ("EXPERIMENTAL", "TESTING"),
    ("TESTING", "APPROVED"),
    ("TESTING", "REJECTED"),
    ("APPROVED", "DEPRECATED"),
    ("DEPRECATED", "RETIRED"),
    ("DEPRECATED", "APPROVED"),
}


@pytest.mark.parametrize("current", ALL)
@pytest.mark.parametrize("new", ALL)
def test_every_transition_is_allowed_or_refused_as_the_table_says(current, new):
    if (current, new) in ALLOWED:
        st.require_transition("m@1.0.0", current, new)
        return
    with pytest.raises(Conflict) as refused:
        st.require_transition("m@1.0.0", current, new)
    allowed = ", ".join(n for c, n in sorted(ALLOWED, key=lambda p: ALL.index(p[1])) if c == current)
    if current == "DEPRECATED":
        allowed = "RETIRED, APPROVED"
    assert str(refused.value) == (
        f"m@1.0.0 is {current}; cannot move to {new} (allowed next: {allowed or 'none (final status)'})"
    )


def test_status_names_and_sets():
    assert [str(s) for s in Status] == ALL
    assert list(st.STATUSES) == ALL
    assert Status.parse(" approved\n") is Status.APPROVED and Status.parse("Retired") is Status.RETIRED
    assert st.LIVE == st.RESOLVABLE == ("APPROVED", "DEPRECATED")
    assert st.ARCHIVED == ("RETIRED", "REJECTED")
    assert st.NOT_ARCHIVED == ("EXPERIMENTAL", "TESTING", "APPROVED", "DEPRECATED")
    assert st.PRE_RELEASE == ("EXPERIMENTAL", "TESTING")
    assert st.APPROVED_ONCE == ("APPROVED", "DEPRECATED", "RETIRED")
    assert st.REPLACEMENT_OK == ("APPROVED", "TESTING", "EXPERIMENTAL")
    assert st.STAGES == ("production", "staging", "experimental", "archived")


@pytest.mark.parametrize("text", ["bogus", "", None, 3, "APPROVED!", "x" * 60])
def test_a_bad_status_names_the_statuses(text):
    with pytest.raises(InvalidInput) as bad:
        Status.parse(text, what="--status")
    assert str(bad.value) == (
        f"invalid --status {str(text)[:40]!r}: expected one of "
        "EXPERIMENTAL, TESTING, APPROVED, DEPRECATED, RETIRED, REJECTED"
    )
    with pytest.raises(InvalidInput, match=r"^invalid status "):
        Status.parse(text)


def test_only_text_is_a_status_even_when_something_else_prints_as_one():
    """A value read from JSON or TOML that is not a string (a number, a list, an
    object) is refused, whatever its str() would say."""

    class Printed:
        def __str__(self) -> str:
            return "approved"

    with pytest.raises(InvalidInput, match=r"^invalid status 'approved': expected one of"):
        Status.parse(Printed())


def test_stages():
    assert {stage: st.statuses_of_stage(stage) for stage in st.STAGES} == {
        "production": ["APPROVED", "DEPRECATED"],
        "staging": ["TESTING"],
        "experimental": ["EXPERIMENTAL"],
        "archived": ["RETIRED", "REJECTED"],
    }
    with pytest.raises(InvalidInput) as bad:
        st.statuses_of_stage("prod")
    assert str(bad.value) == "invalid stage 'prod': expected one of production, staging, experimental, archived"


@pytest.mark.parametrize(
    "options, shown",
    [
        ({}, ["EXPERIMENTAL", "TESTING", "APPROVED", "DEPRECATED"]),
        ({"include_archived": True}, None),
        ({"status": "retired"}, ["RETIRED"]),
        ({"status": "testing", "include_archived": True}, ["TESTING"]),
        ({"stage": "production"}, ["APPROVED", "DEPRECATED"]),
        ({"stage": "archived"}, ["RETIRED", "REJECTED"]),
        ({"stage": "production", "status": "DEPRECATED"}, ["DEPRECATED"]),
        ({"stage": "production", "status": "TESTING"}, []),
    ],
)
def test_status_filter(options, shown):
    assert st.status_filter(**options) == shown


# -- the gates ---------------------------------------------------------------------------------------------

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
ENDPOINT = "http://models.internal/v1"


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def evidence(**over) -> Evidence:
    """Everything met for bob approving alice's version."""
    fields = {
        "target": "m@1.0.0",
        "registered_by": "alice",
        "registered_endpoint": ENDPOINT,
        "checks": {
            name: CheckRecord(name, "pass", "carol", "2027-02-28T10:00:00Z")
            for name in ("evaluation", "security", "compliance", "benchmark")
        },
        "benchmark": BenchmarkRecord(7, True, stamp(NOW - timedelta(days=1)), ENDPOINT),
    }
    fields.update(over)
    return Evidence(**fields)


POLICY = Policy()


def test_every_gate_met():
    assert unmet_gates(POLICY, evidence(), "bob", NOW) == []


def test_a_check_not_recorded_or_failed():
    checks = evidence().checks
    missing = {k: v for k, v in checks.items() if k != "security"}
    assert unmet_gates(POLICY, evidence(checks=missing), "bob", NOW) == ["check 'security' has not been recorded"]
    failed = {**checks, "compliance": CheckRecord("compliance", "fail", "dave", "2027-02-28T11:00:00Z")}
    assert unmet_gates(POLICY, evidence(checks=failed), "bob", NOW) == [
        "check 'compliance' failed (dave, 2027-02-28T11:00:00Z)"
    ]


def test_checks_listed_after_the_benchmark_are_still_required():
    """A policy may list its checks in any order: the benchmark's place in the
    list does not end the look at the others."""
    policy = Policy(required_checks=("benchmark", "security", "evaluation"))
    checks = {k: v for k, v in evidence().checks.items() if k not in ("security", "benchmark")}
    assert unmet_gates(policy, evidence(checks=checks), "bob", NOW) == ["check 'security' has not been recorded"]


def test_the_benchmark_is_judged_from_the_runs_not_from_a_check_record():
    checks = {k: v for k, v in evidence().checks.items() if k != "benchmark"}
    assert unmet_gates(POLICY, evidence(checks=checks), "bob", NOW) == []
    failed_check = {**checks, "benchmark": CheckRecord("benchmark", "fail", "x", "2027-01-01T00:00:00Z")}
    assert unmet_gates(POLICY, evidence(checks=failed_check), "bob", NOW) == []


@pytest.mark.parametrize(
    "age, met",
    [
        (timedelta(0), True),
        (timedelta(days=7), True),
        (timedelta(days=7, seconds=1), False),
        (timedelta(days=30), False),
        (timedelta(days=-1), True),  # a clock a little behind the runner's
    ],
)
def test_the_newest_passing_benchmark_counts_for_exactly_benchmark_max_age_days(age, met):
    run = BenchmarkRecord(12, True, stamp(NOW - age), ENDPOINT)
    unmet = unmet_gates(POLICY, evidence(benchmark=run), "bob", NOW)
    assert unmet == ([] if met else ["the newest passing benchmark (run 12) is older than 7 days"])
    shorter = replace(POLICY, benchmark_max_age_days=1)
    assert (unmet_gates(shorter, evidence(benchmark=run), "bob", NOW) == []) == (age <= timedelta(days=1))


def test_a_benchmark_that_missed_its_slo_or_is_missing():
    missed = BenchmarkRecord(9, False, stamp(NOW), ENDPOINT)
    assert unmet_gates(POLICY, evidence(benchmark=missed), "bob", NOW) == [
        "the newest benchmark (run 9) missed its SLO"
    ]
    assert unmet_gates(POLICY, evidence(benchmark=None), "bob", NOW) == [
        f"no benchmark run against the registered endpoint {ENDPOINT} (run `modelreg benchmark`)"
    ]
    assert unmet_gates(POLICY, evidence(benchmark=None, other_endpoint_runs=2), "bob", NOW) == [
        f"no benchmark run against the registered endpoint {ENDPOINT} "
        "(2 run(s) against other endpoints do not count) (run `modelreg benchmark`)"
    ]
    assert unmet_gates(POLICY, evidence(registered_endpoint=None), "bob", NOW) == [
        "no endpoint is registered, so no benchmark can count (register a version with --endpoint)"
    ]


def test_a_policy_without_the_benchmark_check_asks_for_no_run():
    policy = replace(POLICY, required_checks=("evaluation",))
    bare = evidence(benchmark=None, registered_endpoint=None, checks={"evaluation": evidence().checks["evaluation"]})
    assert unmet_gates(policy, bare, "bob", NOW) == []
    assert unmet_gates(replace(POLICY, required_checks=()), evidence(checks={}), "bob", NOW) == []


def test_open_advisories_each_block():
    blocked = evidence(advisories=(("CVE-1", "high"), ("CVE-2", "low")))
    assert unmet_gates(POLICY, blocked, "bob", NOW) == [
        "security advisory CVE-1 (high) affects m@1.0.0",
        "security advisory CVE-2 (low) affects m@1.0.0",
    ]


def test_model_card_when_the_policy_requires_one():
    policy = replace(POLICY, require_model_card=True)
    assert unmet_gates(policy, evidence(), "bob", NOW) == [
        "no model card is recorded (policy.require_model_card; `modelreg card set`)"
    ]
    assert unmet_gates(policy, evidence(has_card=True), "bob", NOW) == []
    assert unmet_gates(POLICY, evidence(has_card=False), "bob", NOW) == []


def test_approvers_and_separation_of_duties():
    policy = replace(POLICY, approvers=("carol", "dave"))
    assert unmet_gates(policy, evidence(), "carol", NOW) == []
    assert unmet_gates(policy, evidence(), "bob", NOW) == ["'bob' is not an approver (policy.approvers: carol, dave)"]
    assert unmet_gates(POLICY, evidence(), "alice", NOW) == [
        "'alice' registered this version and may not approve it (separation_of_duties)"
    ]
    assert unmet_gates(replace(POLICY, separation_of_duties=False), evidence(), "alice", NOW) == []


def test_every_unmet_gate_is_listed_in_order():
    policy = replace(POLICY, approvers=("carol",), require_model_card=True)
    nothing = evidence(checks={}, benchmark=None, advisories=(("CVE-9", "critical"),))
    assert unmet_gates(policy, nothing, "alice", NOW) == [
        "check 'evaluation' has not been recorded",
        "check 'security' has not been recorded",
        "check 'compliance' has not been recorded",
        f"no benchmark run against the registered endpoint {ENDPOINT} (run `modelreg benchmark`)",
        "security advisory CVE-9 (critical) affects m@1.0.0",
        "no model card is recorded (policy.require_model_card; `modelreg card set`)",
        "'alice' is not an approver (policy.approvers: carol)",
        "'alice' registered this version and may not approve it (separation_of_duties)",
    ]


@pytest.mark.parametrize("text", ["approved", " Approved ", "APPROVED\n"])
def test_status_parse_accepts_any_case_and_surrounding_space(text):
    assert Status.parse(text) is Status.APPROVED


@pytest.mark.parametrize("text", [None, 3, "", "approve", "NONE"])
def test_status_parse_refuses_the_rest_naming_what_was_asked(text):
    with pytest.raises(InvalidInput, match=r"invalid --status .*expected one of .*APPROVED"):
        Status.parse(text, what="--status")
