"""Lifecycle-event webhooks sent while the server runs: soon after the audit
head moves (a change committed, maybe with events), and every `interval`
seconds for retries. `deliver()` is blocking (it posts with httpx) and runs
in its own thread; it returns None when nothing waited, else a summary with
`delivered` and `failed` counts. A failure is logged and tried again later;
nothing is dropped (the rows stay pending or failed in the registry). A
server whose role may not write (a PostgreSQL reader) turns delivery off
with one warning; the sweep and `alerts check` deliver what is pending.

    deliver() -> dict | None
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from modelreg.errors import AccessDenied
from modelreg.server.background import BackgroundJob

log = logging.getLogger("modelreg.server")


class EventDeliverer(BackgroundJob):
    def __init__(self, deliver: Callable[[], Any], *, interval: float = 5.0):
        super().__init__(interval=interval, thread_name="modelreg-events")
        self.deliver = deliver
        self.runs = 0
        self.off = False

    async def tick(self) -> None:
        await self.once()

    async def once(self) -> None:
        if self.off:
            return
        try:
            result = await asyncio.get_running_loop().run_in_executor(self._thread, self.deliver)
        except AccessDenied as exc:  # a reader-only server: the sweep and `alerts check` deliver instead
            self.off = True
            log.warning("event delivery off: %s; `deprecate --sweep` and `alerts check` deliver events", exc)
            return
        except Exception as exc:  # the database went away, a policy that cannot be read...: try again later
            log.warning("event delivery failed (will retry): %s", str(exc).splitlines()[0] if str(exc) else exc)
            return
        self.runs += 1
        events = (result or {}).get("events", result) or {}
        if events.get("delivered") or events.get("failed"):
            log.info("events: %d delivered, %d failed", events.get("delivered", 0), events.get("failed", 0))
