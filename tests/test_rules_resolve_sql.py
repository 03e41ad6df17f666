"""The production rule in its two forms agrees (issue 15).

`routing.resolve` across models no longer loads every matching version: SQL
(`production.newest_default_sql`, then `production.picks_sql`) finds the
winning model, and Python's `production.choose` picks within it. Here random
registries (written straight into the tables, so every corner is reachable:
ties of approval times, canaries, pre-releases made default, DEPRECATED
versions beside APPROVED ones that do not match, model ids whose order
depends on the collation) are resolved on both backends, by model and across models, and the answers
must be the same as the plain rule applied to every model in Python.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from conftest import user_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelreg import routing
from modelreg.errors import NotFound
from modelreg.lifecycle import production
from modelreg.lifecycle.status import RESOLVABLE, Status
from modelreg.semver import parse

MODEL_IDS = ["m", "m-a", "ma", "m-b", "mb0", "z"]  # '-' sorts apart from letters under natural collations
VERSIONS = ["1.0.0", "1.0.1", "1.2.0-rc.1", "1.2.0", "10.0.0-alpha", "10.0.0"]
STAMPS = [None, "2026-01-01T00:00:00.000000Z", "2026-01-02T00:00:00.000000Z", "2026-01-03T00:00:00.000000Z"]
CAPS = ["chat", "code"]
STATUSES = [Status.APPROVED, Status.APPROVED, Status.DEPRECATED, Status.TESTING, Status.RETIRED]

version_rows = st.fixed_dictionaries(
    {
        "version": st.sampled_from(VERSIONS),
        "status": st.sampled_from(STATUSES),
        "approved_at": st.sampled_from(STAMPS[1:]),
        "default_since": st.sampled_from(STAMPS),
        "caps": st.sets(st.sampled_from(CAPS)),
    }
)
registries = st.dictionaries(
    st.sampled_from(MODEL_IDS),
    st.tuples(st.lists(version_rows, min_size=1, max_size=5, unique_by=lambda r: r["version"]), st.integers(0, 5)),
    min_size=1,
    max_size=5,
)
queries_ = st.tuples(
    st.sets(st.sampled_from(CAPS), max_size=2), st.booleans(), st.one_of(st.none(), st.sampled_from(MODEL_IDS))
)


class Row:
    def __init__(self, model_id: str, spec: dict):
        self.model_id = model_id
        self.version = spec["version"]
        self.status = spec["status"].value
        self.prerelease = bool(parse(self.version).prerelease)
        self.version_key = parse(self.version).sort_key()
        self.approved_at = spec["approved_at"] if self.status in RESOLVABLE else None
        self.default_since = spec["default_since"] if self.status in RESOLVABLE else None
        self.caps = spec["caps"]


def reference(registry: dict, caps: set[str], prerelease: bool, model: str | None = None) -> tuple[str, str] | None:
    """The rule as it was before SQL did any of it: every model's pick, then the newest approved."""
    picks = []
    for model_id, (specs, canary_index) in registry.items():
        if model is not None and model_id != model:
            continue
        rows = [Row(model_id, s) for s in specs]
        canary = _canary(rows, canary_index)
        matching = [r for r in rows if r.status in RESOLVABLE and caps <= r.caps]
        has_approved = any(r.status == Status.APPROVED for r in rows)
        chosen = production.choose(matching, canary, model_has_approved=has_approved, prerelease=prerelease)
        if chosen is not None:
            picks.append(chosen)
    if not picks:
        return None
    best = max(picks, key=lambda r: (r.status == Status.APPROVED, r.approved_at or "", r.model_id))
    return best.model_id, best.version


def _canary(rows: list[Row], index: int) -> str | None:
    """A canary is an APPROVED version (or none); `index` picks which."""
    approved = [r.version for r in rows if r.status == Status.APPROVED]
    return approved[index] if index < len(approved) else None


