"""Terminal rendering of a benchmark result, and its progress bar.

``render_benchmark(result, console)`` takes ``BenchmarkResult.to_dict()`` plus
``run_id`` and ``slo`` and prints plain, colour-free-readable tables: counts
and errors, the client's own health (and a warning when the client, not the
endpoint, limited the run), latency (and TTFT / ITL for streams), a latency
histogram drawn with Unicode bars (ASCII '#' when the console cannot encode
them) with the rows where p50 / p95 / p99 fall marked, and the SLO verdict
check by check.

``make_progress(console)`` returns a context manager whose value is an
``on_progress(completed, total)`` callback drawing a rich progress bar on that
(stderr) console; it draws nothing when the console is not a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.table import Table
from rich.text import Text

_REDRAW_INTERVAL_S = 0.25
_STAT_KEYS = ("min", "avg", "p50", "p90", "p95", "p99", "max")
_CHECK_LABELS = {"avg_latency_ms": "avg latency", "p95_latency_ms": "p95 latency", "error_rate": "error rate"}


def _ms(v) -> str:
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.1f}"
    return f"{v:.2f}"


def _num(v, suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.2f}{suffix}"
    return f"{v:,}{suffix}"


def _pct(v) -> str:
    return "-" if v is None else f"{v * 100:.2f}%"


def _unicode_ok(console: Console) -> bool:
    enc = (getattr(console, "encoding", None) or "").lower()
    return "utf" in enc


def _summary_table(result: dict) -> Table:
    t = Table(title="Benchmark", show_header=False, title_justify="left", box=None, pad_edge=False)
    t.add_column("key", style="bold")
    t.add_column("value")
    if result.get("run_id") is not None:
        t.add_row("run", str(result["run_id"]))
    t.add_row("endpoint", str(result.get("endpoint", "")))
    mode = result.get("mode")
    if mode == "open":
        t.add_row("mode", f"open loop at {_num(result.get('rate'))} req/s")
    else:
        t.add_row("mode", f"closed loop, concurrency {_num(result.get('concurrency'))}")
    if result.get("stream"):
        t.add_row("stream", "yes (SSE)")
    t.add_row("requests", _num(result.get("requests")))
    t.add_row("completed", _num(result.get("completed")))
    errors = result.get("errors") or {}
    total_err = sum(errors.values())
    detail = ", ".join(f"{k} {v:,}" for k, v in sorted(errors.items(), key=lambda kv: (-kv[1], kv[0])))
    t.add_row("errors", f"{total_err:,}" + (f"  ({detail})" if detail else ""))
    t.add_row("error rate", _pct(result.get("error_rate")))
    t.add_row("duration", f"{_num(result.get('duration_s'))} s")
    t.add_row("throughput", f"{_num(result.get('throughput_rps'))} req/s")
    if mode == "open":
        t.add_row("achieved rate", f"{_num(result.get('achieved_rate_rps'))} req/s")
        lag = result.get("send_lag_ms") or {}
        if lag:
            t.add_row(
                "send lag", f"p50 {_ms(lag.get('p50'))} ms, p99 {_ms(lag.get('p99'))} ms, max {_ms(lag.get('max'))} ms"
            )
        if result.get("schedule_kept") is False:
            t.add_row("WARNING", "the client could not keep the schedule: figures include client delay")
    client = result.get("client") or {}
    if client:
        t.add_row("client", _client_line(result, client))
        if client.get("bottleneck"):
            t.add_row(
                "WARNING",
                f"the client limited this run ({client.get('reason')}): "
                "figures include client delay, not only the endpoint's",
            )
    tokens = result.get("tokens")
    if tokens:
        t.add_row(
            "tokens", f"prompt {tokens['prompt']:,}, completion {tokens['completion']:,}, total {tokens['total']:,}"
        )
    if result.get("aborted"):
        t.add_row("ABORTED", "interrupted: partial figures")
    return t


def _client_line(result: dict, client: dict) -> str:
    parts = []
    workers = result.get("workers") or 1
    if workers > 1:
        parts.append(f"{workers} worker processes")
    if client.get("event_loop"):
        parts.append(client["event_loop"])
    lag = client.get("loop_lag_p99_ms")
    parts.append(f"loop lag p99 {_ms(lag)} ms" if lag is not None else "loop lag -")
    share = client.get("cpu_share")
    if share is not None:
        parts.append(f"CPU {share * 100:.0f}%" + (" (busiest worker)" if workers > 1 else ""))
    if client.get("gc_collections"):
        parts.append(f"GC {client['gc_collections']:,}x, longest {_ms(client.get('gc_pause_max_ms'))} ms")
    return ", ".join(parts)


def _latency_table(result: dict) -> Table:
    t = Table(title="Latency (ms)", title_justify="left")
    t.add_column("")
    for k in _STAT_KEYS:
        t.add_column(k, justify="right")
    rows = [("request", result.get("latency_ms"))]
    if result.get("ttft_ms"):
        rows.append(("first token", result["ttft_ms"]))
    if result.get("itl_ms"):
        rows.append(("inter-token", result["itl_ms"]))
    for name, stats in rows:
        stats = stats or {}
        t.add_row(name, *(_ms(stats.get(k)) for k in _STAT_KEYS))
    return t


def _marks(buckets: list[dict], latency: dict) -> dict[int, list[str]]:
    """Row index -> the percentiles (p50, p95, p99) that fall in that row."""
    out: dict[int, list[str]] = {}
    for name in ("p50", "p95", "p99"):
        value = latency.get(name)
        if value is None:
            continue
        for i, b in enumerate(buckets):
            if b["count"] and b["lo_ms"] <= value <= b["hi_ms"]:
                out.setdefault(i, []).append(name)
                break
    return out


def _histogram_text(result: dict, unicode: bool, width: int = 40) -> Text | None:
    buckets = result.get("histogram") or []
    if not buckets:
        return None
    peak = max(b["count"] for b in buckets) or 1
    total = sum(b["count"] for b in buckets) or 1
    full, parts = ("█", " ▏▎▍▌▋▊▉") if unicode else ("#", "")
    gap, arrow = ("⋮", "◀") if unicode else (":", "<-")
    marks = _marks(buckets, result.get("latency_ms") or {})
    lo_w = max(len(_ms(b["lo_ms"])) for b in buckets)
    hi_w = max(len(_ms(b["hi_ms"])) for b in buckets)
    cnt_w = max(len(f"{b['count']:,}") for b in buckets)
    out = Text("Latency histogram (ms)\n", style="bold")
    for i, b in enumerate(buckets):
        if not b["count"]:
            # a run of empty buckets, merged into one row by stats.histogram
            out.append(f"{gap:>{lo_w}}   {'':>{hi_w}} |\n", style="dim")
            continue
        cells = b["count"] / peak * width
        bar = full * int(cells)
        if parts:
            frac = int((cells - int(cells)) * 8)
            if frac:
                bar += parts[frac]
            elif not bar:
                bar = parts[1]
        elif not bar:
            bar = "."  # ASCII: something, however few
        label = f"{_ms(b['lo_ms']):>{lo_w}} - {_ms(b['hi_ms']):>{hi_w}} | "
        out.append(label)
        out.append(f"{bar:<{width + 1}}", style="cyan")
        out.append(f" {b['count']:>{cnt_w},} ({b['count'] / total * 100:5.1f}%)")
        if i in marks:
            out.append(f"  {arrow} {' '.join(marks[i])}", style="bold")
        out.append("\n")
    return out


def _slo_table(slo: dict, unicode: bool) -> Table:
    ok_mark, bad_mark = ("✓", "✗") if unicode else ("ok", "FAIL")
    verdict = "PASSED" if slo.get("passed") else "FAILED"
    t = Table(title=f"SLO: {verdict}", title_justify="left")
    t.add_column("")
    t.add_column("check")
    t.add_column("limit", justify="right")
    t.add_column("observed", justify="right")
    for c in slo.get("checks", []):
        name = c.get("name", "")
        is_rate = name == "error_rate"
        fmt = _pct if is_rate else (lambda v: "-" if v is None else f"{_ms(v)} ms")
        limit = "none set" if c.get("limit") is None else fmt(c.get("limit"))
        mark = Text(ok_mark, style="green") if c.get("passed") else Text(bad_mark, style="bold red")
        t.add_row(mark, _CHECK_LABELS.get(name, name), limit, fmt(c.get("observed")))
    return t


def render_benchmark(result: dict, console: Console) -> None:
    """Print a benchmark result (to_dict() + run_id + slo) to ``console``."""
    unicode = _unicode_ok(console)
    console.print(_summary_table(result))
    console.print()
    console.print(_latency_table(result))
    hist = _histogram_text(result, unicode)
    if hist is not None:
        console.print()
        console.print(hist, end="")
    slo = result.get("slo")
    if slo:
        console.print()
        console.print(_slo_table(slo, unicode))


@contextmanager
def make_progress(console: Console, description: str = "benchmark") -> Iterator[Callable[[int, int | None], None]]:
    """``with make_progress(err_console) as cb: run_benchmark(s, on_progress=cb)``.

    A bar (count / total) for --requests runs, a spinner with the count for
    --duration runs. Nothing is drawn when the console is not a terminal.
    """
    if not console.is_terminal:
        yield lambda completed, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    # No refresh thread: it would take the GIL from the measuring event loop at
    # moments of its choosing (issue 15). The run calls back at most every 0.1 s,
    # from between requests; redrawing there (< 1 ms, at most 4 times a second)
    # is a cost the loop-lag figure sees.
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        auto_refresh=False,
    )
    task = progress.add_task(description, total=None)
    last = [0.0]

    def update(completed: int, total: int | None) -> None:
        progress.update(task, completed=completed, total=total)
        moment = time.monotonic()
        if moment - last[0] >= _REDRAW_INTERVAL_S or (total is not None and completed >= total):
            last[0] = moment
            progress.refresh()

    with progress:
        yield update
