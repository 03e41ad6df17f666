"""kill -9 at random moments: a bulk `register --file`, a sweep with many due
versions, and a promote, repeatedly, on SQLite and PostgreSQL. After each
kill: SQLite's integrity check passes, the operation is all-or-nothing, the
audit chain verifies, rerunning completes and a second rerun changes nothing.

The loops are plain functions (crash_register, crash_sweep, crash_promote)
so tests/benchmarks/bench_load.py can run them longer and print the tallies.
MODELREG_CRASH_KILLS sets the kills per kind per backend (default 5), and
MODELREG_CRASH_SEED the seed of the kill moments (default 17; printed with the
tallies, so a failing run can be repeated with the same draws)."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from conftest import (
    _pg_admin,
    drop_pg_database,
    new_registry,
    pass_all_checks,
    pg_database_url,
    run_cli,
    settle_pg,
    user_url,
)
from sqlalchemy import create_engine, text

KILLS = int(os.environ.get("MODELREG_CRASH_KILLS", "5"))
SEED = int(os.environ.get("MODELREG_CRASH_SEED", "17"))
BULK = 2000
DUE = 600


# -- helpers ---------------------------------------------------------------------------------------
def scalar(url: str, sql: str, **params):
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def sqlite_file(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def integrity_ok(url: str) -> None:
    path = sqlite_file(url)
    if path is not None:
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            conn.close()


def audit_ok(url: str) -> int:
    r = run_cli("--db", url, "audit", "verify", "--json")
    assert r.exit_code == 0, r.stderr
    return r.json["events"]


def kill_at(args: list[str], delay: float, env: dict) -> int:
    """Run `python -m modelreg ARGS`, SIGKILL it after `delay` seconds if it
    is still running; return its exit status (-9 when killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "modelreg", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    if env.get("MODELREG_DB", "").startswith("postgresql"):
        settle_pg(env["MODELREG_DB"])  # the server finishes the killed client's transaction first
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"modelreg {args[:2]} exited {proc.returncode}: {err.decode()[-500:]}")
    assert b"Traceback" not in err
    return proc.returncode


