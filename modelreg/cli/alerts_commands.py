"""Monitoring: production metrics, alerts, security advisories, drift
baselines, Prometheus export, lifecycle events (SPEC sections 7 and 12). A
thin layer over the library's monitoring methods."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.complete_targets import complete_target
from modelreg.cli.output import Output, TerminalView, message, output_options, warn

alerts_app = typer.Typer(
    help="Production metrics, alerts, security advisories, drift baselines, Prometheus export.\n\n"
    "Example: modelreg alerts check --fail-on critical",
    no_args_is_help=True,
    rich_markup_mode=None,
)
advisory_app = typer.Typer(
    help="Security advisories (CVE-style) against version ranges; they block promotion.\n\n"
    "Example: modelreg alerts advisory add CVE-2026-1234 --model ms-advanced-reasoning --affected '>=3.0.0,<3.0.2' "
    "--severity high --summary 'prompt injection'",
    no_args_is_help=True,
    rich_markup_mode=None,
)
baseline_app = typer.Typer(
    help="Drift baselines (default: the first windows after approval).\n\n"
    "Example: modelreg alerts baseline pin ms-advanced-reasoning@3.0.1",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(alerts_app, name="alerts", rich_help_panel="Monitoring")
windows_app = typer.Typer(
    help="Observation windows: remove wrong data (audited).\n\n"
    "Example: modelreg alerts windows delete ms-advanced-reasoning@3.0.1 --from 9999-01-01",
    no_args_is_help=True,
    rich_markup_mode=None,
)
alerts_app.add_typer(advisory_app, name="advisory")
alerts_app.add_typer(baseline_app, name="baseline")
alerts_app.add_typer(windows_app, name="windows")
ALERT_FIELDS = ("id", "kind", "severity", "status", "model_id", "version", "message", "first_seen", "last_seen")
INGEST_FIELDS = ("kept", "updated", "duplicates", "skipped", "errors", "versions")
CHECK_FIELDS = (
    "as_of",
    "evaluated",
    "raised",
    "updated",
    "refreshed",
    "resolved",
    "open",
    "queued_deliveries",
    "deliveries",
)
ADVISORY_FIELDS = (
    "advisory_id",
    "model_id",
    "affected",
    "severity",
    "summary",
    "status",
    "created_at",
    "created_by",
    "affected_versions",
    "changed",
)

ALERT_COLUMNS = [
    ("id", "ID"),
    ("severity", "SEVERITY"),
    ("status", "STATUS"),
    ("kind", "KIND"),
    ("target", "TARGET"),
    ("last_seen", "LAST SEEN"),
    ("message", "MESSAGE"),
]
ALERT_VIEW = TerminalView(shrink=("message",), hide=("kind", "status"), times=("last_seen",))
CSV_COLUMNS = [
    (k, k) for k in ("id", "kind", "severity", "status", "model_id", "version", "message", "first_seen", "last_seen")
]
MAX_SHOWN_BAD_LINES = 100


def _with_target(rows: list[dict]) -> list[dict]:
    return [
        {**r, "target": f"{r['model_id']}@{r['version']}" if r.get("version") else (r.get("model_id") or "")}
        for r in rows
    ]


@alerts_app.command("ingest")
@output_options(INGEST_FIELDS)
def ingest(
    ctx: typer.Context,
    source: str = typer.Argument(
        ..., metavar="FILE|-", help="JSON lines or CSV of observation windows; - reads stdin."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Refuse the whole input when any line is bad (exit 2, nothing kept)."
    ),
    fmt: str = typer.Option("auto", "--format", help="auto | jsonl | csv."),
    out: Output = Output(),
) -> None:
    """Ingest production metric windows; bad lines are reported by line number and skipped.

    Example: modelreg alerts ingest metrics.jsonl --strict

    Re-ingesting a window (same model, version, start and end) never double-counts:
    identical data is a duplicate, changed data replaces the stored window.
    Exit 2 when --strict finds a bad line, or when no line at all was usable.
    """
    from modelreg.errors import InvalidInput

    if fmt not in ("auto", "jsonl", "json", "csv"):
        raise InvalidInput(f"invalid --format {fmt!r}: expected auto, jsonl or csv")
    from modelreg.textfile import read_text

    text = read_text(source, "a JSON lines or CSV file of observation windows")
    with open_registry(ctx) as reg:
        result = reg.ingest_observations(text, fmt=fmt, strict=strict)
    name = "stdin" if source == "-" else source
    for err in result["errors"][:MAX_SHOWN_BAD_LINES]:
        sys.stderr.write(f"{name}: line {err['line']}: {err['message']}\n")
    if len(result["errors"]) > MAX_SHOWN_BAD_LINES:
        sys.stderr.write(f"{name}: ... and {len(result['errors']) - MAX_SHOWN_BAD_LINES} more bad line(s)\n")
    if out.is_json:
        out.json(result)
    message(
        f"{name}: {result['kept']} kept, {result['updated']} updated, {result['duplicates']} duplicate(s), "
        f"{result['skipped']} bad line(s) skipped"
    )
    if result["errors"] and not (result["kept"] or result["updated"] or result["duplicates"]):
        raise typer.Exit(2)


@alerts_app.command("check")
@output_options(CHECK_FIELDS)
def check(
    ctx: typer.Context,
    fail_on: Optional[str] = typer.Option(
        None, "--fail-on", metavar="SEVERITY", help="Exit 6 when open alerts at or above info|warning|critical remain."
    ),
    no_deliver: bool = typer.Option(
        False, "--no-deliver", help="Do not post to webhooks this time (they stay pending)."
    ),
    out: Output = Output(),
) -> None:
    """Evaluate metrics, drift, advisories and lifecycle; raise, dedupe and auto-resolve alerts; notify webhooks.

    Example: modelreg alerts check --fail-on critical

    Auto-resolving: latency, error_rate, usage and drift alerts resolve when
    their rule, evaluated on the latest window, no longer fires (or the version
    is no longer live); security alerts when no open advisory covers the
    version; lifecycle alerts when the notice or broken fallback is gone.
    Failed webhook deliveries are recorded and retried by the next check.
    """
    from modelreg.monitoring.alerting import open_at_or_above
    from modelreg.monitoring.rules import parse_severity

    minimum = parse_severity(fail_on) if fail_on is not None else None
    with open_registry(ctx) as reg:
        report = reg.check_alerts(deliver=not no_deliver)
    if out.is_json:
        out.json(report)
    else:
        changes = (
            [("raised", a) for a in report["raised"]]
            + [("updated", a) for a in report["updated"]]
            + [("resolved", a) for a in report["resolved"]]
        )
        if changes:
            rows = [{**a, "change": change} for change, a in changes]
            Output("table").rows(
                _with_target(rows), [("change", "CHANGE")] + ALERT_COLUMNS[:-2] + [("message", "MESSAGE")]
            )
        open_counts = report["open"]
        message(
            f"checked {len(report['evaluated'])} version(s) with observations: {len(report['raised'])} raised, "
            f"{len(report['updated'])} updated, {len(report['refreshed'])} still firing, "
            f"{len(report['resolved'])} resolved; open: {open_counts.get('critical', 0)} critical, "
            f"{open_counts.get('warning', 0)} warning, {open_counts.get('info', 0)} info"
        )
        deliveries = report["deliveries"]
        for r in deliveries["results"]:
            if r["status"] != "delivered":
                warn(
                    f"webhook {r['url']}: alert {r['alert_id']} not delivered after {r['attempts']} attempt(s): "
                    f"{r['error']} (retried by the next check)"
                )
        if deliveries["results"]:
            message(f"webhooks: {deliveries['delivered']} delivered, {deliveries['failed']} failed")
    if minimum is not None:
        remaining = open_at_or_above(report, minimum)
        if remaining:
            message(f"{remaining} open alert(s) at or above {minimum} (--fail-on {minimum})")
            raise typer.Exit(6)


@alerts_app.command("list")
@output_options(ALERT_FIELDS, csv=True, plain=True)
def list_alerts(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(
        None, "--status", help="open | acked | resolved | all (default: open and acked)."
    ),
    severity: Optional[str] = typer.Option(None, "--severity", help="info | warning | critical (exact)."),
    model: Optional[str] = typer.Option(None, "--model", help="Only this model's alerts."),
    out: Output = Output(),
) -> None:
    """List alerts, most severe and most recent first.

    Example: modelreg alerts list --severity critical --json
    """
    with open_registry(ctx) as reg:
        rows = reg.list_alerts(status=status, severity=severity, model=model)
    if out.fmt == "table" and not rows:
        message("no alerts match")
        return
    out.rows(
        _with_target(rows) if out.fmt in ("table", "plain") else rows,
        CSV_COLUMNS if out.fmt == "csv" else ALERT_COLUMNS,
        json_rows=rows,
        view=ALERT_VIEW,
    )


@alerts_app.command("ack")
@output_options(ALERT_FIELDS + ("changed",))
def ack(ctx: typer.Context, alert_id: int = typer.Argument(..., metavar="ID"), out: Output = Output()) -> None:
    """Acknowledge an open alert (it stays active but is no longer counted by --fail-on).

    Example: modelreg alerts ack 12
    """
    with open_registry(ctx) as reg:
        result = reg.ack_alert(alert_id)
    if out.is_json:
        out.json(result)
    else:
        message(f"alert {alert_id}: {'acknowledged' if result['changed'] else 'already acknowledged'}")


@alerts_app.command("resolve")
@output_options(ALERT_FIELDS + ("changed",))
def resolve(ctx: typer.Context, alert_id: int = typer.Argument(..., metavar="ID"), out: Output = Output()) -> None:
    """Resolve an alert by hand (raised again by the next check if its condition persists).

    Example: modelreg alerts resolve 12
    """
    with open_registry(ctx) as reg:
        result = reg.resolve_alert(alert_id)
    if out.is_json:
        out.json(result)
    else:
        message(f"alert {alert_id}: {'resolved' if result['changed'] else 'already resolved'}")


@alerts_app.command("export")
def export(
    ctx: typer.Context,
    fmt: str = typer.Option("prometheus", "--format", help="prometheus (text exposition format 0.0.4)."),
    output: Optional[str] = typer.Option(
        None,
        "-o",
        "--output",
        metavar="FILE",
        help="Write atomically to FILE (e.g. the node exporter's textfile directory).",
    ),
) -> None:
    """Export per-version gauges (status, latency, error rate, drift, open alerts) for Prometheus.

    Example: modelreg alerts export --format prometheus -o /var/lib/node_exporter/textfile/modelreg.prom
    """
    from modelreg.errors import InvalidInput

    if fmt != "prometheus":
        raise InvalidInput(f"invalid --format {fmt!r}: expected prometheus")
    with open_registry(ctx) as reg:
        text = reg.export_prometheus(output)
    if output is None:
        sys.stdout.write(text)
    else:
        message(f"wrote {output}")


@advisory_app.command("add")
@output_options(ADVISORY_FIELDS)
def advisory_add(
    ctx: typer.Context,
    advisory_id: str = typer.Argument(..., metavar="ID", help="e.g. CVE-2026-1234."),
    model: str = typer.Option(..., "--model", help="The affected model."),
    affected: str = typer.Option(
        ...,
        "--affected",
        metavar="SPEC",
        help="PEP 440 specifier set, e.g. '>=3.0.0,<3.0.2' (SemVer pre-releases map to a/b/rc).",
    ),
    severity: str = typer.Option(..., "--severity", help="low | medium | high | critical."),
    summary: str = typer.Option(..., "--summary", help="What is wrong."),
    out: Output = Output(),
) -> None:
    """Record a security advisory; versions in range can no longer be promoted and live ones raise critical alerts.

    Example: modelreg alerts advisory add CVE-2026-1234 --model ms-advanced-reasoning --affected '>=3.0.0,<3.0.2' --severity high --summary 'prompt injection'
    """
    with open_registry(ctx) as reg:
        result = reg.add_advisory(advisory_id, model_id=model, affected=affected, severity=severity, summary=summary)
    if out.is_json:
        out.json(result)
    else:
        hit = (
            ", ".join(f"{v['version']} ({v['status']})" for v in result["affected_versions"]) or "no registered version"
        )
        message(f"advisory {result['advisory_id']} on {model} {result['affected']}: affects {hit}")


@advisory_app.command("list")
@output_options(ADVISORY_FIELDS, plain=True)
def advisory_list(
    ctx: typer.Context, model: Optional[str] = typer.Option(None, "--model"), out: Output = Output()
) -> None:
    """List advisories and the registered versions each one affects.

    Example: modelreg alerts advisory list --model ms-advanced-reasoning
    """
    with open_registry(ctx) as reg:
        rows = reg.list_advisories(model_id=model)
    if out.is_json:
        out.json(rows)
        return
    if not rows and out.fmt == "table":
        message("no advisories")
        return
    shown = [{**r, "versions": ", ".join(v["version"] for v in r["affected_versions"])} for r in rows]
    out.rows(
        shown,
        [
            ("advisory_id", "ID"),
            ("model_id", "MODEL"),
            ("affected", "AFFECTED"),
            ("versions", "VERSIONS"),
            ("severity", "SEVERITY"),
            ("status", "STATUS"),
            ("summary", "SUMMARY"),
        ],
    )


@advisory_app.command("withdraw")
@output_options(ADVISORY_FIELDS)
def advisory_withdraw(
    ctx: typer.Context,
    advisory_id: str = typer.Argument(..., metavar="ID"),
    model: str = typer.Option(..., "--model"),
    out: Output = Output(),
) -> None:
    """Withdraw an advisory (a false positive): it stops blocking promotion; its alerts resolve on the next check.

    Example: modelreg alerts advisory withdraw CVE-2026-1234 --model ms-advanced-reasoning
    """
    with open_registry(ctx) as reg:
        result = reg.withdraw_advisory(advisory_id, model_id=model)
    out.json(result) if out.is_json else message(
        f"advisory {advisory_id} on {model}: {'withdrawn' if result['changed'] else 'already withdrawn'}"
    )


@baseline_app.command("pin")
@output_options(("target", "source", "windows", "values", "from", "to", "warning"))
def baseline_pin(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL@VERSION", autocompletion=complete_target),
    windows: Optional[int] = typer.Option(None, "--windows", help="Pin exactly the newest N windows with a sample."),
    out: Output = Output(),
) -> None:
    """Pin the latest windows' samples as the drift baseline (accept the current distribution as normal).

    Example: modelreg alerts baseline pin ms-advanced-reasoning@3.0.1
    """
    with open_registry(ctx) as reg:
        result = reg.pin_baseline(target, windows=windows)
    if out.is_json:
        out.json(result)
        return
    message(
        f"{target}: baseline pinned from {result['windows']} window(s), {result['values']} values "
        f"({result['from']} .. {result['to']})"
    )
    if result.get("warning"):
        warn(result["warning"])


@windows_app.command("delete")
@output_options(("target", "deleted"))
def windows_delete(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL@VERSION", autocompletion=complete_target),
    start: Optional[str] = typer.Option(
        None, "--from", help="Only windows starting at or after this time.", metavar="TIME"
    ),
    end: Optional[str] = typer.Option(None, "--to", help="Only windows ending at or before this time.", metavar="TIME"),
    out: Output = Output(),
) -> None:
    """Delete a version's observation windows (wrong data, e.g. dated in the future); audited.

    Example: modelreg alerts windows delete ms-advanced-reasoning@3.0.1 --from 9999-01-01
    """
    with open_registry(ctx) as reg:
        result = reg.delete_windows(target, start=start, end=end)
    out.json(result) if out.is_json else message(f"{target}: {result['deleted']} window(s) deleted")
