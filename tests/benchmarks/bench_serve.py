"""`modelreg serve` under load: /v1/resolve against a bare aiohttp handler.

One run, side by side, each server in its own process pinned to CPU 1 and
wrk (1 thread, 64 connections) pinned to CPU 0:

  1. a bare aiohttp handler returning the same JSON body as a constant
  2. `modelreg serve` answering /v1/resolve (steady state: from memory)
     targets: throughput >= 0.6x the bare handler, p99 < 20 ms
  3. the same load while a promotion is committed: time until every
     resolver sees the new version (target < 1 s), polled every 5 ms
  4. information: 1,000 distinct ?key= values (each a database round trip
     once per audit head, then from memory)

    .venv/bin/python tests/benchmarks/bench_serve.py [--seconds 10] [--rounds 2] [--db URL]

Without --db a fresh SQLite file is used; --db takes an empty PostgreSQL
database. Not collected by pytest (bench_*.py).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, ROOT)

MODEL = "bench-model"
RESOLVE = f"/v1/resolve?model={MODEL}&capability=text-generation"
RESULTS: list[tuple[str, bool | None, str]] = []

BARE_SERVER = """
import sys
from aiohttp import web
body = sys.stdin.buffer.read()
async def handler(request):
    return web.Response(body=body, content_type="application/json")
app = web.Application()
app.router.add_get("/v1/resolve", handler)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=lambda *a: print("READY", flush=True))
"""

KEYS_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "%s&key=k" .. (counter %% 1000))
end
"""


