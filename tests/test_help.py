"""Help that teaches: every command has help that starts with an example; output selection."""

import pytest
from conftest import GUIDE_MANIFEST, run_cli


def _commands():
    import typer

    from modelreg.cli import app

    root = typer.main.get_command(app)

    def walk(cmd, path):
        sub = getattr(cmd, "commands", None)
        if sub:
            yield path, cmd
            for name, child in sub.items():
                yield from walk(child, path + [name])
        else:
            yield path, cmd

    return list(walk(root, []))


@pytest.mark.parametrize("path, cmd", _commands(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_command_has_help_with_an_example(path, cmd):
    text = cmd.help or ""
    assert text.strip(), f"modelreg {' '.join(path)} has no help"
    lines = [line for line in text.strip().splitlines() if line.strip()]
    assert any(line.strip().startswith("Example") and "modelreg" in line for line in lines[:4]), (
        f"modelreg {' '.join(path)}: help must show an example near the top"
    )


def test_top_level_help_groups_by_the_five_steps():
    out = run_cli("--help").stdout
    positions = [
        out.index(step)
        for step in ("1. Submission", "2-3. Evaluation", "4. Performance benchmarking", "5. Approval & deployment")
    ]
    assert positions == sorted(positions)
    assert "Exit codes:" in out


def test_usage_errors_are_one_line():
    r = run_cli("find", "--no-such-flag")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error:")
    r = run_cli("frobnicate")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1


def test_json_field_selection(cli):
    cli("register", "--file", GUIDE_MANIFEST)
    rows = cli("find", "--json", "model_id,version,status").json
    assert rows[0] == {"model_id": "ms-advanced-reasoning", "version": "3.0.1", "status": "TESTING"}
    assert cli("find", "--json=model_id").json[0] == {"model_id": "ms-advanced-reasoning"}
    r = cli("find", "--json=model_id,bogus")
    assert r.exit_code == 2 and "bogus" in r.stderr
    one = cli("show", "ms-standard@2.0.0", "--json", "stage,provider").json
    assert one == {"stage": "staging", "provider": "mindstudio"}
    plain = cli("find", "--plain").stdout.splitlines()
    assert plain[0].split("\t")[:3] == ["ms-advanced-reasoning", "3.0.1", "TESTING"]
