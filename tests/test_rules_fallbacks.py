"""The fallback rules, each pinned by behaviour (issue 17): at most 16 targets,
none twice, none unknown, none pointing back at the model or round a cycle,
none without a resolvable version; each refusal's one line; what a change
records (the audit event's before and after, the model's row version); who
may change them (PostgreSQL: an operator while the model has nothing
approved, an approver after; an admin alone neither).

The pure rules run without a database; the rest on SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from conftest import (
    _require_pg,
    approve,
    as_actor,
    drop_pg_database,
    new_registry,
    pg_database_url,
    pg_user,
    small_spec,
)
from sqlalchemy import select

from modelreg.errors import AccessDenied, Conflict, InvalidInput, NotFound, PolicyRefused
from modelreg.lifecycle.fallbacks import MAX_FALLBACKS, find_cycle, normalize
from modelreg.store.tables import AuditEvent, Model

# -- the pure rules -------------------------------------------------------------------------------


def test_a_cycle_is_named_from_the_model_round_to_itself():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}, "a") == ["a", "b", "c", "a"]
    assert find_cycle({"a": ["x", "b"], "x": [], "b": ["a"]}, "a") == ["a", "b", "a"]
    assert find_cycle({"a": ["a"]}, "a") == ["a", "a"]


def test_no_cycle_through_the_model_is_none():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}, "a") is None
    assert find_cycle({"a": ["b"]}, "a") is None  # b has no fallbacks listed at all
    # a loop elsewhere in the graph (never stored, but the search must end)
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["b"]}, "a") is None


def test_at_most_sixteen_targets():
    targets = [f"m{i}" for i in range(MAX_FALLBACKS)]
    assert MAX_FALLBACKS == 16
    assert normalize(targets)[1] == targets
    with pytest.raises(InvalidInput, match=r"^at most 16 fallbacks per model$"):
        normalize([*targets, "m16"])


def test_targets_are_normalized_and_none_twice():
    parsed, normalized = normalize(["a", "b@1.0.0"])
    assert parsed == [("a", None), ("b", "1.0.0")] and normalized == ["a", "b@1.0.0"]
    with pytest.raises(InvalidInput, match=r"^a fallback target is listed twice$"):
        normalize(["a", "b@1.0.0", "a"])


# -- set on a registry -------------------------------------------------------------------------


@pytest.fixture
def world(registry):
    """a@1.0.0 and b@1.0.0 APPROVED; c registered only (nothing resolvable)."""
    for model in ("a", "b", "c"):
        registry.register(small_spec(model, "1.0.0"))
    approve(registry, "a@1.0.0")
    approve(registry, "b@1.0.0")
    return registry


def _model(registry, model_id):
    return registry.read(lambda s: s.get(Model, model_id))


def _events(registry, action):
    rows = registry.read(
        lambda s: (
            s.execute(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)).scalars().all()
        )
    )
    return [(row.target, json.loads(row.before), json.loads(row.after)) for row in rows]


def test_each_refusal_is_one_line_naming_what_is_wrong(world):
    registry = world
    with pytest.raises(InvalidInput, match=r"^give at least one fallback target \(or use `fallback clear`\)$"):
        registry.set_fallbacks("a", [])
    with pytest.raises(NotFound, match=r"^unknown fallback target model 'zzz'"):
        registry.set_fallbacks("a", ["zzz"])
    with pytest.raises(NotFound, match=r"^unknown fallback target b@9\.0\.0"):
        registry.set_fallbacks("a", ["b@9.0.0"])
    with pytest.raises(NotFound, match=r"^unknown fallback target model 'zzz'"):
        registry.set_fallbacks("a", ["zzz@1.0.0"])
    with pytest.raises(Conflict, match=r"^a cannot fall back to itself$"):
        registry.set_fallbacks("a", ["a"])
    registry.set_fallbacks("b", ["a"])
    with pytest.raises(Conflict, match=r"^fallbacks would form a cycle: a -> b -> a$"):
        registry.set_fallbacks("a", ["b"])
    registry.register(small_spec("d", "1.0.0"))
    with pytest.raises(PolicyRefused, match=r"version: c, d@1\.0\.0$"):
        registry.set_fallbacks("a", ["c", "d@1.0.0"])
    # nothing was written by any refusal
    assert json.loads(_model(registry, "a").fallbacks) == []
    assert [t for t, _, _ in _events(registry, "fallback.set")] == ["b"]


def test_a_change_records_before_and_after_and_moves_the_row_version_by_one(world):
    registry = world
    registry.register(small_spec("e", "1.0.0"))
    approve(registry, "e@1.0.0")
    version = _model(registry, "a").row_version
    assert registry.set_fallbacks("a", ["b"]) == {"model_id": "a", "fallbacks": ["b"]}
    assert _model(registry, "a").row_version == version + 1
    assert registry.set_fallbacks("a", ["e@1.0.0", "b"]) == {"model_id": "a", "fallbacks": ["e@1.0.0", "b"]}
    assert registry.clear_fallbacks("a") == {"model_id": "a", "fallbacks": []}
    assert _model(registry, "a").row_version == version + 3
    assert _events(registry, "fallback.set") == [("a", [], ["b"]), ("a", ["b"], ["e@1.0.0", "b"])]
    assert _events(registry, "fallback.clear") == [("a", ["e@1.0.0", "b"], [])]


# -- who may change them: the server's roles (PostgreSQL) ---------------------------------------


@pytest.fixture
def pg_world(monkeypatch):
    _require_pg()
    url = new_registry(pg_database_url("fb"))
    monkeypatch.delenv("MODELREG_ACTOR")
    from modelreg import Registry

    pg_user("felix", ("reader", "operator"))
    pg_user("faye", ("reader", "approver"))
    pg_user("fern", ("reader", "admin"))
    owner = Registry.open(url)
    try:
        for model in ("a", "b", "c"):
            owner.register(small_spec(model, "1.0.0"))
        approve(owner, "b@1.0.0")
        approve(owner, "c@1.0.0")
        yield owner
    finally:
        owner.close()
        drop_pg_database(url)


def test_an_operator_sets_fallbacks_until_the_model_has_an_approved_version(pg_world):
    felix, faye, fern = (as_actor(pg_world, name, roles) for name, roles in (
        ("felix", ("reader", "operator")), ("faye", ("reader", "approver")), ("fern", ("reader", "admin"))
    ))  # fmt: skip
    try:
        assert felix.set_fallbacks("a", ["b"])["fallbacks"] == ["b"]  # a has nothing approved
        # an admin alone: the server refuses before the library could (no write on models)
        with pytest.raises(AccessDenied, match=r"^fern: permission denied for table model"):
            fern.set_fallbacks("a", ["c"])
        with pytest.raises(
            AccessDenied,
            match=r"^felix may not change the fallbacks of c, which has approved versions: that needs the approver role",
        ):
            felix.set_fallbacks("c", ["b"])
        assert faye.set_fallbacks("c", ["b"])["fallbacks"] == ["b"]
        assert faye.set_fallbacks("a", ["c"])["fallbacks"] == ["c"]  # an approver may do both
        with pytest.raises(AccessDenied, match=r"which has approved versions: that needs the approver role"):
            felix.clear_fallbacks("c")
    finally:
        for reg in (felix, faye, fern):
            reg.close()
