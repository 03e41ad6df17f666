"""Listening and stopping: bind (a taken port is a clear error), serve until
SIGTERM or SIGINT, then stop accepting, let in-flight requests finish (up to
`shutdown_timeout`), flush usage counts and close.

Slow clients: a connection must deliver a complete request within
`header_timeout` seconds of opening (and of its previous answer), or it is
closed; this bounds slowloris clients, which never hold up others (the loop
serves every connection independently). Header lines over 8 KiB and more
than 128 headers are refused with a 400 by the HTTP parser.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import signal
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

from modelreg.errors import InvalidInput

# who asked, for the access log (set by the app; a typed key where aiohttp has them)
CONSUMER: Any = web.RequestKey("consumer", str) if hasattr(web, "RequestKey") else "consumer"

access_log = logging.getLogger("modelreg.server.access")


class AccessLog(AbstractAccessLogger):
    """One line per request: client, request line, status, bytes, time, consumer."""

    def log(self, request, response, time: float) -> None:
        consumer = request.get(CONSUMER, "-") if hasattr(request, "get") else "-"
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.1fms %s',
            request.remote,
            request.method,
            request.path_qs[:2000],
            request.version.major,
            request.version.minor,
            response.status,
            response.content_length or 0,
            time * 1000,
            consumer,
        )


class QuietProtocolErrors(logging.Filter):
    """A malformed request (oversized header, garbage) is the client's fault:
    log one line, not a traceback a client can make us write at will."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], HttpProcessingError):
            exc = record.exc_info[1]
            record.msg = f"refused a malformed request: {exc.message or type(exc).__name__}"[:300]
            record.args = ()
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


async def start(
    app: web.Application,
    host: str,
    port: int,
    *,
    access_log_on: bool = True,
    header_timeout: float = 15.0,
    shutdown_timeout: float = 30.0,
) -> tuple[web.AppRunner, int]:
    """Set the app up and listen; returns the runner and the bound port."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=access_log if access_log_on else None,
        access_log_class=AccessLog,
        keepalive_timeout=header_timeout,
        shutdown_timeout=shutdown_timeout,
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise InvalidInput(f"cannot listen on {host}:{port}: {reason}") from None
    bound = runner.addresses[0][1] if runner.addresses else port
    return runner, bound


async def serve(
    app: web.Application, host: str, port: int, *, ready: Callable[[int], None] | None = None, **options
) -> None:
    """Serve until SIGTERM or SIGINT, then shut down gracefully."""
    runner, bound = await start(app, host, port, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        if ready is not None:
            ready(bound)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await runner.cleanup()
