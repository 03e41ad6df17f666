"""Two consoles and one renderer: data to stdout, everything else to stderr.

Every data command renders rows of plain dicts through `render`, which picks
JSON, CSV, tab-separated plain text or a rich table. rich is imported only
when a table, tree or message is actually drawn.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any, Sequence

NO_COLOR = False  # set by --no-color
JSON_FIELDS: list[str] | None = None  # set by --json a,b,c (gh-style field selection)

# Every key a command prints in JSON; `--json a,b` must name some of these.
KNOWN_FIELDS = {
    "model_id", "provider", "version", "status", "stage", "capabilities", "parameters", "performance", "compliance",
    "endpoint", "endpoint_kind", "description", "registered_at", "registered_by", "approved_at", "approved_by",
    "deprecated_at", "deprecation_reason", "retire_on", "replacement", "retired_at", "checks", "rollout_weight",
    "days_to_retirement", "benchmarks", "history", "owner", "created_at", "fallbacks", "production_default", "canary",
    "versions", "recommended_parameters", "deprecation", "rollout", "run_id", "mode", "requests", "completed",
    "errors", "error_rate", "duration_s", "throughput_rps", "latency_ms", "ttft_ms", "itl_ms", "slo", "aborted",
    "histogram", "tokens", "as_of", "retired", "notices", "broken_fallbacks", "unchanged", "dry_run", "id", "kind",
    "severity", "message", "first_seen", "last_seen", "seq", "at", "actor", "action", "target", "before", "after",
    "key", "value", "source", "check", "result", "note", "from", "to", "unmet", "would_succeed", "url", "revision",
    "head", "up_to_date", "observations", "alerts", "added", "changed", "refused", "identical", "differences",
    "warnings", "kept", "updated", "duplicates", "skipped", "raised", "resolved", "open", "ok", "events", "first_bad", "reason", "advisory_id", "affected", "summary",
}


def colour_allowed(stream) -> bool:
    return not NO_COLOR and "NO_COLOR" not in os.environ and stream.isatty()


def _console(stderr: bool):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, stderr=stderr, no_color=not colour_allowed(stream), highlight=False,
                   soft_wrap=False, width=None if stream.isatty() else 160)


def out():
    return _console(False)


def err():
    return _console(True)


def message(text: str) -> None:
    """A status line on stderr (never mixed into data on stdout)."""
    sys.stderr.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")


def take_json_fields(args: list[str]) -> list[str]:
    """Accept gh-style `--json a,b,c` / `--json=a,b,c`: strip the field list
    from argv (leaving the `--json` flag) and remember it for emit_json."""
    global JSON_FIELDS
    from modelreg.errors import InvalidInput

    JSON_FIELDS = None
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        fields = None
        if arg.startswith("--json="):
            fields = arg[len("--json="):]
        elif arg == "--json" and i + 1 < len(args) and args[i + 1] and \
                all(name in KNOWN_FIELDS for name in args[i + 1].split(",")):
            fields = args[i + 1]
            i += 1
        if fields is not None:
            names = [f.strip() for f in fields.split(",") if f.strip()]
            unknown = [n for n in names if n not in KNOWN_FIELDS]
            if not names or unknown:
                raise InvalidInput(f"--json: unknown field {(unknown or [fields])[0]!r}; fields are JSON keys such as model_id,version,status")
            JSON_FIELDS = names
            out.append("--json")
        else:
            out.append(arg)
        i += 1
    return out


def select_fields(data: Any) -> Any:
    if not JSON_FIELDS:
        return data
    if isinstance(data, list):
        return [select_fields(item) for item in data]
    if isinstance(data, dict):
        return {k: data.get(k) for k in JSON_FIELDS}
    return data


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(select_fields(data), indent=2, sort_keys=False, ensure_ascii=False, default=str) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def render(rows: Sequence[dict], *, fmt: str, columns: Sequence[tuple[str, str]], title: str | None = None,
           json_rows: Sequence[dict] | None = None) -> None:
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
        for row in rows:
            sys.stdout.write("\t".join(_cell(row.get(k)).replace("\t", " ") for k in keys) + "\n")
        return
    sys.stdout.write(format_columns([[_cell(row.get(k)) for k in keys] for row in rows], [h for _, h in columns],
                                    title=title))


STATUS_COLOURS = {"APPROVED": "32", "DEPRECATED": "33", "RETIRED": "2", "REJECTED": "31", "TESTING": "36",
                  "EXPERIMENTAL": "35", "critical": "31", "warning": "33", "pass": "32", "fail": "31"}


def format_columns(rows: Sequence[Sequence[str]], headers: Sequence[str], *, title: str | None = None) -> str:
    """Aligned plain-text columns, as kubectl and gh print lists: greppable,
    and fast (rich's table layout cost ~80 ms per 50 rows, a third of a
    `find`). Status words are coloured when stdout is a colour terminal."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    colour = colour_allowed(sys.stdout)
    lines = [title] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in rows:
        cells = []
        for cell, width in zip(row, widths):
            padded = cell.ljust(width)
            code = STATUS_COLOURS.get(cell) if colour else None
            cells.append(f"\x1b[{code}m{cell}\x1b[0m{padded[len(cell):]}" if code else padded)
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def output_format(json_flag: bool = False, csv_flag: bool = False, plain_flag: bool = False) -> str:
    chosen = [name for name, flag in (("json", json_flag), ("csv", csv_flag), ("plain", plain_flag)) if flag]
    if len(chosen) > 1:
        from modelreg.errors import InvalidInput
        raise InvalidInput(f"choose one output format, not {' and '.join('--' + c for c in chosen)}")
    return chosen[0] if chosen else "table"
