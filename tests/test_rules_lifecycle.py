"""The lifecycle's rules, each pinned by behaviour (issue 17): the bugs a
plausible change could plant, each caught by a test named after the rule.

- the newest result of a check is the one that counts (a pass then a fail
  refuses; a fail then a pass promotes), for reviews and for benchmarks;
- a DEPRECATED version never resolves while an APPROVED one matches: by
  model, by filters (as `resolve --residency`), through fallback chains;
- every operation writes exactly one audit event (the events themselves are
  read, by action and target), a refusal or a dry run none.

Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import approve, as_actor, pass_all_checks, run_cli
from sqlalchemy import select

from modelreg.errors import Conflict, NotFound, PolicyRefused
from modelreg.store.tables import AuditEvent

ENDPOINT = "http://127.0.0.1:9/v1"


def spec(model: str, version: str, **over) -> dict:
    out = {
        "provider": "acme",
        "modelId": model,
        "version": version,
        "capabilities": ["chat"],
        "parameters": {"temperature": {"default": 0.5, "range": [0, 1]}},
        "endpoint": ENDPOINT,
        "performance": {"avgLatency": 100, "p95Latency": 200, "costPerRequest": 0.01},
    }
    out.update(over)
    return out


def events(registry) -> list[tuple[str, str]]:
    """Every audit event as (action, target), oldest first, read from the table itself."""
    return [
        (row.action, row.target)
        for row in registry.read(lambda s: s.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars().all())
    ]


@pytest.fixture
def bob(registry):
    reviewer = as_actor(registry, "bob")
    yield reviewer
    reviewer.close()


def benchmark(reg, target: str, passed: bool) -> int:
    return reg.record_benchmark(
        target, endpoint=ENDPOINT, settings={}, results={"latency_ms": {"p95": 100}}, passed=passed
    )


# -- the newest result of each check counts ----------------------------------------------------------


def test_newest_check_result_wins_pass_then_fail_refuses(registry, bob):
    registry.register(spec("m", "1.0.0"))
    pass_all_checks(registry, "m@1.0.0")
    bob.review("m@1.0.0", "security", False, note="prompt injection found after all")
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@1.0.0")
    (unmet,) = refused.value.details
    assert unmet.startswith("check 'security' failed (bob, ")
    assert registry.get_version("m", "1.0.0")["status"] == "TESTING"


def test_newest_check_result_wins_fail_then_pass_promotes(registry, bob):
    registry.register(spec("m", "1.0.0"))
    bob.review("m@1.0.0", "security", False, note="first look")
    pass_all_checks(registry, "m@1.0.0")  # security passes on a second review
    assert bob.promote("m@1.0.0")["to"] == "APPROVED"


def test_newest_benchmark_wins_pass_then_fail_refuses(registry, bob):
    registry.register(spec("m", "1.0.0"))
    pass_all_checks(registry, "m@1.0.0")
    failed = benchmark(bob, "m@1.0.0", passed=False)
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@1.0.0")
    assert refused.value.details == [f"the newest benchmark (run {failed}) missed its SLO"]


def test_newest_benchmark_wins_fail_then_pass_promotes(registry, bob):
    registry.register(spec("m", "1.0.0"))
    benchmark(bob, "m@1.0.0", passed=False)
    pass_all_checks(registry, "m@1.0.0")  # ends with a passing run
    assert bob.promote("m@1.0.0")["to"] == "APPROVED"


def test_an_aborted_benchmark_neither_passes_nor_hides_the_newest_complete_run(registry, bob):
    registry.register(spec("m", "1.0.0"))
    pass_all_checks(registry, "m@1.0.0")
    bob.record_benchmark("m@1.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True, aborted=True)
    assert bob.promote("m@1.0.0", dry_run=True)["would_succeed"]  # the complete passing run still counts
    registry.register(spec("m", "2.0.0"))
    for check in ("evaluation", "security", "compliance"):
        bob.review("m@2.0.0", check, True)
    bob.record_benchmark("m@2.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True, aborted=True)
    with pytest.raises(PolicyRefused) as refused:
        bob.promote("m@2.0.0")
    assert refused.value.details == [
        f"no benchmark run against the registered endpoint {ENDPOINT} (run `modelreg benchmark`)"
    ]


def test_reject_follows_the_newest_result_too(registry, bob):
    registry.register(spec("m", "1.0.0"))
    bob.review("m@1.0.0", "security", False)
    bob.review("m@1.0.0", "security", True)
    from modelreg.lifecycle import transitions

    with pytest.raises(PolicyRefused):  # no check's newest result is a fail (as `import` would ask)
        bob.write(lambda tx: transitions.reject(tx, "m", "1.0.0"))
    bob.review("m@1.0.0", "evaluation", True)
    bob.review("m@1.0.0", "evaluation", False)
    assert bob.write(lambda tx: transitions.reject(tx, "m", "1.0.0")) == {
        "target": "m@1.0.0",
        "status": "REJECTED",
        "failed": ["evaluation"],
    }
    assert [e for e in events(registry) if e[0] == "reject"] == [("reject", "m@1.0.0")]


# -- DEPRECATED never resolves while an APPROVED version matches ----------------------------------------


def _deprecate(registry, target: str) -> None:
    registry.deprecate(target, reason="superseded", notice_days=90)


def test_deprecated_never_resolvable_by_model_while_an_approved_version_exists(registry):
    for version in ("1.0.0", "2.0.0"):
        registry.register(spec("m", version))
        approve(registry, f"m@{version}")
    _deprecate(registry, "m@2.0.0")  # the newer default, now deprecated
    got = registry.resolve(model="m")
    assert (got.version, got.deprecation) == ("1.0.0", None)
    for k in range(50):  # whatever the caller's key
        assert registry.resolve(model="m", key=f"user-{k}").version == "1.0.0"
    weights = {v["version"]: v["rollout_weight"] for v in registry.find_models(model="m")}
    assert weights == {"1.0.0": 100, "2.0.0": 0}


def test_deprecated_never_resolvable_by_filters_while_an_approved_version_matches(registry):
    # the deprecated version is the only one in eu-west, but its model has an APPROVED version
    registry.register(spec("m", "1.0.0", compliance={"dataResidency": ["us-east"]}))
    registry.register(spec("m", "2.0.0", compliance={"dataResidency": ["us-east", "eu-west"]}))
    approve(registry, "m@2.0.0")
    approve(registry, "m@1.0.0")
    _deprecate(registry, "m@2.0.0")
    with pytest.raises(NotFound):
        registry.resolve(residency="eu-west")
    assert registry.resolve(residency="us-east").version == "1.0.0"
    # another model's APPROVED version in eu-west beats any deprecated one, however recent
    registry.register(spec("other", "1.0.0", compliance={"dataResidency": ["eu-west"]}))
    approve(registry, "other@1.0.0")
    got = registry.resolve(residency="eu-west", capabilities=["chat"])
    assert (got.model_id, got.version) == ("other", "1.0.0")


def test_deprecated_never_resolvable_across_models_while_an_approved_version_matches(registry):
    registry.register(spec("old", "1.0.0"))
    registry.register(spec("new", "1.0.0"))
    approve(registry, "old@1.0.0")
    approve(registry, "new@1.0.0")  # approved later: the most recent
    _deprecate(registry, "new@1.0.0")
    got = registry.get_latest_approved(provider="acme", capabilities=["chat"])
    assert (got.model_id, got.version, got.deprecation) == ("old", "1.0.0", None)
    # and once no APPROVED version matches anywhere, the deprecated one resolves, flagged
    _deprecate(registry, "old@1.0.0")
    got = registry.resolve(provider="acme")
    assert (got.model_id, got.deprecation["replacement"]) == ("new", None)  # the most recently approved


def test_deprecated_never_resolvable_through_residency_on_the_command_line(guide_registry, cli):
    reg = guide_registry
    reg.register(
        {
            **spec("ms-advanced-reasoning", "4.0.0", provider="mindstudio"),
            "capabilities": ["text-generation", "reasoning"],
            "compliance": {"dataResidency": ["us-east", "eu-west"]},
        }
    )
    approve(reg, "ms-advanced-reasoning@3.0.1")
    approve(reg, "ms-advanced-reasoning@4.0.0")
    assert cli("deprecate", "ms-advanced-reasoning@3.0.1", "--reason", "superseded").exit_code == 0
    r = cli("resolve", "--residency", "eu-west", "--json")
    assert r.exit_code == 0, r.stderr
    assert (r.json["model_id"], r.json["version"], r.json["deprecation"]) == ("ms-advanced-reasoning", "4.0.0", None)
    r = cli("resolve", "--model", "ms-advanced-reasoning", "--residency", "eu-west", "--json")
    assert r.json["version"] == "4.0.0"


def test_deprecated_never_resolvable_through_a_fallback_chain(registry):
    registry.register(spec("front", "1.0.0"))
    approve(registry, "front@1.0.0")
    for version in ("1.0.0", "2.0.0"):
        registry.register(spec("back", version))
        approve(registry, f"back@{version}")
    registry.set_fallbacks("front", ["back"])
    assert registry.resolve(model="front").fallbacks == [{"model_id": "back", "version": "2.0.0"}]
    _deprecate(registry, "back@2.0.0")
    assert registry.resolve(model="front").fallbacks == [{"model_id": "back", "version": "1.0.0"}]
    shown = registry.show_fallbacks("front")["fallbacks"]
    assert [(f["resolves_to"], f["status"]) for f in shown] == [("back@1.0.0", "APPROVED")]
    # with no APPROVED version left the deprecated one is still a fallback of last resort
    _deprecate(registry, "back@1.0.0")
    resolved = registry.resolve(model="front")
    assert resolved.fallbacks == [{"model_id": "back", "version": "2.0.0"}] and resolved.broken_fallbacks == []


def test_a_canary_never_serves_callers_without_a_key_and_an_exact_fallback_target_stays_exact(registry):
    for version in ("1.0.0", "1.1.0"):
        registry.register(spec("m", version))
    approve(registry, "m@1.0.0")
    approve(registry, "m@1.1.0", canary=99)
    assert registry.resolve(model="m").version == "1.0.0"
    registry.register(spec("n", "1.0.0"))
    approve(registry, "n@1.0.0")
    registry.set_fallbacks("n", ["m@1.1.0", "m"])
    assert registry.resolve(model="n").fallbacks == [
        {"model_id": "m", "version": "1.1.0"},
        {"model_id": "m", "version": "1.0.0"},
    ]


# -- one audit event per operation, for every kind of operation --------------------------------------


def _world(registry, bob):
    """m@1.0.0 APPROVED (the default), m@2.0.0 TESTING with every check passed,
    m@3.0.0 TESTING with none, m@0.1.0 EXPERIMENTAL, n@1.0.0 APPROVED."""
    for version in ("1.0.0", "2.0.0", "3.0.0"):
        registry.register(spec("m", version))
    registry.register(spec("m", "0.1.0", experimental=True))
    registry.register(spec("n", "1.0.0"))
    approve(registry, "m@1.0.0")
    approve(registry, "n@1.0.0")
    pass_all_checks(registry, "m@2.0.0")


def _sweep_on(day: int):
    def run(registry, bob, monkeypatch):
        monkeypatch.setenv("MODELREG_NOW", (date.today() + timedelta(days=day)).isoformat())
        return registry.sweep()

    return run


OPERATIONS = {
    # name: (prepare, act, expected events of the act)
    "register": (None, lambda r, b, mp: r.register(spec("m", "4.0.0")), [("register", "m@4.0.0")]),
    "register-many": (
        None,
        lambda r, b, mp: r.register_document({"provider": "acme", "models": [spec("k", f"1.{i}.0") for i in range(3)]}),
        [("register", "k@1.0.0"), ("register", "k@1.1.0"), ("register", "k@1.2.0")],
    ),
    "review": (None, lambda r, b, mp: b.review("m@3.0.0", "evaluation", True), [("review", "m@3.0.0")]),
    "review-reject": (
        None,
        lambda r, b, mp: b.review("m@3.0.0", "security", False, reject=True),
        [("review", "m@3.0.0"), ("reject", "m@3.0.0")],
    ),
    "benchmark": (None, lambda r, b, mp: benchmark(b, "m@3.0.0", True), [("benchmark", "m@3.0.0")]),
    "promote-to-testing": (None, lambda r, b, mp: r.promote("m@0.1.0"), [("promote", "m@0.1.0")]),
    "promote": (None, lambda r, b, mp: b.promote("m@2.0.0"), [("promote", "m@2.0.0")]),
    "promote-canary": (None, lambda r, b, mp: b.promote("m@2.0.0", canary=10), [("promote.canary", "m@2.0.0")]),
    "rollout-set": (
        lambda r, b, mp: b.promote("m@2.0.0", canary=10),
        lambda r, b, mp: b.rollout("m", set_weight=50),
        [("rollout.set", "m@2.0.0")],
    ),
    "rollout-complete": (
        lambda r, b, mp: b.promote("m@2.0.0", canary=10),
        lambda r, b, mp: b.rollout("m", complete=True),
        [("rollout.complete", "m@2.0.0")],
    ),
    "rollout-abort": (
        lambda r, b, mp: b.promote("m@2.0.0", canary=10),
        lambda r, b, mp: b.rollout("m", abort=True),
        [("rollout.abort", "m@2.0.0")],
    ),
    "rollback": (lambda r, b, mp: b.promote("m@2.0.0"), lambda r, b, mp: b.rollback("m"), [("rollback", "m@1.0.0")]),
    "deprecate": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=90),
        [("deprecate", "m@1.0.0")],
    ),
    "deprecate-cancel": (
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=90),
        lambda r, b, mp: r.cancel_deprecation("m@1.0.0"),
        [("deprecate.cancel", "m@1.0.0")],
    ),
    "sweep-notice": (
        lambda r, b, mp: r.deprecate("n@1.0.0", reason="old", notice_days=90),
        _sweep_on(61),
        [("retirement.notice", "n@1.0.0")],
    ),
    "sweep-retire": (
        lambda r, b, mp: r.deprecate("n@1.0.0", reason="old", notice_days=90),
        _sweep_on(90),
        [("retire", "n@1.0.0")],
    ),
    "sweep-idle": (None, _sweep_on(400), []),
    "fallback-set": (None, lambda r, b, mp: r.set_fallbacks("m", ["n"]), [("fallback.set", "m")]),
    "fallback-clear": (
        lambda r, b, mp: r.set_fallbacks("m", ["n"]),
        lambda r, b, mp: r.clear_fallbacks("m"),
        [("fallback.clear", "m")],
    ),
    "policy-set": (None, lambda r, b, mp: r.set_policy("benchmark_max_age_days", "6"), [("policy.set", "policy")]),
    "advisory-add": (
        None,
        lambda r, b, mp: r.add_advisory("CVE-1", model_id="m", affected="==3.0.0", severity="high", summary="s"),
        [("advisory.add", "m")],
    ),
    "advisory-withdraw": (
        lambda r, b, mp: r.add_advisory("CVE-1", model_id="m", affected="==3.0.0", severity="high", summary="s"),
        lambda r, b, mp: b.withdraw_advisory("CVE-1", model_id="m"),
        [("advisory.withdraw", "m")],
    ),
    # refusals and rehearsals write nothing
    "refused-promote": (None, lambda r, b, mp: b.promote("m@3.0.0"), []),
    "refused-transition": (None, lambda r, b, mp: r.deprecate("m@3.0.0", reason="x"), []),
    "dry-run-promote": (None, lambda r, b, mp: b.promote("m@2.0.0", dry_run=True), []),
    "dry-run-sweep": (
        lambda r, b, mp: r.deprecate("n@1.0.0", reason="old", notice_days=90),
        lambda r, b, mp: (
            mp.setenv("MODELREG_NOW", (date.today() + timedelta(days=90)).isoformat()),
            r.sweep(dry_run=True),
        ),
        [],
    ),
}


def prepared(registry, bob, monkeypatch, operation: str):
    """The world of an operation, its preparation done: returns the act, to call with no argument."""
    prepare, act, _ = OPERATIONS[operation]
    _world(registry, bob)
    if prepare is not None:
        prepare(registry, bob, monkeypatch)
    return lambda: act(registry, bob, monkeypatch)


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_operation_writes_exactly_one_audit_event_per_change(registry, bob, monkeypatch, operation):
    act, expected = prepared(registry, bob, monkeypatch, operation), OPERATIONS[operation][2]
    before = events(registry)
    try:
        act()
    except (PolicyRefused, Conflict):
        assert operation.startswith("refused-"), operation
    else:
        assert not operation.startswith("refused-"), operation
    after = events(registry)
    assert after[: len(before)] == before  # appended, nothing rewritten
    assert after[len(before) :] == expected
    assert registry.verify_audit().ok


def test_cli_operations_write_one_event_each(registry, cli):
    registry.register(spec("m", "1.0.0"))
    before = len(events(registry))
    assert cli("--actor", "bob", "review", "m@1.0.0", "--check", "evaluation", "--pass").exit_code == 0
    assert cli("promote", "m@1.0.0").exit_code == 5  # refused: nothing written
    assert run_cli("--actor", "bob", "review", "m@1.0.0", "--check", "security", "--fail", "--reject").exit_code == 0
    assert events(registry)[before:] == [("review", "m@1.0.0"), ("review", "m@1.0.0"), ("reject", "m@1.0.0")]
