"""Run a benchmark: closed loop (N workers) or open loop (fixed schedule).

Closed loop: ``concurrency`` workers each send, wait for the answer, send
again. Latency is measured from the send.

Open loop (``rate``): send times are fixed in advance (t0 + i / rate) and a
request goes out at its time whether or not earlier ones have answered.
Latency is measured from the *scheduled* time, so a stalled endpoint shows in
the tail instead of being hidden by a client that waited (coordinated
omission). How late the client itself sent (send lag) and the achieved rate
are reported; ``schedule_kept`` is False when the client fell behind.

Ctrl-C (SIGINT) stops the run: no new requests, the ones in flight are
cancelled, and the partial result comes back with ``aborted=True``.
"""

from __future__ import annotations

import asyncio
import math
import signal
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from modelreg import clock
from modelreg.bench import stats
from modelreg.bench.settings import BenchmarkSettings, _strip_userinfo
from modelreg.bench.transport import Sample, Transport, now

ProgressCallback = Callable[[int, "int | None"], None]

PROGRESS_INTERVAL_S = 0.1
# open loop: the schedule counts as kept when the client sent 99% of requests
# within this many ms of their time and reached this share of the asked rate
SCHEDULE_LAG_P99_MS = 10.0
SCHEDULE_RATE_SHARE = 0.95
HISTOGRAM_BUCKETS = 20


@dataclass
class BenchmarkResult:
    settings: BenchmarkSettings
    started_at: str | None = None
    duration_s: float = 0.0
    aborted: bool = False
    attempted: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    ttft_ms: list[float] = field(default_factory=list)
    itl_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    send_lag_ms: list[float] = field(default_factory=list)
    first_send: float | None = None
    last_send: float | None = None
    tokens: list[int] | None = None  # prompt, completion, total

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_dict(self) -> dict:
        s = self.settings
        open_loop = s.rate is not None
        latency = stats.summarize(self.latencies_ms) or dict.fromkeys(
            ("min", "avg", "p50", "p90", "p95", "p99", "max")
        )
        achieved = None
        lag = None
        kept = None
        if open_loop:
            sent = len(self.send_lag_ms)
            if sent >= 2 and self.last_send is not None and self.last_send > self.first_send:
                achieved = round((sent - 1) / (self.last_send - self.first_send), 3)
            lag = stats.lag_summary(self.send_lag_ms)
            kept = bool(
                lag is not None
                and lag["p99"] <= SCHEDULE_LAG_P99_MS
                and (achieved is None or achieved >= SCHEDULE_RATE_SHARE * s.rate)
            )
        return {
            "endpoint": _strip_userinfo(s.endpoint),
            "endpoint_kind": s.endpoint_kind,
            "mode": "open" if open_loop else "closed",
            "concurrency": None if open_loop else s.concurrency,
            "rate": s.rate,
            "stream": s.stream,
            "started_at": self.started_at,
            "requests": self.attempted,
            "completed": self.completed,
            "errors": dict(sorted(self.errors.items())),
            "error_rate": round(self.error_count / self.attempted, 6) if self.attempted else 0.0,
            "duration_s": round(self.duration_s, 3),
            "throughput_rps": round(self.completed / self.duration_s, 3) if self.duration_s > 0 else 0.0,
            "latency_ms": latency,
            "ttft_ms": stats.summarize(self.ttft_ms) if s.stream else None,
            "itl_ms": stats.summarize(self.itl_ms) if s.stream else None,
            "tokens": (
                {"prompt": self.tokens[0], "completion": self.tokens[1], "total": self.tokens[2]}
                if self.tokens is not None else None
            ),
            "histogram": stats.histogram(self.latencies_ms, HISTOGRAM_BUCKETS),
            "aborted": self.aborted,
            "achieved_rate_rps": achieved,
            "send_lag_ms": lag,
            "schedule_kept": kept,
        }


