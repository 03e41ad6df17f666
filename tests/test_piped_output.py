"""Piped output is byte-identical to what modelreg printed before the terminal
views of issue 16: the same commands over the same registry (tests/showcase.py)
against fixed expectations (tests/golden/piped_output.txt, written by the code
before issue 16 and not since). Regenerate only for a deliberate change to
the script-facing output: UPDATE_GOLDEN=1 pytest tests/test_piped_output.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli, run_process
from showcase import use_showcase

GOLDEN = Path(__file__).resolve().parent / "golden" / "piped_output.txt"
COMMANDS = [
    ["find"],
    ["find", "--plain"],
    ["find", "--csv"],
    ["find", "--include-retired", "--status", "DEPRECATED"],
    ["show", "ms-advanced-reasoning@3.0.1"],
    ["show", "ms-standard@2.0.0"],
    ["show", "ms-advanced-reasoning"],
    ["history", "ms-advanced-reasoning@3.0.1"],
    ["history", "ms-standard", "--plain"],
    ["tree"],
    ["alerts", "list"],
    ["alerts", "list", "--plain"],
    ["alerts", "list", "--csv"],
    ["events", "list"],
    ["fallback", "show", "ms-advanced-reasoning"],
    ["policy", "history"],
]


@pytest.fixture
def showcase(tmp_path, monkeypatch):
    return use_showcase(tmp_path, monkeypatch)


def transcript(run) -> str:
    parts = []
    for args in COMMANDS:
        r = run(*args)
        assert r.exit_code == 0, (args, r.stderr)
        parts.append(f"$ modelreg {' '.join(args)}\n{r.stdout}")
    return "".join(parts)


def test_piped_output_is_unchanged(showcase):
    got = transcript(run_cli)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(got, encoding="utf-8")
    assert got == GOLDEN.read_text(encoding="utf-8")


def test_a_real_pipe_prints_the_same_bytes(showcase):
    """Through a real pipe (a subprocess, colour allowed by the environment): the same bytes."""
    expected = GOLDEN.read_text(encoding="utf-8").split("$ modelreg ")
    for args in (["find"], ["history", "ms-advanced-reasoning@3.0.1"], ["alerts", "list"]):
        r = run_process(*args, env={"NO_COLOR": None, "COLUMNS": None})
        assert r.exit_code == 0, r.stderr
        block = next(b for b in expected if b.startswith(" ".join(args) + "\n"))
        assert r.stdout == block.split("\n", 1)[1]


def test_piped_views_do_not_import_rich(showcase):
    """Pipes are the scripts' hot path: the plain views are drawn without rich."""
    probe = (
        "import sys\nfrom modelreg.cli import main\n"
        "for args in (['find'], ['show', 'ms-advanced-reasoning@3.0.1'], ['history', 'ms-standard'], ['alerts', 'list']):\n"
        "    try:\n        main(args)\n    except SystemExit:\n        pass\n"
        "sys.stderr.write('RICH=' + str(any(m == 'rich' or m.startswith('rich.') for m in sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert proc.stderr.endswith("RICH=False"), proc.stderr[-2000:]
