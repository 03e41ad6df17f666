"""Two consoles and one renderer: data to stdout, everything else to stderr.

Output options are declared once (`output_options`): each data command names
its own JSON fields and whether it also speaks CSV and --plain, and gets an
`Output` that renders rows of plain dicts as JSON, CSV, tab-separated plain
text or aligned columns. Text meant for a person goes through `safe` (one
function, as gh and kubectl do): control characters from stored data never
reach the terminal raw. rich is imported only when a table, tree or progress
bar is actually drawn.
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

NO_COLOR = False  # set by --no-color
JSON_FIELDS: list[str] | None = None  # set by --json a,b,c (gh-style field selection)
FIELD_LIST = re.compile(r"^[a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*\Z")

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_PLAIN_BREAKS = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(match: re.Match) -> str:
    ch = match.group(0)
    return {"\r": "\\r"}.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def safe(text: Any, *, multiline: bool = False) -> str:
    """`text` for a terminal: escape sequences, carriage returns and other
    control characters shown as \\x1b, \\r ...; newlines and tabs kept only
    when `multiline` (else shown as \\n, \\t)."""
    value = str(text)
    if not multiline:
        value = value.replace("\n", "\\n").replace("\t", "\\t")
    return _CONTROL.sub(_escape, value)


def colour_allowed(stream) -> bool:
    return not NO_COLOR and "NO_COLOR" not in os.environ and stream.isatty()


def _console(stderr: bool):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(
        file=stream,
        stderr=stderr,
        no_color=not colour_allowed(stream),
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


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


STATUS_COLOURS = {
    "APPROVED": "32",
    "DEPRECATED": "33",
    "RETIRED": "2",
    "REJECTED": "31",
    "TESTING": "36",
    "EXPERIMENTAL": "35",
    "critical": "31",
    "warning": "33",
    "pass": "32",
    "fail": "31",
}


def format_columns(rows: Sequence[Sequence[str]], headers: Sequence[str], *, title: str | None = None) -> str:
    """Aligned plain-text columns, as kubectl and gh print lists: greppable,
    and fast. Cells are made safe; status words are coloured when stdout is a
    colour terminal."""
    cells_of = [[safe(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells_of:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    colour = colour_allowed(sys.stdout)
    lines = [safe(title)] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells_of:
        cells = []
        for cell, width in zip(row, widths):
            padded = cell.ljust(width)
            code = STATUS_COLOURS.get(cell) if colour else None
            cells.append(f"\x1b[{code}m{cell}\x1b[0m{padded[len(cell) :]}" if code else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def render(
    rows: Sequence[dict],
    *,
    fmt: str,
    columns: Sequence[tuple[str, str]],
    title: str | None = None,
    json_rows: Sequence[dict] | None = None,
) -> None:
    """fmt: json | csv | plain | table. `columns` are (key, header) for the
    CSV/plain/table views; JSON prints the full dicts (json_rows if given)."""
    if fmt == "json":
        emit_json(list(json_rows if json_rows is not None else rows))
        return
    keys = [k for k, _ in columns]
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_cell(row.get(k)) for k in keys])
        sys.stdout.write(buffer.getvalue())
        return
    if fmt == "plain":
        # one record per line, always: tabs and newlines inside a value are escaped
        for row in rows:
            sys.stdout.write("\t".join(safe(_cell(row.get(k))) for k in keys) + "\n")
        return
    sys.stdout.write(
        format_columns([[_cell(row.get(k)) for k in keys] for row in rows], [h for _, h in columns], title=title)
    )


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
    ) -> None:
        render(rows, fmt=self.fmt, columns=columns, title=title, json_rows=json_rows)


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
