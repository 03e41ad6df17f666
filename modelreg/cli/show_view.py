"""Drawing versions, models, the tree and the audit trail for people.

Plain aligned text (no rich import: `show` and `find` are hot paths for
scripts); every value from the registry goes through `output.safe`.
"""

from __future__ import annotations

import sys
from typing import Any

from modelreg.cli.output import format_columns, render, safe

STAGE_TITLES = {
    "production": "Production Models",
    "staging": "Staging Models",
    "experimental": "Experimental Models",
    "archived": "Archived Models",
}
VERSION_COLUMNS = [
    ("model_id", "MODEL"),
    ("version", "VERSION"),
    ("status", "STATUS"),
    ("provider", "PROVIDER"),
    ("capabilities", "CAPABILITIES"),
    ("p95_latency_ms", "P95 MS"),
    ("cost_usd", "COST $"),
    ("lifecycle", "LIFECYCLE"),
]
HISTORY_COLUMNS = [
    ("seq", "#"),
    ("at", "AT"),
    ("who", "ACTOR"),
    ("action", "ACTION"),
    ("target", "TARGET"),
    ("change", "CHANGE"),
    ("policy", "POLICY"),
]
SPARKS = "▁▂▃▄▅▆▇█"


def lifecycle_note(v: dict) -> str:
    parts = []
    if v.get("rollout_weight") and v["status"] == "APPROVED":
        parts.append(f"weight {v['rollout_weight']}%")
    if v.get("days_to_retirement") is not None:
        parts.append(f"retires in {v['days_to_retirement']}d")
    checks = v.get("checks") or {}
    passed = sorted(n for n, c in checks.items() if c["result"] == "pass")
    failed = sorted(n for n, c in checks.items() if c["result"] == "fail")
    if passed:
        parts.append("passed " + ",".join(passed))
    if failed:
        parts.append("FAILED " + ",".join(failed))
    return "; ".join(parts)


def version_rows(versions: list[dict]) -> list[dict]:
    return [
        {
            **v,
            "p95_latency_ms": v["performance"]["p95_latency_ms"],
            "cost_usd": v["performance"]["cost_per_request_usd"],
            "lifecycle": lifecycle_note(v),
        }
        for v in versions
    ]


def change_summary(event: dict) -> str:
    before, after = event.get("before"), event.get("after")
    if (
        isinstance(before, dict)
        and isinstance(after, dict)
        and before.get("status") != after.get("status")
        and "status" in after
    ):
        return f"{before.get('status')} -> {after.get('status')}"
    if isinstance(after, dict):
        return ", ".join(f"{k}={v}" for k, v in after.items() if v not in (None, "", [], {}))
    return "" if after is None else str(after)


def history_rows(events: list[dict]) -> list[dict]:
    """The actor (and the OS user that ran modelreg, when it differs: SQLite's
    named actors) and the policy version each decision was made under."""
    return [
        {
            **e,
            "who": e["actor"] if e.get("os_user") in (None, "", e["actor"]) else f"{e['actor']} (os: {e['os_user']})",
            "change": change_summary(e),
            "policy": f"v{e['policy_version']}" if e.get("policy_version") else "",
        }
        for e in events
    ]


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
    shown = [
        (k, v if isinstance(v, str) else ", ".join(map(str, v)) if isinstance(v, list) else str(v))
        for k, v in rows
        if v not in (None, "", [], {})
    ]
    width = max((len(k) for k, _ in shown), default=0)
    return [f"{k.ljust(width)}  {safe(v)}" for k, v in shown]


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return ""
    return f"{value * 100:.2f}%" if pct else f"{value:.1f}"