@pytest.fixture
def owner_engine(db_url):
    from sqlalchemy import create_engine

    engine = create_engine(user_url(db_url, "postgres") if db_url.startswith("postgresql") else db_url)
    yield engine
    engine.dispose()


@contextmanager
def session_of(engine) -> Iterator:
    from sqlmodel import Session

    with engine.connect() as conn, Session(bind=conn) as session:
        yield session


def write(engine, registry: dict) -> None:
    """Replace the registry's models and versions (as the owner, past the guards: a test shortcut)."""
    from sqlalchemy import text

    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        for table in ("version_attribute", "model_version", "model"):
            conn.execute(text(f"DELETE FROM {table}"))
        for model_id, (specs, canary_index) in registry.items():
            rows = [Row(model_id, s) for s in specs]
            conn.execute(
                text(
                    "INSERT INTO model (model_id, provider, description, owner, contacts, created_at, fallbacks, "
                    "canary_version, row_version) VALUES (:m, 'acme', '', 'team', '[]', :t, '[]', :c, 0)"
                ),
                {"m": model_id, "t": STAMPS[1], "c": _canary(rows, canary_index)},
            )
            for r in rows:
                conn.execute(
                    text(
                        "INSERT INTO model_version (model_id, version, version_key, prerelease, provider, status, "
                        "capabilities, parameters, avg_latency_ms, p95_latency_ms, cost_per_request_usd, "
                        "data_residency, pii_handling, approved_domains, description, registered_at, registered_by, "
                        "status_changed_at, approved_at, default_since, canary_weight) VALUES (:m, :v, :k, :p, "
                        "'acme', :s, :caps, '{}', 0, 0, 0, '[]', 'none', '[]', '', :t, 'alice', :t, :a, :d, 10)"
                    ),
                    {
                        "m": model_id,
                        "v": r.version,
                        "k": r.version_key,
                        "p": r.prerelease,
                        "s": r.status,
                        "caps": json.dumps(sorted(r.caps)),
                        "t": STAMPS[1],
                        "a": r.approved_at,
                        "d": r.default_since,
                    },
                )
                for cap in r.caps:
                    conn.execute(
                        text(
                            "INSERT INTO version_attribute (kind, value, model_id, version) "
                            "VALUES ('capability', :c, :m, :v)"
                        ),
                        {"c": cap, "m": model_id, "v": r.version},
                    )


@pytest.mark.parametrize("walk", [routing.WALK, 1])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(registry=registries, query=queries_)
def test_resolve_across_models_answers_as_the_rule_over_every_model(owner_engine, monkeypatch, walk, registry, query):
    """`walk` 1: the newest approved version alone is tried before the rule
    visits every model, so both statements answer often."""
    monkeypatch.setattr(routing, "WALK", walk)
    caps, prerelease, model = query
    write(owner_engine, registry)
    expected = reference(registry, caps, prerelease, model)
    with session_of(owner_engine) as session:
        each_statement_answers(session, registry, caps, prerelease, expected)
        try:
            got = routing.resolve(session, model=model, capabilities=sorted(caps), prerelease=prerelease)
        except NotFound:
            assert expected is None
            return
    assert (got.model_id, got.version) == expected


def each_statement_answers(session, registry: dict, caps: set[str], prerelease: bool, expected) -> None:
    """Each statement by itself, not only resolve (where the rule over every
    model would hide a walk that wrongly finds nothing): the rule over every
    model always gives the answer; the walk, unbounded (SQLite's form) or with
    a window wider than the registry (PostgreSQL's), gives it whenever it is an
    APPROVED pick, and nothing otherwise."""
    from modelreg.catalog import filters
    from modelreg.store import queries

    dialect = session.get_bind().dialect.name
    binary = (lambda c: c) if dialect == "sqlite" else (lambda c: c.collate("C"))
    where = {k: v for k, v in filters(capabilities=sorted(caps)).items() if k != "statuses"}

    def matching(entity, statuses):
        return queries.version_query(**where, statuses=statuses, walk_in_order=True, entity=entity)

    key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in where.items())
    best = session.execute(routing._statements(key, prerelease, dialect, routing.WALK)[1]).first()
    assert (tuple(best[:2]) if best else None) == reference(registry, caps, prerelease)
    approved_pick = expected_approved(registry, caps, prerelease)
    for window in (None, 100):
        walk = production.newest_default_sql(matching, prerelease=prerelease, binary=binary, window=window)
        row = session.execute(walk).first()
        assert (tuple(row) if row else None) == approved_pick, window


