"""`modelreg serve`: the registry as a read-only HTTP API (aiohttp).

    app.py        routes, auth, conditional requests (the app factory)
    answers.py    what each route answers, computed in a worker thread
    cache.py      answers kept in memory per audit head; the head watcher
    params.py     query and path parameters, each checked and named in errors
    usage.py      resolves counted per consumer, flushed in batches
    openapi.py    the OpenAPI 3.1 document of all of the above
    runner.py     listening, access log, graceful shutdown on SIGTERM

Nothing here prints; the CLI (`modelreg/cli/serve_commands.py`) attaches the
log handlers and reports start-up errors.
"""
