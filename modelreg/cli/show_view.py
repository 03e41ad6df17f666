"""Drawing versions, models, the tree and the audit trail for people.

Each view is a list of blocks (lines, key-value pairs, tables) that
`output.write_blocks` prints as plain aligned text for a pipe (no rich
import: `show` and `find` are hot paths for scripts) or fitted to the
terminal for a person, times then in local time. Every value from the
registry goes through `output.safe`.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from typing import Any

from modelreg.cli.local_time import for_people
from modelreg.cli.output import Pairs, Rows, TerminalView, for_terminal, safe, write_blocks

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
# On a terminal: ids and statuses keep their width, free text ends in "…", and
# on a narrow one the columns a person needs least are left out first.
VERSION_VIEW = TerminalView(
    shrink=("lifecycle", "capabilities", "provider"), hide=("provider", "capabilities", "cost_usd", "p95_latency_ms")
)
HISTORY_VIEW = TerminalView(shrink=("change", "who", "target"), hide=("target", "policy"), times=("at",))
CHECK_COLUMNS = [("check", "CHECK"), ("result", "RESULT"), ("actor", "ACTOR"), ("at", "AT"), ("note", "NOTE")]
CHECK_VIEW = TerminalView(shrink=("note",), times=("at",))
BENCHMARK_COLUMNS = [
    ("run", "RUN"),
    ("finished", "FINISHED"),
    ("result", "RESULT"),
    ("p50", "P50 MS"),
    ("p95", "P95 MS"),
    ("errors", "ERRORS"),
    ("rps", "REQ/S"),
    ("note", "NOTE"),
]
BENCHMARK_VIEW = TerminalView(shrink=("note",), times=("finished",))
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
    if for_terminal():  # a line the terminal wrapped would read as the next branch
        width = shutil.get_terminal_size().columns
        lines = [line if len(line) <= width else line[: width - 1] + "…" for line in lines]
    sys.stdout.write("\n".join(lines) + "\n")


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


def _window_span(first: str, last: str, terminal: bool) -> str:
    if terminal:
        return f"{for_people(first, hint=False)} .. {for_people(last, hint=False)}"
    return f"{first[:16]} .. {last[:16]}"


def _monitoring_lines(version: dict, terminal: bool) -> list[str]:
    """Recent windows as sparklines, and the version's active alerts."""
    windows = version.get("observations") or []
    alerts = version.get("alerts") or []
    lines = []
    if windows:
        p95 = [w["latency_p95_ms"] for w in windows]
        rate = [w["error_rate"] for w in windows]
        slo = version.get("performance", {}).get("p95_latency_ms")
        lines.append(
            f"recent windows ({len(windows)}, {_window_span(windows[0]['window_start'], windows[-1]['window_end'], terminal)}):"
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


def _stored(text: Any, *, hint: bool = True) -> str:
    """A stored time as stored (ISO 8601 UTC): what a pipe gets."""
    return str(text)


def render_version(v: dict) -> None:
    terminal = for_terminal()
    when: Callable[..., str] = for_people if terminal else _stored
    perf, comp = v["performance"], v["compliance"]
    params = ", ".join(
        f"{k}={p['default']}"
        + (f" [{p['range'][0]}..{p['range'][1]}]" if "range" in p else f" (max {p['max']})" if "max" in p else "")
        for k, p in v["parameters"].items()
    )
    blocks: list[str | Rows | Pairs] = [f"{v['model_id']}@{v['version']}  [{v['status']}]  stage: {v['stage']}"]
    blocks.append(
        Pairs(
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
                ("registered", f"{when(v['registered_at'])} by {v['registered_by']}"),
                ("approved", f"{when(v['approved_at'])} by {v['approved_by']}" if v["approved_at"] else None),
                ("rollout weight", f"{v['rollout_weight']}%" if v["status"] == "APPROVED" else None),
                (
                    "deprecated",
                    f"{when(v['deprecated_at'])}: {v['deprecation_reason']}" if v["deprecated_at"] else None,
                ),
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
                ("retired", when(v["retired_at"]) if v["retired_at"] else None),
                (
                    "used by (7 days)",
                    ", ".join(f"{c['consumer']} ({c['requests']})" for c in v.get("consumers") or []) or None,
                ),
                *metadata_pairs(v),
            ]
        )
    )
    if v["checks"]:
        checks = [
            {"check": name, **c, "note": c.get("note") or c.get("evidence") or ""}
            for name, c in sorted(v["checks"].items())
        ]
        blocks += ["", Rows(checks, CHECK_COLUMNS, CHECK_VIEW)]
    if v.get("benchmarks"):
        runs = []
        for b in v["benchmarks"]:
            lat = b.get("latency_ms") or {}
            runs.append(
                {
                    "run": str(b["run_id"]),
                    "finished": b["finished_at"],
                    "result": "aborted" if b["aborted"] else ("pass" if b["passed"] else "fail"),
                    "p50": _fmt(lat.get("p50")),
                    "p95": _fmt(lat.get("p95")),
                    "errors": _fmt(b.get("error_rate"), pct=True),
                    "rps": _fmt(b.get("throughput_rps")),
                    "note": "" if b["endpoint"] == v.get("endpoint") else f"other endpoint {b['endpoint']}",
                }
            )
        blocks += ["", Rows(runs, BENCHMARK_COLUMNS, BENCHMARK_VIEW)]
    blocks += _monitoring_lines(v, terminal)
    if v.get("history"):
        recent = v["history"][-10:]
        ats = [when(e["at"]) for e in recent]
        width = max(len(at) for at in ats)  # stored times are fixed-width already
        blocks.append("history:")
        blocks += [f"  {at.ljust(width)}  {safe(e['actor'])}  {safe(e['action'])}" for at, e in zip(ats, recent)]
    write_blocks(blocks)


