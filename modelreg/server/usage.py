"""Resolves counted per (consumer, model_id, version) in memory, handed to a
`flush` callable in batches: every `interval` seconds, sooner when many keys
pile up, and once more at shutdown. Never a write per request.

    flush(counts: dict[tuple[str, str, str], int]) -> None   # blocking; runs in a thread

A flush that fails keeps its counts for the next one (up to `max_keys`
distinct keys; past that the oldest batch is dropped and logged).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from modelreg.server.background import BackgroundJob

log = logging.getLogger("modelreg.server")

Counts = dict[tuple[str, str, str], int]
Flush = Callable[[Counts], None]


def no_flush(counts: Counts) -> None:
    """The default when nothing stores them (a read-only server): counts are dropped."""


class ResolveCounter(BackgroundJob):
    def __init__(self, flush: Flush | None = None, *, interval: float = 10.0, max_keys: int = 10_000):
        super().__init__(interval=interval, thread_name="modelreg-usage")
        self.flush = flush or no_flush
        self.max_keys = max_keys
        self.counts: Counts = {}
        self.flushes = 0
        self._lock = asyncio.Lock()

    def add(self, consumer: str, model_id: str, version: str) -> None:
        k = (consumer, model_id, version)
        self.counts[k] = self.counts.get(k, 0) + 1
        if len(self.counts) >= self.max_keys // 2:
            self._wake.set()

    async def flush_now(self) -> None:
        async with self._lock:
            batch, self.counts = self.counts, {}
            if not batch:
                return
            try:
                await asyncio.get_running_loop().run_in_executor(self._thread, self.flush, batch)
                self.flushes += 1
            except Exception as exc:
                log.warning("usage flush failed (%d keys kept for the next flush): %s", len(batch), exc)
                for k, n in batch.items():
                    self.counts[k] = self.counts.get(k, 0) + n
                if len(self.counts) > self.max_keys:
                    log.warning("usage counts dropped: %d keys over the limit of %d", len(self.counts), self.max_keys)
                    self.counts = {}

    async def tick(self) -> None:
        await self.flush_now()