def expected_approved(registry: dict, caps: set[str], prerelease: bool) -> tuple[str, str] | None:
    """The answer across models when it is an APPROVED pick; None when it is DEPRECATED or nothing."""
    answer = reference(registry, caps, prerelease)
    if answer is None:
        return None
    model_id, version = answer
    row = next(Row(model_id, s) for s in registry[model_id][0] if s["version"] == version)
    return answer if row.status == Status.APPROVED else None


def test_ties_of_approval_time_go_to_the_byte_wise_highest_model_id(owner_engine):
    """Under a natural collation 'm-b' sorts after 'ma'; Python (and the rule) say 'ma' > 'm-b'."""
    spec = {"version": "1.0.0", "status": Status.APPROVED, "approved_at": STAMPS[2], "default_since": None}
    registry = {m: ([{**spec, "caps": {"chat"}}], 5) for m in ("m-b", "ma", "m-a")}
    write(owner_engine, registry)
    with session_of(owner_engine) as session:
        got = routing.resolve(session, capabilities=["chat"])
    assert (got.model_id, got.version) == ("ma", "1.0.0") == reference(registry, {"chat"}, False)


def _v(version: str, status: Status = Status.APPROVED, *, at: int = 1, default: int | None = None, caps=("chat",)):
    return {
        "version": version,
        "status": status,
        "approved_at": STAMPS[at],
        "default_since": None if default is None else STAMPS[default],
        "caps": set(caps),
    }


# (name, registry {model: ([versions], canary index)}, query (caps, prerelease, model), expected)
CASES = [
    (
        "the newest default wins over a higher version made default earlier",
        {"m": ([_v("1.0.0", default=3), _v("1.2.0", default=2)], 5)},
        ({"chat"}, False, None),
        ("m", "1.0.0"),
    ),
    (
        "a default wins over a higher version never made default",
        {"m": ([_v("1.0.0", default=1), _v("10.0.0")], 5)},
        ({"chat"}, False, None),
        ("m", "1.0.0"),
    ),
    (
        "without defaults the highest precedence wins",
        {"m": ([_v("1.2.0"), _v("10.0.0"), _v("1.0.1")], 5)},
        ({"chat"}, False, None),
        ("m", "10.0.0"),
    ),
    (
        "a pre-release is served only when asked for",
        {"m": ([_v("1.0.0"), _v("10.0.0-alpha")], 5)},
        ({"chat"}, False, None),
        ("m", "1.0.0"),
    ),
    (
        "... and then it is",
        {"m": ([_v("1.0.0"), _v("10.0.0-alpha")], 5)},
        ({"chat"}, True, None),
        ("m", "10.0.0-alpha"),
    ),
    (
        "a pre-release once made default is served without asking",
        {"m": ([_v("1.0.0"), _v("10.0.0-alpha", default=1)], 5)},
        ({"chat"}, False, None),
        ("m", "10.0.0-alpha"),
    ),
    (
        "the canary is never the default",
        {"m": ([_v("1.0.0"), _v("1.2.0")], 1)},
        ({"chat"}, False, None),
        ("m", "1.0.0"),
    ),
    (
        "a DEPRECATED version does not resolve while its model has an APPROVED one, even one that does not match",
        {
            "m": ([_v("1.0.0", caps=("code",)), _v("1.2.0", Status.DEPRECATED, at=3)], 5),
            "z": ([_v("1.0.0", Status.DEPRECATED, at=1)], 5),
        },
        ({"chat"}, False, None),
        ("z", "1.0.0"),
    ),
    (
        "among DEPRECATED versions the newest default, then the highest",
        {"m": ([_v("1.0.0", Status.DEPRECATED, default=2), _v("1.2.0", Status.DEPRECATED, default=1)], 5)},
        ({"chat"}, False, None),
        ("m", "1.0.0"),
    ),
    (
        "across models the most recently approved pick wins, APPROVED before DEPRECATED",
        {
            "m": ([_v("1.0.0", at=1)], 5),
            "ma": ([_v("1.0.0", at=2)], 5),
            "z": ([_v("1.0.0", Status.DEPRECATED, at=3)], 5),
        },
        ({"chat"}, False, None),
        ("ma", "1.0.0"),
    ),
    (
        "a model whose newest approved version is not its pick loses to the next one's pick",
        {
            "m": ([_v("1.0.0", at=1, default=1), _v("1.2.0", at=3, caps=("code",))], 5),
            "z": ([_v("1.0.0", at=2)], 5),
        },
        ({"chat"}, False, None),
        ("z", "1.0.0"),
    ),
    (
        "nothing approved or deprecated matches",
        {"m": ([_v("1.0.0", Status.TESTING), _v("1.2.0", Status.RETIRED)], 5)},
        ({"chat"}, False, None),
        None,
    ),
]


