"""Two consoles and one renderer: data to stdout, everything else to stderr.

Output options are declared once (`output_options`): each data command names
its own JSON fields and whether it also speaks CSV and --plain, and gets an
`Output` that renders rows of plain dicts as JSON, CSV, tab-separated plain
text or a table. The table is aligned plain columns when stdout is not a
terminal (their bytes are a contract with scripts) and a rich table fitted to
the terminal when it is (`modelreg.cli.terminal`, issue 16). Text meant for a
person goes through `safe` (one function, as gh and kubectl do, in
`blocks`): control characters from stored data never reach the terminal
raw. rich is imported only when something is drawn on a terminal (or a
benchmark report).
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelreg.cli.blocks import (  # re-exported: commands import what they print with from here
    Blocks,
    Pairs,
    Rows,
    TerminalView,
    cell_text,
    format_columns,
    safe,
)

__all__ = ["Pairs", "Rows", "TerminalView", "cell_text", "format_columns", "safe"]

NO_COLOR = False  # set by --no-color
JSON_FIELDS: list[str] | None = None  # set by --json a,b,c (gh-style field selection)
FIELD_LIST = re.compile(r"^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*\Z")


def colour_allowed(stream) -> bool:
    return not NO_COLOR and "NO_COLOR" not in os.environ and stream.isatty()


def for_terminal() -> bool:
    """Is a person reading stdout? (Then tables are fitted to the terminal
    and times shown local; a pipe gets the plain, stable form.)"""
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _console(stderr: bool):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        stderr=stderr,
        # no colour means no escape codes at all (NO_COLOR, --no-color, pipes)
        color_system="auto" if colour_allowed(stream) else None,
        highlight=False,
        soft_wrap=False,
        width=None if stream.isatty() else 160,
    )


def out():
    return _console(False)


def err():
    return _console(True)


def message(text: str) -> None:
    """A status line on stderr (never mixed into data on stdout)."""
    sys.stderr.write(safe(text, multiline=True) + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"warning: {safe(text)}\n")


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(select_fields(data), indent=2, sort_keys=False, ensure_ascii=False, default=str) + "\n")


def select_fields(data: Any) -> Any:
    if not JSON_FIELDS:
        return data
    if isinstance(data, list):
        return [select_fields(item) for item in data]
    if isinstance(data, dict):
        return {k: data.get(k) for k in JSON_FIELDS}
    return data


def write_blocks(blocks: Blocks) -> None:
    """A view made of lines, key-value pairs and tables: plain text for a
    pipe, fitted to the terminal for a person."""
    if for_terminal():
        from modelreg.cli.terminal import print_blocks

        print_blocks(blocks, out())
        return
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Rows):
            lines.append(block.plain().rstrip("\n"))
        elif isinstance(block, Pairs):
            lines += block.plain()
        else:
            lines.append(block)
    sys.stdout.write("\n".join(lines) + "\n")


def render(
    rows: Sequence[dict],
    *,
    fmt: str,
    columns: Sequence[tuple[str, str]],
    title: str | None = None,
    json_rows: Sequence[dict] | None = None,
    view: TerminalView | None = None,
) -> None:
    """fmt: json | csv | plain | table. `columns` are (key, header) for the
    CSV/plain/table views; JSON prints the full dicts (json_rows if given);
    `view` says how the table fits a terminal."""
    if fmt == "json":
        emit_json(list(json_rows if json_rows is not None else rows))
        return
    keys = [k for k, _ in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        for row in rows:
            writer.writerow([cell_text(row.get(k)) for k in keys])
        sys.stdout.write(buffer.getvalue())
        return
    if fmt == "plain":
        # one record per line, always: tabs and newlines inside a value are escaped
        for row in rows:
            sys.stdout.write("\t".join(safe(cell_text(row.get(k))) for k in keys) + "\n")
        return
    table = Rows(rows, columns, view, title)
    if for_terminal():
        write_blocks([table])
    else:
        sys.stdout.write(table.plain())


@dataclass
class Output:
    """How one invocation prints its data (from the command's output options)."""

    fmt: str = "table"
    fields: tuple[str, ...] = ()

    @property
    def is_json(self) -> bool:
        return self.fmt == "json"

    def json(self, data: Any) -> None:
        emit_json(data)

    def rows(
        self,
        rows: Sequence[dict],
        columns: Sequence[tuple[str, str]],
        *,
        json_rows: Sequence[dict] | None = None,
        title: str | None = None,
        view: TerminalView | None = None,
    ) -> None:
        render(rows, fmt=self.fmt, columns=columns, title=title, json_rows=json_rows, view=view)


_CHOICE_HELP = {
    "json": "JSON to stdout; --json a,b selects fields.",
    "csv": "CSV with a header.",
    "plain": "Tab-separated, no header (for grep and awk).",
}


def output_options(fields: Sequence[str], *, csv: bool = False, plain: bool = False) -> Callable:
    """Declare a command's output options once: `--json [FIELDS]` (always),
    `--csv` and `--plain` when asked for. The command takes `out: Output`."""

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.name != "out"]
        import typer

        extra = [
            inspect.Parameter(
                "output_json",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=bool,
                default=typer.Option(False, "--json", help=_CHOICE_HELP["json"]),
            )
        ]
        if csv:
            extra.append(
                inspect.Parameter(
                    "output_csv",
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=bool,
                    default=typer.Option(False, "--csv", help=_CHOICE_HELP["csv"]),
                )
            )
        if plain:
            extra.append(
                inspect.Parameter(
                    "output_plain",
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=bool,
                    default=typer.Option(False, "--plain", help=_CHOICE_HELP["plain"]),
                )
            )

        @functools.wraps(fn)
        def wrapper(
            *args: Any, output_json: bool = False, output_csv: bool = False, output_plain: bool = False, **kwargs: Any
        ) -> Any:
            return fn(*args, out=Output(output_format(output_json, output_csv, output_plain), tuple(fields)), **kwargs)

        wrapper.__signature__ = sig.replace(parameters=params + extra)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {k: v for k, v in fn.__annotations__.items() if k != "out"} | {
            p.name: bool for p in extra
        }
        wrapper.json_fields = tuple(fields)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def output_format(json_flag: bool = False, csv_flag: bool = False, plain_flag: bool = False) -> str:
    chosen = [name for name, flag in (("json", json_flag), ("csv", csv_flag), ("plain", plain_flag)) if flag]
    if len(chosen) > 1:
        from modelreg.errors import InvalidInput

        raise InvalidInput(f"choose one output format, not {' and '.join('--' + c for c in chosen)}")
    return chosen[0] if chosen else "table"