def verdict(name: str, ok: bool | None, detail: str) -> None:
    RESULTS.append((name, ok, detail))
    print(f"  [{ {True: 'PASS', False: 'FAIL', None: 'info'}[ok] }] {name}: {detail}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu: int | None) -> list[str]:
    return ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []


def wrk(url: str, seconds: float, script: str | None = None, cpu: int | None = 0) -> dict:
    cmd = [*pin(cpu), "wrk", "-t1", "-c64", f"-d{int(seconds)}s", "--latency", url]
    if script:
        cmd[-1:-1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}\s+([\d.]+)(us|ms|s)\b", out)
        v = float(m.group(1))
        return {"us": v / 1000, "ms": v, "s": v * 1000}[m.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: (.*)", out)
    return {
        "p50": ms("50%"),
        "p99": ms("99%"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "non2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": sockets.group(1) if sockets else "",
    }


def line(name: str, r: dict) -> None:
    extra = f"   non-2xx {r['non2xx']}" if r["non2xx"] else ""
    extra += f"   socket errors: {r['socket_errors']}" if r["socket_errors"] else ""
    print(f"  {name:10s} p50 {r['p50']:7.2f} ms   p99 {r['p99']:7.2f} ms   {r['rps']:9.1f} req/s{extra}")


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def prepare(url: str) -> None:
    """300 models x 2 versions; bench-model 1.0.0 live, 2.0.0 ready to promote."""
    from modelreg import Registry
    from modelreg.manifest import parse_version_spec

    def spec(model_id: str, version: str) -> dict:
        return {
            "provider": "bench",
            "modelId": model_id,
            "version": version,
            "capabilities": ["text-generation", "summarization"],
            "endpoint": "http://127.0.0.1:9/v1",  # the benchmark gate counts runs against the registered endpoint
            "parameters": {"temperature": {"default": 0.7, "range": [0, 1]}, "tokens": {"default": 512, "max": 4096}},
            "performance": {"avgLatency": 300, "p95Latency": 600, "costPerRequest": 0.002},
            "compliance": {"dataResidency": ["eu-west"], "piiHandling": "compliant"},
        }

    from modelreg.store.database import Database

    created = Database(url, create=True)  # as `modelreg db upgrade` does
    created.upgrade()
    created.dispose()
    with Registry.open(url, actor="alice") as alice, Registry.open(url, actor="bob") as bob:
        alice.register_many(
            [parse_version_spec(spec(f"m-{i:03d}", f"1.{j}.0"), "bench") for i in range(300) for j in range(2)]
        )
        alice.register_many([parse_version_spec(spec(MODEL, v), "bench") for v in ("1.0.0", "2.0.0")])
        for version in ("1.0.0", "2.0.0"):
            target = f"{MODEL}@{version}"
            for check in ("evaluation", "security", "compliance"):
                bob.review(target, check, True, note="bench")
            bob.record_benchmark(
                target,
                endpoint="http://127.0.0.1:9/v1",
                settings={},
                passed=True,
                results={"latency_ms": {"p50": 100, "p95": 200}, "error_rate": 0.0},
            )
        bob.promote(f"{MODEL}@1.0.0")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=2, help="bare/modelreg pairs of wrk runs")
    ap.add_argument("--db", help="an empty database URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk not found: apt-get install -y wrk")
    two_cpus = (os.cpu_count() or 1) > 1
    server_cpu, client_cpu = (1, 0) if two_cpus else (None, None)
    if two_cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    tmp = tempfile.mkdtemp(prefix="bench-serve-")
    url = args.db or f"sqlite:///{tmp}/registry.db"
    env = {**os.environ, "MODELREG_DB": url, "XDG_CONFIG_HOME": tmp, "MODELREG_ACTOR": "alice"}
    t0 = time.monotonic()
    prepare(url)
    print(f"registry: {url.split('://')[0]}, 602 versions, prepared in {time.monotonic() - t0:.1f} s")

    import httpx

    port = free_port()
    serve = subprocess.Popen(
        [*pin(server_cpu), sys.executable, "-m", "modelreg", "serve", "--port", str(port), "--access-log", "off"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    bare = None
    try:
        base = f"http://127.0.0.1:{port}"
        wait_ready(base + "/healthz", serve)
        body = httpx.get(base + RESOLVE).content
        bare_port = free_port()
        bare = subprocess.Popen(
            [*pin(server_cpu), sys.executable, "-c", BARE_SERVER, str(bare_port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
        )
        bare.stdin.write(body)
        bare.stdin.close()
        wait_ready(f"http://127.0.0.1:{bare_port}/v1/resolve", bare)

        secs = args.seconds
        print(
            f"\n== GET /v1/resolve, wrk -t1 -c64, {secs:g} s each, servers on CPU {server_cpu}, "
            f"wrk on CPU {client_cpu}, access log off =="
        )
        wrk(f"http://127.0.0.1:{bare_port}/v1/resolve", 2)  # warm-up
        wrk(base + RESOLVE, 2)
        bares, ours = [], []
        for _ in range(args.rounds):  # alternate, so drift on a shared machine hits both alike
            bares.append(wrk(f"http://127.0.0.1:{bare_port}/v1/resolve", secs))
            line("bare", bares[-1])
            ours.append(wrk(base + RESOLVE, secs))
            line("modelreg", ours[-1])
        b = {"rps": sum(r["rps"] for r in bares) / len(bares), "p99": max(r["p99"] for r in bares)}
        m = {
            "rps": sum(r["rps"] for r in ours) / len(ours),
            "p99": max(r["p99"] for r in ours),
            "non2xx": sum(r["non2xx"] for r in ours),
        }
        ratio = m["rps"] / b["rps"]
        verdict(
            "throughput >= 0.6x the bare handler",
            ratio >= 0.6 and not m["non2xx"],
            f"x{ratio:.2f} ({m['rps']:.0f} vs {b['rps']:.0f} req/s, mean of {args.rounds} rounds)",
        )
        verdict("p99 < 20 ms", m["p99"] < 20, f"{m['p99']:.2f} ms, worst round (bare handler: {b['p99']:.2f} ms)")

        print(f"\n== a promotion committed under the same load ({secs:g} s of wrk) ==")
        measured: dict = {}
        load = threading.Thread(target=lambda: measured.update(wrk(base + RESOLVE, secs)))
        load.start()
        time.sleep(secs / 3)
        from modelreg import Registry

        with Registry.open(url, actor="bob") as bob, httpx.Client(base_url=base, timeout=5) as poll:
            assert poll.get(RESOLVE).json()["version"] == "1.0.0"
            bob.promote(f"{MODEL}@2.0.0")
            committed = time.monotonic()
            polls = 0
            while poll.get(RESOLVE).json()["version"] != "2.0.0":
                polls += 1
                time.sleep(0.005)
            visible = time.monotonic() - committed
        load.join()
        line("modelreg", measured)
        verdict(
            "promotion visible to resolvers under load < 1 s",
            visible < 1.0,
            f"{visible * 1000:.0f} ms after commit ({polls} polls saw 1.0.0 first)",
        )

        print(f"\n== information: 1,000 distinct ?key= values ({secs:g} s) ==")
        script = os.path.join(tmp, "keys.lua")
        with open(script, "w") as fh:
            fh.write(KEYS_SCRIPT % RESOLVE)
        k = wrk(base, secs, script=script)
        line("modelreg", k)
        verdict(
            "1,000 keys (each computed once, then from memory)",
            None,
            f"x{k['rps'] / b['rps']:.2f} of bare, p99 {k['p99']:.2f} ms",
        )
    finally:
        for proc in (serve, bare):
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    failed = [name for name, ok, _ in RESULTS if ok is False]
    print(
        f"\n{len([r for r in RESULTS if r[1]])} passed, {len(failed)} failed"
        + (f": {', '.join(failed)}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
