"""The lifecycle's rules, each pinned by behaviour (issue 17): the bugs a
plausible change could plant, each caught by a test named after the rule.

- the newest result of a check is the one that counts (a pass then a fail
  refuses; a fail then a pass promotes), for reviews and for benchmarks;
- a DEPRECATED version never resolves while an APPROVED one matches: by
  model, by filters (as `resolve --residency`), through fallback chains;
- every operation writes exactly one audit event (tests/test_rules_records.py,
  which also pins what each one records), a refusal or a dry run none.

Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from conftest import (
    _require_pg,
    approve,
    as_actor,
    drop_pg_database,
    new_registry,
    pass_all_checks,
    pg_database_url,
    run_cli,
)
from sqlalchemy import select

from modelreg.errors import AccessDenied, InvalidInput, NotFound, PolicyRefused
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

    with pytest.raises(PolicyRefused) as refused:  # no check's newest result is a fail (as `import` would ask)
        bob.write(lambda tx: transitions.reject(tx, "m", "1.0.0"))
    assert str(refused.value) == "m@1.0.0 cannot be REJECTED: no check's newest result is a fail"
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


# -- one audit event per operation (every kind: tests/test_rules_records.py) ------------------------


def test_cli_operations_write_one_event_each(registry, cli):
    registry.register(spec("m", "1.0.0"))
    before = len(events(registry))
    assert cli("--actor", "bob", "review", "m@1.0.0", "--check", "evaluation", "--pass").exit_code == 0
    assert cli("promote", "m@1.0.0").exit_code == 5  # refused: nothing written
    assert run_cli("--actor", "bob", "review", "m@1.0.0", "--check", "security", "--fail", "--reject").exit_code == 0
    assert events(registry)[before:] == [("review", "m@1.0.0"), ("review", "m@1.0.0"), ("reject", "m@1.0.0")]


# -- a canary's share ------------------------------------------------------------------------------------


def test_canary_and_rollout_weights_are_whole_percentages_from_1_to_99(registry, bob):
    from modelreg.lifecycle import transitions

    for version in ("1.0.0", "2.0.0"):
        registry.register(spec("m", version))
    approve(registry, "m@1.0.0")
    pass_all_checks(registry, "m@2.0.0")
    for weight in (0, 100, -1, True, 50.0, "50"):
        with pytest.raises(
            InvalidInput, match=rf"^--canary: expected a whole percentage from 1 to 99, got {weight!r}$"
        ):
            bob.promote("m@2.0.0", canary=weight, dry_run=True)
    for weight in (1, 99):
        assert bob.promote("m@2.0.0", canary=weight, dry_run=True)["canary"] == {"weight": weight, "stable": "1.0.0"}
    bob.promote("m@2.0.0", canary=10)
    for weight in (0, 100, True, 1.0):
        with pytest.raises(InvalidInput, match=rf"^--set: expected a whole percentage from 1 to 99, got {weight!r}$"):
            bob.rollout("m", set_weight=weight)
    for weight in (1, 99):
        bob.rollout("m", set_weight=weight)
        assert registry.resolve(model="m").rollout == {"role": "stable", "weight": 100 - weight}
    # the engine called as every caller does, with the one move it makes (no other move by default)
    assert bob.write(lambda tx: transitions.rollout(tx, "m", set_weight=20))["weight"] == 20
    assert bob.write(lambda tx: transitions.rollout(tx, "m", abort=True))["action"] == "abort"


# -- who may change what (PostgreSQL: the server's roles) -----------------------------------------------


@pytest.fixture
def pg_owner(monkeypatch):
    """m@1.0.0 APPROVED and m@2.0.0 TESTING, on PostgreSQL, set up by the tables' owner."""
    from modelreg import Registry

    _require_pg()
    url = new_registry(pg_database_url("roles"))
    monkeypatch.delenv("MODELREG_ACTOR")
    owner = Registry.open(url)
    try:
        for version in ("1.0.0", "2.0.0"):
            owner.register(spec("m", version))
        approve(owner, "m@1.0.0")
        yield owner
    finally:
        owner.close()
        drop_pg_database(url)