def take_json_fields(args: list[str], fields: Sequence[str] | None, *, takes_positionals: bool, path: str) -> list[str]:
    """Accept gh-style `--json a,b,c` / `--json=a,b,c` for the command about
    to run (`fields`: its JSON fields): strip the field list from argv,
    leaving the `--json` flag, and remember it for emit_json. An unknown
    field is one clear error naming the command's fields, in both forms."""
    global JSON_FIELDS
    from modelreg.errors import InvalidInput

    JSON_FIELDS = None
    known = list(fields or ())
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            out.extend(args[i:])
            break
        given = None
        if arg.startswith("--json="):
            given = arg[len("--json=") :]
        elif arg == "--json" and i + 1 < len(args) and FIELD_LIST.match(args[i + 1]):
            names = args[i + 1].split(",")
            if all(n in known for n in names) or not takes_positionals:
                given = args[i + 1]
                i += 1
        if given is not None:
            names = [f.strip() for f in given.split(",") if f.strip()]
            unknown = [n for n in names if n not in known]
            if not names or unknown:
                listed = ", ".join(known) if known else "none (this command prints no JSON)"
                raise InvalidInput(f"--json: unknown field {(unknown or [given])[0]!r} for `{path}` (fields: {listed})")
            JSON_FIELDS = names
            out.append("--json")
        else:
            out.append(arg)
        i += 1
    return out
