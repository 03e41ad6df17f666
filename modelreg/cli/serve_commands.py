"""`modelreg serve`: the registry as a read-only HTTP API (modelreg.server)."""

from __future__ import annotations

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.output import message


@app.command(rich_help_panel="Query")
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="Port (0: any free port)."),
    access_log: str = typer.Option("on", "--access-log", metavar="on|off", help="One line per request on stderr."),
    require_token: bool = typer.Option(
        False, "--require-token", help="Answer 401 without a valid 'Authorization: Bearer <token>' (/healthz excepted)."
    ),
) -> None:
    """Serve the registry read-only over HTTP: resolve, models, deprecations, tree, metrics.

    Example: modelreg serve --port 8080

    Example: curl 'http://127.0.0.1:8080/v1/resolve?provider=mindstudio&capability=text-generation'

    Routes: /v1/resolve, /v1/models[/{id}[/versions/{v}]], /v1/deprecations, /v1/tree, /healthz, /metrics and
    /v1/openapi.json (the full description). Answers are kept in memory until the registry's audit head moves
    (checked every 250 ms). Clients: MODELREG_DB=http://HOST:PORT makes find, show, resolve and tree read from
    here. SIGTERM stops gracefully (requests in flight finish).
    """
    import asyncio
    import logging
    import sys

    from modelreg.errors import AccessDenied, InvalidInput

    if access_log not in ("on", "off"):
        raise InvalidInput(f"--access-log takes on or off, not {access_log!r}")
    reg = open_registry(ctx)
    try:
        if not hasattr(reg, "db"):
            raise InvalidInput(
                "serve needs a database URL (sqlite:///... or postgresql+psycopg://...), not another modelreg server"
            )
        verify = reg.verify_token if require_token else None
        if require_token:
            try:
                live = any(t["status"] == "active" for t in reg.list_tokens())
            except AccessDenied:  # a role that may not list tokens: verification alone will tell
                live = True
            if not live:
                raise InvalidInput(
                    "--require-token needs stored tokens: every request would get 401 "
                    "(an admin creates one with `modelreg token create NAME`)"
                )
        # resolves are counted per consumer and flushed in batches; events are delivered from here
        flush = None if reg.db.read_only else reg.record_usage
        deliver = None if reg.db.read_only else reg.deliver_events
        from modelreg.server.app import create_app
        from modelreg.server.runner import QuietProtocolErrors
        from modelreg.server.runner import serve as serve_forever

        # access log and server warnings: one line each on stderr
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
        handler.addFilter(QuietProtocolErrors())
        loggers = [logging.getLogger(name) for name in ("modelreg.server", "aiohttp.server")]
        saved = [(lg.level, lg.propagate) for lg in loggers]
        for lg in loggers:
            lg.addHandler(handler)
            lg.setLevel(logging.INFO)
            lg.propagate = False

        def ready(bound: int) -> None:
            shown = f"[{host}]" if ":" in host else host
            message(
                f"modelreg serve: listening on http://{shown}:{bound} (read-only"
                f"{', bearer tokens required' if verify else ''}); SIGTERM or Ctrl-C stops"
            )

        try:
            app_ = create_app(reg, verify=verify, flush=flush, deliver=deliver)
            asyncio.run(serve_forever(app_, host, port, ready=ready, access_log_on=access_log == "on"))
        finally:
            for lg, (level, propagate) in zip(loggers, saved, strict=True):
                lg.removeHandler(handler)
                lg.setLevel(level)
                lg.propagate = propagate
        message("modelreg serve: stopped")
    finally:
        reg.close()
