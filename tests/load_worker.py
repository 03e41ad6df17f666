"""Load, race and lock-regression workers that the concurrency, crash and
migration tests (and tests/benchmarks/bench_load.py) spawn as real processes.

Each worker imports modelreg once, signals it is ready, waits for a shared
"go" file (so N processes really start together), then runs CLI commands
in-process through the real entry point `modelreg.cli.main` (the same error
funnel and exit codes as `python -m modelreg`) and logs one JSON line per
command: what it ran, its exit code, stderr, and how long it took.

    python tests/load_worker.py mixed  --sync DIR --worker W --seconds S --seed N --out LOG
    python tests/load_worker.py once   --sync DIR --worker W --out LOG -- ARGS...
    python tests/load_worker.py counter --sync DIR --worker W --seconds S --mode deferred|project --db PATH --out LOG

The database and config come from MODELREG_DB / MODELREG_CONFIG.
The module also holds the parent side: `spawn`, `release` and `verify_mixed`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Text that must never reach a user (spec §8).
FORBIDDEN = (
    "database is locked",
    "locked",
    "serializ",
    "deadlock",
    "could not obtain lock",
    "traceback",
    "unexpected error",
    "40001",
    "40p01",
)

# Policy for the mixed load: one required check, so promotions succeed often;
# no notice period, so deprecated versions are due for the sweep at once.
MIXED_POLICY = """\
[policy]
required_checks = ["evaluation"]
deprecation_notice_days = 0
separation_of_duties = true
notice_before_retirement_days = [1]
"""

MODELS = ["load-a", "load-b", "load-c"]


# -- running one CLI command in-process --------------------------------------------------------
def as_role(args: list[str]) -> list[str]:
    """On PostgreSQL the actor is the login role: `--actor NAME` connects as NAME
    (the parent test created the role)."""
    url = os.environ.get("MODELREG_DB", "")
    if not url.startswith("postgresql") or "--actor" not in args:
        return args
    from sqlalchemy.engine import make_url

    i = args.index("--actor")
    role_url = make_url(url).set(username=args[i + 1]).render_as_string(hide_password=False)
    return ["--db", role_url] + args[:i] + args[i + 2 :]


def run_command(args: list[str]) -> tuple[int, str, str, float]:
    from modelreg.cli import main

    args = as_role([str(a) for a in args])
    os.environ.pop("MODELREG_ACTOR", None) if os.environ.get("MODELREG_DB", "").startswith("postgresql") else None
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException as exc:  # must never happen: main() funnels everything
            import traceback

            err.write("Traceback (escaped main): " + "".join(traceback.format_exception(exc)))
            code = 1
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - started


def _warm_up() -> None:
    """Import everything a command needs before the start line, so the
    processes race on the database, not on imports."""
    import rich.console  # noqa: F401

    import modelreg.cli
    import modelreg.cli.output
    import modelreg.lifecycle.transitions
    import modelreg.registry
    import modelreg.routing
    import modelreg.sweep  # noqa: F401

    if os.environ.get("MODELREG_DB", "").startswith("postgresql"):
        import psycopg  # noqa: F401


def _wait_for_go(sync: Path, worker: int) -> None:
    (sync / f"ready.{worker}").write_text(str(os.getpid()))
    go = sync / "go"
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal")
        time.sleep(0.002)


# -- mixed load ------------------------------------------------------------------------------
class Mixed:
    def __init__(self, worker: int, seconds: float, seed: int, log):
        self.worker = worker
        self.actor = f"w{worker}"
        self.seconds = seconds
        self.rng = random.Random(seed * 1000 + worker)
        self.log = log
        self.seq = 0
        self.known: dict[str, dict] = {}  # target -> last seen version view (from find)
        self.dup_next = 0

    def op_id(self) -> str:
        self.seq += 1
        return f"op-w{self.worker}-{self.seq}"

    def emit(self, kind: str, args: list[str], *, op_id: str, target: str | None = None) -> tuple[int, str]:
        code, out, err, dt = run_command(["--actor", self.actor, *args])
        entry = {
            "worker": self.worker,
            "actor": self.actor,
            "op": kind,
            "op_id": op_id,
            "target": target,
            "args": args,
            "code": code,
            "stderr": err[-2000:],
            "dt": dt,
            "t": time.time(),
        }
        if kind in ("sweep",) and code == 0:
            entry["stdout"] = out
        self.log.write(json.dumps(entry) + "\n")
        self.log.flush()
        return code, out

    def pick(self, statuses: tuple[str, ...], *, not_mine: bool = False) -> str | None:
        pool = [
            t
            for t, v in self.known.items()
            if v["status"] in statuses and (not not_mine or v["registered_by"] != self.actor)
        ]
        return self.rng.choice(pool) if pool else None

    # Rolls that force one kind of operation (see step); each worker opens with a
    # register and then one fixed kind, so a short CI run under heavy load still
    # covers every kind however few operations each worker gets through.
    OPENINGS = [0.83, 0.95, 0.30, 0.50, 0.70, 0.83, 0.95, 0.30]  # sweep, find, review, promote, deprecate

    def step(self, roll: float | None = None) -> None:
        roll = self.rng.random() if roll is None else roll
        op_id = self.op_id()
        if roll < 0.22 or not self.known:
            model = self.rng.choice(MODELS)
            version = f"{self.worker}.{self.seq}.0"
            target = f"{model}@{version}"
            args = [
                "register",
                model,
                "--version",
                version,
                "--provider",
                "loadtest",
                "--capability",
                "chat",
                "--avg-latency",
                "10",
                "--p95-latency",
                "20",
                "--cost",
                "0",
                "--description",
                op_id,
            ]
            code, _ = self.emit("register", args, op_id=op_id, target=target)
            if code == 0:
                self.known[target] = {"status": "TESTING", "registered_by": self.actor}
        elif roll < 0.27:
            # every worker walks the same sequence: collisions are the point
            target = f"load-dup@1.0.{self.dup_next}"
            self.dup_next += 1
            args = [
                "register",
                "load-dup",
                "--version",
                f"1.0.{self.dup_next - 1}",
                "--provider",
                "loadtest",
                "--capability",
                "chat",
                "--avg-latency",
                "10",
                "--p95-latency",
                "20",
                "--cost",
                "0",
            ]
            self.emit("register.dup", args, op_id=op_id, target=target)
        elif roll < 0.45:
            target = self.pick(("TESTING",))
            if target:
                self.emit(
                    "review",
                    ["review", target, "--check", "evaluation", "--pass", "--note", op_id],
                    op_id=op_id,
                    target=target,
                )
        elif roll < 0.65:
            target = self.pick(("TESTING",), not_mine=True) or self.pick(("TESTING", "APPROVED"))
            if target:
                self.emit("promote", ["promote", target], op_id=op_id, target=target)
        elif roll < 0.76:
            target = self.pick(("APPROVED",)) or self.pick(("TESTING", "DEPRECATED"))
            if target:
                self.emit(
                    "deprecate",
                    ["deprecate", target, "--reason", op_id, "--notice-days", "0"],
                    op_id=op_id,
                    target=target,
                )
        elif roll < 0.81:
            target = self.pick(("DEPRECATED",))
            if target:
                self.emit("cancel", ["deprecate", target, "--cancel"], op_id=op_id, target=target)
        elif roll < 0.86:
            self.emit("sweep", ["deprecate", "--sweep", "--json"], op_id=op_id)
        else:
            self.refresh(op_id)

    def refresh(self, op_id: str) -> None:
        code, out = self.emit("find", ["find", "--json", "--limit", "0", "--include-retired"], op_id=op_id)
        if code == 0:
            self.known = {
                f"{v['model_id']}@{v['version']}": {"status": v["status"], "registered_by": v["registered_by"]}
                for v in json.loads(out)
            }

    def run(self) -> None:
        deadline = time.monotonic() + self.seconds
        self.step(0.0)  # register
        self.step(self.OPENINGS[self.worker % len(self.OPENINGS)])
        while time.monotonic() < deadline:
            self.step()


# -- read-then-write counter (the BEGIN IMMEDIATE regression guard) ------------------------------
def make_counter_db(path: Path) -> None:
    """A WAL-mode SQLite registry with one counter row at 0, for `counter`."""
    import sqlite3

    from modelreg.store.database import Database

    db = Database(f"sqlite:///{path}", create=True)
    db.upgrade()
    db.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
    conn.execute("INSERT INTO counter VALUES (1, 0)")
    conn.commit()
    conn.close()


def counter_guard(tmp: Path, workers: int, seconds: float) -> dict:
    """Run the read-then-write counter from `workers` processes, with plain
    deferred BEGIN and with modelreg's Database.write; per mode: updates done,
    errors, retries, the messages seen and the final counter value."""
    import sqlite3

    out = {}
    for mode in ("deferred", "project"):
        path = tmp / f"guard-{mode}.db"
        make_counter_db(path)
        procs = spawn(
            "counter",
            tmp / f"guard-{mode}-sync",
            workers,
            tmp / f"guard-{mode}-logs",
            extra=["--seconds", str(seconds), "--mode", mode, "--db", str(path)],
        )
        results = release(tmp / f"guard-{mode}-sync", procs)
        rows = read_logs(tmp / f"guard-{mode}-logs")
        final = sqlite3.connect(path).execute("SELECT v FROM counter").fetchone()[0]
        out[mode] = {
            "done": sum(r["done"] for r in rows),
            "errors": sum(r["errors"] for r in rows),
            "retries": sum(r["retries"] for r in rows),
            "messages": [m for r in rows for m in r["messages"]],
            "final": final,
            "worker_failures": [err for code, err in results if code],
        }
    return out


def counter(path: str, mode: str, seconds: float, log) -> None:
    """Increment a counter by reading it and writing it back, as fast as
    possible. mode 'deferred': plain BEGIN on a raw sqlite3 connection with a
    generous busy timeout (what a naive implementation does); mode 'project':
    the same read-then-write through modelreg's Database.write."""
    done = errors = retries = 0
    messages: Counter = Counter()
    if mode == "deferred":
        deadline = time.monotonic() + seconds
        import sqlite3

        conn = sqlite3.connect(path, isolation_level=None, timeout=15)
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute("PRAGMA journal_mode = WAL")
        while time.monotonic() < deadline:
            try:
                conn.execute("BEGIN")
                (value,) = conn.execute("SELECT v FROM counter WHERE id = 1").fetchone()
                conn.execute("UPDATE counter SET v = ? WHERE id = 1", (value + 1,))
                conn.execute("COMMIT")
                done += 1
            except sqlite3.OperationalError as exc:
                errors += 1
                messages[str(exc)] += 1
                conn.execute("ROLLBACK") if conn.in_transaction else None
        conn.close()
    else:
        from sqlalchemy import text

        from modelreg.errors import ModelregError
        from modelreg.store import database as dbmod

        original = dbmod.is_retryable

        def counting(exc):
            nonlocal retries
            verdict = original(exc)
            retries += verdict
            return verdict

        dbmod.is_retryable = counting
        db = dbmod.Database(f"sqlite:///{path}")
        deadline = time.monotonic() + seconds

        def work(tx):
            value = tx.session.execute(text("SELECT v FROM counter WHERE id = 1")).scalar_one()
            tx.session.execute(text("UPDATE counter SET v = :v WHERE id = 1"), {"v": value + 1})

        while time.monotonic() < deadline:
            try:
                db.write(work, actor="counter")
                done += 1
            except ModelregError as exc:
                errors += 1
                messages[exc.message] += 1
        db.dispose()
    log.write(
        json.dumps({"done": done, "errors": errors, "retries": retries, "messages": dict(messages.most_common(3))})
        + "\n"
    )