class _Run:
    def __init__(self, settings: BenchmarkSettings, on_progress: ProgressCallback | None):
        self.s = settings
        self.on_progress = on_progress
        self.result = BenchmarkResult(settings=settings)
        self.stopping = False
        self.inflight: set[asyncio.Task] = set()
        self.finished = 0  # measured requests finished (ok or error)
        self.main_task: asyncio.Task | None = None
        self.t0 = 0.0

    # -- control -----------------------------------------------------------------------
    def abort(self) -> None:
        if self.stopping and self.result.aborted:
            return
        self.result.aborted = True
        self.stopping = True
        for task in list(self.inflight):
            task.cancel()

    def record(self, sample: Sample) -> None:
        r = self.result
        self.finished += 1
        if sample.error is not None:
            r.errors[sample.error] += 1
            return
        r.latencies_ms.append(sample.latency * 1000.0)
        if sample.ttft is not None:
            r.ttft_ms.append(sample.ttft * 1000.0)
        if sample.itl:
            r.itl_ms.extend(x * 1000.0 for x in sample.itl)
        if sample.tokens is not None:
            if r.tokens is None:
                r.tokens = [0, 0, 0]
            for i in range(3):
                r.tokens[i] += sample.tokens[i]

    # -- the run -----------------------------------------------------------------------
    async def main(self) -> None:
        s = self.s
        limit = 0 if s.rate is not None else s.concurrency
        self.transport = Transport(s, max_connections=limit)
        await self.transport.open()
        ticker = asyncio.get_running_loop().create_task(self._ticker()) if self.on_progress else None
        try:
            if s.warmup and not self.stopping:
                await self._warmup()
            self.result.started_at = clock.isoformat(clock.now())
            self.t0 = now()
            if s.rate is not None:
                await self._open_loop()
            else:
                await self._closed_loop()
            self.result.duration_s = now() - self.t0
        except asyncio.CancelledError:
            self.result.aborted = True
            self.result.duration_s = now() - self.t0 if self.t0 else 0.0
        finally:
            for task in list(self.inflight):
                task.cancel()
            if self.inflight:
                await asyncio.gather(*self.inflight, return_exceptions=True)
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            await self.transport.close()
        self._progress()

    async def _track(self, coro):
        task = asyncio.ensure_future(coro)
        self.inflight.add(task)
        try:
            return await task
        finally:
            self.inflight.discard(task)

    async def _warmup(self) -> None:
        remaining = [self.s.warmup]

        async def worker():
            while remaining[0] > 0 and not self.stopping:
                remaining[0] -= 1
                try:
                    await self._track(self.transport.request(now()))
                except asyncio.CancelledError:
                    return

        n = max(1, min(self.s.concurrency if self.s.rate is None else max(self.s.concurrency, 8), self.s.warmup))
        await asyncio.gather(*(worker() for _ in range(n)))

    async def _closed_loop(self) -> None:
        total = self.s.total_requests
        deadline = self.t0 + self.s.duration_s if self.s.duration_s is not None else None
        r = self.result

        async def worker():
            while not self.stopping:
                if total is not None and r.attempted >= total:
                    return
                origin = now()
                if deadline is not None and origin >= deadline:
                    return
                r.attempted += 1
                try:
                    sample = await self._track(self.transport.request(origin))
                except asyncio.CancelledError:
                    r.attempted -= 1  # aborted in flight: not measured
                    return
                self.record(sample)

        await asyncio.gather(*(worker() for _ in range(self.s.concurrency)))

    async def _open_loop(self) -> None:
        s = self.s
        rate = float(s.rate)
        total = s.total_requests
        if total is None:
            total = max(1, int(math.floor(s.duration_s * rate + 1e-9)))
        r = self.result
        start = self.t0 + 0.005
        pending: set[asyncio.Task] = set()

        async def one(origin: float):
            try:
                sample = await self._track(self.transport.request(origin))
            except asyncio.CancelledError:
                r.attempted -= 1
                return
            self.record(sample)

        loop = asyncio.get_running_loop()
        for i in range(total):
            due = start + i / rate
            wait = due - now()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.stopping:
                break
            sent = now()
            if r.first_send is None:
                r.first_send = sent
            r.last_send = sent
            r.send_lag_ms.append(max(0.0, (sent - due) * 1000.0))
            r.attempted += 1
            task = loop.create_task(one(due))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- progress ----------------------------------------------------------------------
    def _progress(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.finished, self.s.total_requests)
        except KeyboardInterrupt:
            self.abort()
        except Exception:  # noqa: BLE001 - a broken progress display must not spoil the measurement
            self.on_progress = None

    async def _ticker(self) -> None:
        last = -1
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            if self.finished != last:
                last = self.finished
                self._progress()


def run_benchmark(settings: BenchmarkSettings, on_progress: ProgressCallback | None = None) -> BenchmarkResult:
    """Run the benchmark described by ``settings`` and return what was measured.

    Blocks until done. Ctrl-C returns the partial result with ``aborted=True``.
    Raises InvalidInput on invalid settings.
    """
    settings.validate()
    run = _Run(settings, on_progress)
    loop = asyncio.new_event_loop()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    installed = False
    try:
        # respect a process that ignores SIGINT (nohup, background jobs of a script)
        if in_main and previous is not signal.SIG_IGN:
            try:
                loop.add_signal_handler(signal.SIGINT, run.abort)
                installed = True
            except (ValueError, RuntimeError, NotImplementedError):
                installed = False
        task = loop.create_task(run.main())
        while True:
            try:
                loop.run_until_complete(task)
                break
            except KeyboardInterrupt:
                # arrived outside our handler (e.g. inside a callback): stop and finish cleanly
                run.abort()
                if task.done():
                    break
        if task.done() and not task.cancelled():
            exc = task.exception()
            if exc is not None:
                raise exc
    finally:
        if installed:
            try:
                loop.remove_signal_handler(signal.SIGINT)
            except Exception:  # noqa: BLE001
                pass
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    return run.result
