"""Issue 12, item 1: text an operator stored (a description, a review note, an
advisory summary, a deprecation reason) can hold any control character, and
no human-facing view prints one raw: no ESC/OSC sequence (a clipboard write,
a screen clear, a hidden hyperlink), no carriage return that overwrites the
line, no newline or tab that forges a second row of `history --plain`.
`--json` keeps the exact text. The hostile strings are generated: every C0
and C1 control, DEL, and whole escape sequences, mixed with plain text."""

from __future__ import annotations

import itertools
import json
import re

import pytest
from conftest import approve, new_registry, register_flags, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

# What may reach a terminal from a view: printable text, and the newlines and
# tabs the view itself lays out (never ones that came from stored text).
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
SEQUENCES = [
    "\x1b]52;c;ZXZpbA==\x07",  # OSC 52: write the clipboard
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",  # a hidden hyperlink
    "\r",  # overwrite the line
    "\n99\t2026-01-01T00:00:00Z\talice\tpromote\t",  # a forged history row
    "\x9b31m",  # C1 CSI
]
controls = st.characters(
    codec="utf-8",
    categories=["Cc"],  # every C0 and C1 control and DEL
    exclude_characters="\x00",  # argv cannot carry NUL; the library refuses it elsewhere
)
hostile = st.lists(
    st.one_of(st.sampled_from(SEQUENCES), controls.map(str), st.text(alphabet="abc xyz-", max_size=5)),
    min_size=1,
    max_size=6,
).map(lambda parts: "t" + "".join(parts))  # never empty: empty text is refused for its own reason

_serial = itertools.count()


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory):
    return new_registry(f"sqlite:///{tmp_path_factory.mktemp('inject') / 'registry.db'}")


def _clean(result, what: str) -> None:
    assert result.exit_code == 0, (what, result.stderr)
    found = RAW_CONTROL.search(result.stdout)
    assert found is None, f"{what} printed a raw control character {found.group()!r}: {result.stdout!r}"


@settings(max_examples=25)
@given(text=hostile)
def test_stored_control_characters_never_reach_a_human_view(sqlite_url, text):
    env = {"MODELREG_DB": sqlite_url}
    model = f"inj{next(_serial)}"
    target = f"{model}@1.0.0"
    made = run_cli(*register_flags(model, "1.0.0", "--description", text), env=env)
    assert made.exit_code in (0, 2), made.stderr
    if made.exit_code == 2:  # refused, one line, nothing written
        assert made.stderr.count("\n") == 1 and run_cli("show", target, env=env).exit_code == 3
        return
    assert run_cli("review", target, "--check", "evaluation", "--pass", "--note", text, env=env).exit_code == 0
    advisory = f"CVE-2026-{next(_serial):05d}"
    assert (
        run_cli(
            *("alerts", "advisory", "add", advisory, "--model", model, "--affected", ">=9.0.0"),
            *("--severity", "low", "--summary", text),
            env=env,
        ).exit_code
        == 0
    )

    show = run_cli("show", target, env=env)
    _clean(show, "show")
    history = run_cli("history", target, env=env)
    _clean(history, "history")
    plain = run_cli("history", target, "--plain", env=env)
    _clean(plain, "history --plain")
    rows = plain.stdout.splitlines()
    assert len(rows) == 2 and len({line.count("\t") for line in rows}) == 1, plain.stdout  # register + review
    advisories = run_cli("alerts", "advisory", "list", env=env)
    _clean(advisories, "alerts advisory list")
    assert sum(advisory in line for line in advisories.stdout.splitlines()) == 1

    exact = run_cli("show", target, "--json", env=env)
    assert exact.exit_code == 0 and json.loads(exact.stdout)["description"] == text  # --json keeps the exact text


@settings(max_examples=15)
@given(reason=hostile)
def test_a_deprecation_reason_cannot_forge_rows_or_escape(sqlite_url, reason):
    env = {"MODELREG_DB": sqlite_url}
    model = f"dep{next(_serial)}"
    target = f"{model}@1.0.0"
    assert run_cli(*register_flags(model, "1.0.0", "--endpoint", "http://127.0.0.1:9/v1"), env=env).exit_code == 0
    from modelreg import Registry

    registry = Registry.open(sqlite_url)
    try:
        approve(registry, target)
    finally:
        registry.close()
    done = run_cli("deprecate", target, "--reason", reason, env=env)
    assert done.exit_code in (0, 2), done.stderr  # 2: a reason refused outright, in one clean line
    assert done.stderr.count("\n") <= 1 and RAW_CONTROL.search(done.stderr) is None
    if done.exit_code == 0:
        assert json.loads(run_cli("show", target, "--json", env=env).stdout)["deprecation_reason"] == reason.strip()
    for args in (("show", target), ("history", target), ("history", target, "--plain")):
        _clean(run_cli(*args, env=env), " ".join(args))
