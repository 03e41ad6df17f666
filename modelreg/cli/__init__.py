"""The command line: parses arguments, calls the library, renders results.

Importing this module must stay cheap (no sqlmodel, sqlalchemy, httpx, rich):
`--help`, `--version` and shell completion run through here. Command modules
import the library inside each command.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional

from typer._click import exceptions as click_exceptions  # typer vendors click
import typer

from modelreg import __version__
from modelreg.errors import ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 ok, 1 unexpected error or broken audit chain, 2 bad usage or invalid input, "
    "3 not found, 4 conflict, 5 refused by policy, 6 SLO missed / alerts at or above --fail-on, "
    "7 database unreachable, locked or schema mismatch."
)

PANELS = ["Getting started", "1. Submission", "2-3. Evaluation, security & compliance review",
          "4. Performance benchmarking", "5. Approval & deployment", "Lifecycle", "Query", "Monitoring",
          "Registry as code", "Audit", "Administration"]


class StepsGroup(typer.core.TyperGroup):
    """Plain-text help with the commands grouped by the guide's five
    registration steps (rich help panels would cost a rich import on --help)."""

    def format_commands(self, ctx, formatter) -> None:
        groups: dict[str, list[tuple[str, str]]] = {}
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
    actor: Optional[str] = typer.Option(None, "--actor", help="Who is acting, for the audit trail (env MODELREG_ACTOR)."),
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


# Command modules register themselves on `app` (order = help order).
from modelreg.cli import demo_commands  # noqa: E402,F401
from modelreg.cli import registry_commands  # noqa: E402,F401
from modelreg.cli import lifecycle_commands  # noqa: E402,F401
from modelreg.cli import benchmark_commands  # noqa: E402,F401
from modelreg.cli import alerts_commands  # noqa: E402,F401
from modelreg.cli import admin_commands  # noqa: E402,F401
from modelreg.cli import file_commands  # noqa: E402,F401
from modelreg.cli import serve_commands  # noqa: E402,F401


# Every character str.splitlines() breaks on: user text echoed in a message
# (a key, a name) must not split the one error line a script reads.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def _fail(code: int, text: str, details: list[str] | None = None) -> None:
    sys.stderr.write(f"error: {text.translate(_LINE_BREAKS)}\n")
    for line in details or []:
        sys.stderr.write(f"  - {line.translate(_LINE_BREAKS)}\n")
    raise SystemExit(int(code))


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error leaves as one line on stderr and its exit code."""
    from modelreg.errors import ModelregError

    from modelreg.cli import output

    args = sys.argv[1:] if argv is None else argv
    try:
        args = output.take_json_fields(list(args))
    except ModelregError as exc:
        _fail(exc.exit_code, exc.message)
    debug = "--debug" in args or os.environ.get("MODELREG_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="modelreg", standalone_mode=False)
    except ModelregError as exc:
        if debug:
            import traceback
            traceback.print_exc()
        _fail(exc.exit_code, exc.message, exc.details)
    except click_exceptions.NoArgsIsHelpError as exc:
        sys.stdout.write(exc.ctx.get_help() + "\n")
        raise SystemExit(0)
    except click_exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(ExitCode.INVALID, exc.format_message().replace("\n", " ") + hint)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        raise SystemExit(130)
    except click_exceptions.ClickException as exc:
        _fail(ExitCode.INVALID, exc.format_message().replace("\n", " "))
    except BrokenPipeError:
        raise SystemExit(0)
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so, one line, traceback only with --debug
        if debug:
            raise
        _fail(ExitCode.UNEXPECTED, f"unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                                   "(this is a bug; rerun with --debug for the traceback)")
    raise SystemExit(result if isinstance(result, int) else 0)
