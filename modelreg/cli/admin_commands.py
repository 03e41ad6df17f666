"""Administration: database schema, configuration, audit verification."""

from __future__ import annotations

import typer

from modelreg.cli import app, load_config, open_registry
from modelreg.cli.output import emit_json, message, output_format, render

db_app = typer.Typer(help="Schema migrations (alembic).\n\nExample: modelreg db upgrade", no_args_is_help=True, rich_markup_mode=None)
config_app = typer.Typer(help="Settings: flag > env > file > default.\n\nExample: modelreg config show", no_args_is_help=True, rich_markup_mode=None)
audit_app = typer.Typer(help="The hash-chained audit trail.\n\nExample: modelreg audit verify", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db", rich_help_panel="Administration")
app.add_typer(config_app, name="config", rich_help_panel="Administration")
app.add_typer(audit_app, name="audit", rich_help_panel="Audit")


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Upgrade the schema to the newest revision (explicit; never automatic on a non-empty database).

    Example: modelreg db upgrade
    """
    from modelreg.config import redact_url
    from modelreg.store.database import Database
    from modelreg.store.schema import REVISIONS
    from modelreg.errors import InvalidInput

    if revision != "head" and revision not in REVISIONS:
        raise InvalidInput(f"unknown revision {revision!r} (known: {', '.join(REVISIONS)}, head)")
    cfg = load_config(ctx)
    database = Database(cfg.database_url)
    before, after = database.upgrade(revision)
    database.dispose()
    message(f"{redact_url(cfg.database_url)}: {before} -> {after}" if before != after else f"{redact_url(cfg.database_url)}: already at {after}")


@db_app.command("status")
def db_status(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
    """Show the database URL, its schema revision and the revision this modelreg needs.

    Example: modelreg db status
    """
    from modelreg.config import redact_url
    from modelreg.store.database import Database
    from modelreg.store.schema import HEAD

    cfg = load_config(ctx)
    database = Database(cfg.database_url)
    current = database.revision()
    database.dispose()
    data = {"url": redact_url(cfg.database_url), "revision": current, "head": HEAD, "up_to_date": current == HEAD}
    if json_out:
        emit_json(data)
    else:
        from modelreg.store.schema import REVISIONS
        state = ("up to date" if current == HEAD else "empty (created on first use)" if current == "empty"
                 else "run `modelreg db upgrade`" if current in REVISIONS
                 else "not a modelreg registry" if current == "foreign"
                 else "newer than this modelreg: upgrade modelreg")
        message(f"{data['url']}\nrevision {current}, head {HEAD}: {state}")


@config_app.command("show")
def config_show(ctx: typer.Context, json_out: bool = typer.Option(False, "--json"),
                plain: bool = typer.Option(False, "--plain", help="Tab-separated, no header.")) -> None:
    """Print each effective setting and where it came from.

    Example: modelreg config show
    """
    rows = load_config(ctx).shown()
    render(rows, fmt=output_format(json_out, False, plain), columns=[("key", "KEY"), ("value", "VALUE"), ("source", "SOURCE")])


@config_app.command("set")
def config_set(ctx: typer.Context, key: str = typer.Argument(...), value: str = typer.Argument(...)) -> None:
    """Write KEY = VALUE into the config file, keeping every other key (lists: comma-separated).

    Example: modelreg config set policy.approvers alice,bob
    """
    from modelreg.config import set_value

    cfg = load_config(ctx)
    stored = set_value(cfg.config_path, key, value)
    message(f"{cfg.config_path}: {key} = {stored!r}")


@audit_app.command("verify")
def audit_verify(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
    """Verify the audit hash chain; exit 1 naming the first bad event.

    Example: modelreg audit verify
    """
    from modelreg.errors import AuditBroken

    with open_registry(ctx) as reg:
        result = reg.verify_audit()
    if json_out:
        emit_json({"ok": result.ok, "events": result.events, "first_bad": result.first_bad, "reason": result.reason})
    if not result.ok:
        raise AuditBroken(f"audit chain broken at event {result.first_bad}: {result.reason}")
    if not json_out:
        message(f"audit chain intact: {result.events} events")
