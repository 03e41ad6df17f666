"""Figures for issue 7: one TAB press of dynamic completion at 100,000
versions, as a ratio to the import floor (`python -c "import sqlmodel, typer"`).

    python tests/benchmarks/bench_completion.py [--versions 100000] [--runs 7] [--backend sqlite|postgres|all]

A TAB is `_MODELREG_COMPLETE=complete_bash COMP_WORDS='modelreg show ms-'
COMP_CWORD=2 modelreg` (and the same for 'ms-00001@'), timed cold (the
completion cache removed before each run, so the database is read and the
cache written) and warm (cache valid). If `show` is not yet wired to
`modelreg.cli.complete_targets` (its TAB offers no model ids), the script
says so and times the same entry point with the wiring added at start-up
instead. Target (issue 7): a TAB at most 0.5x the floor, warm and cold.
"""

from __future__ import annotations

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

WIRED = (
    "import inspect\n"
    "from modelreg.cli import main, registry_commands as rc\n"
    "from modelreg.cli.complete_targets import complete_target\n"
    "info = inspect.signature(rc.show).parameters['target'].default\n"
    "info.autocompletion = info.autocompletion or complete_target\n"
    "main()\n"
)


def tab_env(env: dict, words: str) -> dict:
    return {
        **env,
        "_MODELREG_COMPLETE": "complete_bash",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - 1),
    }


def main() -> int:
    parser = scale_arguments(__doc__.split("\n\n")[0])
    args = parser.parse_args()
    compile_package()
    misses = 0
    for kind in backends(args.backend):
        home = Path(tempfile.mkdtemp(prefix="modelreg-bench-tab-"))
        backend = Backend(kind, home)
        try:
            info = build_registry(backend.url, args.versions)
            env = cli_env(backend.url, home)
            cache_dir = home / "cache" / "modelreg"
            model = next(f"ms-{i:05d}" for i in range(1, 3))
            argv = CLI
            probe = subprocess.run(argv, env=tab_env(env, "modelreg show ms-"), capture_output=True, text=True)
            if not probe.stdout.split():
                print(
                    "note: `modelreg show` has no autocompletion= yet; timing the same entry point with "
                    "complete_target wired at start-up"
                )
                argv = [sys.executable, "-c", WIRED]
            shutil.rmtree(cache_dir, ignore_errors=True)
            models = subprocess.run(
                argv, env=tab_env(env, "modelreg show ms-"), capture_output=True, text=True
            ).stdout.split()
            versions = subprocess.run(
                argv, env=tab_env(env, f"modelreg show {model}@"), capture_output=True, text=True
            ).stdout.split()
            cached = sorted(cache_dir.glob("completion-*.txt"))
            print(
                f"TAB 'modelreg show ms-' offers {len(models):,} model ids; 'show {model}@' offers "
                f"{len(versions)} versions; cache {cached[0].stat().st_size / 1e6:.1f} MB"
                if cached
                else "no cache written"
            )
            if not models or not versions:
                raise SystemExit("completion returned nothing: cannot time it")

            def clear(name: str) -> None:
                if "cold" in name:
                    shutil.rmtree(cache_dir, ignore_errors=True)

            commands = {
                "TAB 'show ms-' cold (no cache)": (argv, tab_env(env, "modelreg show ms-")),
                "TAB 'show ms-' warm (cache)": (argv, tab_env(env, "modelreg show ms-")),
                f"TAB 'show {model}@' cold": (argv, tab_env(env, f"modelreg show {model}@")),
                f"TAB 'show {model}@' warm": (argv, tab_env(env, f"modelreg show {model}@")),
            }
            # a warm run must find the cache the previous (cold) run wrote or the warm-up left
            medians = time_commands(commands, args.runs, before_each=clear)
            misses += print_table(
                f"{kind}: {args.versions:,} versions, {info['models']:,} models, median of {args.runs} runs",
                medians,
                {name: 0.5 for name in commands},
            )
        finally:
            backend.drop()
            shutil.rmtree(home, ignore_errors=True)
    print(f"\n{'PASS' if not misses else f'MISS ({misses} targets missed)'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
