"""Gated promotion, controlled rollout, deprecation with notice, the sweep, fallbacks, resolve."""

from datetime import UTC

import pytest
from conftest import approve, as_actor, pass_all_checks, run_cli

from modelreg.errors import Conflict, NotFound

ADV = "ms-advanced-reasoning@3.0.1"


def _version(reg, model, version, **over):
    spec = {
        "provider": "mindstudio",
        "modelId": model,
        "version": version,
        "capabilities": ["text-generation", "reasoning"],
        "parameters": {"temperature": {"default": 0.7, "range": [0, 1]}},
        "endpoint": "http://127.0.0.1:9/v1",
        "performance": {"avgLatency": 100, "p95Latency": 200, "costPerRequest": 0.01},
    }
    spec.update(over)
    return reg.register(spec)


def test_guide_walkthrough(guide_registry, cli, monkeypatch):
    reg = guide_registry
    r = cli("promote", ADV)
    assert r.exit_code == 5
    # every unmet gate is listed, not just the first
    assert "evaluation" in r.stderr and "security" in r.stderr and "compliance" in r.stderr
    assert "benchmark" in r.stderr and "separation_of_duties" in r.stderr
    pass_all_checks(reg, ADV)
    assert cli("--actor", "bob", "promote", ADV).exit_code == 0
    _version(reg, "ms-advanced-reasoning", "4.0.0")
    approve(reg, "ms-advanced-reasoning@4.0.0")
    r = cli("deprecate", ADV, "--reason", "superseded by 4.0.0", "--replacement", "ms-advanced-reasoning@4.0.0")
    assert r.exit_code == 0, r.stderr
    status = {v["version"]: v["status"] for v in cli("find", "--model", "ms-advanced-reasoning", "--json").json}
    assert status == {"4.0.0": "APPROVED", "3.0.1": "DEPRECATED"}
    resolved = cli("resolve", "--provider", "mindstudio", "--capability", "text-generation").json
    assert resolved["model_id"] == "ms-advanced-reasoning" and resolved["version"] == "4.0.0"
    assert resolved["recommended_parameters"] == {"temperature": 0.7}
    # rehearse the sweep 91 days ahead
    from datetime import date, timedelta

    ahead = (date.today() + timedelta(days=91)).isoformat()
    report = cli("deprecate", "--sweep", "--json", env={"MODELREG_NOW": ahead}).json
    assert report["retired"] == [ADV]
    again = cli("deprecate", "--sweep", "--json", env={"MODELREG_NOW": ahead}).json
    assert again["retired"] == [] and again["notices"] == []
    assert cli("audit", "verify").exit_code == 0


def test_illegal_transitions_exit_4_naming_allowed(guide_registry, cli):
    r = cli("deprecate", ADV, "--reason", "x")
    assert r.exit_code == 4 and "TESTING" in r.stderr and "allowed next: APPROVED, REJECTED" in r.stderr
    r = cli("deprecate", ADV, "--cancel")
    assert r.exit_code == 4
    assert cli("--actor", "bob", "review", ADV, "--check", "security", "--fail", "--reject").exit_code == 0
    r = cli("promote", ADV)
    assert r.exit_code == 4 and "REJECTED" in r.stderr and "final" in r.stderr
    assert cli("promote", "ms-advanced-reasoning@9.9.9").exit_code == 3
    assert cli("promote", "nope@1.0.0").exit_code == 3


def test_experimental_goes_to_testing_first(guide_registry, cli):
    r = cli("promote", "ms-research-prototype@0.1.0", "--json")
    assert r.exit_code == 0 and r.json["to"] == "TESTING"


def test_dry_run_changes_nothing_and_exits_as_the_real_run(guide_registry, cli):
    r = cli("promote", ADV, "--dry-run", "--json")
    assert r.exit_code == 5 and not r.json["would_succeed"] and r.json["unmet"]  # a CI gate can use it
    assert len(guide_registry.history("ms-advanced-reasoning", "3.0.1")) == 1
    pass_all_checks(guide_registry, ADV)
    r = cli("--actor", "bob", "promote", ADV, "--dry-run", "--json")
    assert r.exit_code == 0 and r.json["would_succeed"] and r.json["dry_run"]
    assert guide_registry.get_version("ms-advanced-reasoning", "3.0.1")["status"] == "TESTING"


def test_approvers_in_the_policy(guide_registry):
    assert guide_registry.set_policy("approvers", "Carol")["after"] == {"approvers": ["carol"]}
    pass_all_checks(guide_registry, ADV)
    r = run_cli("--actor", "bob", "promote", ADV)
    assert r.exit_code == 5 and "not an approver" in r.stderr
    r = run_cli("--actor", "alice", "promote", ADV)  # the registrant
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr
    assert run_cli("--actor", "carol", "promote", ADV).exit_code == 0
    decision = [e for e in guide_registry.history("ms-advanced-reasoning", "3.0.1") if e["action"] == "promote"]
    assert decision[0]["policy_version"] == 2 and decision[0]["actor"] == "carol"


