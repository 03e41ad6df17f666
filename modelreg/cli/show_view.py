"""Drawing a version, a model and the registry tree for people."""

from __future__ import annotations

import sys

from modelreg.cli.output import format_columns

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


def _kv(rows: list[tuple[str, object]]) -> list[str]:
    shown = [(k, v if isinstance(v, str) else ", ".join(map(str, v)) if isinstance(v, list) else str(v))
             for k, v in rows if v not in (None, "", [], {})]
    width = max((len(k) for k, _ in shown), default=0)
    return [f"{k.ljust(width)}  {v}" for k, v in shown]


def render_version(v: dict) -> None:
    """Plain text (no rich import: `show` is a hot path for scripts)."""
    perf, comp = v["performance"], v["compliance"]
    params = ", ".join(f"{k}={p['default']}" + (f" [{p['range'][0]}..{p['range'][1]}]" if "range" in p else f" (max {p['max']})" if "max" in p else "")
                       for k, p in v["parameters"].items())
    lines = [f"{v['model_id']}@{v['version']}  [{v['status']}]  stage: {v['stage']}"]
    lines += _kv([("provider", v["provider"]), ("capabilities", v["capabilities"]), ("parameters", params),
                  ("SLO", f"avg {perf['avg_latency_ms']:g} ms, p95 {perf['p95_latency_ms']:g} ms, ${perf['cost_per_request_usd']:g}/request"),
                  ("residency", comp["data_residency"]), ("pii", comp["pii_handling"]), ("domains", comp["approved_domains"]),
                  ("endpoint", f"{v['endpoint']} ({v['endpoint_kind']})" if v["endpoint"] else None),
                  ("registered", f"{v['registered_at']} by {v['registered_by']}"),
                  ("approved", f"{v['approved_at']} by {v['approved_by']}" if v["approved_at"] else None),
                  ("rollout weight", f"{v['rollout_weight']}%" if v["status"] == "APPROVED" else None),
                  ("deprecated", f"{v['deprecated_at']}: {v['deprecation_reason']}" if v["deprecated_at"] else None),
                  ("retire on", (v["retire_on"] + (f" (in {v['days_to_retirement']} days)" if v.get("days_to_retirement") is not None else "")) if v["retire_on"] else None),
                  ("replacement", v["replacement"]), ("retired", v["retired_at"])])
    if v["checks"]:
        lines.append("")
        lines.append(format_columns([[name, c["result"], c["actor"], c["at"], c.get("note") or c.get("evidence") or ""]
                                     for name, c in sorted(v["checks"].items())],
                                    ["CHECK", "RESULT", "ACTOR", "AT", "NOTE"]).rstrip("\n"))
    if v.get("benchmarks"):
        rows = []
        for b in v["benchmarks"]:
            lat = b.get("latency_ms") or {}
            verdict = "aborted" if b["aborted"] else ("pass" if b["passed"] else "fail")
            rows.append([str(b["run_id"]), b["finished_at"], verdict, _fmt(lat.get("p50")), _fmt(lat.get("p95")),
                         _fmt(b.get("error_rate"), pct=True), _fmt(b.get("throughput_rps"))])
        lines.append("")
        lines.append(format_columns(rows, ["RUN", "FINISHED", "RESULT", "P50 MS", "P95 MS", "ERRORS", "REQ/S"]).rstrip("\n"))
    sys.stdout.write("\n".join(lines) + "\n")
    for hook in RENDER_HOOKS:
        hook(v)
    if v.get("history"):
        sys.stdout.write("history:\n" + "".join(f"  {e['at']}  {e['actor']}  {e['action']}\n" for e in v["history"][-10:]))


# Extra sections (e.g. alerts and observation sparklines) register here.
RENDER_HOOKS: list = []


def _fmt(value, pct: bool = False) -> str:
    if value is None:
        return ""
    return f"{value * 100:.2f}%" if pct else f"{value:.1f}"


def render_model(m: dict) -> None:
    lines = [f"{m['model_id']}  provider: {m['provider']}  owner: {m['owner']}"]
    lines += _kv([("production default", m["production_default"]), ("canary", m["canary"]), ("fallbacks", m["fallbacks"]),
                  ("description", m["description"])])
    sys.stdout.write("\n".join(lines) + "\n\n")
    from modelreg.cli.output import render
    from modelreg.cli.registry_commands import VERSION_COLUMNS, version_rows
    render(version_rows(m["versions"]), fmt="table", columns=[c for c in VERSION_COLUMNS if c[0] != "model_id"])