# -- parent side -------------------------------------------------------------------------------
class Forked:
    """A forked worker with the bits of Popen that `release` uses. Forking
    from a process that already imported modelreg saves about a second of
    start-up per worker on a 2-core machine; the child leaves with os._exit
    so it never finalises connections it inherited from the parent."""

    def __init__(self, argv: list[str]):
        err_path = Path(argv[argv.index("--out") + 1] + ".stderr")
        self.err_path = err_path
        self.returncode = None
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(fd, 2)
                sys.stderr = open(2, "w", closefd=False)
                main(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                import traceback

                traceback.print_exc()
            finally:
                try:
                    sys.stderr.flush()
                finally:
                    os._exit(code)
        self.pid = pid

    def poll(self):
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def communicate(self, timeout: float | None = None):
        deadline = time.monotonic() + (timeout or 1e9)
        while self.poll() is None:
            if time.monotonic() > deadline:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
                raise subprocess.TimeoutExpired(str(self.pid), timeout)
            time.sleep(0.01)
        return "", self.err_path.read_text() if self.err_path.exists() else ""


def spawn(
    mode: str,
    sync: Path,
    count: int,
    logs: Path,
    *,
    extra: list[str] | None = None,
    per_worker: list[list[str]] | None = None,
    env: dict | None = None,
    fork: bool = True,
) -> list:
    """Start `count` workers; they import, report ready, and wait for `release`.
    fork=False starts fresh interpreters (cold imports, as from cron)."""
    sync.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for w in range(count):
        argv = [mode, "--sync", str(sync), "--worker", str(w), "--out", str(logs / f"w{w}.jsonl"), *(extra or [])]
        if per_worker is not None:
            argv += ["--", *per_worker[w]]
        if fork and not env:
            procs.append(Forked(argv))
        else:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(HERE / "load_worker.py"), *argv],
                    env={**os.environ, **(env or {})},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    return procs


