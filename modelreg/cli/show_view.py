"""Drawing a version, a model and the registry tree for people."""

from __future__ import annotations

from modelreg.cli.output import out

STAGE_TITLES = {"production": "Production Models", "staging": "Staging Models",
                "experimental": "Experimental Models", "archived": "Archived Models"}


def _tree_label(entry: dict) -> str:
    label = f"{entry['version']} [{entry['status']}]"
    extras = []
    if entry.get("canary_weight"):
        extras.append(f"canary {entry['canary_weight']}%")
    if entry.get("days_to_retirement") is not None:
        extras.append(f"retires in {entry['days_to_retirement']}d")
    if entry.get("checks_passed"):
        extras.append("checks: " + ",".join(entry["checks_passed"]))
    return label + (f"  ({'; '.join(extras)})" if extras else "")


def render_tree(data: dict) -> None:
    """Drawn line by line (rich's Tree takes seconds at 100k versions)."""
    import sys

    lines = ["Enterprise Model Registry"]
    stages = list(data.items())
    for i, (stage, models) in enumerate(stages):
        last_stage = i == len(stages) - 1
        lines.append(("└── " if last_stage else "├── ") + STAGE_TITLES[stage])
        stage_pad = "    " if last_stage else "│   "
        items = list(models.items())
        for j, (model_id, versions) in enumerate(items):
            last_model = j == len(items) - 1
            lines.append(stage_pad + ("└── " if last_model else "├── ") + model_id)
            model_pad = stage_pad + ("    " if last_model else "│   ")
            for k, entry in enumerate(versions):
                lines.append(model_pad + ("└── " if k == len(versions) - 1 else "├── ") + _tree_label(entry))
    sys.stdout.write("\n".join(lines) + "\n")


def _kv(rows: list[tuple[str, object]]) -> None:
    from rich.table import Table

    table = Table(show_header=False, show_edge=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        if value not in (None, "", [], {}):
            table.add_row(key, value if isinstance(value, str) else ", ".join(map(str, value)) if isinstance(value, list) else str(value))
    out().print(table)


def render_version(v: dict) -> None:
    console = out()
    console.print(f"{v['model_id']}@{v['version']}  [{v['status']}]  stage: {v['stage']}", highlight=False)
    perf, comp = v["performance"], v["compliance"]
    params = ", ".join(f"{k}={p['default']}" + (f" [{p['range'][0]}..{p['range'][1]}]" if "range" in p else f" (max {p['max']})" if "max" in p else "")
                       for k, p in v["parameters"].items())
    _kv([("provider", v["provider"]), ("capabilities", v["capabilities"]), ("parameters", params),
         ("SLO", f"avg {perf['avg_latency_ms']} ms, p95 {perf['p95_latency_ms']} ms, ${perf['cost_per_request_usd']}/request"),
         ("residency", comp["data_residency"]), ("pii", comp["pii_handling"]), ("domains", comp["approved_domains"]),
         ("endpoint", f"{v['endpoint']} ({v['endpoint_kind']})" if v["endpoint"] else None),
         ("registered", f"{v['registered_at']} by {v['registered_by']}"),
         ("approved", f"{v['approved_at']} by {v['approved_by']}" if v["approved_at"] else None),
         ("rollout weight", f"{v['rollout_weight']}%" if v["status"] == "APPROVED" else None),
         ("deprecated", f"{v['deprecated_at']}: {v['deprecation_reason']}" if v["deprecated_at"] else None),
         ("retire on", (v["retire_on"] + (f" (in {v['days_to_retirement']} days)" if v.get("days_to_retirement") is not None else "")) if v["retire_on"] else None),
         ("replacement", v["replacement"]), ("retired", v["retired_at"])])
    if v["checks"]:
        from rich.table import Table
        table = Table(title="checks", title_justify="left", show_edge=False)
        for col in ("check", "result", "actor", "at", "note"):
            table.add_column(col)
        for name, c in sorted(v["checks"].items()):
            table.add_row(name, "✓ pass" if c["result"] == "pass" else "✗ fail", c["actor"], c["at"], c.get("note") or c.get("evidence") or "")
        console.print(table)
    if v.get("benchmarks"):
        from rich.table import Table
        table = Table(title="benchmarks", title_justify="left", show_edge=False)
        for col in ("run", "finished", "result", "p50 ms", "p95 ms", "errors", "req/s"):
            table.add_column(col)
        for b in v["benchmarks"]:
            lat = b.get("latency_ms") or {}
            verdict = "aborted" if b["aborted"] else ("pass" if b["passed"] else "FAIL")
            table.add_row(str(b["run_id"]), b["finished_at"], verdict, _fmt(lat.get("p50")), _fmt(lat.get("p95")),
                          _fmt(b.get("error_rate"), pct=True), _fmt(b.get("throughput_rps")))
        console.print(table)
    for hook in RENDER_HOOKS:
        hook(v)
    if v.get("history"):
        console.print("history:")
        for e in v["history"][-10:]:
            console.print(f"  {e['at']}  {e['actor']}  {e['action']}", highlight=False)


# Extra sections (e.g. alerts and observation sparklines) register here.
RENDER_HOOKS: list = []


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return ""
    return f"{value * 100:.2f}%" if pct else f"{value:.1f}"


def render_model(m: dict) -> None:
    console = out()
    console.print(f"{m['model_id']}  provider: {m['provider']}  owner: {m['owner']}", highlight=False)
    _kv([("production default", m["production_default"]), ("canary", m["canary"]), ("fallbacks", m["fallbacks"]),
         ("description", m["description"])])
    from modelreg.cli.output import render
    from modelreg.cli.registry_commands import VERSION_COLUMNS, version_rows
    render(version_rows(m["versions"]), fmt="table", columns=[c for c in VERSION_COLUMNS if c[0] != "model_id"])
