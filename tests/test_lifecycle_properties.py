"""Generated sequences of lifecycle operations, checked step by step against a
small reference model of the lifecycle (issue 17).

The reference (`Reference`) knows the status machine, the gates this test
can meet or miss (the newest result of each review, the newest benchmark and
its age, separation of duties), canaries and rollouts, deprecation notice,
the sweep's notices and retirements, fallbacks, and what `resolve` serves.
For every operation it predicts the exit code: the registry must succeed
exactly when the reference says so, and refuse with the same exit code
otherwise (a refusal is never "some error in 2-5"). After every operation the
statuses, the canary, the fallbacks and the number of audit events must be
the reference's; after every step, what `resolve` serves for each model and
key, the rollout weights, no RETIRED version resolvable, and the audit chain.

Commands are drawn mostly as steps that reach the interesting states: a
version approved in one go, a canary started and moved, a deprecation swept
day by day to its notices and its retirement (and sometimes cancelled). The
test counts what succeeded and fails when a run exercised too few canaries,
rollout moves, cancellations, notices or retirements; the counts are printed
(`pytest -s` or `-rP` shows them on a pass)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from conftest import PG_URL, as_actor, drop_pg_database, new_registry, pg_database_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from modelreg.errors import ModelregError
from modelreg.routing import bucket
from modelreg.semver import SemVer
from modelreg.store.tables import AuditEvent, Model, ModelVersion

MODELS = ["alpha", "beta"]
VERSIONS = ["1.0.0", "2.0.0", "2.1.0-rc.1"]
GATED_VERSIONS = ["3.0.0", "3.1.0"]  # the versions the gates are tried on (mostly new ones)
CHECKS = ("evaluation", "security", "compliance")
KEYS = (None, "k1", "k2", "k3", "k4")
START = datetime(2027, 1, 1, tzinfo=UTC)
NOTICE_DAYS = 90
THRESHOLDS = (30, 7, 1)
BENCHMARK_MAX_AGE_DAYS = 7
ENDPOINT = "http://x"

# What one run must have exercised (successes summed over its examples).
MINIMUM = {
    "promote": 20,
    "promote.canary": 12,
    "rollout.set": 10,
    "rollout.complete": 10,
    "rollout.abort": 10,
    "deprecate": 25,
    "deprecate.cancel": 15,
    "notice": 15,
    "retire": 8,
    "fallback.set": 10,
    "refused.3": 2,
    "refused.4": 20,
    "refused.5": 3,
}


# -- the reference model ---------------------------------------------------------------------------------------
@dataclass
class Version:
    status: str
    key: SemVer
    default_since: int | None = None  # the day it was made the default (the test clock moves by whole days)
    canary_weight: int | None = None
    checks: dict[str, bool] = field(default_factory=dict)  # the newest result of each review
    benchmark: tuple[int, bool] | None = None  # (day, passed) of the newest complete run
    retire_on: date | None = None

    @property
    def prerelease(self) -> bool:
        return self.key.is_prerelease


@dataclass
class ModelState:
    versions: dict[str, Version] = field(default_factory=dict)
    canary: str | None = None
    fallbacks: list[str] = field(default_factory=list)


class Reference:
    """What the lifecycle allows, and what each operation does."""

    def __init__(self):
        self.models: dict[str, ModelState] = {}
        self.day = 0
        self.notices: set[tuple[str, str, date, int]] = set()

    @property
    def today(self) -> date:
        return (START + timedelta(days=self.day)).date()

    def row(self, model: str, version: str) -> Version | None:
        state = self.models.get(model)
        return state.versions.get(version) if state else None

    # the production-default rule and what resolve serves
    def choose(self, model: str) -> tuple[str, Version] | None:
        state = self.models[model]
        live = {v: r for v, r in state.versions.items() if r.status in ("APPROVED", "DEPRECATED")}
        approved = {
            v: r
            for v, r in live.items()
            if r.status == "APPROVED" and v != state.canary and (not r.prerelease or r.default_since is not None)
        }
        defaults = {v: r for v, r in approved.items() if r.default_since is not None}
        if defaults:
            return max(defaults.items(), key=lambda p: (p[1].default_since, p[1].key))
        if approved:
            return max(approved.items(), key=lambda p: p[1].key)
        if any(r.status == "APPROVED" for r in live.values()):
            return None
        deprecated = {v: r for v, r in live.items() if r.status == "DEPRECATED"}
        if not deprecated:
            return None
        return max(
            deprecated.items(), key=lambda p: (-1 if p[1].default_since is None else p[1].default_since, p[1].key)
        )

    def resolve(self, model: str, key: str | None) -> str | None:
        if model not in self.models:
            return None
        chosen = self.choose(model)
        if chosen is None:
            return None
        state = self.models[model]
        version, row = chosen
        if state.canary and row.status == "APPROVED":
            weight = state.versions[state.canary].canary_weight or 0
            if key is not None and bucket(model, key) < weight:
                return state.canary
        return version

    def resolvable(self, target: str) -> str | None:
        model, _, version = target.partition("@")
        if model not in self.models:
            return None
        if version:
            row = self.row(model, version)
            return version if row is not None and row.status in ("APPROVED", "DEPRECATED") else None
        chosen = self.choose(model)
        return chosen[0] if chosen else None

    def gates_hold(self, row: Version, actor: str) -> bool:
        checks = all(row.checks.get(c) for c in CHECKS)
        bench = row.benchmark is not None and row.benchmark[1] and self.day - row.benchmark[0] < BENCHMARK_MAX_AGE_DAYS
        return checks and bench and actor != "alice"  # alice registered every version

    # each operation: the exit code it must end with, and (on success) its effect
    def register(self, model: str, version: str, experimental: bool) -> int:
        if self.row(model, version) is not None:
            return 4
        state = self.models.setdefault(model, ModelState())
        state.versions[version] = Version("EXPERIMENTAL" if experimental else "TESTING", SemVer.parse(version))
        return 0

    def review(self, model: str, version: str, check: str, passed: bool, reject: bool) -> int:
        if reject and passed:
            return 2
        row = self.row(model, version)
        if row is None:
            return 3
        if row.status in ("RETIRED", "REJECTED"):
            return 4
        if reject and row.status != "TESTING":
            return 4  # the review is undone with the refused rejection
        row.checks[check] = passed
        if reject:
            row.status = "REJECTED"
        return 0

    def benchmark(self, model: str, version: str, passed: bool) -> int:
        row = self.row(model, version)
        if row is None:
            return 3
        row.benchmark = (self.day, passed)
        return 0

    def promote(self, model: str, version: str, canary: int | None, actor: str) -> int:
        if canary is not None and not 1 <= canary <= 99:
            return 2
        row = self.row(model, version)
        if row is None:
            return 3
        state = self.models[model]
        if row.status == "EXPERIMENTAL":
            if canary is not None:
                return 2
            row.status = "TESTING"
            return 0
        if row.status != "TESTING":
            return 4
        met = self.gates_hold(row, actor)
        if canary is not None:
            if state.canary is not None:
                return 4
            stable = self.choose(model)
            if stable is None or stable[1].status != "APPROVED":
                return 4
        if not met:
            return 5
        row.status = "APPROVED"
        if canary is None:
            row.default_since = self.day
        else:
            row.canary_weight, state.canary = canary, version
        return 0

    def rollout(self, model: str, how: str, pct: int) -> int:
        if how == "set" and not 1 <= pct <= 99:
            return 2
        state = self.models.get(model)
        if state is None:
            return 3
        if state.canary is None:
            return 4
        row = state.versions[state.canary]
        if how == "set":
            row.canary_weight = pct
        elif how == "complete":
            row.canary_weight, row.default_since, state.canary = None, self.day, None
        else:
            row.canary_weight, row.status, state.canary = None, "TESTING", None
        return 0

    def deprecate(self, model: str, version: str, days: int, replacement: str | None) -> int:
        if replacement == version:
            return 2
        row = self.row(model, version)
        if row is None:
            return 3
        state = self.models[model]
        if row.status != "APPROVED":
            return 4
        if state.canary is not None:
            default = self.choose(model)
            if state.canary == version or (default is not None and default[0] == version):
                return 4
        if days < NOTICE_DAYS:
            return 5
        if replacement is not None:
            rep = self.row(model, replacement)
            if rep is None:
                return 3
            if rep.status not in ("APPROVED", "TESTING", "EXPERIMENTAL"):
                return 4
        row.status, row.retire_on = "DEPRECATED", self.today + timedelta(days=days)
        return 0

    def cancel(self, model: str, version: str) -> int:
        row = self.row(model, version)
        if row is None:
            return 3
        if row.status != "DEPRECATED":
            return 4
        row.status, row.retire_on = "APPROVED", None
        return 0

    def fallback(self, model: str, to: str) -> int:
        if model not in self.models:
            return 3
        target_model, _, target_version = to.partition("@")
        if target_model not in self.models:
            return 3
        if target_version and self.row(target_model, target_version) is None:
            return 3
        if target_model == model:
            return 4
        if any(t.partition("@")[0] == model for t in self.models[target_model].fallbacks):
            return 4  # a cycle (two models: the target already falls back to this one)
        if self.resolvable(to) is None:
            return 5
        self.models[model].fallbacks = [to]
        return 0

    def sweep(self, days: int) -> tuple[list[str], list[tuple[str, int]], int]:
        """Move the clock `days` ahead and sweep: (retired, announced notices, notice rows written)."""
        self.day += days
        retired, announced, rows = [], [], 0
        for model, state in sorted(self.models.items()):
            for version, row in sorted(state.versions.items()):
                if row.status != "DEPRECATED":
                    continue
                assert row.retire_on is not None
                left = (row.retire_on - self.today).days
                if left <= 0:
                    row.status = "RETIRED"
                    retired.append(f"{model}@{version}")
                    continue
                crossed = [
                    d for d in THRESHOLDS if left <= d and (model, version, row.retire_on, d) not in self.notices
                ]
                for d in crossed:
                    self.notices.add((model, version, row.retire_on, d))
                rows += len(crossed)
                if crossed:
                    announced.append((f"{model}@{version}", min(crossed)))
        return retired, announced, rows

    def broken_fallbacks(self) -> list[tuple[str, str]]:
        return sorted(
            (model, target)
            for model, state in self.models.items()
            for target in state.fallbacks
            if self.resolvable(target) is None
        )


# -- the registry under test -------------------------------------------------------------------------------------
class Lifecycle:
    def __init__(self, backend: str, counts: Counter):
        from modelreg import Registry

        self.backend = backend
        self.counts = counts
        self.ref = Reference()
        self._clock()
        if backend == "sqlite":
            import tempfile

            self.tmp = tempfile.mkdtemp()
            self.url = new_registry(f"sqlite:///{self.tmp}/registry.db")
        else:
            self.url = new_registry(pg_database_url("prop"))
        self.alice = Registry.open(self.url, actor="alice")
        self.bob = as_actor(self.alice, "bob")
        self.expected_events = 0

    def teardown(self):
        self.alice.close()
        self.bob.close()
        if self.backend == "postgres":
            drop_pg_database(self.url)
        os.environ.pop("MODELREG_NOW", None)

    def _clock(self):
        os.environ["MODELREG_NOW"] = (START + timedelta(days=self.ref.day, seconds=self.ref.day)).isoformat()

    def _events(self) -> int:
        return self.alice.read(lambda s: s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

    def do(self, op: tuple, predicted: int, call, *, kind: str, events: int = 1) -> None:
        """Run one operation and hold it to the reference's prediction."""
        try:
            call()
            code = 0
        except ModelregError as exc:
            code = int(exc.exit_code)
            message = exc.message
        else:
            message = ""
        assert code == predicted, f"{op}: exit {code} ({message}), the reference predicts {predicted}"
        if code:
            self.counts["refused"] += 1
            self.counts[f"refused.{code}"] += 1
            self.counts[f"refused.{op[0]}.{code}"] += 1
        else:
            self.counts[kind] += 1
            self.expected_events += events
        self.same_state(op)

    def same_state(self, op) -> None:
        def read(session):
            statuses = {(r.model_id, r.version): r.status for r in session.execute(select(ModelVersion)).scalars()}
            weights = {
                (r.model_id, r.version): r.canary_weight
                for r in session.execute(select(ModelVersion).where(ModelVersion.canary_weight.is_not(None))).scalars()
            }
            models = {m.model_id: (m.canary_version, m.fallbacks) for m in session.execute(select(Model)).scalars()}
            return statuses, weights, models

        statuses, weights, models = self.alice.read(read)
        ref = self.ref.models
        assert statuses == {(m, v): r.status for m, s in ref.items() for v, r in s.versions.items()}, op
        assert weights == {
            (m, v): r.canary_weight for m, s in ref.items() for v, r in s.versions.items() if r.canary_weight
        }, op
        assert {m: (c, json.loads(f)) for m, (c, f) in models.items()} == {
            m: (s.canary, s.fallbacks) for m, s in ref.items()
        }, op
        assert self._events() == self.expected_events, op

    # -- the operations ---------------------------------------------------------------------
    def run(self, op: tuple) -> None:
        name, *args = op
        self._clock()
        ref = self.ref
        if name == "register":
            (m, v), experimental = args
            spec = {
                "provider": "p",
                "modelId": m,
                "version": v,
                "experimental": experimental,
                "capabilities": ["chat"],
                "parameters": {"t": {"default": 1, "max": 2}},
                "endpoint": ENDPOINT,
                "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
            }
            self.do(op, ref.register(m, v, experimental), lambda: self.alice.register(spec), kind="register")
        elif name == "review":
            (m, v), check, passed, reject = args
            self.do(
                op,
                ref.review(m, v, check, passed, reject),
                lambda: self.bob.review(f"{m}@{v}", check, passed, reject=reject),
                kind="reject" if reject else "review",
                events=2 if reject else 1,
            )
        elif name == "benchmark":
            (m, v), passed = args
            self.do(
                op,
                ref.benchmark(m, v, passed),
                lambda: self.bob.record_benchmark(
                    f"{m}@{v}", endpoint=ENDPOINT, settings={}, results={}, passed=passed
                ),
                kind="benchmark",
            )
        elif name == "promote":
            (m, v), canary, as_bob = args
            reg, actor = (self.bob, "bob") if as_bob else (self.alice, "alice")
            self.do(
                op,
                ref.promote(m, v, canary, actor),
                lambda: reg.promote(f"{m}@{v}", canary=canary),
                kind="promote" if canary is None else "promote.canary",
            )
        elif name == "rollout":
            m, how, pct = args
            kwargs = {"set": {"set_weight": pct}, "complete": {"complete": True}, "abort": {"abort": True}}[how]
            self.do(op, ref.rollout(m, how, pct), lambda: self.bob.rollout(m, **kwargs), kind=f"rollout.{how}")
        elif name == "deprecate":
            (m, v), days, replacement = args
            rep = f"{m}@{replacement}" if replacement else None
            self.do(
                op,
                ref.deprecate(m, v, days, replacement),
                lambda: self.alice.deprecate(f"{m}@{v}", reason="r", notice_days=days, replacement=rep),
                kind="deprecate",
            )
        elif name == "cancel":
            ((m, v),) = args
            self.do(op, ref.cancel(m, v), lambda: self.alice.cancel_deprecation(f"{m}@{v}"), kind="deprecate.cancel")
        elif name == "fallback":
            m, to = args
            self.do(op, ref.fallback(m, to), lambda: self.alice.set_fallbacks(m, [to]), kind="fallback.set")
        elif name == "sweep":
            (days,) = args
            retired, announced, rows = ref.sweep(days)
            self._clock()
            report = self.alice.sweep()
            assert sorted(report["retired"]) == sorted(retired), op
            assert sorted((n["target"], n["threshold_days"]) for n in report["notices"]) == sorted(announced), op
            assert sorted((b["model_id"], b["target"]) for b in report["broken_fallbacks"]) == ref.broken_fallbacks()
            self.expected_events += len(retired) + rows
            self.counts["retire"] += len(retired)
            self.counts["notice"] += rows
            again = self.alice.sweep()  # idempotent
            assert again["retired"] == [] and again["notices"] == []
            self.same_state(op)
        else:  # pragma: no cover
            raise AssertionError(op)

    # -- after every step -------------------------------------------------------------------
    def resolution_and_invariants(self) -> None:
        retired = set()
        for m in MODELS:
            for key in KEYS:
                expected = self.ref.resolve(m, key)
                got = None
                try:
                    got = self.alice.resolve(model=m, key=key)
                    served = got.version
                except ModelregError as exc:
                    assert exc.exit_code == 3, exc.message
                    served = None
                assert served == expected, (m, key, served, expected)
                if got is not None and served is not None:
                    assert all(
                        self.ref.row(f["model_id"], f["version"]).status in ("APPROVED", "DEPRECATED")
                        for f in got.fallbacks
                    )
            versions = self.alice.find_models(model=m, include_retired=True)
            retired |= {(m, v["version"]) for v in versions if v["status"] == "RETIRED"}
            weights = [v["rollout_weight"] for v in versions]
            if any(weights):
                assert sum(weights) == 100, versions
        assert all(self.ref.row(m, v).status == "RETIRED" for m, v in retired)
        assert self.alice.verify_audit().ok


