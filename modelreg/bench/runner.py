"""Run a benchmark: closed loop (N in flight) or open loop (fixed schedule).

Closed loop: ``concurrency`` requests in flight; each one, answered, is
followed by the next. Latency is measured from the moment the request went to
the socket to the moment the last byte came out of the poll (see
transport.py: the wire times, not the coroutine's).

Open loop (``rate``): send times are fixed in advance (t0 + i / rate) and a
request goes out at its time whether or not earlier ones have answered.
Latency is measured from the *scheduled* time, so a stalled endpoint shows in
the tail instead of being hidden by a client that waited (coordinated
omission). How late the client itself sent (send lag) and the achieved rate
are reported; ``schedule_kept`` is False when the client fell behind.

Each process also measures its own health (health.py): event-loop lag, CPU
share and GC pauses; a run the client limited is flagged in ``client``.

Several processes (``workers``, workers.py) split the load: each drives
1/N of the concurrency, or every N-th request of the open-loop schedule, and
their raw samples are merged, so percentiles are those over all samples.

Ctrl-C (SIGINT) stops the run: no new requests, the ones in flight are
cancelled, and the partial result comes back with ``aborted=True``.
"""

from __future__ import annotations

import asyncio
import gc
import math
import signal
import threading
from array import array
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from modelreg import clock
from modelreg.bench import stats
from modelreg.bench.health import HealthMonitor, ProcessHealth, client_verdict
from modelreg.bench.settings import BenchmarkSettings, _strip_userinfo
from modelreg.bench.transport import Sample, Transport, new_event_loop, now

ProgressCallback = Callable[[int, "int | None"], None]
StartGate = Callable[[], Awaitable[float]]

PROGRESS_INTERVAL_S = 0.1
# open loop: the schedule counts as kept when the client sent 99% of requests
# within this many ms of their time and reached this share of the asked rate
SCHEDULE_LAG_P99_MS = 10.0
SCHEDULE_RATE_SHARE = 0.95
# the first open-loop request goes out this long after t0 (room to get going)
OPEN_LOOP_LEAD_S = 0.005
# closed loop: requests started per loop iteration (see _StartPacer); a start
# costs aiohttp ~0.1-0.25 ms, so the loop polls at least every ~2 ms
STARTS_PER_POLL = 8


def _samples() -> array:
    # raw samples as C doubles: 8 bytes each (a list of floats takes 32), cheap to
    # send from a worker process, and nothing for the garbage collector to walk
    return array("d")


@dataclass(frozen=True)
class LoadShare:
    """The part of the load one process drives: ``index`` of ``count`` equal parts."""

    index: int = 0
    count: int = 1

    def part(self, total: int) -> int:
        return total // self.count + (1 if self.index < total % self.count else 0)


@dataclass
class BenchmarkResult:
    settings: BenchmarkSettings
    started_at: str | None = None
    duration_s: float = 0.0
    aborted: bool = False
    attempted: int = 0
    latencies_ms: array = field(default_factory=_samples)
    ttft_ms: array = field(default_factory=_samples)
    itl_ms: array = field(default_factory=_samples)
    errors: Counter = field(default_factory=Counter)
    send_lag_ms: array = field(default_factory=_samples)
    first_send: float | None = None
    last_send: float | None = None
    tokens: list[int] | None = None  # prompt, completion, total
    health: list[ProcessHealth] = field(default_factory=list)  # one per process

    @property
    def completed(self) -> int:
        return len(self.latencies_ms)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @classmethod
    def merge(cls, settings: BenchmarkSettings, parts: list[BenchmarkResult]) -> BenchmarkResult:
        """One result from the workers' results: raw samples concatenated, so every figure is exact."""
        out = cls(settings=settings)
        for p in parts:
            out.aborted = out.aborted or p.aborted
            out.attempted += p.attempted
            out.duration_s = max(out.duration_s, p.duration_s)
            for name in ("latencies_ms", "ttft_ms", "itl_ms", "send_lag_ms"):
                getattr(out, name).extend(getattr(p, name))
            out.errors.update(p.errors)
            if p.first_send is not None:
                out.first_send = p.first_send if out.first_send is None else min(out.first_send, p.first_send)
            if p.last_send is not None:
                out.last_send = p.last_send if out.last_send is None else max(out.last_send, p.last_send)
            if p.tokens is not None:
                out.tokens = [a + b for a, b in zip(out.tokens or [0, 0, 0], p.tokens)]
            out.health.extend(p.health)
        starts = [p.started_at for p in parts if p.started_at]
        out.started_at = min(starts) if starts else None
        return out

    def to_dict(self) -> dict:
        s = self.settings
        open_loop = s.rate is not None
        latency = stats.summarize(self.latencies_ms) or dict.fromkeys(("min", "avg", "p50", "p90", "p95", "p99", "max"))
        achieved = None
        lag = None
        kept = None
        if open_loop:
            sent = len(self.send_lag_ms)
            if (
                sent >= 2
                and self.last_send is not None
                and self.first_send is not None
                and self.last_send > self.first_send
            ):
                achieved = round((sent - 1) / (self.last_send - self.first_send), 3)
            lag = stats.lag_summary(self.send_lag_ms)
            kept = bool(
                lag is not None
                and lag["p99"] <= SCHEDULE_LAG_P99_MS
                and (achieved is None or achieved >= SCHEDULE_RATE_SHARE * float(s.rate or 0))
            )
        return {
            "endpoint": _strip_userinfo(s.endpoint),
            "endpoint_kind": s.endpoint_kind,
            "mode": "open" if open_loop else "closed",
            "concurrency": None if open_loop else s.concurrency,
            "rate": s.rate,
            "workers": s.workers,
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
                if self.tokens is not None
                else None
            ),
            "histogram": stats.histogram(self.latencies_ms),
            "aborted": self.aborted,
            "achieved_rate_rps": achieved,
            "send_lag_ms": lag,
            "schedule_kept": kept,
            "client": client_verdict(self.health, kept),
        }