def release(sync: Path, procs: list[subprocess.Popen], timeout: float = 120) -> list[tuple[int, str]]:
    """Wait until every worker is ready, start them together, wait for them to finish."""
    deadline = time.monotonic() + 60
    while sum((sync / f"ready.{w}").exists() for w in range(len(procs))) < len(procs):
        dead = [p for p in procs if p.poll() not in (None, 0)]
        if dead:
            raise RuntimeError(f"a worker died before the start: {dead[0].communicate()[1][-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not get ready in 60 s")
        time.sleep(0.01)
    (sync / "go").write_text("go")
    results = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, err))
    return results


def read_logs(logs: Path) -> list[dict]:
    entries = []
    for path in sorted(logs.glob("w*.jsonl")):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return entries


def stderr_problems(entry: dict) -> list[str]:
    problems = []
    err = entry["stderr"]
    lowered = err.lower()
    for bad in FORBIDDEN:
        if bad in lowered:
            problems.append(f"{entry['op_id']} {entry['args'][:3]}: {bad!r} reached stderr: {err[:300]!r}")
            break
    if entry["code"] != 0:
        lines = err.splitlines()
        if not lines or not lines[0].startswith("error: "):
            problems.append(f"{entry['op_id']}: exit {entry['code']} without an 'error:' line: {err[:300]!r}")
        elif entry["code"] != 5 and len(lines) != 1:
            problems.append(f"{entry['op_id']}: exit {entry['code']} printed {len(lines)} lines: {err[:300]!r}")
    return problems


