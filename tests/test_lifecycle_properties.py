"""Generated sequences of lifecycle operations keep the registry's invariants:
at most one canary per model, rollout weights sum to 100, no RETIRED version
is ever resolvable, every state change has exactly one audit event, and the
audit chain verifies."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from conftest import PG_URL, as_actor, drop_pg_database, new_registry, pg_database_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from modelreg.errors import ModelregError
from modelreg.store.tables import AuditEvent, Model, ModelVersion, RetirementNotice

MODELS = ["alpha", "beta"]
VERSIONS = ["1.0.0", "2.0.0", "2.1.0-rc.1"]
START = datetime(2027, 1, 1, tzinfo=UTC)


class Lifecycle:
    """The registry under test plus the bookkeeping the invariants need."""

    def __init__(self, backend):
        self.backend = backend
        from modelreg import Registry

        self.day = 0
        self._clock()
        if self.backend == "sqlite":
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
        os.environ["MODELREG_NOW"] = (START + timedelta(days=self.day, seconds=self.day)).isoformat()

    def _do(self, fn, events: int = 1):
        """Run one operation: on success it must add exactly `events` audit events, on refusal none."""
        self._clock()
        before = self._event_count()
        try:
            result = fn()
        except ModelregError as exc:
            assert exc.exit_code in (2, 3, 4, 5), exc.message
            assert self._event_count() == before, "a refused operation wrote audit events"
            return None
        self.expected_events += events
        return result

    def _event_count(self):
        return self.alice.db.run_read(lambda s: s.execute(select(func.count()).select_from(AuditEvent)).scalar_one())

    def _notice_count(self):
        return self.alice.db.run_read(
            lambda s: s.execute(select(func.count()).select_from(RetirementNotice)).scalar_one()
        )

    def register(self, model, version, experimental):
        self._do(
            lambda: self.alice.register(
                {
                    "provider": "p",
                    "modelId": model,
                    "version": version,
                    "experimental": experimental,
                    "capabilities": ["chat"],
                    "parameters": {"t": {"default": 1, "max": 2}},
                    "endpoint": "http://x",
                    "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
                }
            )
        )

    def pass_checks(self, model, version):
        target = f"{model}@{version}"
        for check in ("evaluation", "security", "compliance"):
            self._do(lambda: self.bob.review(target, check, True))
        self._do(
            lambda: self.bob.record_benchmark(target, endpoint="http://x", settings={}, results={}, passed=True),
            events=1,
        )

    def approve(self, model, version, canary):
        """Checks, a benchmark and promotion by a second person, in one step (reaches production often)."""
        self.pass_checks(model, version)
        self._do(lambda: self.bob.promote(f"{model}@{version}", canary=canary))

    def promote(self, model, version, canary, as_bob):
        reg = self.bob if as_bob else self.alice
        self._do(lambda: reg.promote(f"{model}@{version}", canary=canary))

    def rollout(self, model, how, pct):
        kwargs = {"set": {"set_weight": pct}, "complete": {"complete": True}, "abort": {"abort": True}}[how]
        self._do(lambda: self.bob.rollout(model, **kwargs))

    def deprecate(self, model, version, days, replacement):
        rep = f"{model}@{replacement}" if replacement else None
        self._do(lambda: self.alice.deprecate(f"{model}@{version}", reason="r", notice_days=days, replacement=rep))

    def cancel(self, model, version):
        self._do(lambda: self.alice.cancel_deprecation(f"{model}@{version}"))

    def sweep(self, days):
        self.day += days
        self._clock()
        notices_before, events_before = self._notice_count(), self._event_count()
        report = self.alice.sweep()
        added = len(report["retired"]) + (self._notice_count() - notices_before)
        assert self._event_count() - events_before == added
        self.expected_events += added
        again = self.alice.sweep()
        assert again["retired"] == [] and again["notices"] == []  # idempotent

    def fallback(self, model, to):
        self._do(lambda: self.alice.set_fallbacks(model, [to]))

    # -- invariants ---------------------------------------------------------
    def one_canary_and_weights_sum_to_100(self):
        def read(session):
            for model in session.execute(select(Model)).scalars():
                canaries = (
                    session.execute(
                        select(ModelVersion).where(
                            ModelVersion.model_id == model.model_id, ModelVersion.canary_weight.is_not(None)
                        )
                    )
                    .scalars()
                    .all()
                )
                assert len(canaries) <= 1
                assert (canaries[0].version if canaries else None) == model.canary_version
                if canaries:
                    assert canaries[0].status == "APPROVED"

        self.alice.db.run_read(read)
        for model in MODELS:
            versions = self.alice.find_models(model=model, include_retired=True)
            weights = [v["rollout_weight"] for v in versions]
            if any(weights):
                assert sum(weights) == 100, versions

    def retired_never_resolvable(self):
        retired = {(v["model_id"], v["version"]) for v in self.alice.find_models(status="RETIRED")}
        for model in MODELS:
            for key in (None, "k1", "k2", "k3"):
                try:
                    got = self.alice.resolve(model=model, key=key)
                except ModelregError:
                    continue
                assert (got.model_id, got.version) not in retired
                assert all((f["model_id"], f["version"]) not in retired for f in got.fallbacks)

    def audit_matches_changes_and_verifies(self):
        assert self._event_count() == self.expected_events
        assert self.alice.verify_audit().ok


target = st.tuples(st.sampled_from(MODELS), st.sampled_from(VERSIONS))
OPERATIONS = st.one_of(
    st.tuples(st.just("register"), target, st.sampled_from([False, False, False, True])),
    st.tuples(st.just("register"), target, st.just(False)),
    st.tuples(st.just("approve"), target, st.sampled_from([None, None, 25])),
    st.tuples(st.just("approve"), target, st.just(None)),
    st.tuples(st.just("pass_checks"), target),
    st.tuples(st.just("promote"), target, st.one_of(st.none(), st.integers(-5, 105)), st.booleans()),
    st.tuples(
        st.just("rollout"), st.sampled_from(MODELS), st.sampled_from(["set", "complete", "abort"]), st.integers(-1, 101)
    ),
    st.tuples(
        st.just("deprecate"), target, st.sampled_from([90, 90, 120, 30]), st.sampled_from([None, None, None] + VERSIONS)
    ),
    st.tuples(st.just("deprecate"), target, st.just(90), st.just(None)),
    st.tuples(st.just("cancel"), target),
    st.tuples(st.just("sweep"), st.sampled_from([0, 1, 6, 29, 60, 89, 91])),
    st.tuples(st.just("sweep"), st.just(91)),
    st.tuples(st.just("fallback"), st.sampled_from(MODELS), st.sampled_from(MODELS + [f"{m}@1.0.0" for m in MODELS])),
)


def _apply(model: Lifecycle, op: tuple) -> None:
    name, *args = op
    if name in ("register", "approve", "pass_checks", "deprecate", "cancel") or name == "promote":
        (m, v), *rest = args
        getattr(model, name)(m, v, *rest)
    else:
        getattr(model, name)(*args)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_lifecycle_sequences_keep_invariants(backend):
    if backend == "postgres" and not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but MODELREG_TEST_PG_URL is not set")
        pytest.skip("no PostgreSQL server configured")

    @settings(max_examples=20 if backend == "sqlite" else 10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(OPERATIONS, min_size=15, max_size=45))
    def run(operations):
        model = Lifecycle(backend)
        try:
            for op in operations:
                _apply(model, op)
                model.one_canary_and_weights_sum_to_100()
                model.retired_never_resolvable()
                model.audit_matches_changes_and_verifies()
        finally:
            model.teardown()

    run()
