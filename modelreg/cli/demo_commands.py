"""Try modelreg without real models: the guide's manifest and a local endpoint."""

from __future__ import annotations

import sys

import typer

from modelreg.cli.app import app

demo_app = typer.Typer(
    help="The guide's example models and a local endpoint to try modelreg on.\n\n"
    "Example: modelreg demo manifest > guide-models.toml",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(demo_app, name="demo", rich_help_panel="Getting started")


@demo_app.command("manifest")
def demo_manifest() -> None:
    """Print the guide's example models (ms-advanced-reasoning, ms-standard, ms-research-prototype) as a manifest.

    Example: modelreg demo manifest > guide-models.toml && modelreg register --file guide-models.toml
    """
    from importlib.resources import files

    sys.stdout.write(files("modelreg.examples").joinpath("guide-models.toml").read_text())


@demo_app.command("endpoint")
def demo_endpoint(
    port: int = typer.Option(8700, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    delay_ms: float = typer.Option(120.0, "--delay-ms", help="Time before the answer (or the first token)."),
    token_ms: float = typer.Option(20.0, "--token-ms", help="Gap between streamed tokens."),
) -> None:
    """Serve a local OpenAI-compatible chat endpoint with a fixed delay until Ctrl-C.

    Example: modelreg demo endpoint --port 8700 --delay-ms 120 &
    """
    import asyncio

    from modelreg.demo_endpoint import serve
    from modelreg.errors import InvalidInput

    if not 0 <= port <= 65535 or delay_ms < 0 or token_ms < 0:
        raise InvalidInput("--port must be 0-65535 and delays non-negative")

    def ready(bound: int) -> None:
        sys.stderr.write(f"demo endpoint on http://127.0.0.1:{bound}/v1/chat/completions (delay {delay_ms:g} ms)\n")
        sys.stderr.flush()

    try:
        asyncio.run(serve("127.0.0.1", port, delay_ms, token_ms, ready))
    except OSError as exc:
        raise InvalidInput(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    except KeyboardInterrupt:
        pass