ALLOWED_CODES = {
    "register": {0},  # disjoint versions: every one must land
    "register.dup": {0, 4},
    "review": {0, 4},
    "promote": {0, 4, 5},
    "deprecate": {0, 4},
    "cancel": {0, 4},
    "sweep": {0},
    "find": {0},
}
ACTION_OF = {
    "register": "register",
    "register.dup": "register",
    "review": "review",
    "promote": "promote",
    "deprecate": "deprecate",
    "cancel": "deprecate.cancel",
}
REPLAY = {
    "register": "TESTING",
    "promote": "APPROVED",
    "deprecate": "DEPRECATED",
    "deprecate.cancel": "APPROVED",
    "retire": "RETIRED",
}


def verify_mixed(url: str, entries: list[dict]) -> list[str]:
    """Every command that exited 0 is in the database and the audit trail
    exactly once; every failure left nothing behind; codes are documented;
    no lock or serialization text reached stderr."""
    from sqlalchemy import create_engine, text

    problems: list[str] = []
    for e in entries:
        if e["code"] not in ALLOWED_CODES[e["op"]]:
            problems.append(f"{e['op_id']} {e['op']} {e.get('target')}: exit {e['code']}: {e['stderr'][:300]!r}")
        problems += stderr_problems(e)

    expected: Counter = Counter()
    retired_by_sweeps: list[str] = []
    for e in entries:
        if e["code"] != 0:
            continue
        if e["op"] in ACTION_OF:
            expected[(ACTION_OF[e["op"]], e["target"])] += 1
        elif e["op"] == "sweep":
            report = json.loads(e["stdout"])
            retired_by_sweeps += report["retired"]
            for target in report["retired"]:
                expected[("retire", target)] += 1
    if len(retired_by_sweeps) != len(set(retired_by_sweeps)):
        dupes = [t for t, n in Counter(retired_by_sweeps).items() if n > 1]
        problems.append(f"versions retired by more than one sweep: {dupes[:5]}")

    engine = create_engine(url)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT seq, action, target, actor, after FROM audit_event ORDER BY seq")).all()
        versions = {
            f"{m}@{v}": (status, by)
            for m, v, status, by in conn.execute(
                text("SELECT model_id, version, status, registered_by FROM model_version WHERE provider = 'loadtest'")
            )
        }
        notes = Counter(n for (n,) in conn.execute(text("SELECT note FROM check_result WHERE note LIKE 'op-%'")))
    engine.dispose()
    load_events = [ev for ev in events if ev.target.split("@")[0] in MODELS + ["load-dup"]]
    actual = Counter((ev.action, ev.target) for ev in load_events)
    for key in sorted(set(expected) | set(actual)):
        if expected[key] != actual[key]:
            problems.append(
                f"{key[0]} {key[1]}: {expected[key]} successful command(s) but {actual[key]} audit event(s)"
            )

    # per-command identity: a review's note and a deprecation's reason carry the op id
    reasons = Counter(json.loads(ev.after).get("reason") for ev in load_events if ev.action == "deprecate")
    for e in entries:
        if e["op"] == "review":
            want = 1 if e["code"] == 0 else 0
            if notes[e["op_id"]] != want:
                problems.append(f"{e['op_id']} review exit {e['code']}: {notes[e['op_id']]} check rows")
        if e["op"] == "deprecate":
            want = 1 if e["code"] == 0 else 0
            if reasons[e["op_id"]] != want:
                problems.append(f"{e['op_id']} deprecate exit {e['code']}: {reasons[e['op_id']]} audit events")
        if e["op"] == "register" and e["code"] == 0 and versions.get(e["target"], (None, None))[1] != e["actor"]:
            problems.append(f"{e['op_id']}: {e['target']} registered by {e['actor']} is missing or not theirs")
    registered_ok = [e for e in entries if e["op"] in ("register", "register.dup") and e["code"] == 0]
    if len(registered_ok) != len(versions):
        problems.append(f"{len(registered_ok)} successful registrations but {len(versions)} versions in the database")

    # replaying the audit trail gives the status in the database
    replayed: dict[str, str] = {}
    for ev in load_events:
        if ev.action in REPLAY:
            replayed[ev.target] = REPLAY[ev.action]
    for target, (status, _by) in versions.items():
        if replayed.get(target) != status:
            problems.append(f"{target}: status {status} but the audit trail says {replayed.get(target)}")
    return problems


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def apply_policy(url: str, text: str = MIXED_POLICY) -> None:
    """Put `text` (a [policy] table) in force in the registry at `url`, keeping its test clock."""
    import tomllib

    from modelreg import Registry

    document = tomllib.loads(text)
    with Registry.open(url) as reg:
        document.setdefault("policy", {})["test_clock"] = reg.policy().test_clock
        reg.apply_policy(document)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["mixed", "once", "counter"])
    parser.add_argument("--sync", required=True)
    parser.add_argument("--worker", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--mode", dest="counter_mode", default="project")
    parser.add_argument("--db")
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    args.rest = rest
    sync = Path(args.sync)
    _warm_up()
    if args.mode == "mixed":
        run_command(["config", "show", "--json"])  # builds the typer command tree once; no database access
    with open(args.out, "a") as log:
        _wait_for_go(sync, args.worker)
        if args.mode == "mixed":
            Mixed(args.worker, args.seconds, args.seed, log).run()
        elif args.mode == "once":
            # several commands, run one after the other, are separated by "::"
            commands, current = [], []
            for token in args.rest:
                if token == "::":
                    commands.append(current)
                    current = []
                else:
                    current.append(token)
            commands.append(current)
            for i, command in enumerate(commands):
                code, out, err, dt = run_command(command)
                log.write(
                    json.dumps(
                        {
                            "worker": args.worker,
                            "op": "once",
                            "op_id": f"once-{args.worker}-{i}",
                            "args": command,
                            "code": code,
                            "stdout": out,
                            "stderr": err,
                            "dt": dt,
                        }
                    )
                    + "\n"
                )
        else:
            counter(args.db, args.counter_mode, args.seconds, log)


if __name__ == "__main__":
    main()
