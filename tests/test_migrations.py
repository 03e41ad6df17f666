"""Schema migrations on both backends: older revisions with data upgrade to
head; until then every other command is refused (exit 7) naming the command
to run; several processes initialise an empty database exactly once; a schema
newer than the code, or a foreign database, is refused."""

from __future__ import annotations

import load_worker as lw
import pytest
from conftest import GUIDE_MANIFEST, drop_pg_database, pg_database_url, pg_user, register_flags, run_cli
from sqlalchemy import create_engine, text

from modelreg.store import schema

ADV = "ms-advanced-reasoning@3.0.1"
OLDER = schema.REVISIONS[:-1]


def _rows(url: str, sql: str) -> list:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_head_is_the_newest_alembic_revision():
    assert schema.script_head() == schema.HEAD
    assert schema.REVISIONS[-1] == schema.HEAD and len(set(schema.REVISIONS)) == len(schema.REVISIONS)


@pytest.fixture
def empty_db(backend, tmp_path, monkeypatch):
    """No registry yet: a path with no file (SQLite) or an empty database
    (PostgreSQL, connected as its owner, as a DBA runs `db upgrade`)."""
    url = f"sqlite:///{tmp_path / 'registry.db'}" if backend == "sqlite" else pg_database_url("mig")
    monkeypatch.setenv("MODELREG_DB", url)
    if backend == "postgres":
        monkeypatch.delenv("MODELREG_ACTOR")
    yield url
    if backend == "postgres":
        drop_pg_database(url)


def _old_sort_key(v) -> str:
    """SemVer.sort_key before revision 0004 (fixed-width numbers); 0004 rewrites it."""
    key = f"{v.major:010d}.{v.minor:010d}.{v.patch:010d}"
    return key + (
        "~"
        if not v.prerelease
        else "-" + "\x01".join(f"0{int(p):020d}" if p.isdigit() else f"1{p}" for p in v.prerelease)
    )


def _fill_at_old_revision(url: str, revision: str) -> None:
    """Data as the code of every revision wrote it (core tables, a hash-chained
    audit trail), inserted directly: today's write path needs today's schema."""
    from sqlalchemy import insert

    from modelreg import clock
    from modelreg.lifecycle.registration import attribute_rows
    from modelreg.manifest import load_manifest_file
    from modelreg.store.audit import GENESIS, event_hash
    from modelreg.store.tables import BenchmarkRun, CheckResult, ModelVersion, VersionAttribute, json_text

    at = clock.stamp(clock.now())
    events = []
    engine = create_engine(url)
    with engine.begin() as conn:
        for spec in load_manifest_file(str(GUIDE_MANIFEST)):
            if conn.execute(text("SELECT 1 FROM model WHERE model_id = :m"), {"m": spec.model_id}).first() is None:
                conn.execute(  # the columns of revisions before 0006 (no contacts)
                    text(
                        "INSERT INTO model (model_id, provider, description, owner, created_at, fallbacks, row_version) "
                        "VALUES (:m, :p, '', 'alice', :at, '[]', 0)"
                    ),
                    {"m": spec.model_id, "p": spec.provider, "at": at},
                )
            status = "EXPERIMENTAL" if spec.experimental else "TESTING"
            conn.execute(
                insert(ModelVersion).values(
                    model_id=spec.model_id,
                    version=spec.version,
                    version_key=_old_sort_key(spec.semver) if revision < "0004" else spec.semver.sort_key(),
                    prerelease=False,
                    provider=spec.provider,
                    status=status,
                    capabilities=json_text(spec.capabilities),
                    parameters=json_text({k: p.to_dict() for k, p in spec.parameters.items()}),
                    avg_latency_ms=spec.avg_latency_ms,
                    p95_latency_ms=spec.p95_latency_ms,
                    cost_per_request_usd=spec.cost_per_request_usd,
                    data_residency=json_text(spec.data_residency),
                    pii_handling=spec.pii_handling,
                    approved_domains=json_text(spec.approved_domains),
                    endpoint=spec.endpoint,
                    endpoint_kind=spec.endpoint_kind,
                    description=spec.description,
                    registered_at=at,
                    registered_by="alice",
                    status_changed_at=at,
                )
            )
            for row in attribute_rows(spec):
                conn.execute(insert(VersionAttribute).values(**row))
            events.append(("alice", "register", spec.target, None, {"status": status, "provider": spec.provider}))
        for check in ("evaluation", "security", "compliance", "benchmark"):
            conn.execute(
                insert(CheckResult).values(
                    model_id="ms-advanced-reasoning",
                    version="3.0.1",
                    name=check,
                    result="pass",
                    actor="bob",
                    at=at,
                    note="before the upgrade",
                )
            )
            events.append(("bob", "review", ADV, None, {"check": check, "result": "pass"}))
        conn.execute(
            insert(BenchmarkRun).values(
                run_id=1,
                model_id="ms-advanced-reasoning",
                version="3.0.1",
                endpoint="http://127.0.0.1:8700/v1/chat/completions",
                actor="bob",
                started_at=at,
                finished_at=at,
                mode="closed",
                passed=True,
                aborted=False,
                settings="{}",
                results='{"latency_ms":{"p95":1}}',
            )
        )
        prev = GENESIS
        for seq, (actor, action, target, before, after) in enumerate(events, 1):
            b, a = json_text(before), json_text(after)
            digest = event_hash(seq, at, actor, action, target, b, a, prev)
            conn.execute(
                text(
                    "INSERT INTO audit_event (seq, at, actor, action, target, before, after, prev_hash, hash) "
                    "VALUES (:s, :at, :actor, :action, :target, :b, :a, :p, :h)"
                ),
                {
                    "s": seq,
                    "at": at,
                    "actor": actor,
                    "action": action,
                    "target": target,
                    "b": b,
                    "a": a,
                    "p": prev,
                    "h": digest,
                },
            )
            prev = digest
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": len(events), "h": prev})
    engine.dispose()


