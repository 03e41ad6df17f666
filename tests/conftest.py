"""Test fixtures: every test gets its own XDG dirs and database; database tests
run on SQLite and on a real PostgreSQL (MODELREG_TEST_PG_URL, which .ci/run
provides). Without a server the PostgreSQL variants skip, except under CI=true,
where they fail."""

from __future__ import annotations

import io
import itertools
import os
import subprocess
import sys
import uuid
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_URL = os.environ.get("MODELREG_TEST_PG_URL")
GUIDE_MANIFEST = Path(__file__).resolve().parents[1] / "modelreg" / "examples" / "guide-models.toml"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith("MODELREG_") and var != "MODELREG_TEST_PG_URL":
            monkeypatch.delenv(var)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MODELREG_ACTOR", "alice")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    yield tmp_path


def _pg_admin():
    import psycopg
    return psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def pg_database_url(prefix: str = "t") -> str:
    """A fresh, empty PostgreSQL database on the test server."""
    name = f"{prefix}_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = PG_URL.rpartition("/")
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rpartition("/")[2]
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _require_pg():
    if not PG_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but MODELREG_TEST_PG_URL is not set: the PostgreSQL tests must run in CI")
        pytest.skip("no PostgreSQL server configured (set MODELREG_TEST_PG_URL; .ci/run does)")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request):
    if request.param == "postgres":
        _require_pg()
    return request.param


@pytest.fixture
def db_url(backend, tmp_path, monkeypatch):
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        url = pg_database_url()
    monkeypatch.setenv("MODELREG_DB", url)
    yield url
    if backend == "postgres":
        from sqlalchemy.pool import NullPool  # noqa: F401  (connections are closed by the tests' registries)
        drop_pg_database(url)


@pytest.fixture
def registry(db_url):
    from modelreg import Registry
    reg = Registry.open(db_url)
    yield reg
    reg.close()


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def json(self):
        import json
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict | None = None) -> Result:
    """Run the CLI in-process (fast) with the real entry point and error funnel."""
    from modelreg.cli import main

    saved = {}
    for key, value in (env or {}).items():
        saved[key] = os.environ.get(key)
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    out, err = io.StringIO(), io.StringIO()
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return Result(code, out.getvalue(), err.getvalue())


def run_process(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 120) -> Result:
    """Run `python -m modelreg` in a subprocess (real exit codes, real stderr)."""
    proc = subprocess.run([sys.executable, "-m", "modelreg", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=input, timeout=timeout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def cli(db_url):
    return run_cli


@pytest.fixture
def guide_registry(registry):
    """The guide's three example models registered by alice."""
    from modelreg.manifest import load_manifest_file
    registry.register_many(load_manifest_file(str(GUIDE_MANIFEST)))
    return registry


def as_actor(registry, actor: str):
    """The same database, opened as another person."""
    from modelreg import Registry
    return Registry.open(registry.db.url, actor=actor)


def pass_all_checks(registry, target: str, *, actor: str = "bob") -> None:
    """Record evaluation/security/compliance and a passing benchmark run."""
    reviewer = as_actor(registry, actor)
    try:
        for check in ("evaluation", "security", "compliance"):
            reviewer.review(target, check, True, note="ok")
        reviewer.record_benchmark(target, endpoint="http://127.0.0.1:9/v1", settings={"requests": 10},
                                  results={"latency_ms": {"p50": 100, "p95": 200}, "error_rate": 0.0}, passed=True)
    finally:
        reviewer.close()


def approve(registry, target: str, *, actor: str = "bob", canary: int | None = None) -> dict:
    pass_all_checks(registry, target, actor=actor)
    approver = as_actor(registry, actor)
    try:
        return approver.promote(target, canary=canary)
    finally:
        approver.close()
