"""The app factory and its routes.

    create_app(registry, verify=None, flush=None) -> aiohttp.web.Application

Read-only: GET and HEAD only. Every 200 carries an ETag (audit head, day,
route and query) and `If-None-Match` is answered 304 without touching the
database. Answers come from memory (cache.py) while the audit head stands
still; a miss runs in a worker thread, never on the event loop.

`verify(token) -> consumer name | None` makes every route but /healthz
require `Authorization: Bearer <token>`; `flush(counts)` receives resolve
counts per (consumer, model_id, version) in batches (usage.py);
`deliver()` sends pending lifecycle-event webhooks (outbox.py), soon after
the audit head moves and every few seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aiohttp import web

from modelreg.errors import ExitCode, ModelregError
from modelreg.names import ANONYMOUS, is_consumer
from modelreg.server import answers, params
from modelreg.server.answers import Answer, Generation
from modelreg.server.auth import TokenCheck, Verify
from modelreg.server.cache import AnswerCache, HeadWatcher
from modelreg.server.errors import DATABASE_UNAVAILABLE, JSON_TYPE, ApiError, BadParameter, error_body, from_library
from modelreg.server.outbox import EventDeliverer
from modelreg.server.runner import CONSUMER
from modelreg.server.usage import Flush, ResolveCounter

log = logging.getLogger("modelreg.server")

CONSUMER_HEADER = "X-Modelreg-Consumer"


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 13.1.2)."""
    if header.strip() == "*":
        return True
    return any(part.strip().removeprefix("W/") == etag for part in header.split(","))


class ServerState:
    def __init__(
        self,
        reg,
        *,
        verify: Verify | None,
        flush: Flush | None,
        deliver: Callable[[], Any] | None,
        workers: int,
        watch_interval: float,
        watch_timeout: float,
        flush_interval: float,
        cache_entries: int,
        cache_bytes: int,
    ):
        self.reg = reg
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="modelreg-read")
        self.cache = AnswerCache(self.executor, max_entries=cache_entries, max_bytes=cache_bytes)
        self.tokens = TokenCheck(verify, self.executor) if verify is not None else None
        self.watcher = HeadWatcher(reg, self._head_moved, interval=watch_interval, timeout=watch_timeout)
        self.counter = ResolveCounter(flush, interval=flush_interval)
        self.outbox = EventDeliverer(deliver) if deliver is not None else None
        self.cache_control = "private, no-cache" if verify is not None else "no-cache"
        self.parsed: dict[tuple[str, str], tuple] = {}
        self._openapi: Answer | None = None

    def _head_moved(self, gen: Generation | None) -> None:
        self.cache.reset(gen)
        if self.tokens is not None:
            self.tokens.reset()
        if self.outbox is not None and gen is not None:
            self.outbox.wake()  # a committed change may have queued events

    def compute(self, gen: Generation, key: tuple) -> Answer:
        answer = answers.compute(self.reg, gen, key)
        answer.headers["Cache-Control"] = self.cache_control
        return answer

    def query(self, route: str, request: web.Request) -> tuple:
        """The route's checked query parameters (remembered per query string)."""
        memo = (route, request.query_string)
        found = self.parsed.get(memo)
        if found is None:
            found = params.parse_query(route, request.query)
            if len(self.parsed) >= 10_000:
                self.parsed.clear()
            self.parsed[memo] = found
        return found

    async def consumer(self, request: web.Request, *, counted: bool = False) -> str:
        """Who is asking: the bearer token's name (401 without one when tokens
        are required), else the X-Modelreg-Consumer header of a counted route."""
        if self.tokens is not None:
            name = await self.tokens.consumer(request.headers.get("Authorization"))
        else:
            name = self.declared_consumer(request) if counted else ANONYMOUS
        request[CONSUMER] = name
        return name

    @staticmethod
    def declared_consumer(request: web.Request) -> str:
        name = request.headers.get(CONSUMER_HEADER)
        if name is None:
            return ANONYMOUS
        if not is_consumer(name):
            raise BadParameter(
                CONSUMER_HEADER, f"header {CONSUMER_HEADER}: expected 1 to 128 printable ASCII characters"
            )
        return name

    def require_database(self) -> Generation:
        gen = self.watcher.generation
        if gen is None:
            raise ApiError(503, "database_unavailable", DATABASE_UNAVAILABLE, headers={"Retry-After": "1"})
        return gen

    def respond(self, request: web.Request, answer: Answer) -> web.Response:
        if answer.etag is not None:
            condition = request.headers.get("If-None-Match")
            if condition is not None and etag_matches(condition, answer.etag):
                headers = {k: v for k, v in answer.headers.items() if k != "Content-Type"}
                return web.Response(status=304, headers=headers)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    def openapi(self) -> Answer:
        if self._openapi is None:
            from modelreg.server.openapi import document

            body = answers.dumps(document())
            etag = f'"openapi-{hashlib.sha256(body).hexdigest()[:20]}"'
            self._openapi = Answer(
                200, body, {"Content-Type": JSON_TYPE, "ETag": etag, "Cache-Control": self.cache_control}, etag
            )
        return self._openapi


