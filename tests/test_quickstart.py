"""The README's Quickstart (issue 16) stays true: the first bash block is a
script of one step a line, each ending in `&&` so the first failure stops
the rest, and it runs; the transcript under it is what it prints; `.ci/run`
still finds the test command as the second bash block."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
INSTALL = "python3 -m venv .venv && . .venv/bin/activate && pip install -q -e . &&"


def fenced(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```$", README, flags=re.S | re.M)


def quickstart() -> str:
    return fenced("bash")[0]


def transcript() -> str:
    """The first text block after the Quickstart script."""
    after = README.split(quickstart(), 1)[1]
    return re.search(r"^```text\n(.*?)^```$", after, flags=re.S | re.M).group(1)


def test_one_step_a_line_each_stopping_the_rest_when_it_fails():
    lines = quickstart().splitlines()
    comments = [line for line in lines if line.startswith("#")]
    steps = [line for line in lines if not line.startswith("#")]
    assert steps[0] == INSTALL
    assert all(step.endswith(" &&") for step in steps[:-2]), [s for s in steps[:-2] if not s.endswith("&&")]
    assert steps[-2] == "modelreg tree" and steps[-1].startswith("kill %1")  # the endpoint stops either way
    assert len(comments) >= 6 and all(len(line) <= 110 for line in lines)
    assert subprocess.run(["bash", "-n"], input=quickstart(), text=True).returncode == 0


def test_ci_still_runs_the_test_command_as_the_second_bash_block():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "n==2" in ci
    assert fenced("bash")[1].startswith("python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_quickstart_runs_and_prints_its_transcript(tmp_path):
    """Run as written but for its first line (the virtual environment: this
    test runs in one already) and stop at the first failure, as a user's shell would."""
    if not _port_free(8700):
        pytest.skip("port 8700 (the guide's endpoint) is in use")
    script = quickstart().replace(INSTALL, f'export PATH="{Path(sys.executable).parent}:$PATH" &&', 1)
    env = {k: v for k, v in os.environ.items() if k not in ("MODELREG_ACTOR", "COLUMNS")}
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        printed, _ = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, printed
    shown = {line.rstrip() for line in printed.splitlines()}
    assert "ms-advanced-reasoning@3.0.1: compliance pass (by bob); status TESTING" in shown
    assert "promoted ms-advanced-reasoning@3.0.1: TESTING -> APPROVED" in shown
    commands = [line.removeprefix("$ ") for line in transcript().splitlines() if line.startswith("$ ")]
    assert all(c in quickstart().splitlines() or c + " &&" in quickstart().splitlines() for c in commands)
    section = ""
    for line in transcript().splitlines():
        if line.startswith("$ "):
            section = line
            continue
        if line in ("…", "") or (section.startswith("$ modelreg --actor bob benchmark") and re.search(r"[\d|]", line)):
            continue  # trimmed, or one run's figures (the histogram's rows and gaps among them)
        assert line.rstrip() in shown, f"the README's transcript shows {line!r}; the quickstart printed:\n{printed}"
