"""The command line: parses arguments, calls the library, renders results.

    app          the Typer app, global options, opening the registry
    main         the entry point and the one error funnel
    output       output options declared once, one renderer, terminal-safe text
    *_commands   one module per command group
    *_view       drawing results for people

Nothing outside this package imports typer or rich.
"""

from modelreg.cli.app import app
from modelreg.cli.main import main

__all__ = ["app", "main"]
