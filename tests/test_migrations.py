"""Schema migrations on both backends: older revisions with data upgrade to
head; until then every other command is refused (exit 7) naming the command
to run; several processes initialise an empty database exactly once; a schema
newer than the code, or a foreign database, is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

import load_worker as lw
from conftest import GUIDE_MANIFEST, run_cli
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
    assert schema.HEAD == schema.script_head()
    assert schema.REVISIONS[-1] == schema.HEAD and len(set(schema.REVISIONS)) == len(schema.REVISIONS)


def _fill_at_old_revision(url: str) -> None:
    """Data written by the code paths that exist at every revision (core tables)."""
    from modelreg.config import load_config
    from modelreg.manifest import load_manifest_file
    from modelreg.registry import Registry
    from modelreg.store.database import Database

    reg = Registry(Database(url), load_config(db=url))  # no ensure_schema: it would refuse, rightly
    reg.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
    bob = Registry(Database(url), load_config(db=url, actor="bob"))
    for check in ("evaluation", "security", "compliance"):
        bob.review(ADV, check, True, note="before the upgrade")
    bob.record_benchmark(ADV, endpoint="http://127.0.0.1:9/v1", settings={}, results={"latency_ms": {"p95": 1}}, passed=True)
    reg.close()
    bob.close()


REFUSED = [
    ["find"], ["show", ADV], ["tree"], ["resolve", "--provider", "mindstudio", "--capability", "reasoning"],
    ["--actor", "bob", "promote", ADV], ["deprecate", "--sweep"], ["audit", "verify"], ["history", ADV],
    ["register", "x-new", "--version", "1.0.0", "--provider", "p", "--capability", "c", "--avg-latency", "1",
     "--p95-latency", "1", "--cost", "0"],
]


@pytest.mark.parametrize("revision", OLDER)
def test_older_revision_with_data_upgrades_to_head(db_url, revision):
    r = run_cli("db", "upgrade", revision)
    assert r.exit_code == 0, r.stderr
    assert run_cli("db", "status", "--json").json == {"url": db_url, "revision": revision, "head": schema.HEAD,
                                                      "up_to_date": False}
    _fill_at_old_revision(db_url)
    events_before = _rows(db_url, "SELECT count(*) FROM audit_event")[0][0]
    for args in REFUSED:
        r = run_cli(*args)
        assert r.exit_code == 7, (args, r.exit_code, r.stderr)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
        assert "`modelreg db upgrade`" in r.stderr and revision in r.stderr and "Traceback" not in r.stderr
    assert _rows(db_url, "SELECT version_num FROM alembic_version") == [(revision,)]  # nothing was upgraded by stealth
    assert _rows(db_url, "SELECT count(*) FROM audit_event")[0][0] == events_before
    status = run_cli("db", "status")
    assert status.exit_code == 0 and f"revision {revision}, head {schema.HEAD}: run `modelreg db upgrade`" in status.stderr

    r = run_cli("db", "upgrade")
    assert r.exit_code == 0 and f"{revision} -> {schema.HEAD}" in r.stderr, r.stderr
    assert run_cli("db", "status", "--json").json["up_to_date"] is True
    assert "up to date" in run_cli("db", "status").stderr
    # the data survived and the new tables work
    shown = run_cli("show", ADV, "--json").json
    assert shown["status"] == "TESTING" and set(shown["checks"]) == {"evaluation", "security", "compliance", "benchmark"}
    assert len(run_cli("find", "--json", "--limit", "0").json) == 3
    assert run_cli("audit", "verify").exit_code == 0
    r = run_cli("--actor", "bob", "promote", ADV)  # reads the advisory table added by a later revision
    assert r.exit_code == 0, r.stderr
    again = run_cli("db", "upgrade")
    assert again.exit_code == 0 and f"already at {schema.HEAD}" in again.stderr
    assert run_cli("db", "upgrade", revision).exit_code == 2  # no silent downgrade


def test_empty_database_status_then_created_on_first_use(db_url):
    assert run_cli("db", "status", "--json").json["revision"] == "empty"
    assert "empty (created on first use)" in run_cli("db", "status").stderr
    assert run_cli("find").exit_code == 0
    assert run_cli("db", "status", "--json").json == {"url": db_url, "revision": schema.HEAD, "head": schema.HEAD,
                                                      "up_to_date": True}


def test_concurrent_first_use_initialises_once(db_url, tmp_path):
    """8 processes start against an empty database at the same moment, each
    registering a version: no errors, one schema, one chain, 8 versions."""
    commands = [["register", "first", "--version", f"1.{w}.0", "--provider", "p", "--capability", "c",
                 "--avg-latency", "1", "--p95-latency", "1", "--cost", "0"] for w in range(8)]
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


def test_newer_schema_is_refused(db_url):
    assert run_cli("find").exit_code == 0
    _execute(db_url, "UPDATE alembic_version SET version_num = '9999'")
    for args in (["find"], ["db", "upgrade"], ["audit", "verify"]):
        r = run_cli(*args)
        assert r.exit_code == 7, (args, r.stderr)
        assert "newer than this modelreg" in r.stderr and "upgrade modelreg" in r.stderr and r.stderr.count("\n") == 1
    status = run_cli("db", "status")
    assert status.exit_code == 0 and "newer than this modelreg" in status.stderr and "db upgrade" not in status.stderr
    assert _rows(db_url, "SELECT version_num FROM alembic_version") == [("9999",)]


def test_foreign_database_is_refused(db_url):
    _execute(db_url, "CREATE TABLE inventory (id INTEGER PRIMARY KEY)")
    for args in (["find"], ["db", "upgrade"]):
        r = run_cli(*args)
        assert r.exit_code == 7 and "not a modelreg registry" in r.stderr, r.stderr
    assert "not a modelreg registry" in run_cli("db", "status").stderr
    assert _rows(db_url, "SELECT count(*) FROM inventory") == [(0,)]
