"""Dynamic completion of model ids and model@version (modelreg.cli.complete_targets):
right candidates, a cache that is used and refreshed, silence on failure, and
no database stack imported on a TAB."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from modelreg.cli import complete_targets as ct

HEAVY = ("sqlmodel", "sqlalchemy", "httpx", "rich", "alembic")


def _spec(model_id: str, version: str) -> dict:
    return {
        "modelId": model_id,
        "version": version,
        "provider": "acme",
        "capabilities": ["chat"],
        "performance": {"avgLatency": 1, "p95Latency": 2, "costPerRequest": 0},
    }


@pytest.fixture
def populated(registry):
    from modelreg.manifest import parse_manifest_document

    registry.register_many(
        parse_manifest_document(
            {
                "models": [
                    _spec("ms-alpha", "1.0.0"),
                    _spec("ms-alpha", "1.1.0"),
                    _spec("ms-alpha", "2.0.0-rc.1"),
                    _spec("ms-beta", "0.1.0"),
                    _spec("ms-beta", "0.2.0"),
                    _spec("other", "1.0.0"),
                    _spec("gone", "1.0.0"),
                ]
            },
            "test",
        )
    )
    registry.review("ms-beta@0.1.0", "evaluation", False, reject=True, note="bad")  # -> REJECTED
    _set_status(registry, "gone", "1.0.0", "RETIRED")
    return registry


def _set_status(registry, model_id: str, version: str, status: str) -> None:
    """Setup shortcut (the lifecycle is tested elsewhere)."""
    from conftest import owner_sql

    owner_sql(
        registry.db.url,
        "UPDATE model_version SET status = :s WHERE model_id = :m AND version = :v",
        s=status,
        m=model_id,
        v=version,
    )


def _count_reads(monkeypatch) -> list[int]:
    calls = [0]
    for name in ("_read_sqlite", "_read_postgres"):
        real = getattr(ct, name)

        def counting(*args, _real=real):
            calls[0] += 1
            return _real(*args)

        monkeypatch.setattr(ct, name, counting)
    return calls


def test_model_ids_and_versions(populated, capsys):
    assert ct.complete_model("ms-") == ["ms-alpha", "ms-beta"]
    assert ct.complete_model("") == ["gone", "ms-alpha", "ms-beta", "other"]
    assert ct.complete_target("ms-a") == ["ms-alpha"]
    # newest first; REJECTED and RETIRED versions are not offered
    assert ct.complete_target("ms-alpha@") == ["ms-alpha@2.0.0-rc.1", "ms-alpha@1.1.0", "ms-alpha@1.0.0"]
    assert ct.complete_target("ms-alpha@1.") == ["ms-alpha@1.1.0", "ms-alpha@1.0.0"]
    assert ct.complete_target("ms-beta@") == ["ms-beta@0.2.0"]
    assert ct.complete_target("gone@") == []
    assert ct.complete_target("nothing") == [] and ct.complete_model("zzz") == []
    assert capsys.readouterr() == ("", "")


def test_cache_is_written_private_and_reused(populated, db_url, monkeypatch):
    """A cold TAB reads only what it needs (the model ids, or one model's
    versions); each answer is cached, and a warm TAB reads nothing."""
    calls = _count_reads(monkeypatch)
    assert ct.complete_target("ms-beta@") == ["ms-beta@0.2.0"]
    assert calls[0] == 1
    path = ct.cache_file(db_url, "ms-beta")
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().split("\n")[1:] == ["ms-beta@0.2.0"]  # that model's versions, nothing else
    assert path.parent == ct.cache_file(db_url).parent and path.name.startswith("completion-")
    assert not ct.cache_file(db_url).exists() and not ct.cache_file(db_url, "ms-alpha").exists()
    for _ in range(3):
        assert ct.complete_target("ms-alpha@1.0") == ["ms-alpha@1.0.0"]
        assert ct.complete_model("o") == ["other"]
        assert ct.complete_target("ms-beta@0") == ["ms-beta@0.2.0"]
    assert calls[0] == 3, "one read for ms-alpha's versions, one for the model ids; a warm TAB reads nothing"
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_cache_refreshes_after_a_change(populated, backend, db_url, monkeypatch):
    calls = _count_reads(monkeypatch)
    assert ct.complete_target("ms-beta@") == ["ms-beta@0.2.0"]
    populated.register(_spec("ms-beta", "0.3.0"))
    if backend == "sqlite":
        # the database (or its WAL) changed: the next TAB sees the new version at once
        assert ct.complete_target("ms-beta@") == ["ms-beta@0.3.0", "ms-beta@0.2.0"]
        assert calls[0] == 2
    else:
        # PostgreSQL: reused while younger than CACHE_TTL_S ...
        assert ct.complete_target("ms-beta@") == ["ms-beta@0.2.0"]
        assert calls[0] == 1
        # ... and read again once it is older
        monkeypatch.setattr(ct.time, "time", lambda: time.time_ns() / 1e9 + ct.CACHE_TTL_S + 1)
        assert ct.complete_target("ms-beta@") == ["ms-beta@0.3.0", "ms-beta@0.2.0"]
        assert calls[0] == 2
    _set_status(populated, "ms-beta", "0.2.0", "RETIRED")
    if backend == "postgres":
        monkeypatch.setattr(ct.time, "time", lambda: time.time_ns() / 1e9 + 3 * ct.CACHE_TTL_S)
    assert ct.complete_target("ms-beta@") == ["ms-beta@0.3.0"]


def test_a_corrupt_cache_is_replaced(populated, db_url):
    path = ct.cache_file(db_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("garbage\nms-fake@9.9.9")
    assert ct.complete_target("ms-") == ["ms-alpha", "ms-beta"]
    assert ct.complete_target("ms-fake@") == []
    assert path.read_text().startswith(ct.CACHE_FORMAT)


def test_sqlite_url_forms():
    assert str(ct.sqlite_path("sqlite:////abs/r.db")) == "/abs/r.db"
    assert str(ct.sqlite_path("sqlite:///rel/r.db")) == "rel/r.db"
    assert str(ct.sqlite_path("sqlite+pysqlite:////abs/r.db?timeout=3")) == "/abs/r.db"
    assert ct.sqlite_path("sqlite://") is None and ct.sqlite_path("sqlite:///:memory:") is None
    assert ct.sqlite_path("postgresql+psycopg://u@h/db") is None


@pytest.mark.parametrize(
    "url", ["sqlite:///{tmp}/missing.db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "mysql://x@y/z", "not a url"]
)
def test_failures_give_no_candidates_silently(url, tmp_path, monkeypatch, capsys):
    url = url.format(tmp=tmp_path)
    monkeypatch.setenv("MODELREG_DB", url)
    assert ct.complete_target("ms-") == [] and ct.complete_model("") == []
    assert ct.complete_target("ms-alpha@") == []
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "missing.db").exists(), "completion must never create a database"


def test_malformed_config_gives_no_candidates(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl = 1")
    monkeypatch.setenv("MODELREG_CONFIG", str(bad))
    assert ct.complete_target("") == []
    assert capsys.readouterr() == ("", "")


def test_a_tab_loads_no_database_stack(populated, db_url, backend):
    code = textwrap.dedent("""
        import sys
        from modelreg.cli.complete_targets import complete_model, complete_target
        first = complete_target("ms-alpha@")   # cold: reads the database
        second = complete_target("ms-alpha@")  # warm: the cache
        assert first == second == ["ms-alpha@2.0.0-rc.1", "ms-alpha@1.1.0", "ms-alpha@1.0.0"], (first, second)
        assert complete_model("ms-") == ["ms-alpha", "ms-beta"]
        print(" ".join(sorted({m.split(".")[0] for m in sys.modules})))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    loaded = set(proc.stdout.split())
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