STATE = web.AppKey("modelreg_state", ServerState)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def cached_route(route: str, *path_params: str) -> Handler:
    """A route answered from the cache: auth, parameters, health, answer."""
    checks = {"model_id": params.model_id, "version": params.version}

    counted = route == "resolve"

    async def handle(request: web.Request) -> web.StreamResponse:
        state = request.app[STATE]
        if state.tokens is None:  # the common case stays free of awaits until a cache miss
            consumer = request[CONSUMER] = state.declared_consumer(request) if counted else ANONYMOUS
        else:
            consumer = await state.consumer(request, counted=counted)
        args = tuple((name, checks[name](request.match_info[name])) for name in path_params) if path_params else ()
        key = (route, args, state.query(route, request))
        answer = state.cache.hit(key)  # an answer kept means the database was there for this head
        if answer is None:
            state.require_database()
            try:
                answer = await state.cache.get(key, state.compute)
            except ModelregError as exc:
                if exc.exit_code == ExitCode.DATABASE:
                    state.watcher.mark_unavailable(exc.message)
                raise
        if answer.resolved is not None:
            state.counter.add(consumer, *answer.resolved)
        return state.respond(request, answer)

    handle.__name__ = f"get_{route}"
    return handle


async def healthz(request: web.Request) -> web.StreamResponse:
    """No database round trip: the watcher's last read of the audit head says it all."""
    state = request.app[STATE]
    params.parse_query("healthz", request.query)
    gen = state.watcher.generation
    if gen is None:
        down = {"status": "unavailable", "database": "unreachable", "audit_seq": None}
        return web.Response(
            status=503,
            body=answers.dumps(down),
            headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-store", "Retry-After": "1"},
        )
    body = {"status": "ok", "database": "ok", "audit_seq": gen.seq}
    etag = answers.etag_for(gen, ("healthz",))
    return state.respond(
        request,
        Answer(
            200,
            answers.dumps(body),
            {
                "Content-Type": JSON_TYPE,
                "ETag": etag,
                "Cache-Control": "no-cache",
                "X-Modelreg-Audit-Seq": str(gen.seq),
            },
            etag,
        ),
    )


