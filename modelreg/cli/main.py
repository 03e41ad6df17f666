"""The entry point: parse, run the command, and turn every error into one
line on stderr with its exit code (a traceback only with --debug)."""

from __future__ import annotations

import os
import sys

import typer
from typer._click import exceptions as click_exceptions  # typer vendors click

# Command modules register themselves on `app` (order = help order).
from modelreg.cli import (
    admin_commands,  # noqa: F401
    alerts_commands,  # noqa: F401
    benchmark_commands,  # noqa: F401
    demo_commands,  # noqa: F401
    events_commands,  # noqa: F401
    file_commands,  # noqa: F401
    lifecycle_commands,  # noqa: F401
    metadata_commands,  # noqa: F401
    registry_commands,  # noqa: F401
    serve_commands,  # noqa: F401
    token_commands,  # noqa: F401
)
from modelreg.cli.app import app
from modelreg.errors import ExitCode

# Every character str.splitlines() breaks on: user text echoed in a message
# (a key, a name) must not split the one error line a script reads.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def _fail(code: int, text: str, details: list[str] | None = None) -> None:
    from modelreg.cli.output import safe

    sys.stderr.write(f"error: {safe(text.translate(_LINE_BREAKS))}\n")
    for line in details or []:
        sys.stderr.write(f"  - {safe(line.translate(_LINE_BREAKS))}\n")
    raise SystemExit(int(code))


def _command_for(args: list[str]) -> tuple[object, str]:
    """The click command that `args` invoke (for its JSON fields), and its path."""
    cmd: object = typer.main.get_command(app)
    path = ["modelreg"]
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("--db", "--config", "--actor"):
            i += 2
            continue
        if arg.startswith("-"):
            i += 1
            continue
        commands = getattr(cmd, "commands", None)
        if not commands or arg not in commands:
            break
        cmd = commands[arg]
        path.append(arg)
        i += 1
        if not getattr(cmd, "commands", None):
            break
    return cmd, " ".join(path)


def _check_text(args: list[str]) -> None:
    """Arguments that are not valid UTF-8 (bytes the OS handed over as
    surrogates) are bad input, refused before anything runs."""
    from modelreg.errors import InvalidInput

    for position, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"argument {position} is not valid UTF-8 text") from None


def main(argv: list[str] | None = None) -> None:
    """Entry point: every error leaves as one line on stderr and its exit code."""
    from modelreg.cli import output
    from modelreg.errors import ModelregError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("MODELREG_DEBUG") == "1"
    try:
        _check_text(list(args))
        if "--json" in args or any(a.startswith("--json=") for a in args):
            target, path = _command_for(list(args))
            takes_positionals = any(type(p).__name__ == "Argument" for p in getattr(target, "params", []))
            args = output.take_json_fields(
                list(args),
                getattr(getattr(target, "callback", None), "json_fields", None),
                takes_positionals=takes_positionals,
                path=path,
            )
        else:
            output.JSON_FIELDS = None
    except ModelregError as exc:
        _fail(exc.exit_code, exc.message)
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
        raise SystemExit(0) from None
    except click_exceptions.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _fail(ExitCode.INVALID, exc.format_message().replace("\n", " ") + hint)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted: nothing was written\n")
        raise SystemExit(130) from None
    except click_exceptions.ClickException as exc:
        _fail(ExitCode.INVALID, exc.format_message().replace("\n", " "))
    except BrokenPipeError:
        raise SystemExit(0) from None
    except SystemExit:
        raise
    except Exception as exc:  # a bug: say so, one line, traceback only with --debug
        if debug:
            raise
        _fail(
            ExitCode.UNEXPECTED,
            f"unexpected error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
            "(this is a bug; rerun with --debug for the traceback)",
        )
    raise SystemExit(result if isinstance(result, int) else 0)
