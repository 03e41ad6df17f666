"""What each operation records, pinned whole (issue 17): for every kind of
change, exactly one audit event per change (none for a refusal or a dry run,
whose one-line message is pinned instead), and its answer to the caller, the
columns it changed in each model and version row, its audit events (actor,
before, after) and
its lifecycle events (the outbox webhooks and `events list` read: type,
actor, payload), compared with tests/golden/operation_records.json on SQLite
and on PostgreSQL alike. Times read `<time>`; dates read as days from today.

The golden file is the contract, reviewed by a person: regenerate it only for
a deliberate change to what is recorded,
UPDATE_GOLDEN=1 pytest tests/test_rules_records.py -k sqlite."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import approve, pass_all_checks
from sqlalchemy import select
from test_rules_lifecycle import benchmark, events, spec

from modelreg.errors import ModelregError
from modelreg.policy import MAX_DAYS
from modelreg.store.tables import AuditEvent, LifecycleEvent, Model, ModelVersion

GOLDEN = Path(__file__).resolve().parent / "golden" / "operation_records.json"
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")
IN_TEXT = re.compile(r"(?<![\d-])\d{4}-\d\d-\d\d(?![\d-])")


def normal(value: Any) -> Any:
    """Times as <time>, dates as today+N (the records of any day compare equal)."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, str) and INSTANT.match(value):
        return "<time>"
    if isinstance(value, str) and DAY.match(value):
        return f"today{(date.fromisoformat(value) - date.today()).days:+d}"
    if isinstance(value, str):  # a message naming a date
        return IN_TEXT.sub(lambda m: normal(m.group(0)), value)
    if hasattr(value, "to_dict"):
        return normal(value.to_dict())
    return value


def records(registry, since: tuple[int, int]) -> dict[str, Any]:
    def read(session):
        audit = session.execute(select(AuditEvent).where(AuditEvent.seq > since[0]).order_by(AuditEvent.seq))
        outbox = session.execute(select(LifecycleEvent).where(LifecycleEvent.id > since[1]).order_by(LifecycleEvent.id))
        return (
            [[e.action, e.target, e.actor, json.loads(e.before), json.loads(e.after)] for e in audit.scalars()],
            [[e.type, e.target, e.actor, json.loads(e.payload)] for e in outbox.scalars()],
        )

    audit, outbox = registry.read(read)
    return {"audit": normal(audit), "events": normal(outbox)}


def state(registry) -> dict[str, dict[str, Any]]:
    """Every model's and version's row, by key (what a change may move)."""

    def read(session):
        out = {}
        for table, key in ((Model, lambda r: r.model_id), (ModelVersion, lambda r: f"{r.model_id}@{r.version}")):
            for row in session.execute(select(table)).scalars():
                out[f"{table.__tablename__} {key(row)}"] = row.model_dump()
        return out

    return registry.read(read)


