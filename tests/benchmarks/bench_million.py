"""The registry at 1,000,000 versions over 10,000 models (issue 15): bulk
registration, resolve in-process, the CLI's find/show/resolve against the
import floor, the sweep with 10,000 due, and export/import with their peak
memory.

    python tests/benchmarks/bench_million.py [--versions 1000000] [--models 10000] [--due 10000]
                                             [--backend sqlite|postgres|all] [--runs 3] [--step-timeout 900]

Targets (issue 15): bulk register under 3 minutes; resolve by capability at
most 10 ms p50; find/show/resolve at most 1.6x the floor; export and import
under 3 minutes each with peak memory under 600 MB. Each step that runs out
of --step-timeout is reported as such, with the time it was given.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_registry_scale import (
    CAPS_BROAD,
    CAPS_SELECTIVE,
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
from bench_resolve import timed

TODAY = "2026-03-01"


def measured(argv: list[str], env: dict, timeout: float) -> tuple[float | None, int | None, str]:
    """(wall seconds, peak RSS in MB, last stderr line) of one command; None when it timed out."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M", *argv], env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return None, None, f"did not finish in {timeout:.0f} s"
    wall = time.perf_counter() - t0
    lines = proc.stderr.strip().splitlines()
    rss = int(lines[-1]) // 1024 if lines and lines[-1].isdigit() else None
    errors = [line for line in lines if line.startswith("error:")]
    note = "" if proc.returncode == 0 else f"exit {proc.returncode}: {errors[-1] if errors else ''}"
    return wall, rss, note


def verdict(value: float | None, target: float, note: str = "") -> str:
    if note.startswith("exit"):
        return "MISS (refused)"
    return "MISS (timed out)" if value is None else ("PASS" if value <= target else "MISS")


def main() -> int:
    parser = scale_arguments(__doc__.split("\n\n")[0], runs=3)
    parser.set_defaults(versions=1_000_000, backend="sqlite")
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--step-timeout", type=float, default=900)
    args = parser.parse_args()
    compile_package()
    from modelreg import Registry

    misses = 0
    for kind in backends(args.backend):
        home = Path(tempfile.mkdtemp(prefix="modelreg-million-"))
        backend = Backend(kind, home)
        target_backend = Backend(kind, home / "import") if kind == "postgres" else None
        try:
            t0 = time.perf_counter()
            info = build_registry(backend.url, args.versions, models=args.models, deprecated_due=args.due, today=TODAY)
            print(f"== {kind}: {args.versions:,} versions over {info['models']:,} models")
            build = time.perf_counter() - t0
            print(f"  build (register_many + lifecycle spread): {build:.0f} s  target register < 180 s")
            reg = Registry.open(backend.url) if kind == "postgres" else Registry.open(backend.url, actor="bench")
            try:
                for name, filters in {
                    "resolve by model": {"model": info["sample_model"]},
                    f"resolve by capability {CAPS_BROAD}": {"capabilities": [CAPS_BROAD]},
                    f"resolve by capability {CAPS_SELECTIVE}": {"capabilities": [CAPS_SELECTIVE]},
                    "resolve by provider + summarization": {
                        "provider": "mindstudio",
                        "capabilities": ["summarization"],
                    },
                }.items():
                    p50, p95, _ = timed(lambda f=filters: reg.resolve(**f), 20)
                    ok = "-" if "model" in name else verdict(p50 * 1000, 10.0)
                    misses += ok.startswith("MISS")
                    print(f"  {name:<44} p50 {p50 * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms  {ok}")
            finally:
                reg.close()

            env = cli_env(backend.url, home)
            m, v = info["sample_model"], info["sample_version"]
            commands = {
                f"find --capability {CAPS_SELECTIVE}": (CLI + ["find", "--capability", CAPS_SELECTIVE], env),
                f"show {m}@{v}": (CLI + ["show", f"{m}@{v}"], env),
                f"resolve --capability {CAPS_BROAD}": (CLI + ["resolve", "--capability", CAPS_BROAD], env),
            }
            medians = time_commands(commands, args.runs)
            misses += print_table(
                f"  CLI at {args.versions:,} versions, median of {args.runs}", medians, dict.fromkeys(commands, 1.6)
            )

            sweep_env = {**env, "MODELREG_NOW": f"{TODAY}T06:00:00Z"}
            wall, rss, note = measured(CLI + ["deprecate", "--sweep", "--json"], sweep_env, args.step_timeout)
            print(f"\n  sweep with {info['deprecated_due']:,} due: {wall and round(wall, 1)} s, peak {rss} MB {note}")

            export = home / "registry.toml"
            wall, rss, note = measured(CLI + ["export", "-f", str(export)], env, args.step_timeout)
            size = export.stat().st_size / 1e6 if export.exists() else 0
            e_ok, m_ok = verdict(wall, 180, note), verdict(rss, 600, note)
            misses += e_ok.startswith("MISS") + m_ok.startswith("MISS")
            print(f"  export: {wall and round(wall, 1)} s ({e_ok}), peak {rss} MB ({m_ok}), {size:.0f} MB file {note}")

            if export.exists():
                url = target_backend.url if target_backend else f"sqlite:///{home / 'imported.db'}"
                import_env = {**cli_env(url, home), "MODELREG_DB": url}
                subprocess.run(CLI + ["db", "upgrade"], env=import_env, capture_output=True)
                wall, rss, note = measured(CLI + ["import", str(export)], import_env, args.step_timeout)
                i_ok, m_ok = verdict(wall, 180, note), verdict(rss, 600, note)
                misses += i_ok.startswith("MISS") + m_ok.startswith("MISS")
                print(f"  import: {wall and round(wall, 1)} s ({i_ok}), peak {rss} MB ({m_ok}) {note}")
        finally:
            backend.drop()
            if target_backend:
                target_backend.drop()
            os.system(f"rm -rf {home}")
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