def test_stale_or_failed_benchmark_blocks(guide_registry, cli):
    from datetime import datetime, timedelta

    pass_all_checks(guide_registry, ADV)
    later = (datetime.now(UTC) + timedelta(days=8)).isoformat()
    r = cli("--actor", "bob", "promote", ADV, env={"MODELREG_NOW": later})
    assert r.exit_code == 5 and "older than 7 days" in r.stderr
    bob = as_actor(guide_registry, "bob")
    bob.record_benchmark(
        ADV, endpoint="http://127.0.0.1:8700/v1/chat/completions", settings={}, results={}, passed=False
    )
    r = cli("--actor", "bob", "promote", ADV)
    assert r.exit_code == 5 and "missed its SLO" in r.stderr
    bob.close()


def test_canary_split_is_stable_and_proportional(registry):
    _version(registry, "chat", "1.0.0")
    _version(registry, "chat", "1.1.0")
    approve(registry, "chat@1.0.0")
    result = approve(registry, "chat@1.1.0", canary=10)
    assert result["canary"] == {"weight": 10, "stable": "1.0.0"}
    assert registry.resolve(model="chat").version == "1.0.0"  # no key: the default
    sides = {k: registry.resolve(model="chat", key=f"user-{k}").version for k in range(1000)}
    share = sum(v == "1.1.0" for v in sides.values()) / 1000
    assert 0.07 <= share <= 0.13
    assert all(registry.resolve(model="chat", key=f"user-{k}").version == sides[k] for k in range(0, 1000, 37))
    weights = {v["version"]: v["rollout_weight"] for v in registry.find_models(model="chat")}
    assert weights == {"1.1.0": 10, "1.0.0": 90}
    with pytest.raises(Conflict):
        approve(registry, "chat@1.1.0", canary=20)
    registry.rollout("chat", set_weight=50)
    share = sum(registry.resolve(model="chat", key=f"user-{k}").version == "1.1.0" for k in range(1000)) / 1000
    assert 0.45 <= share <= 0.55
    registry.rollout("chat", complete=True)
    assert registry.resolve(model="chat", key="anyone").version == "1.1.0"
    statuses = {v["version"]: (v["status"], v["rollout_weight"]) for v in registry.find_models(model="chat")}
    assert statuses == {"1.1.0": ("APPROVED", 100), "1.0.0": ("APPROVED", 0)}
    with pytest.raises(Conflict):
        registry.rollout("chat", abort=True)


def test_canary_abort_goes_back_to_testing(registry):
    _version(registry, "chat", "1.0.0")
    _version(registry, "chat", "2.0.0")
    approve(registry, "chat@1.0.0")
    approve(registry, "chat@2.0.0", canary=30)
    registry.rollout("chat", abort=True)
    assert registry.get_version("chat", "2.0.0")["status"] == "TESTING"
    assert {registry.resolve(model="chat", key=str(k)).version for k in range(200)} == {"1.0.0"}


@pytest.mark.parametrize("pct", [0, 100, -5, 250])
def test_bad_percentages(guide_registry, cli, pct):
    r = cli("promote", ADV, "--canary", str(pct))
    assert r.exit_code == 2 and r.stderr.startswith("error:")


def test_deprecation_notice_and_cancel(registry, cli):
    _version(registry, "m", "1.0.0")
    _version(registry, "m", "2.0.0")
    approve(registry, "m@1.0.0")
    r = cli("deprecate", "m@1.0.0", "--reason", "old", "--notice-days", "30")
    assert r.exit_code == 5 and "90" in r.stderr
    r = cli("deprecate", "m@1.0.0", "--reason", "old", "--retire-on", "2001-01-01")
    assert r.exit_code == 5
    assert cli("deprecate", "m@1.0.0", "--reason", "old", "--retire-on", "31/12/2099").exit_code == 2
    assert cli("deprecate", "m@1.0.0", "--reason", "old", "--replacement", "m@7.0.0").exit_code == 3
    r = cli("deprecate", "m@1.0.0", "--reason", "old", "--replacement", "m@2.0.0", "--json")
    assert r.exit_code == 0 and r.json["days_of_notice"] == 90
    # still resolvable while no APPROVED version exists, flagged with its retirement
    resolved = registry.resolve(model="m")
    assert resolved.version == "1.0.0" and resolved.deprecation["replacement"] == "m@2.0.0"
    assert cli("deprecate", "m@1.0.0", "--cancel").exit_code == 0
    assert registry.resolve(model="m").deprecation is None


