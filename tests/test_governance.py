"""Governance that holds (issue 11): every shortcut a user could take around
the rules is refused by the engine or, on PostgreSQL, by the server itself,
through the CLI, the library and raw SQL alike.

People on PostgreSQL are plain login roles: olga (operator), abe and amy
(approvers), ada (admin), rita (reader) and nora (no modelreg role at all);
the tables belong to the superuser that initialised the registry."""

from __future__ import annotations

import json

import psycopg
import pytest
from conftest import (
    GUIDE_MANIFEST,
    _require_pg,
    approve,
    as_actor,
    drop_pg_database,
    new_registry,
    owner_sql,
    pg_database_url,
    pg_user,
    run_cli,
    user_url,
)

ADV = "ms-advanced-reasoning@3.0.1"
STD = "ms-standard@2.0.0"
PEOPLE = {
    "olga": ("reader", "operator"),
    "otto": ("reader", "operator"),
    "abe": ("reader", "approver"),
    "amy": ("reader", "approver"),
    "ada": ("reader", "admin"),
    "rita": ("reader",),
    "nora": (),
}


def raw(url: str, sql: str, *params):
    """One statement over plain psycopg (what psql does), autocommit."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        cursor = conn.execute(sql, params or None)
        return cursor.fetchall() if cursor.description else None


def refused(url: str, sql: str, *params) -> str:
    with pytest.raises(psycopg.Error) as caught:
        raw(url, sql, *params)
    assert caught.value.sqlstate in ("42501", "P0001"), caught.value
    return str(caught.value).splitlines()[0]


@pytest.fixture
def pg_registry(monkeypatch):
    """The guide's models registered by olga, on PostgreSQL, as a DBA set it up."""
    _require_pg()
    url = new_registry(pg_database_url("gov"), test_clock=False)
    for name, roles in PEOPLE.items():
        pg_user(name, roles)
    monkeypatch.delenv("MODELREG_ACTOR")
    monkeypatch.setenv("MODELREG_DB", user_url(url, "olga"))
    assert run_cli("register", "--file", GUIDE_MANIFEST).exit_code == 0
    yield url
    drop_pg_database(url)


def as_person(url: str, name: str):
    from modelreg import Registry

    return Registry.open(user_url(url, name))


def cli_as(url: str, name: str, *args: str):
    return run_cli("--db", user_url(url, name), *args, raw=True)


def evidence(url: str, target: str, by: str = "otto") -> None:
    """Reviews and a benchmark run against the registered endpoint, recorded by `by`."""
    with as_person(url, by) as reg:
        for check in ("evaluation", "security", "compliance"):
            reg.review(target, check, True, note="ok")
        endpoint = reg.get_version(*target.split("@"))["endpoint"]
        reg.record_benchmark(target, endpoint=endpoint, settings={}, results={"latency_ms": {"p95": 1}}, passed=True)


def chain_ok(url: str) -> None:
    r = cli_as(url, "rita", "audit", "verify")
    assert r.exit_code == 0, r.stderr


# -- identity --------------------------------------------------------------------------------------
def test_the_actor_is_the_authenticated_role(pg_registry):
    r = cli_as(pg_registry, "abe", "--actor", "bob", "promote", ADV)
    assert r.exit_code == 5 and "authenticated role 'abe'" in r.stderr and r.stderr.count("\n") == 1
    r = run_cli("--db", user_url(pg_registry, "abe"), "promote", ADV, env={"MODELREG_ACTOR": "amy"}, raw=True)
    assert r.exit_code == 5 and "MODELREG_ACTOR" in r.stderr
    registered = {e["actor"] for e in as_person(pg_registry, "rita").history("ms-standard")}
    assert registered == {"olga"}  # verified by the server, whatever the client claims