async def openapi(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    await state.consumer(request)
    params.parse_query("openapi", request.query)
    return state.respond(request, state.openapi())


def _error(
    status: int, code: str, message: str, *, parameter: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=error_body(code, message, parameter),
        headers={"Content-Type": JSON_TYPE, "Cache-Control": "no-store", **(headers or {})},
    )


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON; a bug is logged, never shown."""
    try:
        return await handler(request)
    except ApiError as exc:
        return _error(exc.status, exc.code, exc.message, parameter=exc.parameter, headers=exc.headers)
    except ModelregError as exc:
        err = from_library(exc)
        if err.status == 500:
            log.error("unexpected library error on %s: %s", request.path_qs, exc.message)
        return _error(err.status, err.code, err.message, headers=err.headers)
    except web.HTTPMethodNotAllowed as exc:
        return _error(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed here: this API is read-only "
            f"(allowed: {', '.join(sorted(exc.allowed_methods))})",
            headers={"Allow": ", ".join(sorted(exc.allowed_methods))},
        )
    except web.HTTPNotFound:
        return _error(404, "not_found", f"no such route: {request.path[:200]} (see /v1/openapi.json)")
    except web.HTTPException as exc:
        return _error(exc.status, "http_error", exc.reason)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path_qs[:200])
        return _error(500, "internal", "unexpected error; the server log has the details")


def create_app(
    registry,
    *,
    verify: Verify | None = None,
    flush: Flush | None = None,
    deliver: Callable[[], Any] | None = None,
    workers: int = 8,
    watch_interval: float = 0.25,
    watch_timeout: float = 2.0,
    flush_interval: float = 10.0,
    cache_entries: int = 10_000,
    cache_bytes: int = 64 * 2**20,
) -> web.Application:
    """The read-only API over `registry` (a database-backed Registry).

    watch_interval: seconds between audit-head reads (changes show within about this);
    watch_timeout: a head read slower than this makes the server unavailable (503) until one succeeds;
    flush_interval: seconds between usage flushes."""
    state = ServerState(
        registry,
        verify=verify,
        flush=flush,
        deliver=deliver,
        workers=workers,
        watch_interval=watch_interval,
        watch_timeout=watch_timeout,
        flush_interval=flush_interval,
        cache_entries=cache_entries,
        cache_bytes=cache_bytes,
    )
    app = web.Application(middlewares=[guard], client_max_size=1024)
    app[STATE] = state
    routes = [
        ("/healthz", healthz),
        ("/metrics", cached_route("metrics")),
        ("/v1/openapi.json", openapi),
        ("/v1/resolve", cached_route("resolve")),
        ("/v1/models", cached_route("models")),
        ("/v1/models/{model_id}", cached_route("model", "model_id")),
        ("/v1/models/{model_id}/history", cached_route("model_history", "model_id")),
        ("/v1/models/{model_id}/versions/{version}", cached_route("version", "model_id", "version")),
        ("/v1/models/{model_id}/versions/{version}/history", cached_route("version_history", "model_id", "version")),
        ("/v1/deprecations", cached_route("deprecations")),
        ("/v1/tree", cached_route("tree")),
    ]
    for path, handler in routes:
        app.router.add_get(path, handler)
    app.cleanup_ctx.append(_background)
    return app


async def _background(app: web.Application):
    """The head watcher and the usage flusher run while the app does; at
    cleanup (after in-flight requests finished) the last counts are flushed."""
    state = app[STATE]
    await state.watcher.check()  # first head before the first request
    tasks = [
        asyncio.create_task(state.watcher.run(), name="modelreg-head-watcher"),
        asyncio.create_task(state.counter.run(), name="modelreg-usage-flush"),
    ]
    if state.outbox is not None:
        tasks.append(asyncio.create_task(state.outbox.run(), name="modelreg-event-delivery"))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks, timeout=5)
    await state.counter.flush_now()
    state.counter.close()
    if state.outbox is not None:
        state.outbox.close()
    state.watcher.close()
    state.executor.shutdown(wait=False, cancel_futures=True)


def stats(app: web.Application) -> dict[str, Any]:
    """Counters for tests and the benchmark: cache hits/misses, head checks, flushes."""
    state = app[STATE]
    return {
        "hits": state.cache.hits,
        "misses": state.cache.misses,
        "head_checks": state.watcher.checks,
        "flushes": state.counter.flushes,
        "deliveries": state.outbox.runs if state.outbox is not None else 0,
        "pending_counts": dict(state.counter.counts),
    }