@pytest.mark.parametrize("walk", [routing.WALK, 1])
@pytest.mark.parametrize("name, registry, query, expected", CASES, ids=[c[0][:40] for c in CASES])
def test_each_clause_of_the_rule(owner_engine, monkeypatch, walk, name, registry, query, expected):
    """One registry per clause of the rule, by model and across models: what a
    generated run may take long to draw."""
    monkeypatch.setattr(routing, "WALK", walk)
    caps, prerelease, _ = query
    write(owner_engine, registry)
    assert reference(registry, caps, prerelease) == expected, name
    with session_of(owner_engine) as session:
        each_statement_answers(session, registry, caps, prerelease, expected)
    for model in [None, *sorted(registry)]:
        want = reference(registry, caps, prerelease, model)
        with session_of(owner_engine) as session:
            try:
                got = routing.resolve(session, model=model, capabilities=sorted(caps), prerelease=prerelease)
            except NotFound:
                assert want is None, (name, model)
                continue
        assert (got.model_id, got.version) == want, (name, model)


def test_a_fallback_targets_production_default_is_never_the_canary_nor_a_deprecated_stand_in():
    """`production_default` (what a fallback target `model` means): the canary is
    not the default, and a DEPRECATED version stands in only when the model has
    no APPROVED version at all, not when its APPROVED ones are not eligible."""
    from types import SimpleNamespace

    def row(version, status, default=None):
        parsed = parse(version)
        return SimpleNamespace(
            version=version,
            status=status.value,
            prerelease=bool(parsed.prerelease),
            default_since=default,
            version_key=parsed.sort_key(),
        )

    stable, canary = row("1.0.0", Status.APPROVED, STAMPS[1]), row("1.1.0", Status.APPROVED)
    assert production.production_default([stable, canary], "1.1.0") is stable
    assert production.production_default([stable, canary], None) is stable  # made default beats higher
    never_default = row("1.0.0", Status.APPROVED)  # e.g. a registry file's, before any promotion here
    assert production.production_default([never_default, canary], "1.1.0") is never_default
    assert production.production_default([never_default, canary], None) is canary
    unpromoted_rc, old = row("2.0.0-rc.1", Status.APPROVED), row("1.0.0", Status.DEPRECATED)
    assert production.production_default([unpromoted_rc, old], None) is None
    assert production.production_default([old], None) is old
