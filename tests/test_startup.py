"""Startup stays cheap, and generated files stay true."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# typer itself loads pydantic for sub-commands; these are ours to keep away
HEAVY = ("sqlmodel", "sqlalchemy", "httpx", "aiohttp", "alembic", "psycopg", "rich")


def _modules_after(code: str, env: dict | None = None) -> set[str]:
    probe = (
        code + "\nimport sys\nsys.stderr.write('MODULES: ' + ' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    err = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False, env=env).stderr
    return set(err.rpartition("MODULES: ")[2].split())


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["find", "--help"], ["alerts", "--help"]])
def test_help_and_version_do_not_import_the_database_stack(argv):
    code = f"import sys\nfrom modelreg.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)


def test_shell_completion_does_not_import_the_database_stack(monkeypatch):
    import os

    env = {**os.environ, "_MODELREG_COMPLETE": "complete_bash", "COMP_WORDS": "modelreg pro", "COMP_CWORD": "1"}
    code = "from modelreg.cli import main\ntry:\n    main([])\nexcept SystemExit:\n    pass"
    loaded = _modules_after(code, env)
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    proc = subprocess.run([sys.executable, "-m", "modelreg"], env=env, capture_output=True, text=True)
    assert "promote" in proc.stdout


def test_importing_the_package_is_cheap():
    assert not _modules_after("import modelreg") & set(HEAVY)


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_files_are_current(shell):
    from modelreg.cli.completion import FILES, script

    committed = (ROOT / "completions" / FILES[shell]).read_text()
    assert committed == script(shell), "stale: run python -m modelreg.cli.completion completions/"


def test_version_flag():
    from conftest import run_cli

    import modelreg

    r = run_cli("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"modelreg {modelreg.__version__}"


def test_schema_head_matches_alembic():
    from modelreg.store import schema

    assert schema.script_head() == schema.HEAD
