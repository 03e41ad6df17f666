"""Figures for issue 2: the CLI's cost at 100,000 versions, as ratios to the
bare import floor (`python -c "import sqlmodel, typer"`, same interpreter, same run).

    python tests/benchmarks/bench_registry_scale.py [--versions 100000] [--runs 7] [--backend sqlite|postgres|all]

Builds a registry in a temp SQLite file (and, with --backend postgres|all and
MODELREG_TEST_PG_URL set, in a throwaway PostgreSQL database), then times each
command in a fresh subprocess (the installed `modelreg` console script),
interleaved with the floor, and prints the median of --runs runs.
Targets (issue 2): --help <= 0.35x; find and show <= 1.5x; tree is reported
without a target.

The other bench scripts import build_registry / time_commands from here.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

FLOOR = [sys.executable, "-c", "import sqlmodel, typer"]
_script = Path(sys.executable).with_name("modelreg")
CLI = [str(_script)] if _script.exists() else [sys.executable, "-m", "modelreg"]

CAPS_BROAD = "text-generation"  # on ~90% of versions
CAPS_SELECTIVE = "speech-to-text"  # on ~1% of models (about 1% of versions)
CAPS_COMMON = [
    "summarization",
    "reasoning",
    "chat",
    "code",
    "classification",
    "translation",
    "embedding",
    "extraction",
    "vision",
    "tool-use",
    "rag",
    "moderation",
]
RESIDENCIES = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast"]
DOMAINS = [
    "customer-service",
    "content-generation",
    "legal",
    "finance",
    "healthcare",
    "hr",
    "marketing",
    "engineering",
    "support",
    "research",
]
PROVIDERS = ["mindstudio", "acme", "openlab", "northwind", "contoso", "initech"]
STAMP = "2026-01-15T12:00:00.000000Z"


def version_string(j: int) -> str:
    return f"{j // 10 + 1}.{j % 10}.0"


def make_manifests(versions: int, models: int, seed: int = 7) -> list[dict]:
    """`versions` manifest entries spread over `models` models (oldest version first)."""
    rng = random.Random(seed)
    per_model = [versions // models + (1 if i < versions % models else 0) for i in range(models)]
    selective = set(rng.sample(range(models), max(1, models // 100)))
    out = []
    for i, count in enumerate(per_model):
        mid = f"ms-{i:05d}" if i % 3 else f"llm-{i:05d}"
        provider = PROVIDERS[i % len(PROVIDERS)]
        base_caps = rng.sample(CAPS_COMMON, rng.randint(1, 3))
        for j in range(count):
            caps = list(base_caps)
            if rng.random() < 0.9:
                caps.append(CAPS_BROAD)
            if i in selective:
                caps.append(CAPS_SELECTIVE)
            if rng.random() < 0.2:
                caps.append(rng.choice(CAPS_COMMON))
            out.append(
                {
                    "modelId": mid,
                    "version": version_string(j),
                    "provider": provider,
                    "capabilities": sorted(set(caps)),
                    "parameters": {
                        "temperature": {"default": 0.7, "range": [0, 1]},
                        "tokens": {"default": 1024, "max": 4096},
                    },
                    "performance": {
                        "avgLatency": rng.randint(100, 900),
                        "p95Latency": rng.randint(900, 3000),
                        "costPerRequest": round(rng.uniform(0.001, 0.05), 4),
                    },
                    "compliance": {
                        "dataResidency": rng.sample(RESIDENCIES, rng.randint(1, 3)),
                        "piiHandling": rng.choice(["compliant", "restricted", "none"]),
                        "approvedDomains": rng.sample(DOMAINS, rng.randint(1, 4)),
                    },
                    "endpoint": f"https://models.internal/{mid}/v1/chat/completions",
                    "endpointKind": "openai-chat",
                    "experimental": j == count - 1 and rng.random() < 0.05,
                }
            )
    return out


def build_registry(
    url: str,
    versions: int,
    *,
    models: int | None = None,
    batch: int = 25_000,
    deprecated_due: int = 0,
    notices_due: int = 0,
    today: str = "2026-03-01",
    quiet: bool = False,
) -> dict:
    """Register `versions` versions in a few big register_many batches, then
    give them a lifecycle spread with direct SQL (setup speed): per model the
    newest version APPROVED (the production default, checks passed), the two
    before it DEPRECATED far in the future, ~30% of the older ones RETIRED, a
    few REJECTED; plus `deprecated_due` DEPRECATED versions whose retire_on is
    past `today` and `notices_due` with a notice threshold crossed."""
    from sqlalchemy import text

    from modelreg import Registry
    from modelreg.manifest import parse_manifest_document

    models = models or max(1, min(2000, versions // 50))
    t0 = time.perf_counter()
    entries = make_manifests(versions, models)
    from modelreg.store.database import Database

    created = Database(url, create=True)  # as `modelreg db upgrade` does: only the default path is made on first use
    created.upgrade()
    created.dispose()
    # on PostgreSQL the actor is the role the URL connects as (the owner here, who may write anything)
    reg = Registry.open(url) if url.startswith("postgresql") else Registry.open(url, actor="bench")
    try:
        reg.apply_policy({"policy": {"test_clock": True}})  # the sweep figures run at MODELREG_NOW
        for start in range(0, len(entries), batch):
            reg.register_many(parse_manifest_document({"models": entries[start : start + batch]}, "bench"))
        built = time.perf_counter() - t0
        rng = random.Random(11)
        by_model: dict[str, list[str]] = {}
        for e in entries:
            by_model.setdefault(e["modelId"], []).append(e["version"])
        approved, deprecated, retired, rejected, spare = [], [], [], [], []
        for mid, vers in by_model.items():
            live = vers[:-1] if len(vers) > 1 else vers
            approved.append((mid, live[-1]))
            deprecated.extend((mid, v) for v in live[-3:-1])
            for v in live[:-3]:
                r = rng.random()
                if r < 0.3:
                    retired.append((mid, v))
                elif r < 0.33:
                    rejected.append((mid, v))
                else:
                    spare.append((mid, v))
        rng.shuffle(spare)
        due = spare[:deprecated_due]
        noticed = spare[deprecated_due : deprecated_due + notices_due]
        far = "2027-12-31"
        past = _plus_days(today, -1)
        soon = _plus_days(today, 5)
        stmts = [
            (
                "UPDATE model_version SET status='APPROVED', approved_at=:t, approved_by='approver', default_since=:t, "
                "status_changed_at=:t WHERE model_id=:m AND version=:v",
                approved,
                {},
            ),
            (
                "UPDATE model_version SET status='DEPRECATED', approved_at=:t, approved_by='approver', deprecated_at=:t, "
                "deprecated_by='approver', deprecation_reason='superseded', retire_on=:r, status_changed_at=:t "
                "WHERE model_id=:m AND version=:v",
                deprecated,
                {"r": far},
            ),
            (
                "UPDATE model_version SET status='DEPRECATED', approved_at=:t, approved_by='approver', deprecated_at=:t, "
                "deprecated_by='approver', deprecation_reason='superseded', retire_on=:r, status_changed_at=:t "
                "WHERE model_id=:m AND version=:v",
                due,
                {"r": past},
            ),
            (
                "UPDATE model_version SET status='DEPRECATED', approved_at=:t, approved_by='approver', deprecated_at=:t, "
                "deprecated_by='approver', deprecation_reason='superseded', retire_on=:r, status_changed_at=:t "
                "WHERE model_id=:m AND version=:v",
                noticed,
                {"r": soon},
            ),
            (
                "UPDATE model_version SET status='RETIRED', retired_at=:t, status_changed_at=:t "
                "WHERE model_id=:m AND version=:v",
                retired,
                {},
            ),
            (
                "UPDATE model_version SET status='REJECTED', rejected_at=:t, status_changed_at=:t "
                "WHERE model_id=:m AND version=:v",
                rejected,
                {},
            ),
        ]
        checks = [
            {"m": m, "v": v, "n": n, "t": STAMP}
            for m, v in approved + deprecated
            for n in ("evaluation", "security", "compliance", "benchmark")
        ]
        with reg.db.write_engine.begin() as conn:
            for sql, pairs, extra in stmts:
                if pairs:
                    conn.execute(text(sql), [{"m": m, "v": v, "t": STAMP, **extra} for m, v in pairs])
            conn.execute(
                text(
                    "INSERT INTO check_result (model_id, version, name, result, actor, at, note) "
                    "VALUES (:m, :v, :n, 'pass', 'reviewer', :t, '')"
                ),
                checks,
            )
            # fallbacks: every 20th model falls back to the next model
            mids = sorted(by_model)
            conn.execute(
                text("UPDATE model SET fallbacks=:f WHERE model_id=:m"),
                [{"m": mids[k], "f": f'["{mids[k + 1]}"]'} for k in range(0, len(mids) - 1, 20)],
            )
        if reg.db.is_sqlite:
            with reg.db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.exec_driver_sql("ANALYZE")
        else:
            with reg.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    finally:
        reg.close()
    total = time.perf_counter() - t0
    if not quiet:
        print(
            f"built {versions:,} versions over {models:,} models in {built:.1f}s "
            f"(register_many) + {total - built:.1f}s (lifecycle spread)",
            flush=True,
        )
    big = max(by_model, key=lambda m: len(by_model[m]))
    return {
        "models": models,
        "sample_model": big,
        "sample_version": approved[sorted(by_model).index(big)][1],
        "approved": len(approved),
        "deprecated_due": len(due),
        "notices_due": len(noticed),
        "build_s": total,
    }


def _plus_days(day: str, n: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


def _run_once(argv: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr.decode()[-2000:]}")
    return elapsed


def time_commands(commands: dict[str, tuple[list[str], dict]], runs: int, *, before_each=None) -> dict[str, float]:
    """Median wall time of each command (fresh subprocess each run), interleaved
    round by round with the import floor so that machine noise hits all alike.
    `before_each(name)` runs untimed before each timed run (e.g. to reset state)."""
    samples: dict[str, list[float]] = {"floor": []}
    for name in commands:
        samples[name] = []
    env0 = dict(os.environ)
    _run_once(FLOOR, env0)  # warm the page cache
    for name, (argv, env) in commands.items():
        if before_each:
            before_each(name)
        _run_once(argv, env)
    for _ in range(runs):
        samples["floor"].append(_run_once(FLOOR, env0))
        for name, (argv, env) in commands.items():
            if before_each:
                before_each(name)
            samples[name].append(_run_once(argv, env))
    return {name: statistics.median(values) for name, values in samples.items()}


def print_table(title: str, medians: dict[str, float], targets: dict[str, float | None]) -> int:
    """Print name, ms, ratio, target, verdict; return the number of misses."""
    floor = medians["floor"]
    print(f"\n{title}")
    print(f"  {'command':<44} {'median ms':>10} {'x floor':>8} {'target':>8}  verdict")
    floor_name = 'python -c "import sqlmodel, typer"'
    print(f"  {floor_name:<44} {floor * 1000:>10.0f} {1.0:>8.2f} {'':>8}  (floor)")
    misses = 0
    for name, value in medians.items():
        if name == "floor":
            continue
        ratio = value / floor
        target = targets.get(name)
        verdict = "-" if target is None else ("PASS" if ratio <= target else "MISS")
        misses += verdict == "MISS"
        shown = "" if target is None else f"<={target:.2f}"
        print(f"  {name:<44} {value * 1000:>10.0f} {ratio:>8.2f} {shown:>8}  {verdict}")
    return misses


def cli_env(url: str, home: Path) -> dict:
    env = dict(os.environ)
    for var in list(env):
        if var.startswith("MODELREG_") and var != "MODELREG_TEST_PG_URL":
            env.pop(var)
    env.update(
        MODELREG_DB=url,
        MODELREG_ACTOR="bench",
        NO_COLOR="1",
        COLUMNS="160",
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
    )
    return env


class Backend:
    """A throwaway database: a temp SQLite file, or a fresh PostgreSQL database."""

    def __init__(self, kind: str, home: Path):
        self.kind = kind
        self.name = None
        if kind == "sqlite":
            self.url = f"sqlite:///{home / 'registry.db'}"
        else:
            import psycopg

            admin = os.environ["MODELREG_TEST_PG_URL"]
            self.name = f"bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
            with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
            self.url = f"{admin.rpartition('/')[0]}/{self.name}"

    def drop(self) -> None:
        if self.name:
            import psycopg

            admin = os.environ["MODELREG_TEST_PG_URL"]
            with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def backends(choice: str) -> list[str]:
    have_pg = bool(os.environ.get("MODELREG_TEST_PG_URL"))
    if choice == "sqlite":
        return ["sqlite"]
    if choice == "postgres":
        if not have_pg:
            raise SystemExit("--backend postgres needs MODELREG_TEST_PG_URL")
        return ["postgres"]
    return ["sqlite"] + (["postgres"] if have_pg else [])


def scale_arguments(description: str, *, runs: int = 7) -> argparse.ArgumentParser:
    """The options every figures script at scale shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--versions", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgres", "all"],
        default="all",
        help="all: SQLite, plus PostgreSQL when MODELREG_TEST_PG_URL is set",
    )
    return parser


