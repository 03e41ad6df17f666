"""Compare load-generating transports against wrk (SPEC section 6).

Starts the local endpoint (tests/bench_servers.py, uvloop, pinned to CPU 1),
then for concurrency 64 and 1 against a fixed 50 ms delay runs wrk and each
candidate transport (pinned to CPU 0, like wrk) in a closed loop for a few
seconds and prints p50 / p99 / throughput and the ratio to wrk.

    /work/venv/bin/python tests/benchmarks/bench_transports.py [--seconds 5]

Not collected by pytest (bench_*.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # repo root

from bench_servers import ServerProcess  # noqa: E402

PAYLOAD = b'{"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":1}'
HEADERS = {"Content-Type": "application/json"}


def pct(values, q):
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def parse_wrk_ms(text: str, label: str) -> float:
    m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", text)
    if not m:
        return float("nan")
    v = float(m.group(1))
    return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]


def run_wrk(url: str, conns: int, seconds: float) -> dict:
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": parse_wrk_ms(out, "50%"), "p99": parse_wrk_ms(out, "99%"), "rps": rps}


async def closed_loop(one_request, conns: int, seconds: float) -> dict:
    lats: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(i):
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            await one_request(i)
            lats.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(conns)))
    wall = time.perf_counter() - t0
    return {"p50": pct(lats, 0.5), "p99": pct(lats, 0.99), "rps": len(lats) / wall}


async def cand_httpx_shared(url, conns, seconds):
    import httpx

    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conns, max_keepalive_connections=conns)) as c:

        async def one(_):
            r = await c.post(url, content=PAYLOAD, headers=HEADERS)
            r.read()

        return await closed_loop(one, conns, seconds)


async def cand_httpx_per_worker(url, conns, seconds):
    import httpx

    clients = [httpx.AsyncClient() for _ in range(conns)]
    try:

        async def one(i):
            r = await clients[i].post(url, content=PAYLOAD, headers=HEADERS)
            r.read()

        return await closed_loop(one, conns, seconds)
    finally:
        for c in clients:
            await c.aclose()


async def cand_aiohttp(url, conns, seconds):
    import aiohttp

    conn = aiohttp.TCPConnector(limit=conns, force_close=False)
    async with aiohttp.ClientSession(connector=conn) as s:

        async def one(_):
            async with s.post(url, data=PAYLOAD, headers=HEADERS) as r:
                await r.read()

        return await closed_loop(one, conns, seconds)


async def cand_modelreg(url, conns, seconds):
    # the engine as shipped (aiohttp on the stdlib loop, wire stamps, per-request parsing and bookkeeping)
    from modelreg.bench import BenchmarkSettings, run_benchmark

    s = BenchmarkSettings(endpoint=url, duration_s=seconds, concurrency=conns, warmup=conns)
    res = await asyncio.to_thread(run_benchmark, s)
    d = res.to_dict()
    return {"p50": d["latency_ms"]["p50"], "p99": d["latency_ms"]["p99"], "rps": d["throughput_rps"]}


def httpx_threads(url, conns, seconds):
    import httpx

    lats: list[float] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker():
        with httpx.Client() as c:
            mine = []
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                c.post(url, content=PAYLOAD, headers=HEADERS).read()
                mine.append((time.perf_counter() - t0) * 1000)
        with lock:
            lats.extend(mine)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"p50": pct(lats, 0.5), "p99": pct(lats, 0.99), "rps": len(lats) / wall}


def run_in_loop(coro_fn, url, conns, seconds, use_uvloop):
    if use_uvloop:
        import uvloop

        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro_fn(url, conns, seconds))
    finally:
        loop.close()


CANDIDATES = [
    ("httpx shared AsyncClient", lambda u, c, s: run_in_loop(cand_httpx_shared, u, c, s, False)),
    ("httpx AsyncClient per worker", lambda u, c, s: run_in_loop(cand_httpx_per_worker, u, c, s, False)),
    ("httpx Client in threads", httpx_threads),
    ("aiohttp (asyncio loop)", lambda u, c, s: run_in_loop(cand_aiohttp, u, c, s, False)),
    ("aiohttp (uvloop)", lambda u, c, s: run_in_loop(cand_aiohttp, u, c, s, True)),
    ("modelreg engine", lambda u, c, s: run_in_loop(cand_modelreg, u, c, s, False)),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--only", default="")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    with ServerProcess(cpu=1) as srv:
        url = srv.url("/ok?delay_ms=50")
        for conns in (64, 1):
            print(f"\n== fixed 50 ms endpoint, concurrency {conns}, {args.seconds:g} s each ==")
            w = run_wrk(url, conns, args.seconds)
            print(f"{'wrk':32s} p50 {w['p50']:7.2f} ms  p99 {w['p99']:7.2f} ms  {w['rps']:8.1f} req/s")
            for name, fn in CANDIDATES:
                if args.only and args.only not in name:
                    continue
                r = fn(url, conns, args.seconds)
                print(
                    f"{name:32s} p50 {r['p50']:7.2f} ms  p99 {r['p99']:7.2f} ms  {r['rps']:8.1f} req/s"
                    f"   p50 {r['p50'] - w['p50']:+6.2f} ms vs wrk, throughput x{r['rps'] / w['rps']:.3f}"
                )


if __name__ == "__main__":
    main()
