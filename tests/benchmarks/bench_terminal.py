"""Figures for issue 16: what drawing `find` as a table fitted to a terminal
costs, against the same `find` piped (plain columns), at 50 and 1,000 rows.

    python tests/benchmarks/bench_terminal.py [--versions 3000] [--runs 9] [--columns 160] [--backend sqlite|postgres|all]

Each run is a fresh `modelreg find --limit N` process: once with stdout a
pseudo-terminal of --columns x 50 (the rich table, status colours on), once
with stdout a pipe; the runs alternate, and the median of --runs of each is
printed with their difference, the rendering cost (the rich import included).
Target (issue 16): at most 100 ms added to a 50-row `find`. The 1,000-row
figure is reported without a target.
"""

from __future__ import annotations

import fcntl
import os
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_registry_scale as scale  # the registry builder and the timing the other figures use

TARGET_MS = {50: 100.0, 1000: None}


def create_registry(url: str) -> None:
    """An empty registry at `url`, as `modelreg db upgrade` makes one (only the
    default path is created on first use)."""
    from modelreg.store.database import Database

    db = Database(url, create=True)
    db.upgrade()
    db.dispose()


def run_on_terminal(argv: list[str], env: dict, columns: int) -> tuple[float, bytes]:
    """Wall time of `argv` with stdout a pseudo-terminal `columns` wide (read as it comes)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    screen = bytearray()
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        screen += chunk
    proc.wait()
    elapsed = time.perf_counter() - t0
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"failed on a terminal: {' '.join(argv)}\n{proc.stderr.read().decode()[-2000:]}")
    return elapsed, bytes(screen)


def rendering_cost(argv: list[str], piped_env: dict, tty_env: dict, runs: int, columns: int) -> tuple[float, float]:
    """Median ms of `argv` piped and on a terminal, the runs alternating."""
    _, screen = run_on_terminal(argv, tty_env, columns)  # warm-up, and a look at the screen
    if not any(set(line.strip()) == {"─"} for line in screen.decode("utf-8", "replace").splitlines()):
        raise SystemExit("the terminal run did not draw a table")
    scale._run_once(argv, piped_env)
    piped, tty = [], []
    for _ in range(runs):
        piped.append(scale._run_once(argv, piped_env))
        tty.append(run_on_terminal(argv, tty_env, columns)[0])
    return statistics.median(piped) * 1000, statistics.median(tty) * 1000


def measure(kind: str, args) -> int:
    """The figures on one backend; the number of targets missed."""
    home = Path(tempfile.mkdtemp(prefix="modelreg-bench-tty-"))
    backend = scale.Backend(kind, home)
    misses = 0
    try:
        create_registry(backend.url)
        info = scale.build_registry(backend.url, args.versions, quiet=True)
        piped_env = scale.cli_env(backend.url, home)
        tty_env = {k: v for k, v in piped_env.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
        tty_env.setdefault("TERM", "xterm-256color")
        print(f"\n{kind}: {args.versions:,} versions ({info['models']:,} models), {args.columns} columns, "
              f"median of {args.runs} runs (fresh process each; measured on a shared machine)")  # fmt: skip
        print(f"  {'rows':>5} {'piped ms':>9} {'terminal ms':>12} {'rendering ms':>13} {'target':>8}  verdict")
        for rows, target in TARGET_MS.items():
            argv = [*scale.CLI, "find", "--limit", str(rows)]
            p, t = rendering_cost(argv, piped_env, tty_env, args.runs, args.columns)
            verdict = "-" if target is None else ("PASS" if t - p <= target else "MISS")
            misses += verdict == "MISS"
            print(
                f"  {rows:>5} {p:>9.0f} {t:>12.0f} {t - p:>13.0f} {'' if target is None else f'<={target:.0f}':>8}  {verdict}"
            )
    finally:
        backend.drop()
        shutil.rmtree(home, ignore_errors=True)
    return misses


def main() -> int:
    parser = scale.scale_arguments(__doc__.split("\n\n")[0], runs=9)
    parser.set_defaults(versions=3000)
    parser.add_argument("--columns", type=int, default=160)
    args = parser.parse_args()
    scale.compile_package()
    misses = sum(measure(kind, args) for kind in scale.backends(args.backend))
    print("\nPASS" if not misses else f"\nMISS ({misses} target(s) missed)")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
