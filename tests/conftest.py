"""Test fixtures: every test gets its own XDG dirs and database; database tests
run on SQLite and on a real PostgreSQL (MODELREG_TEST_PG_URL, which .ci/run
provides). Without a server the PostgreSQL variants skip, except under CI=true,
where they fail.

On PostgreSQL the actor is the authenticated role, so people are login roles:
each test database is created and initialised by the superuser (it owns the
tables, like a DBA), and the tests connect as `alice` (or `bob`, ...), plain
login roles holding every modelreg role unless a test asks for fewer
(`pg_user`). `--actor NAME` given to `run_cli`/`run_process` against a
PostgreSQL URL connects as that role instead (and creates it), so a test
reads the same on both backends. Test registries enable the policy's test
clock (MODELREG_NOW stamps real writes); the tests of the clock rule use a
registry without it."""

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
from hypothesis import HealthCheck, Phase
from hypothesis import settings as _hypothesis

PG_URL = os.environ.get("MODELREG_TEST_PG_URL")

# Generated tests: CI draws the same examples every run (a red CI run is a real
# regression, never bad luck) and reports a failing example as found, without
# shrinking (shrinking one failure once took minutes); locally every run draws
# new examples and shrinks what fails. HYPOTHESIS_PROFILE picks one explicitly.

_hypothesis.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_hypothesis.register_profile("dev", deadline=None, print_blob=True)
_hypothesis.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "dev"))
GUIDE_MANIFEST = Path(__file__).resolve().parents[1] / "modelreg" / "examples" / "guide-models.toml"
_counter = itertools.count()


ALL_ROLES = ("reader", "operator", "approver", "admin")
# Login roles are cluster-wide: one name holds one set of roles in every test
# (a name given other roles elsewhere, in another xdist worker, would change under
# this one), and this process remembers what it granted to each name.
_users: dict[str, frozenset[str]] = {}


def small_spec(model: str, version: str, **over) -> dict:
    """The smallest valid manifest of model@version (provider p, capability c, an unreachable endpoint)."""
    return {
        "provider": "p",
        "modelId": model,
        "version": version,
        "capabilities": ["c"],
        "endpoint": "http://127.0.0.1:9/v1",
        "performance": {"avgLatency": 1, "p95Latency": 1, "costPerRequest": 0},
        **over,
    }


def register_flags(model: str, version: str, *extra: str) -> list[str]:
    """`register` from flags with the smallest valid manifest (provider p, capability c)."""
    flags = ["--provider", "p", "--capability", "c", "--avg-latency", "1", "--p95-latency", "1", "--cost", "0"]
    return ["register", model, "--version", version, *flags, *extra]


def user_url(url: str, user: str) -> str:
    """The same database, connected as another PostgreSQL role (SQLite: unchanged)."""
    if not url.startswith("postgresql"):
        return url
    from sqlalchemy.engine import make_url

    return make_url(url).set(username=user).render_as_string(hide_password=False)


def pg_user(name: str, roles: tuple[str, ...] = ALL_ROLES) -> str:
    """Create the login role `name` (once) holding exactly `roles`; returns the name."""
    if _users.get(name) == frozenset(roles):
        return name
    with _pg_admin() as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE ROLE "{name}" LOGIN')
        for role in ALL_ROLES:
            verb = "GRANT" if role in roles else "REVOKE"
            conn.execute(f'{verb} modelreg_{role} {"TO" if verb == "GRANT" else "FROM"} "{name}"')
    _users[name] = frozenset(roles)
    return name


def owner_sql(url: str, sql: str, **params) -> None:
    """Run SQL as the owner of the tables (a DBA; on PostgreSQL exempt from modelreg's
    guards, and recorded by its audit trigger). For test setup shortcuts."""
    from sqlalchemy import create_engine, text

    engine = create_engine(user_url(url, "postgres") if url.startswith("postgresql") else url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql), params)
    finally:
        engine.dispose()


def enable_test_clock(url: str, on: bool = True) -> None:
    """Let MODELREG_NOW stamp real writes in this test registry (policy.test_clock),
    without an audit event (the tests count events)."""
    from sqlalchemy import create_engine, text

    admin = user_url(url, "postgres") if url.startswith("postgresql") else url
    engine = create_engine(admin)
    try:
        with engine.begin() as conn:
            if not url.startswith("sqlite"):
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            doc = conn.execute(text("SELECT document FROM policy_version ORDER BY version DESC LIMIT 1")).scalar()
            import json

            data = json.loads(doc)
            data["policy"]["test_clock"] = on
            conn.execute(
                text(
                    "UPDATE policy_version SET document = :d WHERE version = (SELECT max(version) FROM policy_version)"
                ),
                {"d": json.dumps(data, sort_keys=True, separators=(",", ":"))},
            )
    finally:
        engine.dispose()


