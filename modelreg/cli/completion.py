"""Shell completion scripts for completions/ (generated from the app; a test
fails when the committed files are stale).

Regenerate with: python -m modelreg.cli.completion completions/
"""

from __future__ import annotations

import sys
from pathlib import Path

FILES = {"bash": "modelreg.bash", "zsh": "_modelreg", "fish": "modelreg.fish"}


def script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name="modelreg", complete_var="_MODELREG_COMPLETE", shell=shell) + "\n"


def write_all(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for shell, name in FILES.items():
        (directory / name).write_text(script(shell))


if __name__ == "__main__":
    write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "completions"))
