"""Figures for issue 3: the cron sweep over 100,000 versions with 1,000 due,
as a ratio to the import floor (`python -c "import sqlmodel, typer"`).

    python tests/benchmarks/bench_sweep.py [--versions 100000] [--due 1000] [--notices 200] [--runs 5]
                                           [--backend sqlite|postgres|all]

`modelreg deprecate --sweep --json` runs with MODELREG_NOW set to the day
after the due versions' retire_on. Each timed run of the busy sweep starts
from the same pristine registry (the SQLite file is copied back, or the
PostgreSQL database re-created from a template, untimed). The idle sweep is
timed on the registry as a busy sweep leaves it (nothing to do: idempotent).
Target (issue 3): the busy sweep at most 2x the floor.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_registry_scale import (
    CLI,
    Backend,
    backends,
    build_registry,
    cli_env,
    compile_package,
    print_table,
    scale_arguments,
    time_commands,
)

TODAY = "2026-03-01"
NOW = f"{TODAY}T06:00:00Z"


class Resettable:
    """The busy-sweep database and a pristine copy to restore it from."""

    def __init__(self, backend: Backend, home: Path):
        self.backend = backend
        self.home = home
        self.template = None
        if backend.kind == "postgres":
            # the built database becomes the template; each run gets a fresh copy
            self.template = backend.name
            self.work = f"{backend.name}_w"
            self.url = f"{backend.url.rpartition('/')[0]}/{self.work}"
        else:
            self.db = Path(backend.url.removeprefix("sqlite:///"))
            self.pristine = home / "pristine.db"
            self.url = backend.url

    def snapshot(self) -> None:
        if self.template is None:
            shutil.copyfile(self.db, self.pristine)

    def reset(self) -> None:
        if self.template is None:
            for suffix in ("-wal", "-shm"):
                Path(str(self.db) + suffix).unlink(missing_ok=True)
            shutil.copyfile(self.pristine, self.db)
            return
        import psycopg

        admin = os.environ["MODELREG_TEST_PG_URL"].replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.work}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.work}" TEMPLATE "{self.template}"')

    def drop(self) -> None:
        if self.template is not None:
            import psycopg

            admin = os.environ["MODELREG_TEST_PG_URL"].replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.work}" WITH (FORCE)')


def main() -> int:
    parser = scale_arguments(__doc__.split("\n\n")[0], runs=5)
    parser.add_argument("--due", type=int, default=1000, help="DEPRECATED versions whose retire_on has passed")
    parser.add_argument("--notices", type=int, default=200, help="DEPRECATED versions with a notice threshold crossed")
    args = parser.parse_args()
    compile_package()
    misses = 0
    for kind in backends(args.backend):
        home = Path(tempfile.mkdtemp(prefix="modelreg-bench-sweep-"))
        backend = Backend(kind, home)
        state = Resettable(backend, home)
        try:
            info = build_registry(
                backend.url, args.versions, deprecated_due=args.due, notices_due=args.notices, today=TODAY
            )
            state.snapshot()
            state.reset()
            env = {**cli_env(state.url, home), "MODELREG_NOW": NOW}
            sweep = CLI + ["deprecate", "--sweep", "--json"]

            # what one busy sweep does (and that it does what it should)
            first = subprocess.run(sweep, env=env, capture_output=True, text=True)
            if first.returncode != 0:
                raise SystemExit(f"the sweep failed (exit {first.returncode}): {first.stderr.strip()}")
            report = json.loads(first.stdout)
            print(
                f"busy sweep: retired {len(report['retired'])}, notices {len(report['notices'])}, "
                f"broken fallbacks {len(report['broken_fallbacks'])}, unchanged {report['unchanged']}"
            )
            assert len(report["retired"]) == info["deprecated_due"], report["retired"][:3]
            idle = json.loads(subprocess.run(sweep, env=env, capture_output=True, text=True, check=True).stdout)
            assert not idle["retired"] and not idle["notices"], "the second sweep must have nothing to do"

            busy = f"deprecate --sweep --json ({info['deprecated_due']} due)"
            medians = time_commands({busy: (sweep, env)}, args.runs, before_each=lambda _name: state.reset())
            state.reset()
            subprocess.run(sweep, env=env, capture_output=True, check=True)
            medians.update(
                {
                    k: v
                    for k, v in time_commands({"deprecate --sweep --json (idle)": (sweep, env)}, args.runs).items()
                    if k != "floor"
                }
            )
            misses += print_table(
                f"{kind}: {args.versions:,} versions, {info['deprecated_due']:,} due, "
                f"{info['notices_due']:,} with notices due, median of {args.runs} runs",
                medians,
                {busy: 2.0, "deprecate --sweep --json (idle)": 2.0},
            )
        finally:
            state.drop()
            backend.drop()
            shutil.rmtree(home, ignore_errors=True)
    print(f"\n{'PASS' if not misses else f'MISS ({misses} targets missed)'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