REFUSED = [
    ["find"],
    ["show", ADV],
    ["tree"],
    ["resolve", "--provider", "mindstudio", "--capability", "reasoning"],
    ["--actor", "bob", "promote", ADV],
    ["deprecate", "--sweep"],
    ["audit", "verify"],
    ["history", ADV],
    register_flags("x-new", "1.0.0"),
]


@pytest.mark.parametrize("revision", OLDER)
def test_older_revision_with_data_upgrades_to_head(empty_db, revision):
    db_url = empty_db
    r = run_cli("db", "upgrade", revision)
    assert r.exit_code == 0, r.stderr
    assert run_cli("db", "status", "--json").json == {
        "url": db_url,
        "revision": revision,
        "head": schema.HEAD,
        "up_to_date": False,
    }
    _fill_at_old_revision(db_url, revision)
    events_before = _rows(db_url, "SELECT count(*) FROM audit_event")[0][0]
    for args in REFUSED:
        if db_url.startswith("postgresql") and "--actor" in args:
            args = args[2:]  # before revision 0004 only the owner may read a PostgreSQL registry at all
        r = run_cli(*args)
        assert r.exit_code == 7, (args, r.exit_code, r.stderr)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "`modelreg db upgrade`" in r.stderr and revision in r.stderr and "Traceback" not in r.stderr
    assert _rows(db_url, "SELECT version_num FROM alembic_version") == [(revision,)]  # nothing was upgraded by stealth
    assert _rows(db_url, "SELECT count(*) FROM audit_event")[0][0] == events_before
    status = run_cli("db", "status")
    assert (
        status.exit_code == 0 and f"revision {revision}, head {schema.HEAD}: run `modelreg db upgrade`" in status.stderr
    )

    r = run_cli("db", "upgrade")
    assert r.exit_code == 0 and f"{revision} -> {schema.HEAD}" in r.stderr, r.stderr
    if db_url.startswith("postgresql"):
        pg_user("bob")
    assert run_cli("db", "status", "--json").json["up_to_date"] is True
    assert "up to date" in run_cli("db", "status").stderr
    # the data survived and the new tables work
    shown = run_cli("show", ADV, "--json").json
    assert shown["status"] == "TESTING" and set(shown["checks"]) == {
        "evaluation",
        "security",
        "compliance",
        "benchmark",
    }
    assert len(run_cli("find", "--json", "--limit", "0").json) == 3
    assert run_cli("audit", "verify").exit_code == 0
    keys = _rows(db_url, "SELECT version_key FROM model_version WHERE model_id = 'ms-advanced-reasoning'")
    assert keys == [("001" + "3.001" + "0.001" + "1~",)]  # rewritten by 0004: numbers carry their length
    r = run_cli("--actor", "bob", "promote", ADV)  # reads the advisory table added by a later revision
    assert r.exit_code == 0, r.stderr
    again = run_cli("db", "upgrade")
    assert again.exit_code == 0 and f"already at {schema.HEAD}" in again.stderr
    assert run_cli("db", "upgrade", revision).exit_code == 2  # no silent downgrade


def test_no_registry_yet_then_created(empty_db):
    db_url = empty_db
    state = "missing" if db_url.startswith("sqlite") else "empty"
    assert run_cli("db", "status", "--json").json["revision"] == state
    assert "no registry yet" in run_cli("db", "status").stderr
    r = run_cli("find")  # reads never create a registry
    assert r.exit_code == 7 and "db upgrade" in r.stderr and r.stderr.count("\n") == 1
    r = run_cli(
        "register",
        "x",
        "--version",
        "1.0.0",
        "--provider",
        "p",
        "--capability",
        "c",
        "--avg-latency",
        "1",
        "--p95-latency",
        "1",
        "--cost",
        "0",
    )
    if db_url.startswith("sqlite"):  # a typo'd path must not become an empty registry
        assert r.exit_code == 7 and "db upgrade" in r.stderr
        assert run_cli("db", "upgrade").exit_code == 0
    else:  # an empty PostgreSQL database is initialised on the first write (by a role that may)
        assert r.exit_code == 0, r.stderr
    assert run_cli("db", "status", "--json").json == {
        "url": db_url,
        "revision": schema.HEAD,
        "head": schema.HEAD,
        "up_to_date": True,
    }