# -- the commands, weighted towards the states worth reaching ----------------------------------------------------
model = st.sampled_from(MODELS)
version = st.sampled_from(VERSIONS)
target = st.tuples(model, version)
percent = st.one_of(st.sampled_from([1, 10, 50, 99]), st.integers(-5, 105))


def approve(t, canary=None):
    return [*(("review", t, c, True, False) for c in CHECKS), ("benchmark", t, True), ("promote", t, canary, True)]


single = st.one_of(
    st.tuples(st.just("fallback"), model, st.sampled_from([*MODELS, *(f"{m}@1.0.0" for m in MODELS)])),
    st.tuples(st.just("promote"), target, st.none(), st.just(False)),  # by the registrant
    st.tuples(st.just("cancel"), target),
    st.tuples(st.just("register"), target, st.sampled_from([False, False, False, True])),
    st.tuples(st.just("review"), target, st.sampled_from(CHECKS), st.booleans(), st.sampled_from([False, False, True])),
    st.tuples(st.just("benchmark"), target, st.sampled_from([True, True, False])),
    st.tuples(
        st.just("promote"), target, st.one_of(st.none(), st.none(), percent), st.sampled_from([True, True, False])
    ),
    st.tuples(st.just("rollout"), model, st.sampled_from(["set", "complete", "abort"]), percent),
    st.tuples(
        st.just("deprecate"), target, st.sampled_from([90, 90, 120, 30]), st.sampled_from([None, None, *VERSIONS])
    ),
    st.tuples(st.just("sweep"), st.sampled_from([0, 1, 6, 29, 60, 61, 89, 91])),
).map(lambda op: [op])

