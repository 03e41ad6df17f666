"""Evidence rules pinned by behaviour (issue 17): what a review and a
benchmark run record (read back whole), which runs count for the gate, the
check names and notes refused, and when evidence can no longer be recorded.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from conftest import small_spec

from modelreg.errors import AccessDenied, Conflict, InvalidInput, PolicyRefused
from modelreg.lifecycle.evidence import MAX_NOTE, check_name, unrequired_check_hint
from modelreg.policy import Policy

ENDPOINT = small_spec("m", "1.0.0")["endpoint"]


def times_out(value):
    """The recorded instants as <time> (the rest compares exactly)."""
    if isinstance(value, dict):
        return {k: "<time>" if k in ("at", "started_at", "finished_at") else times_out(v) for k, v in value.items()}
    if isinstance(value, list):
        return [times_out(v) for v in value]
    return value


@pytest.fixture
def version(registry):
    registry.register(small_spec("m", "1.0.0"))
    return registry


def test_a_review_is_recorded_whole(version, bob):
    answer = bob.review("m@1.0.0", " Security ", False, note="CVE open")
    assert times_out(answer) == {
        "target": "m@1.0.0", "check": "security", "result": "fail", "actor": "bob", "at": "<time>",
        "status": "TESTING",
    }  # fmt: skip
    bob.review("m@1.0.0", "evaluation", True)
    assert times_out(bob.get_version("m", "1.0.0")["checks"]) == {
        "security": {"result": "fail", "actor": "bob", "at": "<time>", "note": "CVE open", "evidence": None},
        "evaluation": {"result": "pass", "actor": "bob", "at": "<time>", "note": "", "evidence": None},
    }
    reviews = [(e["action"], e["actor"], e["before"], e["after"]) for e in bob.history("m", "1.0.0")][-2:]
    assert reviews == [  # each review is one audit event with what was recorded
        ("review", "bob", None, {"check": "security", "result": "fail", "note": "CVE open"}),
        ("review", "bob", None, {"check": "evaluation", "result": "pass", "note": ""}),
    ]
    recorded = [(e["type"], e["actor"], e["payload"]) for e in bob.events(target="m@1.0.0")][-2:]
    assert recorded == [  # and one event for subscribers, without the note
        ("review.recorded", "bob", {"check": "security", "result": "fail"}),
        ("review.recorded", "bob", {"check": "evaluation", "result": "pass"}),
    ]


def test_a_benchmark_run_is_recorded_whole_and_counts_as_the_benchmark_check(version, bob):
    results = {"latency_ms": {"p95": 12.5}, "error_rate": 0.0, "throughput_rps": 40.0}
    run = bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={"rate": 5}, results=results, passed=True)
    assert times_out(bob.get_version("m", "1.0.0")["benchmarks"]) == [
        {
            "run_id": run, "endpoint": ENDPOINT, "started_at": "<time>", "finished_at": "<time>", "actor": "bob",
            "mode": "open", "passed": True, "aborted": False, "latency_ms": {"p95": 12.5}, "error_rate": 0.0,
            "throughput_rps": 40.0,
        }
    ]  # fmt: skip
    exported = bob.export_document()["models"]["m"]["versions"]["1.0.0"]["benchmarks"]
    assert [(e["run_id"], e["settings"], e["results"]) for e in exported] == [(run, {"rate": 5}, results)]
    assert times_out(bob.get_version("m", "1.0.0")["checks"]) == {
        "benchmark": {"result": "pass", "actor": "bob", "at": "<time>", "note": "p95 12.5 ms",
                      "evidence": f"benchmark run {run}"},
    }  # fmt: skip
    # a closed-loop run (no rate) that missed the SLO: its failure is the newest benchmark check
    failed = bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=False)
    version_now = bob.get_version("m", "1.0.0")
    assert sorted((r["run_id"], r["mode"], r["passed"]) for r in version_now["benchmarks"]) == [
        (run, "open", True),
        (failed, "closed", False),
    ]
    check = version_now["checks"]["benchmark"]
    assert (check["result"], check["note"], check["evidence"]) == ("fail", "p95 None ms", f"benchmark run {failed}")


def test_runs_that_do_not_count_are_recorded_without_a_check(version, bob):
    aborted = bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True, aborted=True)
    elsewhere = bob.record_benchmark("m@1.0.0", endpoint="http://127.0.0.1:10/v1", settings={}, results={}, passed=True)
    runs = {r["run_id"]: r for r in bob.get_version("m", "1.0.0")["benchmarks"]}
    assert (runs[aborted]["passed"], runs[aborted]["aborted"]) == (False, True)  # an aborted run never passed
    assert (runs[elsewhere]["passed"], runs[elsewhere]["endpoint"]) == (True, "http://127.0.0.1:10/v1")
    assert "benchmark" not in bob.get_version("m", "1.0.0")["checks"]
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@1.0.0")
    assert "no benchmark run against the registered endpoint" in "; ".join(refused.value.details)


def test_a_version_without_an_endpoint_never_counts_a_run(registry, bob):
    registry.register(small_spec("m", "1.0.0", endpoint=None))
    bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True)
    assert "benchmark" not in bob.get_version("m", "1.0.0")["checks"]


def test_check_names_are_slugs(version, bob):
    assert check_name(" Evaluation ") == "evaluation"
    for bad in ("", "two words", "-x", 7, None, "a b" * 20, ["security"]):
        with pytest.raises(InvalidInput) as refused:
            check_name(bad)
        assert str(refused.value) == (
            f"invalid check name {str(bad)[:40]!r}: expected a slug such as evaluation, security, compliance"
        )
    with pytest.raises(InvalidInput) as refused:
        bob.review("m@1.0.0", "secu rity", True)
    assert str(refused.value) == (  # the hint names the policy's required checks
        "invalid check name 'secu rity': expected a slug such as evaluation, security, compliance; "
        "did you mean 'security'?"
    )
    with pytest.raises(InvalidInput) as refused:
        check_name("evaluatio n", ["evaluation", "security"])
    assert str(refused.value).endswith("; did you mean 'evaluation'?")
    with pytest.raises(InvalidInput) as refused:  # a value that is not text is not a typo of a name
        check_name(["security"], ["evaluation", "security"])
    assert "did you mean" not in str(refused.value)


def test_an_unrequired_check_name_is_hinted_only_when_near_a_required_one():
    policy = Policy()
    assert unrequired_check_hint("evaluatoin", policy) == "; did you mean 'evaluation'?"
    assert unrequired_check_hint("evaluation", policy) == ""
    assert unrequired_check_hint("red-team", policy) == ""


def test_a_review_refuses_the_benchmark_check_and_long_notes(version, bob):
    with pytest.raises(InvalidInput) as refused:
        bob.review("m@1.0.0", "benchmark", True)
    assert str(refused.value) == "the benchmark check is recorded by `modelreg benchmark`, from a measured run"
    with pytest.raises(InvalidInput) as refused:
        bob.review("m@1.0.0", "evaluation", True, note="x" * (MAX_NOTE + 1))
    assert str(refused.value) == f"--note: at most {MAX_NOTE} characters"
    assert bob.review("m@1.0.0", "evaluation", True, note="x" * MAX_NOTE)["result"] == "pass"


def test_the_registrant_may_not_review_security_or_compliance(version):
    for check in ("security", "compliance"):
        with pytest.raises(AccessDenied) as refused:
            version.review("m@1.0.0", check, True)
        assert str(refused.value) == (
            f"alice registered this version and may not record the {check} review of m@1.0.0 (separation_of_duties)"
        )
    assert version.review("m@1.0.0", "evaluation", True)["result"] == "pass"  # evaluation is not separated


def test_an_archived_version_takes_no_more_evidence(version, bob):
    bob.review("m@1.0.0", "security", False, reject=True)
    with pytest.raises(Conflict) as refused:
        bob.review("m@1.0.0", "evaluation", True)
    assert str(refused.value) == "m@1.0.0 is REJECTED; checks can no longer be recorded"
    bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True)  # the run is kept
    assert len(bob.get_version("m", "1.0.0")["benchmarks"]) == 1
    assert "benchmark" not in bob.get_version("m", "1.0.0")["checks"]


def test_each_run_is_one_audit_event_with_its_verdict(version, bob):
    from modelreg.lifecycle import evidence

    def record(endpoint=ENDPOINT, **kwargs):
        arguments = {"settings": {}, "results": {}, "passed": True, **kwargs}
        return bob.write(lambda tx: evidence.record_benchmark(tx, "m", "1.0.0", endpoint=endpoint, **arguments))

    first = record()
    assert first == {"run_id": first["run_id"], "counts_for_gate": True, "endpoint": ENDPOINT}
    assert record(passed=False)["counts_for_gate"] is True
    assert record(aborted=True)["counts_for_gate"] is True  # recorded against the registered endpoint
    assert record(endpoint="http://127.0.0.1:10/v1")["counts_for_gate"] is False
    runs = [e["after"] for e in bob.history("m", "1.0.0") if e["action"] == "benchmark"]
    assert [(r["result"], r["registered_endpoint"], r["endpoint"]) for r in runs] == [
        ("pass", True, ENDPOINT),
        ("fail", True, ENDPOINT),
        ("aborted", True, ENDPOINT),
        ("pass", False, "http://127.0.0.1:10/v1"),
    ]


def test_the_gates_read_every_piece_of_evidence(version, bob):
    version.set_policy("require_model_card", "true")
    version.set_card("m@1.0.0", text="# m\nWhat it is for.")
    bob.review("m@1.0.0", "evaluation", True)
    bob.review("m@1.0.0", "security", False)
    bob.review("m@1.0.0", "compliance", True)
    for port in (10, 11):
        bob.record_benchmark("m@1.0.0", endpoint=f"http://127.0.0.1:{port}/v1", settings={}, results={}, passed=True)
    version.add_advisory("CVE-2026-1", model_id="m", affected=">=1.0.0", severity="high", summary="s")
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@1.0.0")
    at = bob.get_version("m", "1.0.0")["checks"]["security"]["at"]
    assert refused.value.details == [
        f"check 'security' failed (bob, {at})",
        f"no benchmark run against the registered endpoint {ENDPOINT} (2 run(s) against other endpoints do not "
        "count) (run `modelreg benchmark`)",
        "security advisory CVE-2026-1 (high) affects m@1.0.0",
    ]  # the card is recorded, so that gate holds


def test_a_version_without_an_endpoint_is_told_so(registry, bob):
    registry.register(small_spec("m", "1.0.0", endpoint=None))
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@1.0.0")
    assert "no endpoint is registered, so no benchmark can count (register a version with --endpoint)" in (
        refused.value.details
    )


def test_an_advisory_holds_back_only_the_model_it_names(registry, bob):
    for model in ("m", "other"):
        registry.register(small_spec(model, "1.0.0"))
    registry.add_advisory("CVE-2026-2", model_id="other", affected=">=1.0.0", severity="critical", summary="s")
    for check in ("evaluation", "security", "compliance"):
        for model in ("m", "other"):
            bob.review(f"{model}@1.0.0", check, True)
    for model in ("m", "other"):
        bob.record_benchmark(f"{model}@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True)
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("other@1.0.0")
    assert refused.value.details == ["security advisory CVE-2026-2 (critical) affects other@1.0.0"]
    assert bob.promote("m@1.0.0")["to"] == "APPROVED"  # its own model has no advisory
