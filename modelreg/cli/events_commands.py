"""Lifecycle events: the outbox every lifecycle change writes, and its webhook deliveries."""

from __future__ import annotations

from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.output import Output, TerminalView, message, output_options

events_app = typer.Typer(
    help="Lifecycle events (version.approved, version.deprecated, ...) and their webhooks.\n\n"
    "Example: modelreg events list --since 120",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(events_app, name="events", rich_help_panel="Monitoring")
EVENT_FIELDS = ("id", "type", "target", "actor", "at", "policy_version", "payload", "deliveries")


@events_app.command("list")
@output_options(EVENT_FIELDS, plain=True)
def events_list(
    ctx: typer.Context,
    since: int = typer.Option(0, "--since", help="Only events after this id.", metavar="ID"),
    limit: int = typer.Option(100, "--limit", help="At most this many (0: all)."),
    target: Optional[str] = typer.Option(None, "--target", help="Only events about this model or MODEL@VERSION."),
    out: Output = Output(),
) -> None:
    """List lifecycle events, oldest first, with the state of each webhook delivery.

    Example: modelreg events list --since 120 --json
    """
    from modelreg.store.queries import check_positive_limit

    with open_registry(ctx) as reg:
        rows = reg.events(since=since, limit=check_positive_limit(limit), target=target)
    shown = [{**r, "delivery": ", ".join(f"{d['status']}" for d in r["deliveries"]) or "-"} for r in rows]
    out.rows(
        shown,
        [
            ("id", "ID"),
            ("at", "AT"),
            ("type", "TYPE"),
            ("target", "TARGET"),
            ("actor", "ACTOR"),
            ("delivery", "DELIVERY"),
        ],
        json_rows=rows,
        view=TerminalView(shrink=("target", "type", "delivery", "actor"), times=("at",)),
    )


@events_app.command("redeliver")
@output_options(("id", "queued", "deliveries"))
def events_redeliver(
    ctx: typer.Context, event_id: int = typer.Argument(..., metavar="ID"), out: Output = Output()
) -> None:
    """Send an event to its webhooks again (signed and recorded as the first time).

    Example: modelreg events redeliver 42
    """
    with open_registry(ctx) as reg:
        result = reg.redeliver_event(event_id)
    if out.is_json:
        out.json(result)
    else:
        d = result["deliveries"]
        message(
            f"event {event_id}: queued for {len(result['queued'])} webhook(s); "
            f"{d['delivered']} delivered, {d['failed']} failed"
        )
