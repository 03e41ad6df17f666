"""Colour only on a terminal: never when stdout is a pipe or a file, even
without NO_COLOR (conftest sets NO_COLOR=1 for every other test, so these
remove it), and never with NO_COLOR or --no-color. The first case is the
control: on a real terminal `find` does colour its statuses, so the others
would notice colour if it leaked."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest
from conftest import GUIDE_MANIFEST, new_registry, run_cli

ESC = "\x1b["


@pytest.fixture
def plain_env(tmp_path, monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    url = new_registry(f"sqlite:///{tmp_path / 'registry.db'}")
    monkeypatch.setenv("MODELREG_DB", url)
    assert run_cli("register", "--file", str(GUIDE_MANIFEST)).exit_code == 0
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    return env


def on_a_terminal(args: list[str], env: dict) -> str:
    """Run the CLI with stdout and stderr on a pseudo-terminal; what it wrote."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelreg", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
            env=env,
        )
    finally:
        os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: every writer is gone
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode()


def test_a_terminal_gets_colour(plain_env):
    assert ESC in on_a_terminal(["find"], plain_env)


def test_no_colour_when_stdout_is_not_a_terminal_without_no_color(plain_env):
    assert "NO_COLOR" not in os.environ
    piped = subprocess.run([sys.executable, "-m", "modelreg", "find"], capture_output=True, text=True, env=plain_env)
    assert piped.returncode == 0 and "TESTING" in piped.stdout
    assert ESC not in piped.stdout and ESC not in piped.stderr
    in_process = run_cli("find")  # stdout captured in a buffer, not a terminal
    assert in_process.exit_code == 0 and "TESTING" in in_process.stdout and ESC not in in_process.stdout


def test_no_colour_on_a_terminal_with_no_color_or_the_flag(plain_env):
    assert ESC not in on_a_terminal(["find"], {**plain_env, "NO_COLOR": "1"})
    assert ESC not in on_a_terminal(["--no-color", "find"], plain_env)
