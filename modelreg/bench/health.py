"""The load generator's own health, so client delay is never reported as endpoint latency.

Every benchmark process measures, over the measured phase:

- event-loop lag: a timer asks to wake every ``LAG_INTERVAL_S`` and notes how
  late it ran. Whatever delayed it (callbacks of a wave of responses, a GC
  pause, a slow progress display) delayed the stamping of every response the
  loop handed out meanwhile by as much;
- CPU share: process CPU time over wall time (1.0 = one core, busy throughout;
  one Python process cannot go much past that, so near 1.0 the client, not the
  endpoint, is what limits the run);
- garbage-collector pauses (count and longest).

``client_verdict`` turns them into ``{..., bottleneck, reason}``: a run is
flagged when the loop lag p99 exceeds ``LOOP_LAG_LIMIT_MS``, the CPU share
reaches ``CPU_SHARE_LIMIT``, or an open loop fell behind its schedule.
"""

from __future__ import annotations

import asyncio
import gc
import time
from array import array
from dataclasses import dataclass, field

from modelreg.bench.stats import percentile

LAG_INTERVAL_S = 0.01
# Lag a healthy loop shows anyway is below 1 ms (the poll's millisecond
# timeout); 5 ms of added delay is where a p99 stops being the endpoint's.
LOOP_LAG_LIMIT_MS = 5.0
CPU_SHARE_LIMIT = 0.9

now = time.perf_counter


@dataclass
class ProcessHealth:
    """What one benchmark process measured about itself (picklable: workers send it back)."""

    loop_lag_ms: array = field(default_factory=lambda: array("d"))
    gc_pauses_ms: array = field(default_factory=lambda: array("d"))
    cpu_s: float = 0.0
    wall_s: float = 0.0
    event_loop: str = "asyncio"

    @property
    def cpu_share(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


class HealthMonitor:
    """Samples loop lag, CPU time and GC pauses of this process between start() and stop()."""

    def __init__(self, event_loop: str = "asyncio") -> None:
        self.health = ProcessHealth(event_loop=event_loop)
        self._task: asyncio.Task | None = None
        self._gc_started = 0.0
        self._cpu0 = 0.0
        self._wall0 = 0.0

    def start(self) -> None:
        self._cpu0 = time.process_time()
        self._wall0 = now()
        gc.callbacks.append(self._on_gc)
        self._task = asyncio.get_running_loop().create_task(self._sample_lag())

    async def stop(self) -> ProcessHealth:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
            self.health.cpu_s = time.process_time() - self._cpu0
            self.health.wall_s = now() - self._wall0
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        return self.health

    async def _sample_lag(self) -> None:
        lags = self.health.loop_lag_ms
        while True:
            due = now() + LAG_INTERVAL_S
            await asyncio.sleep(LAG_INTERVAL_S)
            lags.append(max(0.0, (now() - due) * 1000.0))

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = now()
        elif self._gc_started:
            self.health.gc_pauses_ms.append((now() - self._gc_started) * 1000.0)
            self._gc_started = 0.0


def client_verdict(processes: list[ProcessHealth], schedule_kept: bool | None = None) -> dict:
    """The ``client`` block of a result: {event_loop, loop_lag_p99_ms, loop_lag_max_ms, cpu_share,
    gc_collections, gc_pause_max_ms, per_worker?, bottleneck, reason}."""
    lags = sorted(x for p in processes for x in p.loop_lag_ms)
    pauses = [x for p in processes for x in p.gc_pauses_ms]
    lag_p99 = round(percentile(lags, 99), 3) if lags else None
    cpu_share = round(max((p.cpu_share for p in processes), default=0.0), 3)
    reasons = []
    if cpu_share >= CPU_SHARE_LIMIT:
        reasons.append(f"a client process used {cpu_share:.0%} of a CPU")
    if lag_p99 is not None and lag_p99 > LOOP_LAG_LIMIT_MS:
        reasons.append(f"event-loop lag p99 {lag_p99:.1f} ms (limit {LOOP_LAG_LIMIT_MS:g} ms)")
    if schedule_kept is False:
        reasons.append("the client fell behind the open-loop schedule")
    out = {
        "event_loop": processes[0].event_loop if processes else None,
        "loop_lag_p99_ms": lag_p99,
        "loop_lag_max_ms": round(lags[-1], 3) if lags else None,
        "cpu_share": cpu_share,
        "gc_collections": len(pauses),
        "gc_pause_max_ms": round(max(pauses), 3) if pauses else 0.0,
        "bottleneck": bool(reasons),
        "reason": "; ".join(reasons) or None,
    }
    if len(processes) > 1:
        out["per_worker"] = [
            {
                "cpu_share": round(p.cpu_share, 3),
                "loop_lag_p99_ms": round(percentile(sorted(p.loop_lag_ms), 99), 3) if len(p.loop_lag_ms) else None,
            }
            for p in processes
        ]
    return out
