"""Several benchmark processes for endpoints faster than one Python process can drive.

One process tops out at a few thousand requests a second (its per-request
work holds one core); ``workers=N`` starts N processes (``python -m
modelreg.bench.workers``, a fresh interpreter: no fork of a process that may
hold threads and locks), each driving its share (runner.LoadShare):

- closed loop: concurrency (and --requests) split as evenly as whole numbers go;
- open loop: request i of the schedule (due at t0 + i / rate) is sent by
  worker i mod N, so the interleaved schedules add up to exactly the asked rate.

All start at one t0 on the shared monotonic clock (time.perf_counter is
CLOCK_MONOTONIC on Linux, the same in every process), after all have warmed up.
Each sends back its raw samples (arrays of doubles) and its own health; the
parent concatenates them (BenchmarkResult.merge), so every percentile is the
one over all samples, not an average of per-process figures.

Ctrl-C: the workers ignore SIGINT and the parent tells each to stop, so a
partial result comes back from every one of them (``aborted=True``). A worker
whose parent disappears stops on its own (its control channel closes).

Control channel: a socketpair per worker carrying length-prefixed pickles
between this process and the children it started (trusted both ways).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import selectors
import signal
import socket
import struct
import subprocess
import sys
import threading

from modelreg import clock
from modelreg.bench.runner import BenchmarkResult, LoadShare, ProgressCallback, _Run, drive, sleep_until
from modelreg.bench.settings import BenchmarkSettings
from modelreg.bench.transport import now
from modelreg.errors import ModelregError

# the workers start this long after the last one is ready (time to hear "go")
START_LEAD_S = 0.05
# how long the workers get to start and warm up, on top of the warmup's own timeouts
STARTUP_GRACE_S = 30.0
# after "stop", how long to wait for the partial results before killing
STOP_GRACE_S = 5.0
PROGRESS_INTERVAL_S = 0.1

_HEADER = struct.Struct("!I")


def _frame(message) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class WorkerFailed(ModelregError):
    """A worker process could not run its share (it failed, died, or did not start in time): exit 1, one line."""


class _Channel:
    """The parent's end of one worker's socketpair: framed messages in, non-blocking."""

    def __init__(self, index: int, sock: socket.socket, proc: subprocess.Popen):
        self.index = index
        self.sock = sock
        self.proc = proc
        self.buf = bytearray()
        self.ready = False
        self.finished = 0
        self.result: BenchmarkResult | None = None
        self.closed = False

    def send(self, message) -> None:
        try:
            self.sock.setblocking(True)
            self.sock.sendall(_frame(message))
        except OSError:
            pass  # the worker is gone; its missing result says so
        finally:
            self.sock.setblocking(False)

    def receive(self) -> list:
        """Messages now complete; marks the channel closed at EOF."""
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            data = b""
        if not data:
            self.closed = True
            return []
        self.buf += data
        out = []
        while len(self.buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buf)
            if len(self.buf) < _HEADER.size + size:
                break
            out.append(pickle.loads(bytes(self.buf[_HEADER.size : _HEADER.size + size])))
            del self.buf[: _HEADER.size + size]
        return out


def _start_worker(index: int) -> _Channel:
    parent, child = socket.socketpair()
    # the child imports this very modelreg, installed or not (a checkout on sys.path):
    # the directory that holds the package, three levels above modelreg/bench/workers.py
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "modelreg.bench.workers", str(child.fileno())],
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            close_fds=True,
            env=env,
        )
    finally:
        child.close()
    parent.setblocking(False)
    return _Channel(index, parent, proc)


def run_in_workers(settings: BenchmarkSettings, on_progress: ProgressCallback | None = None) -> BenchmarkResult:
    """Run ``settings`` in ``settings.workers`` processes and merge what they measured."""
    n = settings.workers
    stop = threading.Event()
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if in_main else None
    if in_main and previous is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    else:
        previous = None
    channels: list[_Channel] = []
    selector = selectors.DefaultSelector()
    try:
        for k in range(n):
            chan = _start_worker(k)
            channels.append(chan)
            selector.register(chan.sock, selectors.EVENT_READ, chan)
            chan.send(("run", settings, k, n))
        started_at = _collect(channels, selector, stop, on_progress, settings)
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        selector.close()
        for chan in channels:
            chan.sock.close()
            try:
                chan.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                chan.proc.kill()
                chan.proc.wait()
    results = [c.result for c in channels if c.result is not None]
    merged = BenchmarkResult.merge(settings, results)
    merged.started_at = started_at
    if stop.is_set() or len(results) < n:
        merged.aborted = True
    return merged


def _collect(
    channels: list[_Channel],
    selector: selectors.BaseSelector,
    stop: threading.Event,
    on_progress: ProgressCallback | None,
    settings: BenchmarkSettings,
) -> str | None:
    """Wait for all ready, send go, gather progress and results; returns when each has answered or died."""
    started_at = None
    went = False
    stop_sent = False
    startup_deadline = now() + STARTUP_GRACE_S + settings.warmup * settings.timeout_s
    stop_deadline = None
    last_progress = 0.0
    while True:
        pending = [c for c in channels if c.result is None and not c.closed]
        if not pending:
            break
        if stop.is_set() and not stop_sent:
            for c in pending:
                c.send(("stop",))
            stop_sent = True
            stop_deadline = now() + STOP_GRACE_S + (settings.timeout_s if went else 0.0)
        for key, _ in selector.select(PROGRESS_INTERVAL_S):
            chan: _Channel = key.data
            for message in chan.receive():
                kind = message[0]
                if kind == "ready":
                    chan.ready = True
                elif kind == "progress":
                    chan.finished = message[1]
                elif kind == "result":
                    chan.result = message[1]
                elif kind == "error":
                    stop.set()
                    raise WorkerFailed(f"benchmark worker {chan.index} failed: {message[1]}")
            if chan.closed:
                selector.unregister(chan.sock)
        # A worker that ends, however, closes its end: everything it sent is read before
        # that end-of-file, so a channel closed without a result is a worker that died.
        dead = [c for c in channels if c.closed and c.result is None]
        if dead and not stop.is_set():
            c = dead[0]
            stop.set()
            for other in channels:
                if not other.closed and other.result is None:
                    other.send(("stop",))
            try:
                status = c.proc.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                status = None
            raise WorkerFailed(f"benchmark worker {c.index} ended without a result (exit status {status})")
        if not went and not stop.is_set() and all(c.ready for c in channels):
            t0 = now() + START_LEAD_S
            for c in channels:
                c.send(("go", t0))
            went = True
            started_at = clock.isoformat(clock.now())
        if not went and not stop.is_set() and now() > startup_deadline:
            stop.set()
            raise WorkerFailed("benchmark workers did not get ready in time")
        if stop_deadline is not None and now() > stop_deadline:
            for c in channels:
                if c.result is None and c.proc.poll() is None:
                    c.proc.kill()
                    c.closed = True
            break
        if on_progress is not None and now() - last_progress >= PROGRESS_INTERVAL_S:
            last_progress = now()
            try:
                on_progress(sum(c.finished for c in channels), settings.total_requests)
            except KeyboardInterrupt:
                stop.set()
            except Exception:
                on_progress = None
    if on_progress is not None:
        try:
            on_progress(
                sum(c.result.completed + c.result.error_count if c.result else c.finished for c in channels),
                settings.total_requests,
            )
        except Exception:
            pass
    return started_at


# -- the worker process -------------------------------------------------------------------


def _read_frame_blocking(sock: socket.socket):
    def exactly(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            piece = sock.recv(n - len(buf))
            if not piece:
                raise EOFError("control channel closed")
            buf += piece
        return buf

    (size,) = _HEADER.unpack(exactly(_HEADER.size))
    return pickle.loads(exactly(size))


def _worker_main(fd: int) -> int:
    # Ctrl-C reaches the whole foreground process group: the parent turns it into
    # "stop" for every worker, so each one ends cleanly with its partial result
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)  # blocking: messages are small and the parent always reads
    try:
        kind, settings, index, count = _read_frame_blocking(sock)
    except EOFError:
        return 0
    if kind != "run":
        return 1
    inbox = bytearray()

    def send(message) -> None:
        try:
            # uvloop's add_reader turns the descriptor non-blocking under the socket
            # object's feet: without this a result larger than the socket buffer
            # is cut short (BlockingIOError after a partial write)
            sock.setblocking(True)
            sock.sendall(_frame(message))
        except OSError:
            run.abort()  # the parent is gone

    run = _Run(settings, lambda finished, _total: send(("progress", finished)), LoadShare(index, count))

    async def gate() -> float:
        loop = asyncio.get_running_loop()
        go: asyncio.Future = loop.create_future()

        def on_control() -> None:
            data = sock.recv(1 << 16)  # readable: does not block
            if not data:  # the parent is gone
                loop.remove_reader(fd)
                run.abort()
                if not go.done():
                    go.set_result(None)
                return
            inbox.extend(data)
            while len(inbox) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(inbox)
                if len(inbox) < _HEADER.size + size:
                    break
                message = pickle.loads(bytes(inbox[_HEADER.size : _HEADER.size + size]))
                del inbox[: _HEADER.size + size]
                if message[0] == "go" and not go.done():
                    go.set_result(message[1])
                elif message[0] == "stop":
                    run.abort()
                    if not go.done():
                        go.set_result(None)

        loop.add_reader(fd, on_control)
        send(("ready",))
        t0 = await go
        if t0 is None:
            return now()
        await sleep_until(t0)
        return t0

    try:
        result = drive(run, gate, handle_sigint=False)
    except Exception as exc:
        send(("error", f"{type(exc).__name__}: {exc}"))
        return 1
    send(("result", result))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(int(sys.argv[1])))