PROBE = """
import sys
from typing import Optional
import typer
from modelreg.cli.complete_targets import complete_model, complete_target

app = typer.Typer()

@app.callback()
def root(db: Optional[str] = typer.Option(None, "--db"), config: Optional[str] = typer.Option(None, "--config")):
    pass

@app.command()
def show(target: str = typer.Argument(..., autocompletion=complete_target)):
    pass

@app.command()
def rollout(model: str = typer.Argument(..., autocompletion=complete_model)):
    pass

typer.main.get_command(app).main(prog_name="probe", args=sys.argv[1:])
"""


def test_typer_autocompletion_form_honours_db_flag(populated, db_url, tmp_path, monkeypatch):
    """The form the commands use: typer.Argument(..., autocompletion=complete_target);
    typer passes ctx by name, so a --db given before the subcommand wins over MODELREG_DB."""
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "MODELREG_DB": f"sqlite:///{tmp_path}/elsewhere.db", "_PROBE_COMPLETE": "complete_bash"}

    def tab(words: str) -> list[str]:
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1))
        proc = subprocess.run([sys.executable, str(probe)], env=env, capture_output=True, text=True)
        assert proc.returncode == 0 and proc.stderr == "", proc.stderr
        return proc.stdout.split()

    assert tab(f"probe --db {db_url} show ms-") == ["ms-alpha", "ms-beta"]
    assert tab(f"probe --db {db_url} show ms-beta@") == ["ms-beta@0.2.0"]
    assert tab(f"probe --db {db_url} rollout o") == ["other"]
    assert tab("probe show ms-") == []  # MODELREG_DB points at nothing