# (hypothesis draws the first choice of `one_of` and `sampled_from` most often: the states worth
# reaching come first)
# a version registered and approved (sometimes as a canary) in one go
approved = st.tuples(target, st.sampled_from([None, 10, None, 50])).map(
    lambda t: [("register", t[0], False), *approve(t[0], t[1])]
)


# a stable version and a canary, then the rollout moved (set, then completed or aborted)
def canary_on(model):
    return st.tuples(
        model,
        st.sampled_from([("1.0.0", "2.0.0"), ("2.0.0", "2.1.0-rc.1"), ("1.0.0", "2.1.0-rc.1")]),
        st.sampled_from([25, 5, 90]),
        st.sampled_from([["set", "abort"], ["set", "complete"], ["abort"], ["complete"], ["set"], []]),
        st.sampled_from([60, 30]),
    ).map(
        lambda t: [
            ("register", (t[0], t[1][0]), False),
            *approve((t[0], t[1][0])),
            ("register", (t[0], t[1][1]), False),
            *approve((t[0], t[1][1]), t[2]),
            *(("rollout", t[0], how, t[4]) for how in t[3]),
        ]
    )


canary = canary_on(model)


# a deprecation with notice, swept to each notice and to its retirement, or cancelled on the way
def other(version: str) -> str:
    return VERSIONS[(VERSIONS.index(version) + 1) % len(VERSIONS)]