def test_sqlite_records_the_named_actor_and_the_os_user(registry):
    if not registry.db.is_sqlite:
        pytest.skip("SQLite's promise")
    import getpass

    registry.register(
        {
            "provider": "p",
            "modelId": "m",
            "version": "1.0.0",
            "capabilities": ["c"],
            "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
        }
    )
    (event,) = registry.history("m")
    assert event["actor"] == "alice" and event["os_user"] == getpass.getuser() and event["policy_version"] == 1


# -- roles, enforced by the engine and by the server ------------------------------------------------
def test_each_role_may_do_its_part_and_nothing_else(pg_registry):
    url = pg_registry
    # the registrant (an operator) may not record the security or compliance review of her own version
    r = cli_as(url, "olga", "review", ADV, "--check", "security", "--pass")
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr
    assert cli_as(url, "olga", "review", ADV, "--check", "evaluation", "--pass").exit_code == 0
    # another operator records the evidence; an approver may not (no operator role)
    r = cli_as(url, "abe", "review", ADV, "--check", "security", "--pass")
    assert r.exit_code == 5 and "operator role" in r.stderr and "modelreg access grant abe operator" in r.stderr
    evidence(url, ADV, by="otto")
    # an operator may not approve, change the policy, deprecate or move rollouts
    r = cli_as(url, "otto", "promote", ADV)
    assert r.exit_code == 5 and "approver role" in r.stderr and "modelreg access grant otto approver" in r.stderr
    r = cli_as(url, "otto", "policy", "set", "separation_of_duties", "false")
    assert r.exit_code == 5 and "admin role" in r.stderr
    assert cli_as(url, "ada", "promote", ADV).exit_code == 5  # an admin is not an approver
    assert cli_as(url, "abe", "promote", ADV).exit_code == 0
    for args in (["deprecate", ADV, "--reason", "x"], ["rollout", "ms-advanced-reasoning", "--rollback"]):
        r = cli_as(url, "otto", *args)
        assert r.exit_code == 5 and "approver role" in r.stderr, (args, r.stderr)
    # an advisory that blocks a version cannot be withdrawn by its registrant, nor by an operator
    assert (
        cli_as(
            url,
            "otto",
            "alerts",
            "advisory",
            "add",
            "CVE-1",
            "--model",
            "ms-standard",
            "--affected",
            ">=0",
            "--severity",
            "high",
            "--summary",
            "x",
        ).exit_code
        == 0
    )
    pg_user("pia", ("reader", "operator", "approver"))
    with as_person(url, "pia") as pia:
        pia.register(
            {
                "provider": "mindstudio",
                "modelId": "ms-standard",
                "version": "2.9.0",
                "capabilities": ["text-generation"],
                "endpoint": "http://127.0.0.1:9/v1",
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
        )
    assert cli_as(url, "otto", "alerts", "advisory", "withdraw", "CVE-1", "--model", "ms-standard").exit_code == 5
    r = cli_as(url, "pia", "alerts", "advisory", "withdraw", "CVE-1", "--model", "ms-standard")
    assert r.exit_code == 5 and "separation_of_duties" in r.stderr
    assert cli_as(url, "abe", "alerts", "advisory", "withdraw", "CVE-1", "--model", "ms-standard").exit_code == 0
    # anyone can complete a rollout? only approvers
    chain_ok(url)


def test_approval_through_the_cli_with_roles(pg_registry):
    url = pg_registry
    evidence(url, ADV, by="otto")  # not the registrant
    assert cli_as(url, "rita", "promote", ADV).exit_code == 5  # a reader
    assert cli_as(url, "nora", "promote", ADV).exit_code == 5  # nobody
    r = cli_as(url, "abe", "promote", ADV)
    assert r.exit_code == 0, r.stderr
    shown = json.loads(cli_as(url, "rita", "show", ADV, "--json").stdout)
    assert shown["status"] == "APPROVED" and shown["approved_by"] == "abe"
    promote = [e for e in json.loads(cli_as(url, "rita", "history", ADV, "--json").stdout) if e["action"] == "promote"]
    assert promote[0]["actor"] == "abe" and promote[0]["policy_version"] == 1
    # rollout moves and rollbacks are the approver's too
    assert cli_as(url, "olga", "rollout", "ms-advanced-reasoning", "--rollback").exit_code == 5
    chain_ok(url)


def test_a_role_without_any_modelreg_grant_gets_one_line(pg_registry):
    r = cli_as(pg_registry, "nora", "find")
    assert r.exit_code == 5 and r.stderr.count("\n") == 1 and "modelreg access grant nora" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_access_grant_revoke_list(pg_registry):
    url = pg_registry
    pg_user("newbie", ())
    assert cli_as(url, "olga", "access", "grant", "newbie", "reader").exit_code == 5  # admins only
    assert cli_as(url, "ada", "access", "grant", "newbie", "reader").exit_code == 0
    assert cli_as(url, "newbie", "find").exit_code == 0
    listed = {r["user"]: r["roles"] for r in json.loads(cli_as(url, "rita", "access", "list", "--json").stdout)}
    assert listed["newbie"] == ["reader"] and listed["abe"] == ["reader", "approver"]
    assert cli_as(url, "ada", "access", "grant", "no-such-user", "reader").exit_code == 3
    assert cli_as(url, "ada", "access", "grant", "newbie", "superuser").exit_code == 3
    assert cli_as(url, "ada", "access", "revoke", "newbie", "reader").exit_code == 0
    assert cli_as(url, "newbie", "find").exit_code == 5
    actions = [
        e["action"]
        for e in as_person(url, "rita").read(
            lambda s: [
                {"action": a}
                for (a,) in s.execute(
                    __import__("sqlalchemy").text("SELECT action FROM audit_event WHERE target = 'access' ORDER BY seq")
                )
            ]
        )
    ]
    assert actions == ["access.grant", "access.revoke"]
    chain_ok(url)


# -- raw SQL gets the same answers -----------------------------------------------------------------
def test_raw_sql_is_refused_what_the_role_may_not_do(pg_registry):
    url = pg_registry
    olga, abe, rita = (user_url(url, n) for n in ("olga", "abe", "rita"))
    where = "WHERE model_id = 'ms-advanced-reasoning' AND version = '3.0.1'"
    # a non-approver cannot make a version APPROVED, whatever it writes
    refused(olga, f"UPDATE model_version SET status = 'APPROVED', approved_by = 'olga' {where}")
    # nor change rollout weights, nor the policy
    refused(olga, f"UPDATE model_version SET canary_weight = 50 {where}")
    refused(olga, "UPDATE model SET canary_version = '3.0.1' WHERE model_id = 'ms-advanced-reasoning'")
    refused(
        olga,
        "INSERT INTO policy_version (version, document, created_at, created_by) "
        "VALUES (2, '{}', '2026-01-01T00:00:00.000000Z', 'olga')",
    )
    # nobody but the owner touches audit rows
    for who in (olga, abe, user_url(url, "ada")):
        refused(who, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 1")
        refused(who, "DELETE FROM audit_event WHERE seq = 1")
        refused(who, "TRUNCATE audit_event")
        refused(
            who,
            "SELECT modelreg_append_all(ARRAY['x'], ARRAY['x'], ARRAY['x'], ARRAY['x'], ARRAY['x'], "
            "ARRAY[NULL::text], 1)",
        )
    # evidence is recorded by the role that did it, at the server's time
    refused(
        olga,
        "INSERT INTO check_result (model_id, version, name, result, actor, at, note) VALUES "
        "('ms-standard', '2.0.0', 'evaluation', 'pass', 'carol', to_char(now() at time zone 'utc', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '')",
    )
    refused(
        olga,
        "INSERT INTO check_result (model_id, version, name, result, actor, at, note) VALUES "
        "('ms-standard', '2.0.0', 'evaluation', 'pass', 'olga', '2030-04-02T00:00:00.000000Z', '')",
    )
    # a registered manifest is immutable; versions are never deleted
    refused(abe, f"UPDATE model_version SET p95_latency_ms = 1 {where}")
    refused(abe, f"DELETE FROM model_version {where}")
    # a reader writes nothing
    refused(
        rita,
        "INSERT INTO model (model_id, provider, description, owner, created_at, fallbacks, row_version) "
        "VALUES ('x', 'p', '', 'rita', '2026', '[]', 0)",
    )
    # an approver may not approve what they registered, even in SQL
    pg_user("pat", ("reader", "operator", "approver"))
    with as_person(url, "pat") as pat:
        pat.register(
            {
                "provider": "p",
                "modelId": "own",
                "version": "1.0.0",
                "capabilities": ["c"],
                "endpoint": "http://127.0.0.1:9/v1",
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
        )
    now = "to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    message = refused(
        user_url(url, "pat"),
        f"UPDATE model_version SET status = 'APPROVED', approved_by = 'pat', "
        f"approved_at = {now}, status_changed_at = {now} WHERE model_id = 'own'",
    )
    assert "separation_of_duties" in message
    chain_ok(url)


def test_every_raw_change_is_recorded_naming_the_role(pg_registry):
    """An approver may skip the engine's gates in psql; the change is then on
    the record, naming the authenticated role, and the chain still verifies."""
    url = pg_registry
    before = raw(user_url(url, "rita"), "SELECT max(seq) FROM audit_event")[0][0]
    raw(
        user_url(url, "abe"),
        "UPDATE model_version SET status = 'APPROVED', approved_by = 'abe', status_changed_at = "
        "to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), approved_at = "
        "to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') "
        "WHERE model_id = 'ms-standard' AND version = '2.0.0'",
    )
    events = raw(user_url(url, "rita"), "SELECT actor, action, target, after FROM audit_event WHERE seq > %s", before)
    assert [(a, act, t) for a, act, t, _ in events] == [("abe", "sql.update.model_version", STD)]
    assert json.loads(events[0][3])["status"] == "APPROVED"
    # a superuser (the owner) is exempt from the guards, not from the record
    owner_sql(url, "UPDATE model SET description = 'edited by the DBA' WHERE model_id = 'ms-standard'")
    last = raw(user_url(url, "rita"), "SELECT actor, action FROM audit_event ORDER BY seq DESC LIMIT 1")
    assert last == [("postgres", "sql.update.model")]
    chain_ok(url)


# -- policy in the registry ------------------------------------------------------------------------
def test_policy_is_the_registrys_and_changes_are_audited(pg_registry):
    url = pg_registry
    r = cli_as(url, "ada", "policy", "set", "approvers", "amy")
    assert r.exit_code == 0, r.stderr
    shown = json.loads(cli_as(url, "rita", "policy", "show", "--json").stdout)
    assert shown["version"] == 2 and shown["policy"]["approvers"] == ["amy"]
    evidence(url, ADV, by="otto")
    r = cli_as(url, "abe", "promote", ADV)  # an approver by role, but not named by the policy
    assert r.exit_code == 5 and "not an approver" in r.stderr
    assert cli_as(url, "amy", "promote", ADV).exit_code == 0
    (change,) = [
        e
        for e in json.loads(cli_as(url, "rita", "history", "ms-advanced-reasoning", "--json").stdout)
        if e["action"] == "promote"
    ]
    assert change["policy_version"] == 2
    assert cli_as(url, "ada", "policy", "set", "deprecation_notice_days", "soon").exit_code == 2
    assert cli_as(url, "ada", "policy", "set", "no_such_key", "1").exit_code == 2
    chain_ok(url)


# -- the clock -----------------------------------------------------------------------------------------
def test_modelreg_now_only_rehearses(tmp_path, monkeypatch):
    url = new_registry(f"sqlite:///{tmp_path / 'clock.db'}", test_clock=False)
    monkeypatch.setenv("MODELREG_DB", url)
    assert run_cli("register", "--file", GUIDE_MANIFEST).exit_code == 0
    later = {"MODELREG_NOW": "2030-04-02"}
    r = run_cli("deprecate", "--sweep", env=later)
    assert r.exit_code == 2 and "only rehearses" in r.stderr
    assert run_cli("deprecate", "--sweep", "--dry-run", "--json", env=later).exit_code == 0
    assert run_cli("find", env=later).exit_code == 0
    assert json.loads(run_cli("policy", "show", "--json").stdout)["test_clock"] is False
    assert run_cli("policy", "set", "test_clock", "true").exit_code == 0
    assert run_cli("deprecate", "--sweep", env=later).exit_code == 0
    assert "test clock" in run_cli("audit", "verify").stderr


def test_the_server_stamps_writes_with_its_own_clock(pg_registry):
    url = pg_registry
    r = cli_as(url, "olga", "review", STD, "--check", "evaluation", "--pass")  # not a write under MODELREG_NOW
    assert r.exit_code == 0
    r = run_cli(
        "--db",
        user_url(url, "olga"),
        "review",
        ADV,
        "--check",
        "evaluation",
        "--pass",
        env={"MODELREG_NOW": "2030-04-02"},
        raw=True,
    )
    assert r.exit_code == 2
    # even with the policy's test clock on, nobody can stamp a raw row with another time
    refused(
        user_url(url, "olga"),
        "INSERT INTO benchmark_run (model_id, version, endpoint, actor, started_at, "
        "finished_at, mode, passed, aborted, settings, results) VALUES ('ms-standard', "
        "'2.0.0', 'http://x', 'olga', '2030-01-01T00:00:00.000000Z', "
        "'2030-01-01T00:00:00.000000Z', 'closed', true, false, '{}', '{}')",
    )


# -- benchmark evidence is tied to the endpoint --------------------------------------------------------
def test_a_benchmark_of_another_endpoint_does_not_pass_the_gate(registry):
    registry.register(
        {
            "provider": "p",
            "modelId": "m",
            "version": "1.0.0",
            "capabilities": ["c"],
            "endpoint": "http://127.0.0.1:9/v1",
            "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
        }
    )
    bob = as_actor(registry, "bob")
    for check in ("evaluation", "security", "compliance"):
        bob.review("m@1.0.0", check, True)
    bob.record_benchmark("m@1.0.0", endpoint="http://elsewhere.example/v1", settings={}, results={}, passed=True)
    with pytest.raises(Exception) as caught:
        bob.promote("m@1.0.0")
    assert "registered endpoint" in " ".join(caught.value.details)
    shown = registry.get_version("m", "1.0.0")
    assert shown["benchmarks"][0]["endpoint"] == "http://elsewhere.example/v1"  # recorded and shown
    assert "benchmark" not in shown["checks"]  # but no benchmark check from it
    bob.record_benchmark("m@1.0.0", endpoint="http://127.0.0.1:9/v1", settings={}, results={}, passed=True)
    assert bob.promote("m@1.0.0")["to"] == "APPROVED"
    bob.close()


# -- the anchored audit --------------------------------------------------------------------------------
def test_a_rewritten_chain_is_caught_by_an_anchor(guide_registry, cli, db_url):
    approve(guide_registry, ADV)
    head = cli("audit", "head").stdout.strip()
    seq, digest = head.split(":")
    assert int(seq) > 3 and len(digest) == 64
    # an owner rewrites event 2 and recomputes every hash after it: plain verification cannot tell
    from sqlalchemy import create_engine, text

    from modelreg.store.audit import event_hash

    engine = create_engine(user_url(db_url, "postgres") if db_url.startswith("postgresql") else db_url)
    with engine.begin() as conn:
        if not db_url.startswith("sqlite"):
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        rows = conn.execute(
            text(
                "SELECT seq, at, actor, action, target, before, after, os_user, policy_version "
                "FROM audit_event ORDER BY seq"
            )
        ).all()
        prev = "0" * 64
        for row in rows:
            actor = "mallory" if row.seq == 2 else row.actor
            digest_now = event_hash(
                row.seq,
                row.at,
                actor,
                row.action,
                row.target,
                row.before,
                row.after,
                prev,
                row.os_user,
                row.policy_version,
            )
            conn.execute(
                text("UPDATE audit_event SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": actor, "p": prev, "h": digest_now, "s": row.seq},
            )
            prev = digest_now
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
    engine.dispose()
    assert cli("audit", "verify").exit_code == 0  # consistent again...
    r = cli("audit", "verify", "--head", head)
    assert r.exit_code == 1 and "anchored" in r.stderr  # ...but not the chain that was anchored
    assert cli("audit", "verify", "--head", "12:nothex").exit_code == 2


def test_writes_refuse_to_extend_a_broken_chain(guide_registry, cli, db_url):
    owner_sql(db_url, "UPDATE audit_event SET actor = 'mallory' WHERE seq = (SELECT max(seq) FROM audit_event)")
    r = cli("--actor", "bob", "review", ADV, "--check", "evaluation", "--pass")
    assert r.exit_code == 1 and "does not verify" in r.stderr
    assert guide_registry.get_version("ms-advanced-reasoning", "3.0.1")["checks"] == {}
    r = cli("db", "check")
    assert r.exit_code == 1 and "broken at event" in r.stderr


# -- rollback ------------------------------------------------------------------------------------------
def test_rollback_restores_an_earlier_default(registry):
    def version(v):
        registry.register(
            {
                "provider": "p",
                "modelId": "r",
                "version": v,
                "capabilities": ["c"],
                "endpoint": "http://127.0.0.1:9/v1",
                "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
            }
        )

    version("1.0.0")
    version("2.0.0")
    approve(registry, "r@1.0.0")
    approve(registry, "r@2.0.0", canary=20)
    registry_bob = as_actor(registry, "bob")
    registry_bob.rollout("r", complete=True)
    assert registry.resolve(model="r").version == "2.0.0"
    assert registry_bob.rollback("r") == {"model_id": "r", "default": "1.0.0", "from": "2.0.0"}
    assert registry.resolve(model="r").version == "1.0.0"
    assert {v["version"]: v["status"] for v in registry.find_models(model="r")} == {
        "1.0.0": "APPROVED",
        "2.0.0": "APPROVED",
    }
    assert registry_bob.rollback("r", to="2.0.0")["default"] == "2.0.0"
    with pytest.raises(Exception, match="already the production default"):
        registry_bob.rollback("r", to="2.0.0")
    assert [e["action"] for e in registry.history("r")].count("rollback") == 2
    registry_bob.close()


# -- db upgrade by a role that may not create roles ---------------------------------------------------------
def test_an_upgrade_that_may_not_create_the_roles_prints_the_sql_and_stops():
    """The preflight of revision 0004, run by a plain role against group roles
    that do not exist (names of its own, so the cluster's real roles stay)."""
    _require_pg()
    import importlib

    import sqlalchemy

    from modelreg.errors import DatabaseError

    migration = importlib.import_module("modelreg.store.migrations.versions.0004_governance")
    url = pg_database_url("norole")
    pg_user("plain_dba", ())
    names = ("zz_modelreg_reader", "zz_modelreg_operator")
    engine = sqlalchemy.create_engine(user_url(url, "plain_dba"))
    try:
        with engine.begin() as conn, pytest.raises(DatabaseError) as caught:
            migration.preflight(conn, roles=names)
        assert "may not create them" in caught.value.message and "db upgrade" in caught.value.message
        assert any("CREATE ROLE zz_modelreg_reader NOLOGIN" in line for line in caught.value.details)
        with engine.connect() as conn:
            assert (
                conn.execute(
                    sqlalchemy.text("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'zz\\_modelreg%'")
                ).scalar()
                == 0
            )
    finally:
        engine.dispose()
        drop_pg_database(url)
