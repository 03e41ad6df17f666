"""The audit trail detects tampering; configuration precedence and editing."""

import pytest
from conftest import GUIDE_MANIFEST, approve, run_cli, user_url
from sqlalchemy import text


def _tamper(registry, sql):
    """As the owner of the tables (on PostgreSQL nobody else may touch audit rows at all)."""
    from sqlalchemy import create_engine

    engine = create_engine(user_url(registry.db.url, "postgres"))
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def test_one_event_per_change_and_chain_verifies(guide_registry, cli):
    approve(guide_registry, "ms-advanced-reasoning@3.0.1")
    actions = [e["action"] for e in guide_registry.history("ms-advanced-reasoning", "3.0.1")]
    assert actions == ["register", "review", "review", "review", "benchmark", "promote"]
    r = cli("audit", "verify", "--json")
    assert r.exit_code == 0 and r.json["ok"] and r.json["events"] == 8


@pytest.mark.parametrize(
    "sql, first_bad",
    [
        ("UPDATE audit_event SET actor = 'mallory' WHERE seq = 2", 2),
        ('UPDATE audit_event SET after = \'{"status":"APPROVED"}\' WHERE seq = 3', 3),
        ("DELETE FROM audit_event WHERE seq = 2", 2),
        ("DELETE FROM audit_event WHERE seq = (SELECT max(seq) FROM audit_event)", None),
    ],
)
def test_tampering_is_detected(guide_registry, cli, sql, first_bad):
    _tamper(guide_registry, sql)
    r = cli("audit", "verify")
    assert r.exit_code == 1 and "audit chain broken at event" in r.stderr
    if first_bad is not None:
        assert f"event {first_bad}:" in r.stderr


def test_history_of_model_and_version(guide_registry, cli):
    r = cli("history", "ms-standard", "--json")
    assert [e["target"] for e in r.json] == ["ms-standard@2.0.0"]
    assert cli("history", "nope").exit_code == 3


def test_history_table_names_the_policy_version_and_a_differing_os_user(guide_registry, cli):
    table = cli("history", "ms-standard", "--plain").stdout.splitlines()
    assert table and all(line.split("\t")[-1] == "v1" for line in table)
    if guide_registry.db.is_sqlite:  # the named actor (alice) is not the login name that ran modelreg
        import getpass

        assert table[0].split("\t")[2] == f"alice (os: {getpass.getuser()})"


def test_a_plain_path_is_a_sqlite_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli("--db", "here.db", "db", "upgrade").exit_code == 0
    assert (tmp_path / "here.db").is_file()
    (row,) = [r for r in run_cli("--db", "here.db", "config", "show", "--json").json if r["key"] == "database.url"]
    assert row["value"] == f"sqlite:///{tmp_path / 'here.db'}"


def test_config_precedence_and_show(tmp_path, monkeypatch):
    cfg = tmp_path / "config" / "modelreg" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('actor = "filer"\n[database]\nurl = "sqlite:////tmp/from-file.db"\n')
    rows = {r["key"]: r for r in run_cli("config", "show", "--json").json}
    assert set(rows) == {"database.url", "config", "actor"}  # client settings only
    assert rows["actor"]["value"] == "alice" and rows["actor"]["source"] == "env MODELREG_ACTOR"
    assert rows["database.url"]["source"].startswith("file ")
    rows = {
        r["key"]: r
        for r in run_cli(
            "--actor", "Flagged", "--db", "postgresql+psycopg://u:hunter2@h/db", "config", "show", "--json", raw=True
        ).json
    }
    assert rows["actor"]["value"] == "flagged" and rows["actor"]["source"] == "flag --actor"
    assert rows["database.url"]["value"] == "postgresql+psycopg://u:***@h/db"
    monkeypatch.delenv("MODELREG_ACTOR")
    rows = {r["key"]: r for r in run_cli("config", "show", "--json").json}
    assert rows["actor"]["value"] == "filer"


@pytest.mark.parametrize(
    "table", ["[policy]\nseparation_of_duties = false\napprovers = []\n", "[alerts]\nerror_rate_threshold = 0.5\n"]
)
def test_policy_in_a_config_file_is_refused(tmp_path, table):
    """A personal config file cannot change the rules: the policy lives in the registry."""
    cfg = tmp_path / "config" / "modelreg" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(table)
    r = run_cli("find")
    assert r.exit_code == 2 and "modelreg policy apply" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_config_set_preserves_other_keys(tmp_path):
    cfg = tmp_path / "config" / "modelreg" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text('actor = "keep-me"\n[database]\nurl = "sqlite:////tmp/x.db"\n')
    assert run_cli("config", "set", "actor", "Carol").exit_code == 0
    import tomllib

    data = tomllib.loads(cfg.read_text())
    assert data == {"actor": "Carol", "database": {"url": "sqlite:////tmp/x.db"}}
    r = run_cli("config", "set", "policy.approvers", "carol")
    assert r.exit_code == 2 and "modelreg policy set approvers" in r.stderr
    assert run_cli("config", "set", "nope", "1").exit_code == 2


def test_malformed_config_names_file_and_line(tmp_path):
    cfg = tmp_path / "config" / "modelreg" / "config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("[database]\nurl = \n")
    r = run_cli("find")
    assert r.exit_code == 2 and str(cfg) in r.stderr and "line 2" in r.stderr and r.stderr.count("\n") == 1
    cfg.write_text("[database]\nurl = 7\n")
    r = run_cli("find")
    assert r.exit_code == 2 and "database.url" in r.stderr


def test_unreachable_database_exits_7(tmp_path):
    r = run_cli("--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "find")
    assert r.exit_code == 7 and r.stderr.startswith("error: cannot open database")
    r = run_cli("--db", "mysql://x/y", "find")
    assert r.exit_code == 7


def test_default_database_is_created_0600(tmp_path):
    assert run_cli("register", "--file", GUIDE_MANIFEST).exit_code == 0
    path = tmp_path / "data" / "modelreg" / "registry.db"
    assert path.exists() and (path.stat().st_mode & 0o777) == 0o600
