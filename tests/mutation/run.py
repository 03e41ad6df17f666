"""Mutation testing of the rules (issue 17): mutmut over the rule-bearing
modules, one module at a time, then the survivors per module as a table.

    python tests/mutation/run.py                      # every module in [tool.mutmut] only_mutate
    python tests/mutation/run.py semver routing       # the modules whose path contains a word
    python tests/mutation/run.py --table              # the table of the last results, no run
    python tests/mutation/run.py --table --survivors  # ... and each surviving mutant's diff
    python tests/mutation/run.py --max-children 2     # mutants tested at once (default 1)
    python tests/mutation/run.py --postgres transitions  # also the PostgreSQL variants of the tests
    python tests/mutation/run.py --again transitions  # only the last run's survivors, after new tests
    python tests/mutation/run.py --focused tests/test_rules_audit.py audit  # survivors, a few test files

Needs `pip install -e '.[mutation]'`. Not part of `.ci/run`: a full run takes
hours on two cores. Each module is one `mutmut run "modelreg.MODULE.*"`
(mutmut's output goes to mutants/run-MODULE.log), under `nice -n 15`, with
hypothesis' derandomized `ci` profile, so two runs of the same code give the
same table. By default on SQLite only (MODELREG_TEST_PG_URL is unset); with
`--postgres` the tests' PostgreSQL variants run too, against the server in
MODELREG_TEST_PG_URL: the rules only a server enforces (roles, row-level
security) and the SQL only PostgreSQL refuses are then tested. The table
names the backends each module's last run used. The tests run
are `pytest_add_cli_args_test_selection` in pyproject.toml; mutmut runs, for
each mutant, only the tests that called the mutated function.

`--again` runs only the mutants the module's last run left surviving (and
not listed as equivalent), then merges their new results into that run's:
for tests written against those survivors, when the module itself has not
changed since (a changed module needs a whole run).

`--focused FILES` (comma-separated test files) tries the last run's
survivors and undecided mutants (those a time-limited run never reached),
or every mutant of a module never run, with only those tests, one pytest per mutant (`MUTANT_UNDER_TEST`, two at
once, `-x`) in mutants/ as mutmut left it: for a function every test calls
(the audit appender runs on each write) mutmut runs hundreds of tests per
mutant and a module takes hours; a few files decide most mutants in
seconds. A mutant they kill counts as killed; one they do not stays
surviving (conservative: other tests might kill it). PYTHONPATH points at
mutants/ so the CLI subprocesses the tests start run the mutant too.

A surviving mutant is either a missing test (write one: a test of behaviour)
or equivalent (no behaviour tells it apart). Equivalent mutants are listed,
each with its mutated line and the reason, in tests/mutation/equivalent.toml;
the table counts them apart. An entry whose mutant no longer exists or no
longer makes that change is reported as stale, never silently applied.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).resolve().parent / "equivalent.toml"

# The surviving share each module must stay under, after triage (issue 17):
# the lifecycle engine, gates, resolution/routing and SemVer 5%, the rest 15%.
STRICT = {
    "modelreg/lifecycle/status.py",
    "modelreg/lifecycle/production.py",
    "modelreg/lifecycle/transitions.py",
    "modelreg/lifecycle/gates.py",
    "modelreg/lifecycle/fallbacks.py",
    "modelreg/routing.py",
    "modelreg/semver.py",
}
STRICT_TARGET, OTHER_TARGET = 5.0, 15.0

KILLED = {1, 3, 36, 37, -24, 24, 152, 255}  # failed, pytest error, timeouts, type check
SURVIVED = {0}
NO_TESTS = {5, 33}


def configured_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return list(config["only_mutate"])


def mutant_glob(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".") + ".*"


def sync_unmutated_sources(modules: list[str]) -> None:
    """mutmut copies the package into mutants/ once and never refreshes the
    files it does not mutate: copy over the ones that changed since."""
    target_root = ROOT / "mutants"
    if not target_root.exists():
        return
    for source in (ROOT / "modelreg").rglob("*"):
        if not source.is_file() or "__pycache__" in source.parts:
            continue
        relative = source.relative_to(ROOT)
        if str(relative) in modules:
            continue  # mutmut regenerates these itself
        target = target_root / relative
        if not target.exists() or not filecmp.cmp(source, target, shallow=False):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def backends_of(postgres: bool) -> str:
    return "sqlite+postgres" if postgres else "sqlite"


def run_module(module: str, max_children: int, *, postgres: bool, only: list[str] | None = None) -> int:
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci", "PYTHONHASHSEED": "0"}
    if not postgres:
        env.pop("MODELREG_TEST_PG_URL", None)
    env.pop("CI", None)  # CI=true makes the PostgreSQL variants fail instead of skip
    # mutmut maps each function to the tests that ran it once, in mutants/mutmut-stats.json; the
    # PostgreSQL variants are in that map only if they ran then: map again for a PostgreSQL run after
    # a SQLite one (a SQLite run uses a map with them: without the server they skip at once)
    stats, backends = ROOT / "mutants" / "mutmut-stats.json", ROOT / "mutants" / "stats-backends"
    mapped = backends.read_text() if backends.exists() and stats.exists() else None
    if mapped != backends_of(True) and (postgres or mapped is None):
        stats.unlink(missing_ok=True)
        (ROOT / "mutants").mkdir(exist_ok=True)
        backends.write_text(backends_of(postgres))  # what the map mutmut makes now will hold
    meta = ROOT / "mutants" / (module + ".meta")
    earlier_file = results_file(module) if results_file(module).exists() else meta
    earlier = json.loads(earlier_file.read_text()) if only is not None else None
    mutmut = Path(sys.executable).with_name("mutmut")
    log = ROOT / "mutants" / f"run-{module.removesuffix('.py').replace('/', '.')}.log"
    (ROOT / "mutants").mkdir(exist_ok=True)
    command = ["nice", "-n", "15", str(mutmut), "run", "--max-children", str(max_children)]
    command += only if only is not None else [mutant_glob(module)]
    shown = command if only is None else [*command[:7], f"<{len(only)} surviving mutants>"]
    print(f"+ {' '.join(shown)}  (log: {log.relative_to(ROOT)})", flush=True)
    with log.open("w") as out:
        code = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    if meta.exists():  # the next module's `mutmut run` resets every module's results: keep this one's
        kept = json.loads(meta.read_text())
        kept["backends"] = backends_of(postgres)
        if earlier is not None and only is not None:  # the earlier run's results, with the survivors' new ones
            fresh = kept["exit_code_by_key"]
            earlier["exit_code_by_key"].update({name: fresh.get(name) for name in only})
            if earlier.get("backends", "sqlite") != kept["backends"]:
                earlier["backends"] = f"{earlier.get('backends', 'sqlite')}; again: {kept['backends']}"
            kept = earlier
        results_file(module).parent.mkdir(exist_ok=True)
        results_file(module).write_text(json.dumps(kept))
    return code


def undecided_of(module: str) -> list[str]:
    """The mutants a time-limited run never reached."""
    results, _ = load_results(module)
    return sorted(n for n, code in results.items() if code is None)


def run_focused(module: str, tests: list[str], *, postgres: bool) -> None:
    """Each survivor and undecided mutant of the module against `tests` alone; killed ones merged."""
    from concurrent.futures import ThreadPoolExecutor

    names = survivors_of(module) + [n for n in undecided_of(module) if n not in load_equivalent()]
    meta = ROOT / "mutants" / (module + ".meta")
    if not load_results(module)[0] and meta.exists():  # never run: every mutant mutmut made
        names = sorted(json.loads(meta.read_text())["exit_code_by_key"])
    shutil.copytree(ROOT / "tests", ROOT / "mutants" / "tests", dirs_exist_ok=True)  # the tests as they are now
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci", "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT / "mutants")}
    if not postgres:
        env.pop("MODELREG_TEST_PG_URL", None)
    env.pop("CI", None)
    python = str(Path(sys.executable).absolute())  # the venv's, not the interpreter it links to

    def one(name: str) -> tuple[str, int]:
        command = ["nice", "-n", "15", python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests]
        done = subprocess.run(
            command, cwd=ROOT / "mutants", env={**env, "MUTANT_UNDER_TEST": name}, capture_output=True
        )
        return name, done.returncode

    print(f"+ {len(names)} mutants of {module} against {' '.join(tests)}", flush=True)
    with ThreadPoolExecutor(2) as pool:
        verdicts = dict(pool.map(one, names))
    for name, code in sorted(verdicts.items()):
        print(f"  {'killed  ' if code else 'survived'} {name}")
    path = results_file(module) if results_file(module).exists() else ROOT / "mutants" / (module + ".meta")
    kept = json.loads(path.read_text())
    for name, code in verdicts.items():
        kept["exit_code_by_key"][name] = 1 if code else 0
    kept["backends"] = f"{kept.get('backends', 'sqlite')}; focused: {backends_of(postgres)}"
    results_file(module).parent.mkdir(exist_ok=True)
    results_file(module).write_text(json.dumps(kept))


def survivors_of(module: str) -> list[str]:
    """The mutants of the module's last run that survived and are not listed as equivalent."""
    results, _ = load_results(module)
    equivalent = load_equivalent()
    return sorted(n for n, code in results.items() if code in SURVIVED | NO_TESTS and n not in equivalent)


