"""Accuracy of modelreg's benchmark engine against wrk and against known endpoints.

Starts the local endpoint (tests/bench_servers.py on uvloop, pinned to CPU 1
so it is not the bottleneck: it serves > 60,000 req/s to wrk), pins this
process and wrk to CPU 0, and in one run measures:

  1. fixed 50 ms, concurrency 64: throughput >= 0.9x wrk, p50 within 2 ms of wrk
  2. fixed 50 ms, concurrency 1: p50 within 1 ms of wrk
  3. fixed 0 ms, concurrency 64: the client's own ceiling (information)
  4. open loop 100 req/s, endpoint pausing 1 s in every 2 s: p99 close to 1 s
     (expected ~980 ms: half the requests wait U(0, 1 s)), vs a closed loop
  5. SSE stream, 150 ms first token, 10 ms between tokens: TTFT p50 within
     3 ms of 150, ITL p50 within 1 ms of 10

    /work/venv/bin/python tests/benchmarks/bench_accuracy.py [--seconds 5]

Not collected by pytest (bench_*.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # repo root

from bench_servers import ServerProcess  # noqa: E402

from modelreg.bench import BenchmarkSettings, run_benchmark  # noqa: E402

RESULTS: list[tuple[str, bool | None, str]] = []


def verdict(name: str, ok: bool | None, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    mark = {True: "PASS", False: "FAIL", None: "info"}[ok]
    print(f"  [{mark}] {name}: {detail}")


def wrk(url: str, conns: int, seconds: float) -> dict:
    out = subprocess.run(
        ["taskset", "-c", "0", "wrk", "-t1", f"-c{conns}", f"-d{int(seconds)}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout

    def ms(label):
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"), "rps": rps}


def engine(url: str, **kw) -> dict:
    return run_benchmark(BenchmarkSettings(endpoint=url, **kw)).to_dict()


def line(name: str, p50: float, p99: float, rps: float) -> None:
    print(f"  {name:10s} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   {rps:9.1f} req/s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    args = ap.parse_args()
    secs = args.seconds
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {0})
    with ServerProcess(cpu=1 if (os.cpu_count() or 1) > 1 else None) as srv:
        # 1 + 3: concurrency 64
        for delay in (50, 0):
            url = srv.url(f"/ok?delay_ms={delay}")
            print(f"\n== fixed {delay} ms endpoint, concurrency 64, {secs:g} s ==")
            w = wrk(url, 64, secs)
            e = engine(url, duration_s=secs, concurrency=64, warmup=128)
            line("wrk", w["p50"], w["p99"], w["rps"])
            line("modelreg", e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["throughput_rps"])
            ratio = e["throughput_rps"] / w["rps"]
            dp50 = e["latency_ms"]["p50"] - w["p50"]
            if delay == 50:
                verdict("c64 throughput >= 0.9x wrk", ratio >= 0.9, f"x{ratio:.3f}")
                verdict("c64 p50 within 2 ms of wrk", abs(dp50) <= 2.0, f"{dp50:+.2f} ms")
            else:
                verdict("client ceiling (0 ms endpoint)", None,
                        f"{e['throughput_rps']:.0f} req/s = x{ratio:.3f} of wrk, p50 {e['latency_ms']['p50']:.2f} ms "
                        f"vs wrk {w['p50']:.2f} ms")
            if e["errors"]:
                verdict("no errors", False, str(e["errors"]))

        # 2: concurrency 1
        url = srv.url("/ok?delay_ms=50")
        print(f"\n== fixed 50 ms endpoint, concurrency 1, {secs:g} s ==")
        w = wrk(url, 1, secs)
        e = engine(url, duration_s=secs, concurrency=1, warmup=2)
        line("wrk", w["p50"], w["p99"], w["rps"])
        line("modelreg", e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["throughput_rps"])
        dp50 = e["latency_ms"]["p50"] - w["p50"]
        verdict("c1 p50 within 1 ms of wrk", abs(dp50) <= 1.0, f"{dp50:+.2f} ms")

        # 4: open loop against a stalling endpoint
        stall_secs = max(6.0, 2 * round(secs))
        url = srv.url("/stall?period_s=2&pause_s=1")
        print(f"\n== open loop 100 req/s, endpoint pauses 1 s in every 2 s, {stall_secs:g} s ==")
        e = engine(url, rate=100, duration_s=stall_secs, timeout_s=5)
        lat = e["latency_ms"]
        print(f"  modelreg  p50 {lat['p50']:8.2f} ms   p90 {lat['p90']:8.2f} ms   p99 {lat['p99']:8.2f} ms   "
              f"max {lat['max']:8.2f} ms   achieved {e['achieved_rate_rps']} req/s   "
              f"send lag p99 {e['send_lag_ms']['p99']} ms   schedule kept {e['schedule_kept']}")
        verdict("open-loop p99 close to 1 s (expected ~980 ms)", 900 <= lat["p99"] <= 1050, f"{lat['p99']:.1f} ms")
        verdict("schedule kept", bool(e["schedule_kept"]), f"achieved {e['achieved_rate_rps']} req/s")
        c = engine(url, duration_s=stall_secs, concurrency=1, timeout_s=5)["latency_ms"]
        print(f"  (closed loop, concurrency 1, for contrast: p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms, "
              f"max {c['max']:.2f} ms: the client waits out each stall once, so the tail hides it)")

        # 5: stream
        url = srv.url("/sse?ttft_ms=150&itl_ms=10&tokens=20&role_first=1&usage=1")
        print("\n== SSE stream, 150 ms first token, 10 ms between tokens, concurrency 8 ==")
        e = engine(url, stream=True, requests=80, concurrency=8, warmup=8)
        t, i = e["ttft_ms"], e["itl_ms"]
        print(f"  TTFT p50 {t['p50']:.2f} ms p99 {t['p99']:.2f} ms   ITL p50 {i['p50']:.3f} ms p99 {i['p99']:.3f} ms   "
              f"errors {e['errors']} tokens {e['tokens']}")
        verdict("TTFT p50 within 3 ms of 150", abs(t["p50"] - 150) <= 3, f"{t['p50'] - 150:+.2f} ms")
        verdict("ITL p50 within 1 ms of 10", abs(i["p50"] - 10) <= 1, f"{i['p50'] - 10:+.3f} ms")

    failed = [r for r in RESULTS if r[1] is False]
    print(f"\n{len([r for r in RESULTS if r[1]])} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