class _StartPacer:
    """At most ``per_poll`` requests start between two polls of the event loop.

    When a wave of answers ends together (a closed loop against an endpoint with
    a steady delay does that), every slot starts its next request in the same
    loop iteration: at 128 in flight, ~30 ms of aiohttp work without a poll,
    during which arriving bytes wait to be stamped. Started a few at a time, the
    loop polls in between; latency runs from the wire send, so the wait for a
    start is not counted as the endpoint's.
    """

    def __init__(self, per_poll: int):
        self.per_poll = per_poll
        self.used = 0
        self.waiters: deque[asyncio.Future] = deque()
        self._reset_pending = False

    def _schedule_reset(self) -> None:
        if not self._reset_pending:
            self._reset_pending = True
            # call_soon: runs in the next iteration, that is after the next poll
            asyncio.get_running_loop().call_soon(self._reset)

    def _reset(self) -> None:
        self._reset_pending = False
        self.used = 0
        while self.waiters and self.used < self.per_poll:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                self.used += 1
        if self.used:
            self._schedule_reset()

    async def slot(self) -> None:
        if self.used < self.per_poll and not self.waiters:
            self.used += 1
            self._schedule_reset()
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        self._schedule_reset()
        await waiter


class _Run:
    """The load of one process (all of it, or its share when there are workers)."""

    def __init__(
        self, settings: BenchmarkSettings, on_progress: ProgressCallback | None, share: LoadShare = LoadShare()
    ):
        self.s = settings
        self.on_progress = on_progress
        self.share = share
        self.result = BenchmarkResult(settings=settings)
        self.stopping = False
        self.tasks: set[asyncio.Task] = set()  # cancelled on abort
        self.finished = 0  # measured requests finished (ok or error)
        self.t0 = 0.0
        self.arrival_clock: Callable[[], float] | None = None
        self.event_loop = "asyncio"
        # closed loop: this process's share of --requests (None: run for --duration)
        self.total = None if settings.total_requests is None else share.part(settings.total_requests)
        # open loop: the whole schedule's length; this process sends every count-th request of it
        self.schedule_size = settings.total_requests
        if settings.rate is not None and self.schedule_size is None:
            self.schedule_size = max(1, int(math.floor(float(settings.duration_s or 0) * settings.rate + 1e-9)))

    # -- control -----------------------------------------------------------------------
    def abort(self) -> None:
        if self.stopping and self.result.aborted:
            return
        self.result.aborted = True
        self.stopping = True
        for task in list(self.tasks):
            task.cancel()

    def record(self, sample: Sample) -> None:
        r = self.result
        self.finished += 1
        if sample.error is not None:
            r.errors[sample.error] += 1
            return
        r.latencies_ms.append((sample.end - sample.origin) * 1000.0)
        if sample.ttft is not None:
            r.ttft_ms.append(sample.ttft * 1000.0)
        if sample.itl:
            r.itl_ms.extend([x * 1000.0 for x in sample.itl])
        if sample.tokens is not None:
            if r.tokens is None:
                r.tokens = [0, 0, 0]
            for i in range(3):
                r.tokens[i] += sample.tokens[i]

    # -- the run -----------------------------------------------------------------------
    async def main(self, gate: StartGate | None = None) -> None:
        s = self.s
        limit = 0 if s.rate is not None else self.share.part(s.concurrency)
        self.transport = Transport(s, max_connections=limit, arrival_clock=self.arrival_clock)
        await self.transport.open()
        ticker = asyncio.get_running_loop().create_task(self._ticker()) if self.on_progress else None
        monitor = HealthMonitor(self.event_loop)
        measuring = False
        try:
            if s.warmup and not self.stopping:
                await self._warmup()
            # Everything allocated so far (the CLI's imports, the warmup) goes to the
            # permanent generation: a full collection during the run would otherwise walk
            # it all, a pause of tens of ms that lands on whole waves of requests.
            gc.collect()
            gc.freeze()
            self.t0 = await gate() if gate is not None else now()
            if not self.stopping:
                self.result.started_at = clock.isoformat(clock.now())
                monitor.start()
                measuring = True
                if s.rate is not None:
                    await self._open_loop()
                else:
                    await self._closed_loop()
                self.result.duration_s = now() - self.t0
        except asyncio.CancelledError:
            self.result.aborted = True
            self.result.duration_s = now() - self.t0 if self.t0 else 0.0
        finally:
            for task in list(self.tasks):
                task.cancel()
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            if measuring:
                self.result.health.append(await monitor.stop())
            gc.unfreeze()
            if ticker is not None:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            await self.transport.close()
        self._progress()

    async def _warmup(self) -> None:
        remaining = [self.share.part(self.s.warmup)]

        async def worker():
            while remaining[0] > 0 and not self.stopping:
                remaining[0] -= 1
                await self.transport.request()

        if remaining[0] == 0:
            return
        in_flight = self.s.concurrency if self.s.rate is None else max(self.s.concurrency, 8)
        n = max(1, min(self.share.part(in_flight) or 1, remaining[0]))
        tasks = [asyncio.ensure_future(worker()) for _ in range(n)]
        self.tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self.tasks.difference_update(tasks)

    async def _closed_loop(self) -> None:
        total = self.total
        deadline = self.t0 + self.s.duration_s if self.s.duration_s is not None else None
        r = self.result
        request = self.transport.request
        pacer = _StartPacer(STARTS_PER_POLL)

        async def worker():
            while not self.stopping:
                if total is not None and r.attempted >= total:
                    return
                if deadline is not None and now() >= deadline:
                    return
                r.attempted += 1
                try:
                    await pacer.slot()
                    sample = await request()
                except asyncio.CancelledError:
                    r.attempted -= 1  # aborted in flight: not measured
                    return
                self.record(sample)

        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(worker()) for _ in range(self.share.part(self.s.concurrency))]
        self.tasks.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _open_loop(self) -> None:
        rate = float(self.s.rate or 0)
        r = self.result
        start = self.t0 + OPEN_LOOP_LEAD_S
        request = self.transport.request

        async def one(due: float):
            try:
                sample = await request(due)
            except asyncio.CancelledError:
                r.attempted -= 1
                return
            # how late the request reached the socket (when it got that far)
            r.send_lag_ms.append(max(0.0, ((sample.sent or sample.start) - due) * 1000.0))
            self.record(sample)

        loop = asyncio.get_running_loop()
        tasks = self.tasks
        for i in range(self.share.index, self.schedule_size or 0, self.share.count):
            due = start + i / rate
            await sleep_until(due)
            if self.stopping:
                break
            sent = now()
            if r.first_send is None:
                r.first_send = sent
            r.last_send = sent
            r.attempted += 1
            task = loop.create_task(one(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)

    # -- progress ----------------------------------------------------------------------
    def _progress(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.finished, self.s.total_requests)
        except KeyboardInterrupt:
            self.abort()
        except Exception:
            self.on_progress = None

    async def _ticker(self) -> None:
        last = -1
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            if self.finished != last:
                last = self.finished
                self._progress()


async def sleep_until(moment: float) -> None:
    """Sleep until ``moment`` (time.perf_counter), never returning before it.

    uvloop's timers have millisecond resolution and fire up to ~1.3 ms early;
    a request sent before its scheduled time would read as faster than it was.
    """
    while (wait := moment - now()) > 0:
        await asyncio.sleep(wait)


def drive(run: _Run, gate: StartGate | None = None, *, handle_sigint: bool = True) -> BenchmarkResult:
    """Run ``run`` on a fresh, poll-stamping event loop; Ctrl-C aborts it cleanly."""
    choice = new_event_loop()
    loop = choice.loop
    run.arrival_clock = choice.arrival_clock
    run.event_loop = choice.name
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    installed = False
    try:
        # respect a process that ignores SIGINT (nohup, background jobs of a script)
        if handle_sigint and in_main and previous is not signal.SIG_IGN:
            try:
                loop.add_signal_handler(signal.SIGINT, run.abort)
                installed = True
            except (ValueError, RuntimeError, NotImplementedError):
                installed = False
        task = loop.create_task(run.main(gate))
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
            except Exception:
                pass
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()
    return run.result