def labels_text(labels: dict[str, str] | None) -> str | None:
    return ", ".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or None


def metadata_pairs(v: dict) -> list[tuple[str, Any]]:
    """Owner, contacts, labels, lineage and the model card of a version, for `show`."""
    lineage = v.get("lineage") or {}
    artifact = lineage.get("artifact")
    card = v.get("card")
    return [
        ("owner", v.get("owner")),
        ("contacts", v.get("contacts")),
        ("labels", labels_text(v.get("labels"))),
        ("artifact", f"{artifact['uri']} ({artifact['digest']})" if artifact else None),
        ("source", lineage.get("source")),
        ("base model", lineage.get("base_model")),
        ("datasets", lineage.get("datasets")),
        (
            "evaluations",
            "; ".join(
                f"{e['name']}: {e['metric']} {e['value']:g}" + (f" on {e['dataset']}" if e.get("dataset") else "")
                for e in lineage.get("evaluations") or []
            ),
        ),
        ("model card", f"sha256:{card['sha256'][:16]}... ({card['size']} bytes, {card['set_by']})" if card else None),
    ]


def render_model(m: dict) -> None:
    write_blocks(
        [
            f"{m['model_id']}  provider: {m['provider']}  owner: {safe(m['owner'])}",
            Pairs(
                [
                    ("production default", m["production_default"]),
                    ("canary", m["canary"]),
                    ("fallbacks", m["fallbacks"]),
                    ("description", m["description"]),
                    ("contacts", m.get("contacts")),
                    ("labels", labels_text(m.get("labels"))),
                ]
            ),
            "",
            Rows(version_rows(m["versions"]), [c for c in VERSION_COLUMNS if c[0] != "model_id"], VERSION_VIEW),
        ]
    )


def render_registration(registered: list[dict[str, Any]]) -> None:
    from modelreg.cli.output import message

    if len(registered) <= 20:
        for r in registered:
            message(f"registered {r['model_id']}@{r['version']} [{r['status']}]")
    else:
        message(f"registered {len(registered)} versions")