def timed(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    assert kill_at(args, 600, env) == 0
    return time.perf_counter() - started


def outcome(returncode: int, applied: bool) -> str:
    if returncode == 0:
        return "finished"
    return "killed-after-commit" if applied else "killed-before-commit"


def _spec(model: str, version: str, provider: str) -> dict:
    return {
        "modelId": model,
        "version": version,
        "capabilities": ["chat", "reasoning"],
        "provider": provider,
        "endpoint": "http://127.0.0.1:9/v1",
        "performance": {"avgLatency": 10, "p95Latency": 20, "costPerRequest": 0.001},
    }


def copy_database(template_url: str, tmp: Path, name: str) -> str:
    """A fresh copy of a prepared database (SQLite backup API / PostgreSQL TEMPLATE)."""
    path = sqlite_file(template_url)
    if path is not None:
        target = tmp / f"{name}.db"
        src, dst = sqlite3.connect(path), sqlite3.connect(target)
        src.backup(dst)
        src.close()
        dst.close()
        return f"sqlite:///{target}"
    base, _, template = template_url.rpartition("/")
    new = f"{template}_{name}"[:60]
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{new}" TEMPLATE "{template}"')
    return f"{base}/{new}"


def discard(url: str) -> None:
    path = sqlite_file(url)
    if path is None:
        drop_pg_database(url)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


# -- the three crash loops --------------------------------------------------------------------------------
def crash_register(url: str, tmp: Path, kills: int, rng: random.Random, size: int = BULK) -> Counter:
    env = {"MODELREG_DB": url}
    tally: Counter = Counter()
    window = None
    for i in range(kills + 1):
        model = f"bulk-{i}"
        manifest = tmp / f"{model}.json"
        manifest.write_text(
            json.dumps({"provider": "bulk", "models": [_spec(model, f"1.{n}.0", "bulk") for n in range(size)]})
        )
        args = ["register", "--file", str(manifest)]
        if window is None:  # calibrate: how long a whole run takes here
            window = timed(args, env)
            continue
        rc = kill_at(args, rng.uniform(0.2, 0.95) * window, env)
        integrity_ok(url)
        count = scalar(url, "SELECT count(*) FROM model_version WHERE model_id = :m", m=model)
        events = scalar(
            url, "SELECT count(*) FROM audit_event WHERE action = 'register' AND target LIKE :p", p=f"{model}@%"
        )
        attrs = scalar(url, "SELECT count(*) FROM version_attribute WHERE model_id = :m", m=model)
        models = scalar(url, "SELECT count(*) FROM model WHERE model_id = :m", m=model)
        assert count in (0, size), f"half-done register: {count} of {size} versions"
        assert events == count and attrs == 2 * count and models == (1 if count else 0)
        tally[outcome(rc, count == size)] += 1
        audit_ok(url)
        r = run_cli("--db", url, "register", "--file", manifest)
        assert r.exit_code == (4 if count else 0), r.stderr
        assert scalar(url, "SELECT count(*) FROM model_version WHERE model_id = :m", m=model) == size
        before = audit_ok(url)
        r = run_cli("--db", url, "register", "--file", manifest)
        assert r.exit_code == 4 and "already registered" in r.stderr
        assert audit_ok(url) == before
    return tally


def prepare_due(url: str, size: int = DUE) -> None:
    """`size` DEPRECATED versions whose retirement date has passed."""
    from sqlalchemy import update

    from modelreg import Registry
    from modelreg.manifest import parse_version_spec
    from modelreg.store.tables import ModelVersion

    owner = user_url(url, "postgres")
    reg = Registry.open(owner, actor="postgres" if owner.startswith("postgresql") else None)  # the owner writes
    # what no role may (on SQLite there are no roles)
    targets = [(f"due-{n % 6}", f"1.{n}.0") for n in range(size)]
    reg.register_many([parse_version_spec(_spec(m, v, "due")) for m, v in targets])

    def deprecate_all(tx):  # fixture: one transaction through the audited write path
        tx.session.execute(
            update(ModelVersion)
            .where(ModelVersion.provider == "due")
            .values(
                status="DEPRECATED",
                deprecated_at=tx.now,
                deprecated_by=tx.actor,
                deprecation_reason="fixture",
                retire_on="2020-01-01",
                status_changed_at=tx.now,
            )
        )
        for m, v in targets:
            tx.audit(
                "deprecate", f"{m}@{v}", {"status": "TESTING"}, {"status": "DEPRECATED", "retire_on": "2020-01-01"}
            )

    reg.write(deprecate_all)
    reg.close()


def crash_sweep(template_url: str, tmp: Path, kills: int, rng: random.Random, size: int = DUE) -> Counter:
    tally: Counter = Counter()
    window = None
    for i in range(kills + 1):
        url = copy_database(template_url, tmp, f"sweep{i}")
        env = {"MODELREG_DB": url}
        try:
            args = ["deprecate", "--sweep", "--json"]
            if window is None:
                window = timed(args, env)
                assert scalar(url, "SELECT count(*) FROM model_version WHERE status = 'RETIRED'") == size
                continue
            rc = kill_at(args, rng.uniform(0.2, 0.95) * window, env)
            integrity_ok(url)
            retired = scalar(url, "SELECT count(*) FROM model_version WHERE status = 'RETIRED'")
            events = scalar(url, "SELECT count(*) FROM audit_event WHERE action = 'retire'")
            assert retired in (0, size), f"half-done sweep: {retired} of {size} retired"
            assert events == retired
            tally[outcome(rc, retired == size)] += 1
            audit_ok(url)
            r = run_cli("--db", url, "deprecate", "--sweep", "--json")
            assert r.exit_code == 0 and len(r.json["retired"]) == size - retired
            before = audit_ok(url)
            r = run_cli("--db", url, "deprecate", "--sweep", "--json")
            assert r.exit_code == 0 and r.json["retired"] == [] and r.json["notices"] == []
            assert audit_ok(url) == before
            assert scalar(url, "SELECT count(*) FROM audit_event WHERE action = 'retire'") == size
        finally:
            discard(url)
    return tally


def crash_promote(url: str, tmp: Path, kills: int, rng: random.Random) -> Counter:
    from modelreg import Registry
    from modelreg.manifest import parse_version_spec

    reg = Registry.open(url, actor="alice")
    targets = [f"prom@1.{n}.0" for n in range(kills + 1)]
    reg.register_many([parse_version_spec(_spec("prom", t.split("@")[1], "prom")) for t in targets])
    for t in targets:
        pass_all_checks(reg, t, actor="bob")
    reg.close()
    env = {"MODELREG_DB": user_url(url, "bob"), "MODELREG_ACTOR": "bob" if url.startswith("sqlite") else ""}
    tally: Counter = Counter()
    window = timed(["promote", targets[0]], env)
    for target in targets[1:]:
        rc = kill_at(["promote", target], rng.uniform(0.2, 0.95) * window, env)
        integrity_ok(url)
        status = scalar(
            url, "SELECT status FROM model_version WHERE model_id = 'prom' AND version = :v", v=target.split("@")[1]
        )
        events = scalar(url, "SELECT count(*) FROM audit_event WHERE action = 'promote' AND target = :t", t=target)
        assert (status, events) in (("TESTING", 0), ("APPROVED", 1)), (status, events)
        tally[outcome(rc, status == "APPROVED")] += 1
        audit_ok(url)
        r = run_cli("--db", url, "--actor", "bob", "promote", target)
        assert r.exit_code == (4 if status == "APPROVED" else 0), r.stderr
        before = audit_ok(url)
        r = run_cli("--db", url, "--actor", "bob", "promote", target)
        assert r.exit_code == 4 and "APPROVED" in r.stderr
        assert audit_ok(url) == before
    return tally


def _report(kind: str, backend: str, tally: Counter) -> None:
    sys.stderr.write(f"crash {kind} [{backend}] (MODELREG_CRASH_SEED={SEED}): {dict(tally)}\n")
    # the loop must really have killed processes, not just watched them finish
    assert sum(n for k, n in tally.items() if k.startswith("killed")) >= 1, tally


# -- the tests --------------------------------------------------------------------------------------------
def test_kill_bulk_register(db_url, backend, tmp_path):
    assert run_cli("find").exit_code == 0
    _report("register", backend, crash_register(db_url, tmp_path, KILLS, random.Random(SEED)))


def test_kill_sweep_with_many_due(backend, tmp_path):
    template = new_registry(f"sqlite:///{tmp_path / 'template.db'}" if backend == "sqlite" else pg_database_url("tpl"))
    try:
        prepare_due(template)
        _report("sweep", backend, crash_sweep(template, tmp_path, KILLS, random.Random(SEED)))
    finally:
        discard(template)


def test_kill_promote(db_url, backend, tmp_path):
    _report("promote", backend, crash_promote(db_url, tmp_path, KILLS, random.Random(SEED)))
