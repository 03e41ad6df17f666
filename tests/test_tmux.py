"""The screenshot-level check of issue 16, in a real terminal: tmux panes of
80 and 160 columns run `modelreg` on the showcase registry, and what the
pane shows (`capture-pane -p -J`: a line the terminal wrapped comes back
joined, longer than the pane) is checked: `find` without a wrapped row,
`history` in local time, a benchmark's histogram in at most 12 rows.
Skipped when tmux is not installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from bench_servers import ServerThread
from conftest import new_registry
from showcase import NOW, OS_LOGIN, seed

from modelreg.bench.stats import HISTOGRAM_ROWS

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
DONE = "__modelreg_done__"


class Pane:
    """One detached tmux session on a private server (its own socket, no
    user config), running one command and then waiting to be captured."""

    def __init__(self, width: int, env: dict[str, str], height: int = 60):
        self.dir = tempfile.mkdtemp(prefix="mr-tmux-")  # short: socket paths are limited to ~100 bytes
        self.socket = os.path.join(self.dir, "s")
        self.width, self.height, self.env = width, height, env

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-f", "/dev/null", "-S", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout

    def run(self, *argv: str, timeout: float = 90) -> list[str]:
        """`modelreg ARGV` in a fresh pane; the screen's lines (wrapped lines joined,
        trailing blanks kept: a joined line is longer than the pane)."""
        command = " ".join([sys.executable, "-m", "modelreg", *argv])
        self.tmux("new-session", "-d", "-s", "t", "-x", str(self.width), "-y", str(self.height),
                  f"{command}; echo {DONE}; sleep 300")  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                screen = self.tmux("capture-pane", "-p", "-J", "-t", "t")
                if DONE in screen:
                    return screen.split(DONE)[0].rstrip("\n").splitlines()
                time.sleep(0.2)
            raise AssertionError(f"`modelreg {' '.join(argv)}` did not finish in the pane:\n{screen}")
        finally:
            self.tmux("kill-server")

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def terminal_env(tmp_path):
    """The environment inside the pane, spelled out: nothing leaks from the test run
    (COLUMNS would override the pane's width; NO_COLOR is left out, so colour is on)."""
    url = new_registry(f"sqlite:///{tmp_path / 'showcase.db'}")
    seed(url)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TERM": "xterm-256color",
        "TZ": "Europe/Berlin",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "MODELREG_DB": url,
        "MODELREG_NOW": NOW,
        "MODELREG_ACTOR": "alice",
        "LOGNAME": OS_LOGIN,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    return env


@pytest.fixture(params=[80, 160])
def pane(request, terminal_env):
    p = Pane(request.param, terminal_env)
    yield p
    p.close()


def data_rows(screen: list[str]) -> list[str]:
    start = next(i for i, line in enumerate(screen) if line and set(line) == {"─"}) + 1
    return [line for line in screen[start:] if line.strip() and not line.startswith("not shown")]


def test_find_fits_the_pane_without_a_wrapped_row(pane):
    screen = pane.run("find")
    assert all(len(line) <= pane.width for line in screen), screen
    rows = data_rows(screen)
    assert [row.split()[0] for row in rows] == ["ms-advanced-reasoning", "ms-research-prototype", "ms-standard"]
    assert [row.split()[2] for row in rows] == ["APPROVED", "EXPERIMENTAL", "DEPRECATED"]
    header = screen[0].split()
    if pane.width >= 160:
        assert "PROVIDER" in header and "CAPABILITIES" in header
    else:
        assert screen[-1].rstrip() == "not shown at this width: PROVIDER, CAPABILITIES"


def test_history_shows_local_times(pane):
    screen = pane.run("history", "ms-advanced-reasoning@3.0.1")
    assert all(len(line) <= pane.width for line in screen), screen
    rows = data_rows(screen)
    assert len(rows) == 8 and rows[0].startswith("1   2026-03-01 10:00 (1 day ago)  alice")  # 09:00 UTC, in Berlin
    assert not any(re.search(r"\d{4}-\d\d-\d\dT\d\d:", row[:40]) for row in rows)


def test_benchmark_histogram_is_compact(terminal_env):
    p = Pane(120, terminal_env)
    try:
        with ServerThread() as server:
            screen = p.run("benchmark", "ms-advanced-reasoning@3.0.1", "--endpoint", server.url("/ok?delay_ms=3"),
                           "--requests", "300", "--concurrency", "8", "--no-record")  # fmt: skip
    finally:
        p.close()
    assert all(len(line) <= p.width for line in screen), screen
    start = [line.rstrip() for line in screen].index("Latency histogram (ms)") + 1
    histogram = []
    for line in screen[start:]:
        if not line.strip():
            break
        histogram.append(line)
    assert 1 <= len(histogram) <= HISTOGRAM_ROWS, histogram
    marked = " ".join(line for line in histogram if "p50" in line or "p95" in line or "p99" in line)
    assert all(name in marked for name in ("p50", "p95", "p99")), histogram