def deprecation_of(target, endings=((4, False), (1, True), (4, False), (2, True), (4, False), (0, True), (3, True))):
    """Deprecated (replaced by another version, by none, or by itself: refused), then swept to
    its retirement (61 + 23 + 5 + 1 = 90 days: each notice on the way), or swept part of the
    way and cancelled."""
    ending = st.sampled_from(endings)
    replacement = st.sampled_from([None, "other", None, "other", "itself"])

    def ops(t, how, end):
        rep = {None: None, "other": other(t[1]), "itself": t[1]}[how]
        return [
            ("register", t, False),
            *approve(t),
            *([("register", (t[0], rep), False)] if rep else []),
            ("deprecate", t, NOTICE_DAYS, rep),
            *[("sweep", d) for d in (61, 23, 5, 1)][: end[0]],
            *([("cancel", t)] if end[1] else []),
        ]

    return st.tuples(target, replacement, ending).map(lambda t: ops(*t))


deprecation = deprecation_of(target)


def gated(t, how):
    """A version whose gates hold or not, by the newest results, their age, who asks."""
    reviews = [("review", t, c, True, False) for c in CHECKS]
    ops = {
        "stale": [*reviews, ("benchmark", t, True), ("sweep", BENCHMARK_MAX_AGE_DAYS)],
        "failed last": [*reviews, ("benchmark", t, True), ("review", t, "security", False, False)],
        "passed last": [("review", t, "security", False, False), *reviews, ("benchmark", t, True)],
        "benchmark failed last": [*reviews, ("benchmark", t, True), ("benchmark", t, False)],
        "benchmark passed last": [*reviews, ("benchmark", t, False), ("benchmark", t, True)],
        "almost stale": [*reviews, ("benchmark", t, True), ("sweep", BENCHMARK_MAX_AGE_DAYS - 1)],
    }
    return [("register", t, False), *ops[how], ("promote", t, None, True)]


