"""Terminal output a person enjoys reading (issue 16), in-process: a stdout
that says it is a terminal gets rich tables fitted to COLUMNS, one line per
row, status words coloured unless NO_COLOR / --no-color, and times in the
local time zone with a relative hint; --plain, --csv and --json on the same
terminal keep ISO 8601 UTC. The real terminal (tmux) is tests/test_tmux.py;
pipes are tests/test_piped_output.py."""

from __future__ import annotations

import io
import re
import time
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime

import pytest
from conftest import Result, run_cli
from hypothesis import given
from hypothesis import strategies as st
from showcase import use_showcase

from modelreg.cli.local_time import for_people, relative
from modelreg.cli.terminal import SHRINK_FLOOR, fit_widths

SGR = re.compile(r"\x1b\[[0-9;]*m")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def on_terminal(*args: str, columns: int = 160, colour: bool = False, env: dict | None = None) -> Result:
    """The CLI in-process with stdout a terminal `columns` wide."""
    import os

    from modelreg.cli import main

    # TERM spelled out: rich draws no colour for TERM=dumb (some CI runners)
    wanted = {"COLUMNS": str(columns), "NO_COLOR": None if colour else "1", "TERM": "xterm-256color", **(env or {})}
    saved = {k: os.environ.get(k) for k in wanted}
    for key, value in wanted.items():
        os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    out, err, code = Terminal(), io.StringIO(), 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 0
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    return Result(code, out.getvalue(), err.getvalue())


@pytest.fixture
def local_zone(monkeypatch):
    """A local time zone an hour ahead of UTC in March (CET)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def showcase(tmp_path, monkeypatch, local_zone):
    return use_showcase(tmp_path, monkeypatch)


def table_rows(text: str) -> list[str]:
    """The data lines of the first table: after the header's rule, up to a blank line or caption."""
    lines = SGR.sub("", text).splitlines()
    start = next(i for i, line in enumerate(lines) if line and set(line) == {"─"}) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip() or line.startswith("not shown at this width"):
            break
        rows.append(line)
    return rows


# ---------------------------------------------------------------- fitting a table


@pytest.mark.parametrize("columns", [60, 80, 120, 160, 240])
def test_find_fits_the_terminal_one_line_per_row(showcase, columns):
    r = on_terminal("find", columns=columns)
    assert r.exit_code == 0, r.stderr
    lines = SGR.sub("", r.stdout).splitlines()
    assert all(len(line) <= columns for line in lines), [line for line in lines if len(line) > columns]
    rows = table_rows(r.stdout)
    assert len(rows) == 3  # three versions, three lines: no row wrapped
    assert [row.split()[0] for row in rows] == ["ms-advanced-reasoning", "ms-research-prototype", "ms-standard"]
    if columns >= 80:  # ids and statuses are never cut while free text can give way
        assert "DEPRECATED" in rows[2] and "2.0.0" in rows[2]


def test_wide_terminal_shows_every_column_narrow_one_says_what_it_left_out(showcase):
    wide = on_terminal("find", columns=200).stdout
    assert "PROVIDER" in wide and "CAPABILITIES" in wide and "not shown" not in wide
    assert "weight 100%; passed benchmark,compliance,evaluation,security" in wide
    narrow = on_terminal("find", columns=80).stdout
    assert "PROVIDER" not in narrow.splitlines()[0]
    assert "not shown at this width: PROVIDER, CAPABILITIES" in narrow
    assert "…" in narrow  # the long LIFECYCLE cell ends in an ellipsis instead of wrapping


def test_status_words_are_coloured_unless_no_color(showcase):
    coloured = on_terminal("find", colour=True).stdout
    assert re.search(r"\x1b\[[0-9;]*32mAPPROVED", coloured)  # green, as the plain view coloured it
    assert re.search(r"\x1b\[[0-9;]*33mDEPRECATED", coloured)
    assert "\x1b[" not in on_terminal("find", colour=False).stdout  # NO_COLOR: no escape codes at all
    assert "\x1b[" not in on_terminal("--no-color", "find", colour=True).stdout


def test_stored_text_cannot_smuggle_escapes_into_the_table(cli, tmp_path):
    evil = "fine\x1b]8;;http://evil\x07 [bold]markup[/bold] :smile:"
    assert cli("register", "m", "--version", "1.0.0", "--provider", "p", "--capability", "c",
               "--avg-latency", "1", "--p95-latency", "1", "--cost", "0", "--description", evil).exit_code == 0  # fmt: skip
    assert cli("--actor", "bob", "review", "m@1.0.0", "--check", "evaluation", "--pass", "--note", evil).exit_code == 0
    for args in (["show", "m@1.0.0"], ["history", "m@1.0.0"]):
        text = on_terminal(*args, colour=True).stdout
        assert "\x1b]8" not in text and "\x07" not in text and "\\x1b]8;;http://evil\\x07" in text
        assert "[bold]markup[/bold]" in text and ":smile:" in text  # shown as typed, not interpreted