def compile_package() -> None:
    """Write modelreg's bytecode first, as an installed package has it. This
    machine sets PYTHONDONTWRITEBYTECODE=1, so an editable checkout would
    otherwise recompile every modelreg module on each start (~130 ms, measured
    on `show`), while the floor's sqlmodel and typer load from bytecode."""
    import compileall

    compileall.compile_dir(str(Path(__file__).resolve().parents[2] / "modelreg"), quiet=1)


def main() -> int:
    parser = scale_arguments(__doc__.split("\n\n")[0])
    args = parser.parse_args()
    compile_package()
    misses = 0
    for kind in backends(args.backend):
        home = Path(tempfile.mkdtemp(prefix="modelreg-bench-"))
        backend = Backend(kind, home)
        try:
            info = build_registry(backend.url, args.versions)
            env = cli_env(backend.url, home)
            m, v = info["sample_model"], info["sample_version"]
            commands = {
                "modelreg --help": (CLI + ["--help"], env),
                f"modelreg find --capability {CAPS_SELECTIVE}": (CLI + ["find", "--capability", CAPS_SELECTIVE], env),
                f"modelreg find --capability {CAPS_BROAD}": (CLI + ["find", "--capability", CAPS_BROAD], env),
                f"modelreg show {m}@{v}": (CLI + ["show", f"{m}@{v}"], env),
                f"modelreg show {m}": (CLI + ["show", m], env),
                "modelreg tree": (CLI + ["tree"], env),
            }
            targets = {
                name: (0.35 if "--help" in name else None if name.endswith("tree") else 1.5) for name in commands
            }
            medians = time_commands(commands, args.runs)
            misses += print_table(
                f"{kind}: {args.versions:,} versions, {info['models']:,} models, median of {args.runs} runs",
                medians,
                targets,
            )
        finally:
            backend.drop()
            shutil.rmtree(home, ignore_errors=True)
    print(f"\n{'PASS' if not misses else f'MISS ({misses} targets missed)'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