def new_registry(url: str, *, test_clock: bool = True) -> str:
    """Create and initialise a registry at `url` (as the owner), the way
    `modelreg db upgrade` does; returns the URL the tests use (alice's on PostgreSQL)."""
    from modelreg.store.database import Database

    owner = user_url(url, "postgres") if url.startswith("postgresql") else url
    db = Database(owner, create=True)
    db.upgrade()
    db.dispose()
    if test_clock:
        enable_test_clock(url)
    if url.startswith("postgresql"):
        for name in ("alice", "bob", "carol", "dave"):
            pg_user(name)
        return user_url(url, "alice")
    return url


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
    _clear_statement_caches()
    yield tmp_path


def _clear_statement_caches() -> None:
    """Resolve builds its statements once per process (`routing._statements`): each
    test builds its own, so a test (or a mutant under mutmut, which forks workers
    from a process that already built them) runs the code it means to test."""
    routing = sys.modules.get("modelreg.routing")
    if routing is not None:
        routing._statements.cache_clear()


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


def settle_pg(url: str, timeout: float = 30.0) -> None:
    """Wait until no other session is connected to this database (a killed
    client's backend finishes its transaction, commit or rollback, first)."""
    import time

    name = url.rpartition("/")[2]
    deadline = time.monotonic() + timeout
    with _pg_admin() as conn:
        while time.monotonic() < deadline:
            if not conn.execute(
                "SELECT 1 FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", (name,)
            ).fetchone():
                return
            time.sleep(0.05)


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
        url = new_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    else:
        url = new_registry(pg_database_url())
        monkeypatch.delenv("MODELREG_ACTOR")  # the actor is the role the URL connects as
    monkeypatch.setenv("MODELREG_DB", url)
    yield url
    if backend == "postgres":
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


def _as_role(args: list[str], env: dict | None) -> tuple[list[str], dict | None]:
    """`--actor NAME` against PostgreSQL: connect as the login role NAME instead."""
    url = (env or {}).get("MODELREG_DB") or os.environ.get("MODELREG_DB") or ""
    if "--db" in args:
        url = args[args.index("--db") + 1]
    if not url.startswith("postgresql") or "--actor" not in args:
        return args, env
    i = args.index("--actor")
    actor = args[i + 1]
    pg_user(actor)
    rest = args[:i] + args[i + 2 :]
    if "--db" in rest:
        j = rest.index("--db")
        rest = rest[:j] + rest[j + 2 :]
    return ["--db", user_url(url, actor)] + rest, {**(env or {}), "MODELREG_ACTOR": None}


def run_cli(*args: str, env: dict | None = None, raw: bool = False) -> Result:
    """Run the CLI in-process (fast) with the real entry point and error funnel
    (`raw`: pass --actor through as given, even on PostgreSQL)."""
    from modelreg.cli import main

    args = [str(a) for a in args]
    if not raw:
        args, env = _as_role(args, env)
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


def run_process(
    *args: str, env: dict | None = None, input: str | None = None, timeout: float = 120, raw: bool = False
) -> Result:
    """Run `python -m modelreg` in a subprocess (real exit codes, real stderr)."""
    args_list = [str(a) for a in args]
    if not raw:
        args_list, env = _as_role(args_list, env)
    full_env = {**os.environ, **{k: v for k, v in (env or {}).items() if v is not None}}
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
    proc = subprocess.run(
        [sys.executable, "-m", "modelreg", *args_list],
        capture_output=True,
        text=True,
        env=full_env,
        input=input,
        timeout=timeout,
    )
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


def as_actor(registry, actor: str, roles: tuple[str, ...] = ALL_ROLES):
    """The same database, opened as another person (on PostgreSQL: connected as that login role)."""
    from modelreg import Registry

    url = registry.db.url
    if url.startswith("postgresql"):
        pg_user(actor, roles)
        return Registry.open(user_url(url, actor))
    return Registry.open(url, actor=actor)


@pytest.fixture
def bob(registry):
    """The registry as bob, who reviews and approves (holding every role)."""
    reviewer = as_actor(registry, "bob")
    yield reviewer
    reviewer.close()


def pass_all_checks(registry, target: str, *, actor: str = "bob") -> None:
    """Record evaluation/security/compliance and a passing benchmark run."""
    reviewer = as_actor(registry, actor)
    try:
        for check in ("evaluation", "security", "compliance"):
            reviewer.review(target, check, True, note="ok")
        registered = reviewer.get_version(*target.split("@"))["endpoint"] or "http://127.0.0.1:9/v1"
        reviewer.record_benchmark(
            target,
            endpoint=registered,
            settings={"requests": 10},
            results={"latency_ms": {"p50": 100, "p95": 200}, "error_rate": 0.0},
            passed=True,
        )
    finally:
        reviewer.close()


def approve(registry, target: str, *, actor: str = "bob", canary: int | None = None) -> dict:
    pass_all_checks(registry, target, actor=actor)
    approver = as_actor(registry, actor)
    try:
        return approver.promote(target, canary=canary)
    finally:
        approver.close()