def changes(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per changed row: each changed column as [before, after] (a new row: its columns; row_version: +N)."""
    out: dict[str, Any] = {}
    for key, row in after.items():
        old = before.get(key)
        if old is None:
            out[key] = {"new": normal(row)}
            continue
        moved = {c: [old[c], v] for c, v in row.items() if old[c] != v}
        if "row_version" in moved:
            moved["row_version"] = f"{moved['row_version'][1] - moved['row_version'][0]:+d}"
        if moved:
            out[key] = normal(moved)
    return out


def high_water(registry) -> tuple[int, int]:
    def read(session):
        from sqlalchemy import func

        return (
            session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar(),
            session.execute(select(func.coalesce(func.max(LifecycleEvent.id), 0))).scalar(),
        )

    return registry.read(read)


# -- the operations: (prepare, act, the audit events of the act as (action, target)) -----------------


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


def _canary(r, b, mp):
    return b.promote("m@2.0.0", canary=10)


def _solo(r, b, mp):
    r.register(spec("solo", "1.0.0"))
    pass_all_checks(r, "solo@1.0.0")


def _deprecated(r, b, mp):
    return r.deprecate("m@1.0.0", reason="old", notice_days=90)


def _day(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


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
    "deprecate-on-a-date-with-replacement": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason=" old ", retire_on=_day(120), replacement="n@1.0.0"),
        [("deprecate", "m@1.0.0")],
    ),
    "deprecate-another-version-during-rollout": (
        lambda r, b, mp: (
            r.register(spec("m", "0.9.0")),
            approve(r, "m@0.9.0"),  # the default now: made so most recently
            b.rollback("m", to="1.0.0"),
            _canary(r, b, mp),
        ),
        lambda r, b, mp: r.deprecate("m@0.9.0", reason="old"),
        [("deprecate", "m@0.9.0")],
    ),
    "rollback-to-the-newest-earlier": (
        lambda r, b, mp: (r.register(spec("m", "1.5.0")), approve(r, "m@1.5.0"), b.promote("m@2.0.0")),
        lambda r, b, mp: b.rollback("m"),
        [("rollback", "m@1.5.0")],
    ),
    "rollback-past-a-deprecated-version": (
        lambda r, b, mp: (
            r.register(spec("m", "1.5.0")),
            approve(r, "m@1.5.0"),
            b.promote("m@2.0.0"),
            r.deprecate("m@1.5.0", reason="old"),
        ),
        lambda r, b, mp: b.rollback("m"),
        [("rollback", "m@1.0.0")],
    ),
    "rollback-to": (
        lambda r, b, mp: (b.promote("m@2.0.0"),),
        lambda r, b, mp: b.rollback("m", to="1.0.0"),
        [("rollback", "m@1.0.0")],
    ),
    "deprecate-a-version-in-use": (
        lambda r, b, mp: r.record_usage({("billing", "m", "1.0.0"): 5, ("search", "m", "1.0.0"): 7}),
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old"),
        [("deprecate", "m@1.0.0")],
    ),
    "deprecate-with-the-longest-notice": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=MAX_DAYS),
        [("deprecate", "m@1.0.0")],
    ),
    "deprecate-on-the-farthest-date": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", retire_on=_day(MAX_DAYS)),
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
    "sweep-notice-of-a-version-in-use": (
        lambda r, b, mp: (
            r.set_policy("notice_before_retirement_days", "90,30,7,1"),
            r.deprecate("n@1.0.0", reason="old", notice_days=90),  # 90 days left: its first notice is due today
            r.record_usage({("billing", "n", "1.0.0"): 5}),
        ),
        lambda r, b, mp: r.sweep(),
        [("retirement.notice", "n@1.0.0")],
    ),
    "sweep-retires-only-what-is-due": (
        lambda r, b, mp: (
            r.register(spec("n", "2.0.0")),
            approve(r, "n@2.0.0"),
            r.deprecate("n@1.0.0", reason="old", notice_days=90),
            r.deprecate("n@2.0.0", reason="old", notice_days=120),  # the same model, not due
            r.deprecate("m@1.0.0", reason="old", notice_days=120),  # the same version number, not due
        ),
        _sweep_on(90),
        [("retire", "n@1.0.0"), ("retirement.notice", "m@1.0.0"), ("retirement.notice", "n@2.0.0")],
    ),
    "sweep-retire-a-version-in-use": (
        lambda r, b, mp: (
            r.set_policy("deprecation_notice_days", "0"),
            r.deprecate("n@1.0.0", reason="old", notice_days=0),  # due today
            r.record_usage({("billing", "n", "1.0.0"): 5}),
        ),
        lambda r, b, mp: r.sweep(),
        [("retire", "n@1.0.0")],
    ),
    "sweep-unchanged": (
        lambda r, b, mp: (
            r.deprecate("n@1.0.0", reason="old", notice_days=90),
            r.deprecate("m@1.0.0", reason="old", notice_days=90),
        ),
        _sweep_on(10),
        [],
    ),
    "sweep-passed-over-notices": (
        lambda r, b, mp: r.deprecate("n@1.0.0", reason="old", notice_days=90, replacement="m@1.0.0"),
        _sweep_on(89),
        [("retirement.notice", "n@1.0.0")] * 3,
    ),
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
    # ... each with its one line (tests/test_rules_records.py pins the words)
    "refused-rollout-without-a-move": (None, lambda r, b, mp: b.rollout("m"), []),
    "refused-rollout-weight": (_canary, lambda r, b, mp: b.rollout("m", set_weight=100), []),
    "refused-rollout-none-in-progress": (None, lambda r, b, mp: b.rollout("m", complete=True), []),
    "refused-canary-weight": (None, lambda r, b, mp: b.promote("m@2.0.0", canary=0), []),
    "refused-canary-of-experimental": (None, lambda r, b, mp: r.promote("m@0.1.0", canary=10), []),
    "refused-canary-twice": (_canary, lambda r, b, mp: b.promote("m@3.0.0", canary=10), []),
    "refused-canary-without-a-default": (_solo, lambda r, b, mp: b.promote("solo@1.0.0", canary=10), []),
    "refused-promote-deprecated": (_deprecated, lambda r, b, mp: b.promote("m@1.0.0"), []),
    "refused-rollback-during-rollout": (_canary, lambda r, b, mp: b.rollback("m"), []),
    "refused-rollback-without-a-default": (_solo, lambda r, b, mp: b.rollback("solo"), []),
    "refused-rollback-to-testing": (None, lambda r, b, mp: b.rollback("m", to="3.0.0"), []),
    "refused-rollback-to-unknown": (None, lambda r, b, mp: b.rollback("m", to="9.0.0"), []),
    "refused-rollback-to-the-default": (None, lambda r, b, mp: b.rollback("m", to="1.0.0"), []),
    "refused-rollback-to-deprecated": (
        lambda r, b, mp: (b.promote("m@2.0.0"), r.deprecate("m@1.0.0", reason="old", notice_days=90)),
        lambda r, b, mp: b.rollback("m", to="1.0.0"),
        [],
    ),
    "refused-rollback-nothing-earlier": (None, lambda r, b, mp: b.rollback("n"), []),
    "refused-deprecate-without-reason": (None, lambda r, b, mp: r.deprecate("m@1.0.0", reason=" "), []),
    "refused-deprecate-both-dates": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=90, retire_on="2099-01-01"),
        [],
    ),
    "refused-deprecate-bad-date": (None, lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", retire_on="soon"), []),
    "refused-deprecate-far-date": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", retire_on=_day(MAX_DAYS + 1)),
        [],
    ),
    "refused-deprecate-no-notice": (None, lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=0), []),
    "refused-deprecate-true-notice": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=True),
        [],
    ),
    "refused-deprecate-long-bad-date": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", retire_on="y" * 60),
        [],
    ),
    "refused-promote-approved": (None, lambda r, b, mp: b.promote("m@1.0.0"), []),
    "refused-reject-approved": (
        None,
        lambda r, b, mp: b.review("m@1.0.0", "security", False, reject=True),
        [],
    ),
    "refused-deprecate-bad-notice": (None, lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=-1), []),
    "refused-deprecate-short-notice": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", notice_days=89),
        [],
    ),
    "refused-deprecate-self-replacement": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", replacement="m@1.0.0"),
        [],
    ),
    "refused-deprecate-unknown-replacement": (
        None,
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", replacement="n@9.0.0"),
        [],
    ),
    "refused-deprecate-dead-replacement": (
        lambda r, b, mp: b.review("m@3.0.0", "security", False, reject=True),
        lambda r, b, mp: r.deprecate("m@1.0.0", reason="old", replacement="m@3.0.0"),
        [],
    ),
    "refused-deprecate-during-rollout": (_canary, lambda r, b, mp: r.deprecate("m@1.0.0", reason="old"), []),
    "refused-deprecate-canary": (_canary, lambda r, b, mp: r.deprecate("m@2.0.0", reason="old"), []),
    "refused-cancel-not-deprecated": (None, lambda r, b, mp: r.cancel_deprecation("m@1.0.0"), []),
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
def test_each_operation_writes_one_audit_event_per_change_and_records_what_the_golden_file_says(
    registry, bob, monkeypatch, operation
):
    act, expected = prepared(registry, bob, monkeypatch, operation), OPERATIONS[operation][2]
    before, since, rows = events(registry), high_water(registry), state(registry)
    try:
        answer = act()
    except ModelregError as refused:
        assert operation.startswith("refused-"), operation
        answer = {"refused": type(refused).__name__, "message": str(refused)}
    else:
        assert not operation.startswith("refused-"), operation
    after = events(registry)
    assert after[: len(before)] == before  # appended, nothing rewritten
    assert after[len(before) :] == expected
    assert registry.verify_audit().ok
    got = {"answer": normal(answer), **records(registry, since), "rows": changes(rows, state(registry))}
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden[operation] = got
        GOLDEN.write_text(json.dumps(dict(sorted(golden.items())), indent=1, sort_keys=True) + "\n")
    assert got == golden[operation]