def test_sweep_notices_once_and_retires_once(registry, cli):
    from datetime import date, timedelta

    _version(registry, "m", "1.0.0")
    approve(registry, "m@1.0.0")
    registry.deprecate("m@1.0.0", reason="old", notice_days=90)
    day = lambda n: (date.today() + timedelta(days=n)).isoformat()
    sweep = lambda n: cli("deprecate", "--sweep", "--json", env={"MODELREG_NOW": day(n)}).json
    assert sweep(10)["notices"] == []
    first = sweep(61)["notices"]
    assert [(n["target"], n["threshold_days"]) for n in first] == [("m@1.0.0", 30)]
    assert sweep(62)["notices"] == []
    assert cli("deprecate", "--sweep", "--dry-run", "--json", env={"MODELREG_NOW": day(90)}).json["retired"] == [
        "m@1.0.0"
    ]
    assert registry.get_version("m", "1.0.0")["status"] == "DEPRECATED"  # the dry run wrote nothing
    assert [n["threshold_days"] for n in sweep(89)["notices"]] == [1]  # 7 was passed over: raised as the nearest only
    assert sweep(90)["retired"] == ["m@1.0.0"]
    assert sweep(91)["retired"] == []
    with pytest.raises(NotFound):
        registry.resolve(model="m")
    retire_events = [e for e in registry.history("m", "1.0.0") if e["action"] == "retire"]
    assert len(retire_events) == 1


def test_fallbacks(registry, cli):
    for model in ("a", "b", "c"):
        _version(registry, model, "1.0.0")
    _version(registry, "d", "1.0.0")
    for model in ("a", "b", "c"):
        approve(registry, f"{model}@1.0.0")
    assert cli("fallback", "set", "a", "zzz").exit_code == 3
    assert cli("fallback", "set", "a", "b@9.0.0").exit_code == 3
    assert cli("fallback", "set", "a", "a").exit_code == 4
    assert cli("fallback", "set", "a", "d").exit_code == 5  # d has nothing resolvable
    assert cli("fallback", "set", "a", "b", "c@1.0.0").exit_code == 0
    assert cli("fallback", "set", "b", "c").exit_code == 0
    r = cli("fallback", "set", "c", "a")
    assert r.exit_code == 4 and "cycle" in r.stderr
    resolved = cli("resolve", "--model", "a").json
    assert resolved["fallbacks"] == [{"model_id": "b", "version": "1.0.0"}, {"model_id": "c", "version": "1.0.0"}]
    shown = cli("fallback", "show", "a", "--json").json
    assert [f["resolves_to"] for f in shown["fallbacks"]] == ["b@1.0.0", "c@1.0.0"]
    # retire c: the sweep reports a's and b's fallbacks as broken
    registry.deprecate("c@1.0.0", reason="gone", notice_days=90)
    from datetime import date, timedelta

    report = cli(
        "deprecate", "--sweep", "--json", env={"MODELREG_NOW": (date.today() + timedelta(days=90)).isoformat()}
    ).json
    assert report["retired"] == ["c@1.0.0"]
    assert {(b["model_id"], b["target"]) for b in report["broken_fallbacks"]} == {("a", "c@1.0.0"), ("b", "c")}
    assert cli("fallback", "clear", "a").exit_code == 0
    assert cli("fallback", "show", "a", "--json").json["fallbacks"] == []


def test_resolve_prefers_most_recently_approved_model(registry):
    _version(registry, "old-model", "1.0.0", compliance={"dataResidency": ["eu-west"]})
    _version(registry, "new-model", "1.0.0")
    approve(registry, "old-model@1.0.0")
    approve(registry, "new-model@1.0.0")
    assert registry.get_latest_approved(provider="mindstudio", capabilities=["text-generation"]).model_id == "new-model"
    assert (
        registry.resolve(provider="mindstudio", capabilities=["reasoning"], residency="eu-west").model_id == "old-model"
    )
    with pytest.raises(NotFound):
        registry.resolve(provider="mindstudio", capabilities=["vision"])
    r = run_cli("resolve", "--provider", "mindstudio", "--capability", "vision")
    assert r.exit_code == 3


def test_review_validation(guide_registry, cli):
    assert cli("review", ADV, "--check", "security").exit_code == 2  # no --pass/--fail
    r = cli("review", ADV, "--check", "security", "--pass")
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr  # alice registered it
    assert cli("review", ADV, "--check", "security", "--pass", "--reject").exit_code == 2
    assert cli("review", ADV, "--check", "benchmark", "--pass").exit_code == 2
    assert cli("review", "ms-advanced-reasoning", "--check", "security", "--pass").exit_code == 2
    r = cli("--actor", "bob", "review", ADV, "--check", "security", "--fail", "--note", "CVE found", "--json")
    assert r.json["result"] == "fail"
    assert cli("show", ADV, "--json").json["checks"]["security"]["note"] == "CVE found"
