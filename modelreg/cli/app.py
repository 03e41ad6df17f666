"""The Typer app, its global options and how a command opens the registry.

Importing this module must stay cheap (no sqlmodel, sqlalchemy, httpx, rich):
`--help`, `--version` and shell completion run through here. Command modules
import the library inside each command.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Optional

import typer

from modelreg.version import __version__

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 unexpected error or broken audit chain, 2 bad usage or invalid input, "
    "3 not found, 4 conflict, 5 refused by policy, 6 SLO missed / alerts at or above --fail-on, "
    "7 database unreachable, locked or schema mismatch."
)

PANELS = [
    "Getting started",
    "1. Submission",
    "2-3. Evaluation, security & compliance review",
    "4. Performance benchmarking",
    "5. Approval & deployment",
    "Lifecycle",
    "Query",
    "Metadata",
    "Monitoring",
    "Registry as code",
    "Audit",
    "Administration",
]


class StepsGroup(typer.core.TyperGroup):
    """Plain-text help with the commands grouped by the guide's five
    registration steps (rich help panels would cost a rich import on --help)."""

    def format_commands(self, ctx, formatter) -> None:
        groups: dict[str, list[tuple[str, Any]]] = {}
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            groups.setdefault(getattr(cmd, "rich_help_panel", None) or "Commands", []).append((name, cmd))
        if not groups:
            return
        width = max(len(name) for cmds in groups.values() for name, _ in cmds)
        for panel in sorted(groups, key=lambda p: PANELS.index(p) if p in PANELS else len(PANELS)):
            rows = [(name, cmd.get_short_help_str(formatter.width - 6 - width)) for name, cmd in groups[panel]]
            with formatter.section(panel):
                formatter.write_dl(rows)


app = typer.Typer(
    name="modelreg",
    cls=StepsGroup,
    help="Govern AI model versions: register, review, benchmark, promote, deprecate, resolve.\n\n"
    "Example: modelreg register --file model.toml\n\n" + EXIT_CODES_HELP,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


@dataclass
class GlobalOptions:
    db: Optional[str] = None
    config: Optional[str] = None
    actor: Optional[str] = None
    debug: bool = False


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"modelreg {__version__}\n")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(None, "--db", help="Database URL (env MODELREG_DB).", metavar="URL"),
    config: Optional[str] = typer.Option(None, "--config", help="Config file (env MODELREG_CONFIG).", metavar="FILE"),
    actor: Optional[str] = typer.Option(
        None, "--actor", help="Who is acting, for the audit trail (env MODELREG_ACTOR)."
    ),
    no_color: bool = typer.Option(False, "--no-color", help="No colour (also NO_COLOR)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    from modelreg.cli import output

    output.NO_COLOR = no_color
    ctx.obj = GlobalOptions(db=db, config=config, actor=actor, debug=debug)


def options(ctx: typer.Context) -> GlobalOptions:
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, GlobalOptions) else GlobalOptions()


def open_registry(ctx: typer.Context):
    from modelreg.registry import Registry

    opts = options(ctx)
    return Registry.open(opts.db, actor=opts.actor, config_path=opts.config)


def load_config(ctx: typer.Context):
    from modelreg.config import load_config as load

    opts = options(ctx)
    return load(db=opts.db, actor=opts.actor, config_path=opts.config)
