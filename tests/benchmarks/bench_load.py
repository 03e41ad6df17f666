"""Figures for issue 6: throughput and p99 command latency under an 8-process
mixed load (register / review / promote / deprecate / cancel / sweep / find)
on SQLite and PostgreSQL, the lost-write and surfaced-lock-error counts, the
BEGIN IMMEDIATE regression guard, and kill -9 crash-test tallies.

    MODELREG_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres \\
        python tests/benchmarks/bench_load.py

Environment:
    MODELREG_SOAK_SECONDS   seconds of mixed load per backend (default 20; the
                            pytest variant in tests/test_concurrency.py uses 3)
    MODELREG_CRASH_KILLS    kills per kind per backend (default 10; pytest: 5)
    MODELREG_TEST_PG_URL    PostgreSQL server (PostgreSQL figures are skipped without it)
    BENCH_WORKERS           processes (default 8)

Not collected by pytest (no test_ prefix). Each command runs in-process in a
long-lived worker through the CLI entry point, so latency is the command's
own (parse, open, transaction, render), not Python start-up.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

SOAK = float(os.environ.get("MODELREG_SOAK_SECONDS", "20"))
KILLS = int(os.environ.get("MODELREG_CRASH_KILLS", "10"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "8"))
PG = os.environ.get("MODELREG_TEST_PG_URL")


def _isolate(tmp: Path) -> None:
    for var in [
        v
        for v in os.environ
        if v.startswith("MODELREG_")
        and v not in ("MODELREG_TEST_PG_URL", "MODELREG_SOAK_SECONDS", "MODELREG_CRASH_KILLS")
    ]:
        del os.environ[var]
    os.environ.update(
        {
            "XDG_DATA_HOME": str(tmp / "data"),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            "XDG_CACHE_HOME": str(tmp / "cache"),
            "MODELREG_ACTOR": "alice",
            "NO_COLOR": "1",
        }
    )


def _url(backend: str, tmp: Path, name: str) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'{name}.db'}"
    from conftest import pg_database_url

    return pg_database_url(name)


def mixed(backend: str, tmp: Path) -> dict:
    import load_worker as lw
    from conftest import new_registry, pg_user, run_cli

    url = new_registry(_url(backend, tmp, f"load_{backend}"))
    lw.apply_policy(url)  # the policy lives in the registry now, not in a config file
    if url.startswith("postgresql"):
        for worker in range(WORKERS):
            pg_user(f"w{worker}")
    os.environ["MODELREG_DB"] = url
    assert run_cli("find").exit_code == 0
    procs = lw.spawn(
        "mixed",
        tmp / f"{backend}-sync",
        WORKERS,
        tmp / f"{backend}-logs",
        extra=["--seconds", str(SOAK), "--seed", "7"],
    )
    started = time.perf_counter()
    results = lw.release(tmp / f"{backend}-sync", procs, timeout=SOAK * 20 + 300)
    wall = time.perf_counter() - started
    entries = lw.read_logs(tmp / f"{backend}-logs")
    problems = lw.verify_mixed(url, entries)
    verify = run_cli("audit", "verify", "--json")
    lat = [e["dt"] for e in entries]
    writes = [e["dt"] for e in entries if e["op"] not in ("find",)]
    locked = sum(any(b in e["stderr"].lower() for b in ("locked", "serializ", "deadlock")) for e in entries)
    tracebacks = sum("traceback" in e["stderr"].lower() for e in entries)
    os.environ.pop("MODELREG_CONFIG", None)
    return {
        "backend": backend,
        "ops": len(entries),
        "wall_s": wall,
        "ops_per_s": len(entries) / wall,
        "p50_ms": lw.percentile(lat, 50) * 1000,
        "p99_ms": lw.percentile(lat, 99) * 1000,
        "write_p99_ms": lw.percentile(writes, 99) * 1000,
        "max_ms": max(lat) * 1000,
        "codes": Counter((e["op"], e["code"]) for e in entries),
        "problems": problems,
        "lock_errors_surfaced": locked,
        "tracebacks": tracebacks,
        "audit_ok": verify.exit_code == 0,
        "audit_events": verify.json["events"] if verify.exit_code == 0 else None,
        "worker_failures": sum(code != 0 for code, _ in results),
    }


def guard(tmp: Path) -> dict:
    import load_worker as lw

    return {
        mode: {k: v for k, v in tally.items() if k in ("done", "errors", "retries", "final")}
        for mode, tally in lw.counter_guard(tmp, WORKERS, 5).items()
    }


def crashes(backend: str, tmp: Path) -> dict:
    import test_crash_safety as cs
    from conftest import new_registry, run_cli

    rng = random.Random(11)
    out = {}
    url = new_registry(_url(backend, tmp, f"crash_{backend}"))
    os.environ["MODELREG_DB"] = url
    assert run_cli("find").exit_code == 0
    out["register"] = (
        cs.crash_register(url, tmp / f"{backend}-reg", KILLS, rng) if (tmp / f"{backend}-reg").mkdir() is None else None
    )
    template = new_registry(_url(backend, tmp, f"tpl_{backend}"))
    cs.prepare_due(template)
    try:
        out["sweep"] = cs.crash_sweep(template, tmp, KILLS, rng)
    finally:
        cs.discard(template)
    promote_url = new_registry(_url(backend, tmp, f"prom_{backend}"))
    os.environ["MODELREG_DB"] = promote_url
    out["promote"] = cs.crash_promote(promote_url, tmp, KILLS, rng)
    for u in (url, promote_url):
        cs.discard(u)
    return out


def main() -> None:
    backends = ["sqlite"] + (["postgres"] if PG else [])
    with tempfile.TemporaryDirectory(prefix="modelreg-bench-") as raw:
        tmp = Path(raw)
        _isolate(tmp)
        print(
            f"# modelreg load benchmark: {WORKERS} processes x {SOAK:.0f} s per backend, "
            f"{os.cpu_count()} CPUs, {KILLS} kills per kind per backend"
        )
        for backend in backends:
            r = mixed(backend, tmp)
            print(
                f"\n[{backend}] mixed load: {r['ops']} commands in {r['wall_s']:.1f} s = {r['ops_per_s']:.1f} ops/s; "
                f"latency p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms (writes p99 {r['write_p99_ms']:.0f} ms), "
                f"max {r['max_ms']:.0f} ms"
            )
            print(
                f"[{backend}] outcomes: "
                + ", ".join(f"{op} exit {c}: {n}" for (op, c), n in sorted(r["codes"].items()))
            )
            print(
                f"[{backend}] lost/duplicated/unaccounted writes: {len(r['problems'])}; lock errors surfaced: "
                f"{r['lock_errors_surfaced']}; tracebacks: {r['tracebacks']}; audit chain ok: {r['audit_ok']} "
                f"({r['audit_events']} events); worker failures: {r['worker_failures']}"
            )
            for p in r["problems"][:10]:
                print("   problem:", p)
        g = guard(tmp)
        print(
            f"\n[sqlite] regression guard, {WORKERS} processes x 5 s read-then-write: "
            f"plain BEGIN: {g['deferred']['errors']} 'database is locked' errors ({g['deferred']['done']} commits); "
            f"modelreg Database.write: {g['project']['errors']} errors surfaced, {g['project']['retries']} retried "
            f"internally, {g['project']['done']} commits, counter {g['project']['final']}"
        )
        for backend in backends:
            t = crashes(backend, tmp)
            print(f"\n[{backend}] kill -9 tallies (half-done operations found: 0, else an assertion stops the run):")
            for kind, tally in t.items():
                print(f"   {kind}: {dict(tally)}")


if __name__ == "__main__":
    main()