def results_file(module: str) -> Path:
    return ROOT / "mutants" / "results" / (module.replace("/", ".") + ".json")


def load_results(module: str) -> tuple[dict[str, int | None], str]:
    """The results of the module's own last run (mutmut's .meta as it left it),
    and the backends its tests ran on."""
    meta = results_file(module)
    if not meta.exists():
        meta = ROOT / "mutants" / (module + ".meta")
    if not meta.exists():
        return {}, "-"
    kept = json.loads(meta.read_text())
    if all(code is None for code in kept["exit_code_by_key"].values()):
        return {}, "-"  # mutants made, none run yet
    return kept["exit_code_by_key"], kept.get("backends", "sqlite")


def load_equivalent() -> dict[str, dict]:
    if not EQUIVALENT.exists():
        return {}
    return {entry["name"]: entry for entry in tomllib.loads(EQUIVALENT.read_text()).get("mutant", [])}


def diff_of(name: str, module: str) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    os.chdir(ROOT)
    try:
        return get_diff_for_mutant(name, path=module)
    except Exception as exc:  # a mutant whose function is gone
        return f"(no diff: {exc})"


def changed_lines(diff: str) -> list[str]:
    return [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]


def table(modules: list[str], *, show_survivors: bool) -> bool:
    equivalent = load_equivalent()
    used: set[str] = set()
    stale: list[str] = []
    rows: list[tuple[str, tuple[int, ...] | None, str]] = []
    survivors: list[tuple[str, str, str]] = []
    for module in modules:
        results, backends = load_results(module)
        if not results:
            rows.append((module, None, "-"))
            continue
        killed = survived = no_tests = other = equiv = 0
        for name, code in sorted(results.items()):
            if code in KILLED:
                killed += 1
                if name in equivalent:
                    stale.append(f"{name}: listed as equivalent but killed")
                    used.add(name)
                continue
            if code in SURVIVED or code in NO_TESTS:
                entry = equivalent.get(name)
                if entry is not None:
                    used.add(name)
                    if any(entry["change"].strip() in line for line in changed_lines(diff_of(name, module))):
                        equiv += 1
                        continue
                    stale.append(f"{name}: listed as equivalent, but its change is no longer {entry['change']!r}")
                if code in SURVIVED:
                    survived += 1
                else:
                    no_tests += 1
                survivors.append((module, name, "survived" if code in SURVIVED else "no tests"))
            else:
                other += 1  # not checked yet, interrupted, suspicious
                survivors.append((module, name, f"not decided (exit code {code})"))
        rows.append((module, (len(results), killed, survived, no_tests, equiv, other), backends))
    shown = {module.removesuffix(".py").replace("/", ".") for module, _, _ in rows}
    stale += [
        f"{name}: listed as equivalent but no such mutant"
        for name in equivalent
        if name not in used and name.partition(".x")[0] in shown  # entries of modules not in this table wait
    ]

    ok = True
    header = (
        "module", "mutants", "killed", "survived", "no tests", "equivalent", "undecided", "surviving %", "target",
        "tests on",
    )  # fmt: skip
    lines: list[tuple[object, ...]] = [header]
    totals = [0] * 6
    for module, counts, backends in rows:
        target = STRICT_TARGET if module in STRICT else OTHER_TARGET
        if counts is None:
            lines.append((module, "-", "-", "-", "-", "-", "-", "not run", f"<= {target:g}%", "-"))
            continue
        total, killed, survived, no_tests, equiv, other = counts
        totals = [a + b for a, b in zip(totals, counts)]
        judged = total - equiv
        share = 100.0 * (survived + no_tests + other) / judged if judged else 0.0
        ok &= share <= target
        lines.append(
            (module, total, killed, survived, no_tests, equiv, other, f"{share:.1f}%", f"<= {target:g}%", backends)
        )
    total, killed, survived, no_tests, equiv, other = totals
    judged = total - equiv
    share = 100.0 * (survived + no_tests + other) / judged if judged else 0.0
    lines.append(("all", total, killed, survived, no_tests, equiv, other, f"{share:.1f}%", "", ""))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    print("| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for line in lines[1:]:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |")
    print(
        "surviving % = (survived + no tests + undecided) / (mutants - equivalent); "
        f"equivalent mutants: {EQUIVALENT.relative_to(ROOT)}"
    )
    for problem in stale:
        ok = False
        print(f"stale triage entry: {problem}")
    if show_survivors:
        for module, name, status in survivors:
            print(f"\n# {name}: {status}")
            print(diff_of(name, module))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="words matched against the module paths (default: all)")
    parser.add_argument("--table", action="store_true", help="print the table of the last results; run nothing")
    parser.add_argument("--survivors", action="store_true", help="print each surviving mutant's diff")
    parser.add_argument("--max-children", type=int, default=1, help="mutants tested at once (default 1)")
    parser.add_argument(
        "--postgres", action="store_true", help="run the PostgreSQL variants too (MODELREG_TEST_PG_URL)"
    )
    parser.add_argument("--again", action="store_true", help="run only the last run's survivors, and merge")
    parser.add_argument(
        "--focused", metavar="FILES", help="try the survivors and undecided mutants with these test files only"
    )
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    modules = configured_modules()
    if args.modules:
        modules = [m for m in modules if any(word in m for word in args.modules)]
        if not modules:
            parser.error(f"no configured module matches {' '.join(args.modules)}")
    if args.postgres and not os.environ.get("MODELREG_TEST_PG_URL"):
        parser.error("--postgres needs MODELREG_TEST_PG_URL (the server the tests create their databases on)")
    if args.focused and not args.table:
        for module in modules:
            run_focused(module, args.focused.split(","), postgres=args.postgres)
    elif not args.table:
        for module in modules:
            sync_unmutated_sources(configured_modules())
            only = survivors_of(module) if args.again else None
            if only == []:
                continue
            code = run_module(module, args.max_children, postgres=args.postgres, only=only)
            if code != 0:
                print(f"mutmut exited {code} on {module}; see its log", file=sys.stderr)
                return code
    return 0 if table(modules, show_survivors=args.survivors) else 1


if __name__ == "__main__":
    sys.exit(main())
