"""Drawing for a person at a terminal (issue 16): tables fitted to its width
(drawn with rich), one line per row, status words coloured, times local.

Imported only when stdout is a terminal and the output is the default
table: pipes, --plain, --csv and --json never come here (their bytes do not
depend on the terminal). Cells arrive already made safe by `output.safe`.

Fitting a list to the width, in this order: free-text columns (the view's
`shrink`) give up width first, longest first, down to a floor, ending in
"…"; then the view's `hide` columns are left out, one by one, and the
table's caption names them; only then does every column shrink. A row never
wraps: a terminal line that wrapped would read as the next row.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len, set_cell_size
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from modelreg.cli.blocks import Blocks, Pairs, Rows, TerminalView, cell_text, safe
from modelreg.cli.local_time import for_people
from modelreg.clock import now as clock_now

GAP = 2  # columns between cells, as the plain view
CHUNK = 500  # table lines printed at a time
SHRINK_FLOOR = 10  # a free-text column keeps at least this much before columns are hidden
STATUS_STYLES = {
    "APPROVED": "green",
    "DEPRECATED": "yellow",
    "RETIRED": "dim",
    "REJECTED": "red",
    "TESTING": "cyan",
    "EXPERIMENTAL": "magenta",
    "critical": "red",
    "warning": "yellow",
    "pass": "green",
    "fail": "red",
}


def _water_fill(natural: list[int], floors: list[int], room: int) -> list[int]:
    """The widths (each between its floor and its natural width) that fit in
    `room` by cutting the widest first: the largest cap C with
    sum(max(floor, min(natural, C))) <= room."""
    cap = max(natural, default=0)
    while cap > 0 and sum(max(f, min(n, cap)) for n, f in zip(natural, floors)) > room:
        cap -= 1
    return [max(f, min(n, cap)) for n, f in zip(natural, floors)]


def fit_widths(
    natural: Sequence[int], shrink: Sequence[bool], hide: Sequence[int], width: int, gap: int = GAP
) -> list[int | None]:
    """A width for each column, or None for a column left out. `natural` is
    each column's widest cell (header included), `shrink` marks free-text
    columns, `hide` lists column indexes in the order they may be left out."""
    hidden: set[int] = set()
    order = list(hide)
    while True:
        shown = [i for i in range(len(natural)) if i not in hidden]
        room = width - gap * (len(shown) - 1)
        widths: dict[int, int] = {i: natural[i] for i in shown}
        if sum(widths.values()) <= room:
            break
        elastic = [i for i in shown if shrink[i]]
        fixed = sum(natural[i] for i in shown if not shrink[i])
        floors = [min(natural[i], SHRINK_FLOOR) for i in elastic]
        if fixed + sum(floors) <= room:
            widths.update(zip(elastic, _water_fill([natural[i] for i in elastic], floors, room - fixed)))
            break
        if order:
            hidden.add(order.pop(0))
            continue
        # nothing left to leave out: every column gives up width, widest first
        widths = dict(zip(shown, _water_fill([natural[i] for i in shown], [1] * len(shown), max(room, len(shown)))))
        break
    return [widths.get(i) for i in range(len(natural))]


def _cells(rows: Rows, hints: bool) -> list[list[str]]:
    times = set((rows.view or TerminalView()).times)
    now = clock_now()  # once, not once a cell
    return [
        [
            for_people(row.get(k), hint=hints, now=now) if k in times else safe(cell_text(row.get(k)))
            for k, _ in rows.columns
        ]
        for row in rows.rows
    ]


def _fit(rows: Rows, cells: list[list[str]], width: int) -> tuple[list[int | None], bool]:
    """The columns' widths, and whether a column outside the view's `shrink`
    (an id, a status) had to be cut to fit."""
    view = rows.view or TerminalView()
    keys = [k for k, _ in rows.columns]
    natural = [max([cell_len(h)] + [cell_len(r[i]) for r in cells]) for i, (_, h) in enumerate(rows.columns)]
    shrink = [view.shrink is None or k in view.shrink for k in keys]
    widths = fit_widths(natural, shrink, [keys.index(k) for k in view.hide if k in keys], width)
    return widths, any(w is not None and w < natural[i] and not shrink[i] for i, w in enumerate(widths))


def _fitted(cell: str, width: int) -> str:
    """`cell` in exactly `width` terminal cells: padded, or cut with "…"."""
    if cell_len(cell) > width:
        cell = set_cell_size(cell, width - 1) + "…"
    return set_cell_size(cell, width)


def table(rows: Rows, width: int) -> list[Text]:
    """`rows` as the lines of a table fitted to `width` columns: a bold
    header, a rule, one line a row, status words coloured, and a caption
    naming the columns left out. Times carry their relative hint ("3 min
    ago") unless only dropping it spares an id or a status the cut.

    Drawn line by line with rich's text and cell measures rather than a
    rich.table.Table, which lays out every cell (about 0.5 ms a row here:
    half a second for 1,000 rows, a minute for `find --limit 0` at 100,000
    versions); the look is Table's SIMPLE_HEAD box."""
    cells = _cells(rows, hints=True)
    widths, cut = _fit(rows, cells, width)
    if cut and (rows.view or TerminalView()).times:
        bare = _cells(rows, hints=False)
        bare_widths, bare_cut = _fit(rows, bare, width)
        if not bare_cut:
            cells, widths = bare, bare_widths
    headers = [h for _, h in rows.columns]
    shown = [(i, w) for i, w in enumerate(widths) if w is not None]
    left_out = [headers[i] for i, w in enumerate(widths) if w is None]
    gap = " " * GAP
    lines = [Text(safe(rows.title))] if rows.title else []
    lines.append(Text(gap.join(_fitted(headers[i], w) for i, w in shown).rstrip(), style="bold"))
    lines.append(Text("─" * (sum(w for _, w in shown) + GAP * (len(shown) - 1))))
    for r in cells:
        line = Text()
        for n, (i, w) in enumerate(shown):
            if n:
                line.append(gap)
            line.append(_fitted(r[i], w), style=STATUS_STYLES.get(r[i]))
        line.rstrip()
        lines.append(line)
    if left_out:
        lines.append(Text(f"not shown at this width: {', '.join(left_out)}", style="dim"))
    return lines


def _pairs(pairs: Pairs) -> Table:
    """key  value, the value wrapping inside its own column."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs.shown():
        grid.add_row(key, Text(safe(value)))
    return grid


def print_blocks(blocks: Blocks, c: Console) -> None:
    """Lines, key-value pairs and tables, in order, fitted to the console's width."""
    for block in blocks:
        if isinstance(block, Rows):
            lines = table(block, c.width)
            for start in range(0, len(lines), CHUNK):  # long lists appear as they are drawn
                c.print(Text("\n").join(lines[start : start + CHUNK]), no_wrap=True, overflow="ellipsis")
        elif isinstance(block, Pairs):
            if block.shown():
                c.print(_pairs(block))
        else:
            # a line too long for the terminal wraps under its own indentation
            indent = len(block) - len(block.lstrip(" "))
            c.print(Padding(Text(block[indent:]), (0, 0, 0, indent), expand=False), overflow="fold")