gates = st.tuples(
    st.tuples(model, st.sampled_from(GATED_VERSIONS)),
    st.sampled_from(
        ["failed last", "passed last", "stale", "benchmark failed last", "benchmark passed last", "almost stale"]
    ),
).map(lambda t: gated(*t))
step = st.one_of(canary, deprecation, gates, approved, single, single, single)

# Every example starts the same way, then draws freely: alpha gets a canary that is set and
# aborted, promoted again, set and completed, and its old default is deprecated and
# reinstated; a beta version is deprecated, swept to each notice and retired on the day; beta
# falls back to alpha; a new version's gates are tried (met or not).
PREFIX = [
    ("register", ("alpha", "1.0.0"), False),
    *approve(("alpha", "1.0.0")),
    ("register", ("alpha", "2.0.0"), False),
    *approve(("alpha", "2.0.0"), 20),
    ("rollout", "alpha", "set", 60),
    ("rollout", "alpha", "abort", 0),
    ("promote", ("alpha", "2.0.0"), 30, True),
    ("rollout", "alpha", "set", 70),
    ("rollout", "alpha", "complete", 0),
    ("deprecate", ("alpha", "1.0.0"), NOTICE_DAYS, "2.0.0"),  # no longer the default
    ("cancel", ("alpha", "1.0.0")),
]
steps = st.tuples(
    deprecation_of(st.tuples(st.just("beta"), version), endings=((4, False),)),
    gates,
    st.lists(step, min_size=3, max_size=8),
).map(lambda t: [PREFIX, t[0], [("fallback", "beta", "alpha")], t[1], *t[2]])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_lifecycle_sequences_follow_the_reference_model(backend, monkeypatch):
    if backend == "postgres":
        if not PG_URL:
            if os.environ.get("CI") == "true":
                pytest.fail("CI=true but MODELREG_TEST_PG_URL is not set")
            pytest.skip("no PostgreSQL server configured")
        monkeypatch.delenv("MODELREG_ACTOR")  # the actor is the role each URL connects as
    counts: Counter = Counter()
    examples = 20 if backend == "sqlite" else 10

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps)
    def run(steps):
        lifecycle = Lifecycle(backend, counts)
        counts["examples"] += 1
        try:
            for chunk in steps:
                for op in chunk:
                    lifecycle.run(op)
                lifecycle.resolution_and_invariants()
        finally:
            lifecycle.teardown()

    run()
    scale = 1 if backend == "sqlite" else 0.5
    report = ", ".join(f"{k}={counts[k]}" for k in sorted(counts))
    print(f"lifecycle properties [{backend}]: {report}")
    sys.stderr.write(f"lifecycle properties [{backend}]: {report}\n")
    too_few = {k: counts[k] for k, n in MINIMUM.items() if counts[k] < n * scale}
    assert not too_few, f"a run must exercise at least {MINIMUM} (x{scale}); this one: {report}"