def sparkline(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return ""
    lo, hi = min(present), max(present)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif hi == lo:
            out.append(SPARKS[0])
        else:
            out.append(SPARKS[min(len(SPARKS) - 1, int((v - lo) / (hi - lo) * (len(SPARKS) - 1) + 0.5))])
    return "".join(out)


def _monitoring_lines(version: dict) -> list[str]:
    """Recent windows as sparklines, and the version's active alerts."""
    windows = version.get("observations") or []
    alerts = version.get("alerts") or []
    lines = []
    if windows:
        p95 = [w["latency_p95_ms"] for w in windows]
        rate = [w["error_rate"] for w in windows]
        slo = version.get("performance", {}).get("p95_latency_ms")
        lines.append(
            f"recent windows ({len(windows)}, {windows[0]['window_start'][:16]} .. {windows[-1]['window_end'][:16]}):"
        )
        lines.append(
            f"  p95 latency  {sparkline(p95)}  {p95[0]:.0f} -> {p95[-1]:.0f} ms" + (f" (SLO {slo:g} ms)" if slo else "")
        )
        shown = [r for r in rate if r is not None]
        if shown:
            lines.append(f"  error rate   {sparkline(rate)}  {shown[0]:.2%} -> {shown[-1]:.2%}")
        lines.append(
            f"  requests     {sparkline([w['requests'] for w in windows])}  "
            f"{windows[0]['requests']} -> {windows[-1]['requests']}"
        )
    if alerts:
        lines.append("active alerts:")
        lines += [f"  #{a['id']} {a['severity']} {a['kind']} ({a['status']}): {safe(a['message'])}" for a in alerts]
    return lines


def render_version(v: dict) -> None:
    perf, comp = v["performance"], v["compliance"]
    params = ", ".join(
        f"{k}={p['default']}"
        + (f" [{p['range'][0]}..{p['range'][1]}]" if "range" in p else f" (max {p['max']})" if "max" in p else "")
        for k, p in v["parameters"].items()
    )
    lines = [f"{v['model_id']}@{v['version']}  [{v['status']}]  stage: {v['stage']}"]
    lines += _kv(
        [
            ("provider", v["provider"]),
            ("capabilities", v["capabilities"]),
            ("parameters", params),
            (
                "SLO",
                f"avg {perf['avg_latency_ms']:g} ms, p95 {perf['p95_latency_ms']:g} ms, "
                f"${perf['cost_per_request_usd']:g}/request",
            ),
            ("residency", comp["data_residency"]),
            ("pii", comp["pii_handling"]),
            ("domains", comp["approved_domains"]),
            ("description", v.get("description")),
            ("endpoint", f"{v['endpoint']} ({v['endpoint_kind']})" if v["endpoint"] else None),
            ("registered", f"{v['registered_at']} by {v['registered_by']}"),
            ("approved", f"{v['approved_at']} by {v['approved_by']}" if v["approved_at"] else None),
            ("rollout weight", f"{v['rollout_weight']}%" if v["status"] == "APPROVED" else None),
            ("deprecated", f"{v['deprecated_at']}: {v['deprecation_reason']}" if v["deprecated_at"] else None),
            (
                "retire on",
                (
                    v["retire_on"]
                    + " UTC"
                    + (f" (in {v['days_to_retirement']} days)" if v.get("days_to_retirement") is not None else "")
                )
                if v["retire_on"]
                else None,
            ),
            ("replacement", v["replacement"]),
            ("retired", v["retired_at"]),
            (
                "used by (7 days)",
                ", ".join(f"{c['consumer']} ({c['requests']})" for c in v.get("consumers") or []) or None,
            ),
        ]
    )
    if v["checks"]:
        lines.append("")
        lines.append(
            format_columns(
                [
                    [name, c["result"], c["actor"], c["at"], c.get("note") or c.get("evidence") or ""]
                    for name, c in sorted(v["checks"].items())
                ],
                ["CHECK", "RESULT", "ACTOR", "AT", "NOTE"],
            ).rstrip("\n")
        )
    if v.get("benchmarks"):
        rows = []
        for b in v["benchmarks"]:
            lat = b.get("latency_ms") or {}
            verdict = "aborted" if b["aborted"] else ("pass" if b["passed"] else "fail")
            counts = "" if b["endpoint"] == v.get("endpoint") else f"other endpoint {b['endpoint']}"
            rows.append(
                [
                    str(b["run_id"]),
                    b["finished_at"],
                    verdict,
                    _fmt(lat.get("p50")),
                    _fmt(lat.get("p95")),
                    _fmt(b.get("error_rate"), pct=True),
                    _fmt(b.get("throughput_rps")),
                    counts,
                ]
            )
        lines.append("")
        lines.append(
            format_columns(rows, ["RUN", "FINISHED", "RESULT", "P50 MS", "P95 MS", "ERRORS", "REQ/S", "NOTE"]).rstrip(
                "\n"
            )
        )
    lines += _monitoring_lines(v)
    if v.get("history"):
        lines.append("history:")
        lines += [f"  {e['at']}  {safe(e['actor'])}  {safe(e['action'])}" for e in v["history"][-10:]]
    sys.stdout.write("\n".join(lines) + "\n")


def render_model(m: dict) -> None:
    lines = [f"{m['model_id']}  provider: {m['provider']}  owner: {safe(m['owner'])}"]
    lines += _kv(
        [
            ("production default", m["production_default"]),
            ("canary", m["canary"]),
            ("fallbacks", m["fallbacks"]),
            ("description", m["description"]),
        ]
    )
    sys.stdout.write("\n".join(lines) + "\n\n")
    render(version_rows(m["versions"]), fmt="table", columns=[c for c in VERSION_COLUMNS if c[0] != "model_id"])


def render_registration(registered: list[dict[str, Any]]) -> None:
    from modelreg.cli.output import message

    if len(registered) <= 20:
        for r in registered:
            message(f"registered {r['model_id']}@{r['version']} [{r['status']}]")
    else:
        message(f"registered {len(registered)} versions")
