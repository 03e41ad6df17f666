"""Accuracy of modelreg's benchmark engine against wrk and against the endpoint's own timing log.

Starts the local endpoint (tests/bench_servers.py on uvloop when installed,
pinned to CPU 1 so it is not the bottleneck: it serves > 40,000 req/s to wrk),
pins this process and wrk to CPU 0, and measures:

  1. fixed 50 ms, concurrency 64: throughput >= 0.9x wrk, p50 within 2 ms of wrk
  2. fixed 50 ms, concurrency 1: p50 within 1 ms of wrk
  3. fixed 0 ms, concurrency 64: one process's ceiling, and workers=2 (the
     workers may use both CPUs): >= 1.7x the single-process ceiling
  4. fixed 0 ms, open loop at --rate with workers=2, against wrk offering the
     same load (a Lua delay per connection): p50 within 1 ms of wrk
  5. open loop 100 req/s, endpoint pausing 1 s in every 2 s: p99 close to 1 s
     (expected ~980 ms: half the requests wait U(0, 1 s)), vs a closed loop
  6. SSE streams, 150 ms to the first token, 10 ms between tokens, at 32 and 128
     concurrent streams (and 128 with workers=2), against the endpoint's own log
     (what it did, from reading each request to writing each token): TTFT p50
     within 2 ms and p99 within 5 ms of the log's, ITL p99 within 2 ms. Each run
     warms up one stream per slot first; the log leaves those streams out.

Every engine line also shows the client's own health (event-loop lag p99, CPU
share, bottleneck flag). The machine is shared: the load average before and
after each section is printed, and a miss next to a high load is the machine's.

    .venv/bin/python tests/benchmarks/bench_accuracy.py [--seconds 5] [--rate 2000] [--only sse]

Not collected by pytest (bench_*.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # tests/
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))  # repo root

from bench_servers import ServerProcess  # noqa: E402

from modelreg.bench import BenchmarkSettings, run_benchmark  # noqa: E402
from modelreg.bench.stats import summarize  # noqa: E402

RESULTS: list[tuple[str, bool | None, str]] = []
BODY = '{"model":"m","messages":[{"role":"user","content":"ping"}],"max_tokens":1}'
ALL_CPUS = set(range(os.cpu_count() or 1))


def verdict(name: str, ok: bool | None, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    mark = {True: "PASS", False: "FAIL", None: "info"}[ok]
    print(f"  [{mark}] {name}: {detail}")


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def pin(cpus: set[int]) -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus & ALL_CPUS or ALL_CPUS)


def wrk(url: str, conns: int, seconds: float, delay_ms: int | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "POST"\nwrk.body = \'{BODY}\'\nwrk.headers["Content-Type"] = "application/json"\n')
        if delay_ms is not None:
            # think time per connection: conns / (delay + latency) requests a second
            script.write(f"function delay()\n  return {delay_ms}\nend\n")
    try:
        out = subprocess.run(
            [
                "taskset",
                "-c",
                "0",
                "wrk",
                "-t1",
                f"-c{conns}",
                f"-d{int(seconds)}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def ms(label):
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50": ms("50%"), "p90": ms("90%"), "p99": ms("99%"), "rps": rps}


def engine(url: str, **kw) -> dict:
    return run_benchmark(BenchmarkSettings(endpoint=url, endpoint_kind=kw.pop("endpoint_kind", "json"), **kw)).to_dict()


def line(name: str, p50: float, p99: float, rps: float, client: dict | None = None) -> None:
    extra = ""
    if client:
        extra = f"   client: lag p99 {client['loop_lag_p99_ms']} ms, CPU {client['cpu_share']:.2f}" + (
            f", BOTTLENECK ({client['reason']})" if client["bottleneck"] else ""
        )
    print(f"  {name:18s} p50 {p50:8.2f} ms   p99 {p99:8.2f} ms   {rps:9.1f} req/s{extra}")


def closed_vs_wrk(srv, secs: float) -> None:
    for delay in (50,):
        url = srv.url(f"/ok?delay_ms={delay}")
        print(f"\n== fixed {delay} ms endpoint, concurrency 64, {secs:g} s ({load()}) ==")
        w = wrk(url, 64, secs)
        e = engine(url, endpoint_kind="openai-chat", duration_s=secs, concurrency=64, warmup=128)
        line("wrk", w["p50"], w["p99"], w["rps"])
        line("modelreg", e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["throughput_rps"], e["client"])
        ratio = e["throughput_rps"] / w["rps"]
        dp50 = e["latency_ms"]["p50"] - w["p50"]
        verdict("c64 throughput >= 0.9x wrk", ratio >= 0.9, f"x{ratio:.3f}")
        verdict("c64 p50 within 2 ms of wrk", abs(dp50) <= 2.0, f"{dp50:+.2f} ms")
        if e["errors"]:
            verdict("no errors", False, str(e["errors"]))

    url = srv.url("/ok?delay_ms=50")
    print(f"\n== fixed 50 ms endpoint, concurrency 1, {secs:g} s ({load()}) ==")
    w = wrk(url, 1, secs)
    e = engine(url, endpoint_kind="openai-chat", duration_s=secs, concurrency=1, warmup=2)
    line("wrk", w["p50"], w["p99"], w["rps"])
    line("modelreg", e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["throughput_rps"], e["client"])
    dp50 = e["latency_ms"]["p50"] - w["p50"]
    verdict("c1 p50 within 1 ms of wrk", abs(dp50) <= 1.0, f"{dp50:+.2f} ms")


def ceiling(srv, secs: float, rate: float) -> None:
    url = srv.url("/json?delay_ms=0")
    print(f"\n== fixed 0 ms endpoint, concurrency 64, {secs:g} s: the client's ceiling ({load()}) ==")
    w = wrk(url, 64, secs)
    line("wrk (CPU 0)", w["p50"], w["p99"], w["rps"])
    one = engine(url, duration_s=secs, concurrency=64, warmup=128)
    line("modelreg (CPU 0)", one["latency_ms"]["p50"], one["latency_ms"]["p99"], one["throughput_rps"], one["client"])
    pin(ALL_CPUS)  # the worker processes inherit this: one per CPU (the endpoint has CPU 1 too)
    try:
        two = engine(url, duration_s=secs, concurrency=64, warmup=128, workers=2)
    finally:
        pin({0})
    line(
        "workers=2 (any CPU)", two["latency_ms"]["p50"], two["latency_ms"]["p99"], two["throughput_rps"], two["client"]
    )
    print(f"  per worker: {two['client'].get('per_worker')}")
    ratio = two["throughput_rps"] / one["throughput_rps"]
    verdict(
        "workers=2 >= 1.7x one process",
        ratio >= 1.7,
        f"x{ratio:.2f} ({one['throughput_rps']:.0f} -> {two['throughput_rps']:.0f} req/s; wrk {w['rps']:.0f})",
    )
    verdict("a saturated client is flagged", one["client"]["bottleneck"], str(one["client"]["reason"]))

    conns = 20
    delay_ms = max(1, round(conns / rate * 1000))
    print(f"\n== fixed 0 ms endpoint, the same offered load: ~{rate:g} req/s, {secs:g} s ({load()}) ==")
    w = wrk(url, conns, secs, delay_ms=delay_ms)
    line(f"wrk {conns}c+{delay_ms}ms", w["p50"], w["p99"], w["rps"])
    pin(ALL_CPUS)
    try:
        e = engine(url, rate=w["rps"], duration_s=secs, workers=2, warmup=64)
    finally:
        pin({0})
    line("workers=2 open", e["latency_ms"]["p50"], e["latency_ms"]["p99"], e["throughput_rps"], e["client"])
    print(f"  achieved {e['achieved_rate_rps']} req/s, send lag {e['send_lag_ms']}, schedule kept {e['schedule_kept']}")
    dp50 = e["latency_ms"]["p50"] - w["p50"]
    verdict("open loop p50 within 1 ms of wrk at the same load", abs(dp50) <= 1.0, f"{dp50:+.2f} ms")


def stall(srv, secs: float) -> None:
    stall_secs = max(6.0, 2 * round(secs))
    url = srv.url("/stall?period_s=2&pause_s=1")
    print(f"\n== open loop 100 req/s, endpoint pauses 1 s in every 2 s, {stall_secs:g} s ({load()}) ==")
    e = engine(url, endpoint_kind="openai-chat", rate=100, duration_s=stall_secs, timeout_s=5)
    lat = e["latency_ms"]
    print(
        f"  modelreg  p50 {lat['p50']:8.2f} ms   p90 {lat['p90']:8.2f} ms   p99 {lat['p99']:8.2f} ms   "
        f"max {lat['max']:8.2f} ms   achieved {e['achieved_rate_rps']} req/s   "
        f"send lag p99 {e['send_lag_ms']['p99']} ms   schedule kept {e['schedule_kept']}"
    )
    verdict("open-loop p99 close to 1 s (expected ~980 ms)", 900 <= lat["p99"] <= 1050, f"{lat['p99']:.1f} ms")
    verdict("schedule kept", bool(e["schedule_kept"]), f"achieved {e['achieved_rate_rps']} req/s")
    c = engine(url, endpoint_kind="openai-chat", duration_s=stall_secs, concurrency=1, timeout_s=5)["latency_ms"]
    print(
        f"  (closed loop, concurrency 1, for contrast: p50 {c['p50']:.2f} ms, p99 {c['p99']:.2f} ms, "
        f"max {c['max']:.2f} ms: the client waits out each stall once, so the tail hides it)"
    )


def sse(srv, secs: float) -> None:
    url = srv.url("/sse?ttft_ms=150&itl_ms=10&tokens=20&role_first=1&usage=1")
    engine(url, endpoint_kind="openai-chat", stream=True, requests=16, concurrency=16)  # warm the endpoint
    for streams, workers in ((32, 1), (128, 1), (128, 2)):
        where = "CPU 0" if workers == 1 else "any CPU"
        print(
            f"\n== SSE, 150 ms to the first token, 10 ms between tokens, {streams} streams, workers={workers} "
            f"({where}), {secs * 2:g} s ({load()}) =="
        )
        # the warmup opens the connections; the log leaves its streams out, the result too
        srv.timing_log(reset=True, skip=streams)
        if workers > 1:
            pin(ALL_CPUS)
        try:
            e = engine(
                url,
                endpoint_kind="openai-chat",
                stream=True,
                duration_s=secs * 2,
                concurrency=streams,
                workers=workers,
                warmup=streams,
            )
        finally:
            pin({0})
        log = srv.timing_log(reset=True)
        st, si = summarize(log["ttft_ms"]), summarize(log["itl_ms"])
        t, i = e["ttft_ms"], e["itl_ms"]
        print(
            f"  endpoint log  TTFT p50 {st['p50']:8.2f}  p99 {st['p99']:8.2f}  max {st['max']:8.2f}   "
            f"ITL p50 {si['p50']:6.2f}  p99 {si['p99']:6.2f}   ({len(log['ttft_ms'])} streams)"
        )
        print(
            f"  modelreg      TTFT p50 {t['p50']:8.2f}  p99 {t['p99']:8.2f}  max {t['max']:8.2f}   "
            f"ITL p50 {i['p50']:6.2f}  p99 {i['p99']:6.2f}   ({e['completed']} streams, errors {e['errors']})"
        )
        c = e["client"]
        print(
            f"  client: loop lag p99 {c['loop_lag_p99_ms']} ms, max {c['loop_lag_max_ms']} ms, CPU {c['cpu_share']}, "
            f"GC {c['gc_collections']}x max {c['gc_pause_max_ms']} ms, bottleneck {c['bottleneck']} "
            f"({c['reason']})"
        )
        tag = f"{streams} streams, workers={workers}:"
        verdict(
            f"{tag} TTFT p50 within 2 ms of the log", abs(t["p50"] - st["p50"]) <= 2, f"{t['p50'] - st['p50']:+.2f} ms"
        )
        verdict(
            f"{tag} TTFT p99 within 5 ms of the log", abs(t["p99"] - st["p99"]) <= 5, f"{t['p99'] - st['p99']:+.2f} ms"
        )
        verdict(
            f"{tag} ITL p99 within 2 ms of the log", abs(i["p99"] - si["p99"]) <= 2, f"{i['p99'] - si['p99']:+.2f} ms"
        )


SECTIONS = {"closed": closed_vs_wrk, "ceiling": ceiling, "stall": stall, "sse": sse}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=float, default=2000.0, help="offered load for the open-loop comparison")
    ap.add_argument("--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    only = [s for s in args.only.split(",") if s] or list(SECTIONS)
    pin({0})
    with ServerProcess(cpu=1 if len(ALL_CPUS) > 1 else None) as srv:
        for name in only:
            fn = SECTIONS[name]
            if name == "ceiling":
                fn(srv, args.seconds, args.rate)
            else:
                fn(srv, args.seconds)
    print(f"\n({load()})")
    failed = [r for r in RESULTS if r[1] is False]
    print(f"{len([r for r in RESULTS if r[1]])} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
