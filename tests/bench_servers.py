"""Real local HTTP endpoints for benchmark tests and scripts (no mocks).

One small HTTP/1.1 server on an asyncio Protocol (keep-alive, timers instead
of coroutines for plain delays, so it stays cheap and is not the bottleneck).
Behaviour is chosen by path and query string:

    /ok?delay_ms=50             OpenAI chat completion JSON (with usage) after a delay
    /json?delay_ms=0            {"ok": true}
    /status/503                 that status with a small JSON body
    /malformed                  200 with a body that is not JSON
    /wrongshape                 200 with JSON that is not a chat completion
    /hang                       accepts and never answers
    /reset                      headers and half a body, then a TCP reset
    /redirect                   302 to /ok
    /stall?period_s=2&pause_s=1 answers at once, except in the first pause_s of
                                every period_s (from server start): then it holds
                                the answer until the pause ends
    /sse?ttft_ms=150&itl_ms=10&tokens=20&split=1&comments=1&role_first=1
        &usage=1&done=1&cut_after=N
                                OpenAI-compatible SSE stream
    /mixed?seq=ok,503,malformed,hang,close
                                the n-th request to /mixed behaves as seq[n % len]:
                                ok, a status code, malformed, hang (never answers)
                                or close (drops the connection unanswered)
    /gzip                       the chat completion, gzip-encoded
    /huge?mb=400&status=200     that status with a Content-Length body of that size
    /endless_line               SSE headers, then one "data: xxxx..." line that never ends
    /endless_events             SSE headers, then tiny events forever, never [DONE]
    /gzip_bomb?mb=1024          ~1 MB of gzip that inflates to that many MiB of zeros
    GET /_log?reset=1&skip=N    the endpoint's own timing log (see below) as JSON;
                                reset clears it, skip leaves the next N streams out

The endpoint's own timing log: for every /sse stream the server records the
time from having read the request to writing the first content token (ttft)
and between token writes (itl), and for /ok and /json the time from reading
the request to writing the answer (latency). Benchmark scripts compare the
client's figures with these.

Use in tests: ``with ServerThread() as srv: srv.url("/ok?delay_ms=20")``.
As a process (benchmarks): ``python tests/bench_servers.py --port P [--cpu 1]``
prints "READY <port>" once listening; uses uvloop when available.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.request
import zlib
from urllib.parse import parse_qs, urlsplit

CHAT_BODY = json.dumps(
    {
        "id": "cmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "pong"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
).encode()


def _response(status: int, body: bytes, ctype: str = "application/json", extra: str = "") -> bytes:
    reason = {200: "OK", 302: "Found", 404: "Not Found"}.get(status, "Status")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode()
    return head + body


class _HTTPProtocol(asyncio.Protocol):
    def __init__(self, server: _ServerState):
        self.server = server
        self.buf = b""
        self.transport: asyncio.Transport | None = None
        self.busy = False  # one request at a time per connection
        self.closed = False
        self.t_req = 0.0  # when the current request was read (the endpoint's own clock)
        self.log_latency = False
        self.writable = asyncio.Event()  # flow control for the large bodies
        self.writable.set()

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def connection_lost(self, exc):
        self.closed = True
        self.writable.set()  # wake a writer so it sees the close

    def pause_writing(self):
        self.writable.clear()

    def resume_writing(self):
        self.writable.set()

    def data_received(self, data):
        self.buf += data
        self._next()

    def _next(self):
        if self.busy or self.closed:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1")
        lines = head.split("\r\n")
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if len(self.buf) < end + 4 + length:
            return
        body = self.buf[end + 4 : end + 4 + length]
        self.buf = self.buf[end + 4 + length :]
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self.transport.close()
            return
        self.busy = True
        self.t_req = time.perf_counter()
        if method == "GET" and target.startswith("/_log"):
            self._send_log(target)
            return
        self.server.requests += 1
        self.server.last_headers = lines[1:]
        self.server.last_body = body
        self._dispatch(target)

    def _send(self, payload: bytes):
        if not self.closed:
            self.transport.write(payload)
            if self.log_latency:
                self.server.log["latency_ms"].append((time.perf_counter() - self.t_req) * 1000.0)
        self.log_latency = False
        self.busy = False
        self._next()

    def _send_log(self, target: str):
        q = parse_qs(urlsplit(target).query)
        body = json.dumps(self.server.log).encode()
        if q.get("reset", ["0"])[-1] == "1":
            self.server.reset_log()
            self.server.log_skip = int(q.get("skip", ["0"])[-1])
        self._send(_response(200, body))

    def _dispatch(self, target: str):
        parts = urlsplit(target)
        path = parts.path
        q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        loop = self.server.loop
        delay = float(q.get("delay_ms", 0)) / 1000.0
        if path == "/mixed":
            seq = q.get("seq", "ok").split(",")
            n = self.server.counters.get(target, 0)
            self.server.counters[target] = n + 1
            path = {"ok": "/ok", "malformed": "/malformed", "hang": "/hang"}.get(seq[n % len(seq)], seq[n % len(seq)])
            if path.isdigit():
                path = f"/status/{path}"
            elif path == "close":
                self.transport.close()
                return
        if path == "/ok":
            self.log_latency = True
            self._later(delay, _response(200, CHAT_BODY))
        elif path == "/json":
            self.log_latency = True
            self._later(delay, _response(200, b'{"ok": true}'))
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._later(delay, _response(code, b'{"error": "boom"}'))
        elif path == "/malformed":
            self._later(delay, _response(200, b"<html>not json</html>", "text/html"))
        elif path == "/wrongshape":
            self._later(delay, _response(200, b'{"result": 1}'))
        elif path == "/hang":
            pass  # never answer
        elif path == "/redirect":
            self._later(delay, _response(302, b"", extra="Location: /ok\r\n"))
        elif path == "/reset":
            self.transport.write(
                b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"choi'
            )
            loop.call_later(0.01, self._reset)
        elif path == "/stall":
            period = float(q.get("period_s", 2.0))
            pause = float(q.get("pause_s", 1.0))
            phase = (time.monotonic() - self.server.started) % period
            wait = pause - phase if phase < pause else 0.0
            self._later(wait + delay, _response(200, CHAT_BODY))
        elif path == "/sse":
            loop.create_task(self._sse(q))
        elif path == "/gzip":
            self._later(delay, _response(200, gzip_bytes(CHAT_BODY), extra="Content-Encoding: gzip\r\n"))
        elif path == "/gzip_bomb":
            bomb = gzip_bomb(int(q.get("mb", 1024)))
            self._later(delay, _response(200, bomb, extra="Content-Encoding: gzip\r\n"))
        elif path == "/huge":
            size = int(float(q.get("mb", 400)) * (1 << 20))
            status = int(q.get("status", 200))
            head = f"HTTP/1.1 {status} Status\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
            loop.create_task(self._write_forever(head.encode(), b"x" * 65536, size))
        elif path == "/endless_line":
            loop.create_task(self._write_forever(_SSE_RAW_HEAD + b"data: ", b"x" * 65536))
        elif path == "/endless_events":
            loop.create_task(self._write_forever(_SSE_RAW_HEAD, b'data: {"choices": []}\n\n' * 2048))
        else:
            self._later(0, _response(404, b'{"error": "no such path"}'))

    async def _write_forever(self, head: bytes, piece: bytes, limit: int | None = None):
        """Write head, then piece after piece (flow-controlled) up to limit bytes or until the client leaves."""
        self.transport.write(head)
        sent = 0
        while limit is None or sent < limit:
            # always yield: a set Event does not, and a peer that left is only noticed by the loop
            await (self.writable.wait() if not self.writable.is_set() else asyncio.sleep(0))
            if self.closed or self.transport.is_closing():
                return
            chunk = piece if limit is None else piece[: limit - sent]
            self.transport.write(chunk)
            sent += len(chunk)
        if not self.closed:
            self.busy = False
            self._next()

    def _later(self, delay: float, payload: bytes):
        if delay <= 0:
            self._send(payload)
        else:
            self.server.loop.call_later(delay, self._send, payload)

    def _reset(self):
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()

    async def _sse(self, q: dict):
        ttft = float(q.get("ttft_ms", 0)) / 1000.0
        itl = float(q.get("itl_ms", 0)) / 1000.0
        tokens = int(q.get("tokens", 5))
        split = q.get("split") == "1"
        comments = q.get("comments") == "1"
        role_first = q.get("role_first", "1") == "1"
        usage = q.get("usage", "1") == "1"
        done = q.get("done", "1") == "1"
        cut_after = int(q["cut_after"]) if "cut_after" in q else None
        t = self.transport
        t_req = self.t_req
        writes: list[float] = []
        t.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            + (b"" if done else b"Connection: close\r\n")  # it will close: say so, as a server should
            + b"Transfer-Encoding: chunked\r\n\r\n"
        )

        def chunk(data: bytes):
            if not self.closed:
                t.write(b"%x\r\n%s\r\n" % (len(data), data))

        def event(obj) -> bytes:
            return b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"

        def delta(d: dict) -> dict:
            return {
                "id": "c",
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": d, "finish_reason": None}],
            }

        start = time.monotonic()
        if comments:
            chunk(b": keep-alive\n\n")
        if role_first:
            chunk(event(delta({"role": "assistant", "content": ""})))
        for i in range(tokens):
            due = start + ttft + i * itl
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.closed:
                return
            if cut_after is not None and i >= cut_after:
                self.transport.abort()
                return
            ev = event(delta({"content": f"tok{i} "}))
            if split and len(ev) > 4:
                half = len(ev) // 2
                chunk(ev[:half])
                await asyncio.sleep(0.001)
                chunk(ev[half:])
            else:
                chunk(ev)
            writes.append(time.perf_counter())
            if comments and i == 0:
                chunk(b": comment between tokens\n\n")
        if writes and not self.closed and self.server.log_skip > 0:
            self.server.log_skip -= 1  # a warmup stream of the run to come
        elif writes and not self.closed:
            # the endpoint's own log: what it did, to compare the client's figures with
            log = self.server.log
            log["ttft_ms"].append((writes[0] - t_req) * 1000.0)
            log["itl_ms"].extend((b - a) * 1000.0 for a, b in zip(writes, writes[1:]))
        tail = b""
        if usage:
            tail += event(
                {
                    "id": "c",
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": {"prompt_tokens": 7, "completion_tokens": tokens, "total_tokens": 7 + tokens},
                }
            )
        if done:
            tail += event(b"[DONE]")
            chunk(tail)
            chunk(b"")  # terminating chunk
            self.busy = False
            self._next()
        else:
            if tail:
                chunk(tail)
            chunk(b"")
            # the stream ends without [DONE]: close the connection
            self.transport.close()


# an unframed stream that only the connection's close would end
_SSE_RAW_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
)


def gzip_bytes(data: bytes) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(mib: int) -> bytes:
    """A gzip member inflating to ``mib`` MiB of zeros, built in a fraction of a second.

    After a full flush deflate starts afresh, so 1 MiB of zeros compresses to
    the same ~1 KB block every time: repeat the block, then close the stream.
    """
    if mib not in _BOMBS:
        zeros = bytes(1 << 20)
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        block = c.compress(zeros) + c.flush(zlib.Z_FULL_FLUSH)
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(zeros, crc)
        _BOMBS[mib] = (
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
            + block * mib
            + b"\x03\x00"
            + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)
        )
    return _BOMBS[mib]


def fetch_log(base_url: str, reset: bool = True, skip: int = 0) -> dict:
    """The endpoint's own timing log ({ttft_ms, itl_ms, latency_ms} lists), cleared after reading by default.

    ``skip``: after the reset, leave the next that many streams out (the warmup of the run to come).
    """
    with urllib.request.urlopen(f"{base_url}/_log?reset={int(reset)}&skip={skip}", timeout=10) as resp:
        return json.loads(resp.read())


class _ServerState:
    def __init__(self, loop):
        self.loop = loop
        self.started = time.monotonic()
        self.requests = 0
        self.last_headers: list[str] = []
        self.last_body = b""
        self.counters: dict[str, int] = {}
        self.log: dict[str, list[float]] = {}
        self.log_skip = 0  # streams to leave out of the log (a run's warmup)
        self.reset_log()

    def reset_log(self):
        self.log = {"ttft_ms": [], "itl_ms": [], "latency_ms": []}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/ok"


class ServerThread:
    """The server on its own event loop in a daemon thread (for tests)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.state: _ServerState | None = None

    def _run(self):
        loop = asyncio.new_event_loop()
        self.loop = loop
        asyncio.set_event_loop(loop)
        self.state = _ServerState(loop)
        srv = loop.run_until_complete(
            loop.create_server(lambda: _HTTPProtocol(self.state), self.host, self.port, backlog=1024)
        )
        self._srv = srv
        self.port = srv.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()
        srv.close()
        loop.close()

    def start(self) -> ServerThread:
        self._thread.start()
        self._ready.wait(5)
        return self

    def reset_clock(self):
        """Restart the /stall cycle now."""
        self.state.started = time.monotonic()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def timing_log(self, reset: bool = True, skip: int = 0) -> dict:
        return fetch_log(self.url(""), reset, skip)

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class ServerProcess:
    """The server in a separate process, optionally pinned to one CPU (benchmarks)."""

    def __init__(self, port: int | None = None, cpu: int | None = None):
        self.port = port or free_port()
        self.cpu = cpu
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        cmd = [sys.executable, os.path.abspath(__file__), "--port", str(self.port)]
        if self.cpu is not None:
            cmd += ["--cpu", str(self.cpu)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"server did not start: {line!r}")
        return self

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def timing_log(self, reset: bool = True, skip: int = 0) -> dict:
        return fetch_log(self.url(""), reset, skip)

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _main(argv: list[str]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cpu", type=int, default=None)
    args = p.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    state = _ServerState(loop)
    loop.run_until_complete(loop.create_server(lambda: _HTTPProtocol(state), "127.0.0.1", args.port, backlog=4096))
    print(f"READY {args.port}", flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    _main(sys.argv[1:])
