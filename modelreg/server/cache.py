"""Answers kept in memory for the current audit head, and the watcher that
moves the head.

The database is asked once per (head, day, route, parameters): concurrent
misses for one key share one computation (no stampede after a promotion),
and an answer computed for an older head is never stored. The watcher reads
the head every `interval` seconds on its own thread (so a busy worker pool
cannot delay it); when the head moves, every kept answer is dropped, so a
committed change is served within about one interval. When the head cannot
be read the server is unhealthy and answers 503 until it can again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor

from modelreg import clock
from modelreg.server.answers import Answer, Generation

log = logging.getLogger("modelreg.server")


class AnswerCache:
    def __init__(self, executor: Executor, *, max_entries: int = 10_000, max_bytes: int = 64 * 2**20):
        self.executor = executor
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.generation: Generation | None = None
        self.entries: dict[tuple, Answer] = {}
        self.bytes = 0
        self.pending: dict[tuple, asyncio.Future] = {}
        self.hits = 0
        self.misses = 0  # computations started (database round trips)

    def reset(self, generation: Generation | None) -> None:
        self.generation = generation
        self.entries.clear()
        self.bytes = 0

    def hit(self, key: tuple) -> Answer | None:
        """The kept answer for key, if any (no await: the fast path)."""
        found = self.entries.get(key)
        if found is not None:
            self.hits += 1
        return found

    async def get(self, key: tuple, compute: Callable[[Generation, tuple], Answer]) -> Answer:
        """The answer for key: kept, or computed once in a worker thread however many ask."""
        hit = self.hit(key)
        if hit is not None:
            return hit
        gen = self.generation
        assert gen is not None, "callers check health first"
        future = self.pending.get((gen, key))
        if future is None:
            self.misses += 1
            future = asyncio.get_running_loop().run_in_executor(self.executor, compute, gen, key)
            self.pending[(gen, key)] = future
            future.add_done_callback(lambda done: self._landed(gen, key, done))
        # shield: a client that goes away must not cancel a computation others wait on
        return await asyncio.shield(future)

    def _landed(self, gen: Generation, key: tuple, future: asyncio.Future) -> None:
        self.pending.pop((gen, key), None)
        if future.cancelled() or future.exception() is not None or gen != self.generation:
            return
        answer = future.result()
        if answer.size > self.max_bytes // 4:
            return  # one huge page must not flush everything else
        self.entries[key] = answer
        self.bytes += answer.size
        while len(self.entries) > self.max_entries or self.bytes > self.max_bytes:
            oldest = next(iter(self.entries))  # dicts keep insertion order: evict the oldest first
            self.bytes -= self.entries.pop(oldest).size


class HeadWatcher:
    """Polls the audit head; calls `on_change(generation | None)` when the
    head or the day moves, or when the database goes away (None)."""

    def __init__(
        self, reg, on_change: Callable[[Generation | None], None], *, interval: float = 0.25, timeout: float = 2.0
    ):
        self.reg = reg
        self.on_change = on_change
        self.interval = interval
        self.timeout = timeout
        self.generation: Generation | None = None
        self.error: str | None = "not checked yet"
        self.checks = 0
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="modelreg-head")
        self._inflight: asyncio.Future | None = None

    @property
    def healthy(self) -> bool:
        return self.generation is not None

    def _read(self) -> Generation:
        seq, digest = self.reg.audit_head()
        return Generation(seq, digest, clock.now().date().isoformat())

    async def check(self) -> None:
        self.checks += 1
        if self._inflight is None:  # a hung read is waited for, never piled up
            self._inflight = asyncio.get_running_loop().run_in_executor(self._thread, self._read)
        # asyncio.wait, not wait_for: it never cancels the read, and (unlike
        # wait_for on 3.11) never swallows a cancellation of this task
        done, _ = await asyncio.wait({self._inflight}, timeout=self.timeout)
        if not done:
            self.mark_unavailable(f"reading the audit head took over {self.timeout:g} s")
            return
        inflight, self._inflight = self._inflight, None
        exc = inflight.exception()
        if exc is not None:
            self.mark_unavailable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            return
        gen = inflight.result()
        if gen != self.generation:
            if self.generation is None and self.error != "not checked yet":
                log.warning("database available again (audit head %d)", gen.seq)
            self.generation, self.error = gen, None
            self.on_change(gen)

    def mark_unavailable(self, reason: str) -> None:
        if self.generation is not None or self.error != reason:
            log.warning("database unavailable: %s", reason.splitlines()[0] if reason else "unknown")
        self.generation, self.error = None, reason
        self.on_change(None)

    async def run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