def test_concurrent_first_use_initialises_once(backend, empty_db, tmp_path, monkeypatch):
    """8 processes start against an empty database (PostgreSQL) or the default
    path (SQLite) at the same moment, each registering a version: no errors,
    one schema, one chain, 8 versions."""
    db_url = empty_db
    if backend == "sqlite":
        db_url = f"sqlite:///{tmp_path / 'data' / 'modelreg' / 'registry.db'}"
        monkeypatch.delenv("MODELREG_DB")
    commands = [
        [
            "register",
            "first",
            "--version",
            f"1.{w}.0",
            "--provider",
            "p",
            "--capability",
            "c",
            "--avg-latency",
            "1",
            "--p95-latency",
            "1",
            "--cost",
            "0",
        ]
        for w in range(8)
    ]
    procs = lw.spawn("once", tmp_path / "sync", 8, tmp_path / "logs", per_worker=commands)
    results = lw.release(tmp_path / "sync", procs)
    assert all(code == 0 for code, _ in results), results
    entries = lw.read_logs(tmp_path / "logs")
    assert [e["code"] for e in entries] == [0] * 8, [e["stderr"] for e in entries]
    for e in entries:
        assert not lw.stderr_problems(e)
    assert _rows(db_url, "SELECT version_num FROM alembic_version") == [(schema.HEAD,)]
    assert _rows(db_url, "SELECT id, seq FROM audit_head") == [(1, 8)]
    assert _rows(db_url, "SELECT count(*) FROM model_version")[0][0] == 8
    assert run_cli("audit", "verify").exit_code == 0


def test_newer_schema_is_refused(empty_db):
    db_url = empty_db
    assert run_cli("db", "upgrade").exit_code == 0
    _execute(db_url, "UPDATE alembic_version SET version_num = '9999'")
    for args in (["find"], ["db", "upgrade"], ["audit", "verify"]):
        r = run_cli(*args)
        assert r.exit_code == 7, (args, r.stderr)
        assert "newer than this modelreg" in r.stderr and "upgrade modelreg" in r.stderr and r.stderr.count("\n") == 1
    status = run_cli("db", "status")
    assert status.exit_code == 0 and "newer than this modelreg" in status.stderr and "db upgrade" not in status.stderr
    assert _rows(db_url, "SELECT version_num FROM alembic_version") == [("9999",)]


def test_foreign_database_is_refused(empty_db):
    db_url = empty_db
    if db_url.startswith("sqlite"):
        _execute(db_url, "SELECT 1")  # an existing file
    _execute(db_url, "CREATE TABLE inventory (id INTEGER PRIMARY KEY)")
    for args in (["find"], ["db", "upgrade"]):
        r = run_cli(*args)
        assert r.exit_code == 7 and "not a modelreg registry" in r.stderr, r.stderr
    assert "not a modelreg registry" in run_cli("db", "status").stderr
    assert _rows(db_url, "SELECT count(*) FROM inventory") == [(0,)]


def test_versions_sort_by_precedence_under_a_natural_database_collation():
    """A database created with ICU's English collation: '.', '-' and the key's
    \\x01 separator weigh differently there, and the SemVer sort key would put
    1.0.0-alpha-1 before 1.0.0-alpha.1. Revision 0007 makes the key compare
    byte-wise (COLLATE "C") whatever the database's collation."""
    from conftest import _pg_admin, _require_pg, new_registry

    _require_pg()
    base = pg_database_url("icu")
    name = base.rpartition("/")[2]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE "{name}"')
        conn.execute(
            f"CREATE DATABASE \"{name}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
    try:
        url = new_registry(base)
        for version in ("1.0.0-alpha-1", "1.0.0-alpha.1", "1.0.0"):
            assert run_cli(*register_flags("icu-model", version), env={"MODELREG_DB": url}).exit_code == 0
        shown = run_cli("find", "--model", "icu-model", "--json", env={"MODELREG_DB": url})
        assert shown.exit_code == 0, shown.stderr
        rows = shown.json if isinstance(shown.json, list) else shown.json["versions"]
        assert [v["version"] for v in rows] == ["1.0.0", "1.0.0-alpha-1", "1.0.0-alpha.1"]
    finally:
        drop_pg_database(base)