def test_each_change_an_approver_makes_refuses_an_operator_in_one_line(pg_owner):
    felix = as_actor(pg_owner, "felix", ("reader", "operator"))
    refusals = {
        "approve m@2.0.0": lambda: felix.promote("m@2.0.0"),
        "move the rollout of m": lambda: felix.rollout("m", set_weight=50),
        "roll back m": lambda: felix.rollback("m"),
        "deprecate m@1.0.0": lambda: felix.deprecate("m@1.0.0", reason="old"),
        "cancel the deprecation of m@1.0.0": lambda: felix.cancel_deprecation("m@1.0.0"),
    }
    try:
        for doing, act in refusals.items():
            with pytest.raises(AccessDenied) as refused:
                act()
            assert str(refused.value) == (
                f"felix may not {doing}: that needs the approver role (an admin runs `modelreg access grant felix approver`)"
            )
    finally:
        felix.close()


def test_each_change_an_operator_makes_refuses_an_approver_in_one_line(pg_owner):
    from modelreg.lifecycle import transitions

    faye = as_actor(pg_owner, "faye", ("reader", "approver"))
    refusals = {
        "reject m@2.0.0": lambda: faye.write(lambda tx: transitions.reject(tx, "m", "2.0.0")),
        "record the security review of m@2.0.0": lambda: faye.review("m@2.0.0", "security", False),
        "record a benchmark of m@2.0.0": lambda: faye.record_benchmark(
            "m@2.0.0", endpoint=ENDPOINT, settings={}, results={}, passed=True
        ),
    }
    try:
        for doing, act in refusals.items():
            with pytest.raises(AccessDenied) as refused:
                act()
            assert str(refused.value) == (
                f"faye may not {doing}: that needs the operator role (an admin runs `modelreg access grant faye operator`)"
            )
    finally:
        faye.close()


def test_a_deprecation_reason_is_at_most_max_note_characters(registry):
    from modelreg.lifecycle.evidence import MAX_NOTE

    for version in ("1.0.0", "2.0.0"):
        registry.register(spec("m", version))
        approve(registry, f"m@{version}")
    with pytest.raises(InvalidInput, match=r"^--reason is required \(why this version is deprecated\)$"):
        registry.deprecate("m@1.0.0", reason="x" * (MAX_NOTE + 1))
    assert registry.deprecate("m@1.0.0", reason="x" * MAX_NOTE)["status"] == "DEPRECATED"


def test_the_sweep_refuses_a_role_that_may_not_retire_in_one_line(pg_owner):
    fern = as_actor(pg_owner, "fern", ("reader", "admin"))
    try:
        with pytest.raises(AccessDenied) as refused:
            fern.sweep()
        assert str(refused.value) == (
            "fern may not retire versions (the sweep): that needs the operator or approver role "
            "(an admin runs `modelreg access grant fern operator`)"
        )
    finally:
        fern.close()


def test_an_import_with_refused_steps_names_each_and_writes_nothing(registry):
    """Each step of an import runs in a savepoint; a refused one is undone (its events too) and named,
    the later steps still run, and nothing at all is written."""
    from modelreg.regfile.importer import ImportRefused

    for version in ("1.0.0", "2.0.0"):
        registry.register(spec("m", version))
    document = registry.export_document()
    versions = document["models"]["m"]["versions"]
    document["models"]["m"]["description"] = "a change that is applied before the refusals"
    versions["1.0.0"]["status"] = "REJECTED"  # no check's newest result is a fail
    versions["2.0.0"]["status"] = "APPROVED"  # no evidence recorded here
    audit_before = registry.verify_audit().events
    with pytest.raises(ImportRefused) as refused:
        registry.import_document(document)
    assert str(refused.value) == "import refused: 2 item(s) cannot be applied; nothing was written"
    assert refused.value.details[0] == "m@1.0.0: m@1.0.0 cannot be REJECTED: no check's newest result is a fail"
    assert refused.value.details[1].startswith("m@2.0.0: m@2.0.0 cannot be promoted")
    assert registry.verify_audit().events == audit_before
    assert registry.get_model("m")["description"] != "a change that is applied before the refusals"