@given(
    natural=st.lists(st.integers(1, 120), min_size=1, max_size=9),
    data=st.data(),
    width=st.integers(20, 260),
)
def test_fit_widths_never_overflows_and_cuts_free_text_first(natural, data, width):
    n = len(natural)
    shrink = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    hide = data.draw(st.lists(st.sampled_from(range(n)), unique=True, max_size=n - 1))
    widths = fit_widths(natural, shrink, hide, width)
    shown = [(i, w) for i, w in enumerate(widths) if w is not None]
    assert shown, "at least one column stays"
    assert all(i in hide for i, w in enumerate(widths) if w is None)  # only declared columns are left out
    assert all(1 <= w <= natural[i] for i, w in shown)
    total = sum(w for _, w in shown) + 2 * (len(shown) - 1)
    if len(shown) * 3 - 2 <= width:  # anything wider than one character a column fits
        assert total <= width
    if sum(natural) + 2 * (n - 1) <= width:
        assert widths == natural  # room enough: nothing changes
    squeezed = any(w < (natural[i] if not shrink[i] else min(natural[i], SHRINK_FLOOR)) for i, w in shown)
    if squeezed:  # an id cut, or free text below its floor: the last resort, after hiding all it may
        assert all(widths[i] is None for i in hide)


# ---------------------------------------------------------------- times for people


def test_relative_hints():
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    at = lambda s: datetime.fromisoformat(s).replace(tzinfo=UTC)
    assert relative(at("2026-03-02T11:59:30"), now) == "just now"
    assert relative(at("2026-03-02T11:57:00"), now) == "3 min ago"
    assert relative(at("2026-03-02T07:00:00"), now) == "5 h ago"
    assert relative(at("2026-03-01T11:00:00"), now) == "1 day ago"
    assert relative(at("2026-05-30T12:00:00"), now) == "in 89 days"


def test_for_people_is_local_and_leaves_what_is_not_an_instant(local_zone, monkeypatch):
    monkeypatch.setenv("MODELREG_NOW", "2026-11-27T16:01:00Z")
    assert for_people("2026-11-27T15:58:50.287081Z") == "2026-11-27 16:58 (2 min ago)"
    assert for_people("2026-11-27T14:58:00Z", hint=False) == "2026-11-27 15:58"
    assert for_people("2026-05-30") == "2026-05-30"  # a date (retire_on) is not moved
    assert for_people(None) == "" and for_people("soon") == "soon"


def test_history_show_and_alerts_speak_local_time_on_a_terminal(showcase):
    history = on_terminal("history", "ms-advanced-reasoning@3.0.1").stdout
    assert "2026-03-01 10:00 (1 day ago)" in history  # 09:00 UTC is 10:00 in Berlin
    assert not ISO.search(history.split("CHANGE")[0] + "".join(line[:40] for line in table_rows(history)))
    show = on_terminal("show", "ms-advanced-reasoning@3.0.1").stdout
    assert "registered      2026-03-01 10:00 (1 day ago) by alice" in show
    assert "benchmark   pass    bob    2026-03-01 10:30 (1 day ago)" in show
    assert "  2026-03-01 16:00 (21 h ago)   bob  alert.raise" in show
    deprecated = on_terminal("show", "ms-standard@2.0.0").stdout
    assert "deprecated    2026-03-01 12:00 (1 day ago): superseded" in deprecated
    assert "retire on     2026-05-30 UTC (in 89 days)" in deprecated
    alerts = on_terminal("alerts", "list").stdout
    assert "2026-03-01 16:00 (21 h ago)" in alerts


@pytest.mark.parametrize(
    "args",
    [
        ["history", "ms-advanced-reasoning@3.0.1", "--plain"],
        ["history", "ms-advanced-reasoning@3.0.1", "--json"],
        ["alerts", "list", "--csv"],
        ["alerts", "list", "--json"],
        ["show", "ms-advanced-reasoning@3.0.1", "--json"],
    ],
)
def test_machine_formats_keep_iso_utc_on_a_terminal(showcase, args):
    r = on_terminal(*args)
    assert r.exit_code == 0, r.stderr
    assert ISO.search(r.stdout) and "(1 day ago)" not in r.stdout and "\x1b[" not in r.stdout


def test_long_lines_of_show_wrap_under_their_indent(showcase):
    text = on_terminal("show", "ms-advanced-reasoning@3.0.1", columns=80).stdout
    assert all(len(line) <= 80 for line in text.splitlines())
    alert = text.split("active alerts:\n", 1)[1].splitlines()
    assert alert[0].startswith("  #1 critical latency (open)") and alert[1].startswith("  ")


def test_tree_lines_are_cut_not_wrapped(showcase):
    text = on_terminal("tree", columns=60).stdout
    assert all(len(line) <= 60 for line in text.splitlines())
    assert "2.0.0 [DEPRECATED]" in text and "…" in text


def test_the_sweep_summary_says_when_in_local_time(showcase):
    on_tty = on_terminal("deprecate", "--sweep", "--dry-run").stdout
    assert on_tty.startswith("sweep as of 2026-03-02 13:00 (just now)\n")
    assert run_cli("deprecate", "--sweep", "--dry-run").stdout.startswith("sweep as of 2026-03-02T12:00:00Z\n")
