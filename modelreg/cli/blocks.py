"""What a view is made of (lines, key-value pairs, tables) and its plain
text form, the one pipes get; and `safe`, which every value from the
registry passes through before it reaches a terminal or a pipe.

`output.write_blocks` prints a view: this plain form when stdout is not a
terminal, `terminal.print_blocks` when a person reads it. No rich import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

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


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(cell_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_columns(rows: Sequence[Sequence[str]], headers: Sequence[str], *, title: str | None = None) -> str:
    """Aligned plain-text columns, as kubectl and gh print lists: greppable,
    and fast. Cells are made safe. (What pipes get; a terminal gets
    `terminal.table`.)"""
    cells_of = [[safe(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells_of:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = [safe(title)] if title else []
    lines.append("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    for row in cells_of:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class TerminalView:
    """How a table fits a terminal (issue 16); pipes never see it.

    shrink: keys of the free-text columns that give up width first, ending in
    "…" (None: any column, widest first); hide: keys left out, in this order,
    when the rest would not fit otherwise; times: keys holding ISO 8601 UTC
    instants, shown in local time with a relative hint."""

    shrink: tuple[str, ...] | None = None
    hide: tuple[str, ...] = ()
    times: tuple[str, ...] = ()


@dataclass
class Rows:
    """A table: rows of plain dicts, the (key, header) columns to show."""

    rows: Sequence[dict]
    columns: Sequence[tuple[str, str]]
    view: TerminalView | None = None
    title: str | None = None

    def plain(self) -> str:
        keys = [k for k, _ in self.columns]
        return format_columns(
            [[cell_text(row.get(k)) for k in keys] for row in self.rows],
            [h for _, h in self.columns],
            title=self.title,
        )


@dataclass
class Pairs:
    """`key  value` lines; empty values are left out."""

    pairs: Sequence[tuple[str, Any]]

    def shown(self) -> list[tuple[str, str]]:
        return [
            (k, v if isinstance(v, str) else ", ".join(map(str, v)) if isinstance(v, list) else str(v))
            for k, v in self.pairs
            if v not in (None, "", [], {})
        ]

    def plain(self) -> list[str]:
        shown = self.shown()
        width = max((len(k) for k, _ in shown), default=0)
        return [f"{k.ljust(width)}  {safe(v)}" for k, v in shown]


Blocks = Sequence[str | Rows | Pairs]
