"""A job the server runs beside its requests: `tick()` every `interval`
seconds, sooner after `wake()`, its blocking work on one thread of its own
(so a slow database never stalls a request), and `close()` at shutdown.
The resolve counter and the event deliverer are two of them."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor


class BackgroundJob:
    def __init__(self, *, interval: float, thread_name: str):
        self.interval = interval
        self._wake = asyncio.Event()
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=thread_name)

    def wake(self) -> None:
        self._wake.set()

    async def tick(self) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        while True:
            waiter = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({waiter}, timeout=self.interval)
            finally:
                waiter.cancel()
            self._wake.clear()
            await self.tick()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
