"""An unknown model id, version or check name suggests the nearest existing
ones (issue 16), in the one error line and with the same exit code, on
SQLite and PostgreSQL; the candidates come from one bounded query."""

from __future__ import annotations

import pytest
from conftest import GUIDE_MANIFEST, run_process
from sqlalchemy import event

from modelreg.errors import NotFound, did_you_mean
from modelreg.store import queries


@pytest.fixture
def guide(cli):
    assert cli("register", "--file", GUIDE_MANIFEST).exit_code == 0
    return cli


@pytest.mark.parametrize(
    "args, line",
    [
        (["show", "ms-advanced-reasoni"], "error: unknown model 'ms-advanced-reasoni'; did you mean 'ms-advanced-reasoning'?"),
        (["show", "ms-advnced-reasoning@3.0.1"], "error: unknown model 'ms-advnced-reasoning'; did you mean 'ms-advanced-reasoning'?"),
        (["history", "ms-standrd"], "error: unknown model 'ms-standrd'; did you mean 'ms-standard'?"),
        (["show", "ms-advanced-reasoning@3.0.2"], "error: unknown version ms-advanced-reasoning@3.0.2; did you mean 'ms-advanced-reasoning@3.0.1'?"),
        (["--actor", "bob", "review", "ms-standard@2.0.1", "--check", "evaluation", "--pass"], "error: unknown version ms-standard@2.0.1; did you mean 'ms-standard@2.0.0'?"),
        (["fallback", "set", "ms-advanced-reasoning", "ms-standart"], "error: unknown fallback target model 'ms-standart'; did you mean 'ms-standard'?"),
        (["show", "zzz"], "error: unknown model 'zzz'"),
    ],
)  # fmt: skip
def test_unknown_names_suggest_the_nearest_in_one_line_exit_3(guide, args, line):
    r = guide(*args)
    assert r.exit_code == 3 and r.stderr == line + "\n" and r.stdout == ""


def test_a_bad_check_name_suggests_a_required_check_exit_2(guide):
    r = guide("--actor", "bob", "review", "ms-standard@2.0.0", "--check", "Evaluaton!", "--pass")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
    assert r.stderr.endswith("expected a slug such as evaluation, security, compliance; did you mean 'evaluation'?\n")
    assert guide("history", "ms-standard@2.0.0", "--json").json[-1]["action"] == "register"  # nothing written


def test_a_check_the_policy_does_not_require_is_recorded_with_a_hint(guide):
    typo = guide("--actor", "bob", "review", "ms-standard@2.0.0", "--check", "secruity", "--pass")
    assert typo.exit_code == 0  # any slug may be recorded (SPEC); a likely typo is pointed out
    assert "warning: recorded 'secruity', which the policy does not require; did you mean 'security'?" in typo.stderr
    own = guide("--actor", "bob", "review", "ms-standard@2.0.0", "--check", "red-team", "--pass")
    assert own.exit_code == 0 and "warning" not in own.stderr


def test_the_real_process_prints_the_same_line(guide):
    r = run_process("show", "ms-advanced-reasoni")
    assert (
        r.exit_code == 3
        and r.stderr == "error: unknown model 'ms-advanced-reasoni'; did you mean 'ms-advanced-reasoning'?\n"
    )


def test_suggestions_read_a_bounded_pool_never_the_registry(registry):
    from modelreg.manifest import parse_manifest_document

    perf = {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0}
    doc = {
        "provider": "bulk",
        "models": [
            {"modelId": f"m-{i:04d}", "version": f"1.{j}.0", "capabilities": ["c"], "performance": perf}
            for i in range(450)
            for j in range(2)
        ],
    }
    registry.register_many(parse_manifest_document(doc, "bulk"))
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(registry.db.engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(NotFound, match=r"unknown model 'm-0150x'; did you mean 'm-0150'\?"):
            registry.get_model("m-0150x")
        with pytest.raises(NotFound, match=r"did you mean 'm-0001@1.1.0' or 'm-0001@1.0.0'\?"):
            registry.get_version("m-0001", "1.2.0")
    finally:
        event.remove(registry.db.engine, "before_cursor_execute", seen)
    lookups = [s for s in statements if "LIKE" in s.upper()]
    assert len(lookups) == 2 and all("LIMIT" in s.upper() for s in lookups)
    pool = registry.read(lambda s: queries.near_model_ids(s, "m-0"))
    assert len(pool) == queries.SUGGESTION_POOL  # 450 ids share "m-", the query reads 200


def test_like_wildcards_in_a_typo_are_literal(registry):
    assert registry.read(lambda s: queries.near_model_ids(s, "%_%")) == []


def test_did_you_mean_ranks_and_limits():
    assert did_you_mean("3.0.2", ["3.0.1", "3.0.0", "3.1.0"]) == "; did you mean '3.0.1' or '3.0.0'?"
    assert did_you_mean("ms-standrd", ["ms-standard", "ms-standard", "other"]) == "; did you mean 'ms-standard'?"
    assert did_you_mean("abc", []) == "" and did_you_mean("abc", ["xyz"]) == ""
