"""The package's floors point down, and only down; no import circle anywhere.

    interfaces  cli/, server/, __main__, demo_endpoint
    facade      registry, remote, the package itself (`from modelreg import Registry`)
    features    catalog, consumers, tokens, views, routing, sweep, monitoring/, regfile/, bench/
    lifecycle   lifecycle/ (the one engine)
    store       store/ (SQL)
    base        errors, clock, version, semver, version_ranges, config, policy, manifest, metadata, targets, textfile, names

Every import counts, including those inside functions (an import placed in a
function to dodge a circle is still an arrow). A module may import its own
floor or any floor below, never one above, and the import graph has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "modelreg"
FLOORS = [
    (
        "base",
        (
            "modelreg.errors",
            "modelreg.clock",
            "modelreg.semver",
            "modelreg.version_ranges",
            "modelreg.version",
            "modelreg.config",
            "modelreg.policy",
            "modelreg.manifest",
            "modelreg.targets",
            "modelreg.textfile",
            "modelreg.names",
            "modelreg.metadata",
            "modelreg.examples",
        ),
    ),
    ("store", ("modelreg.store",)),
    ("lifecycle", ("modelreg.lifecycle",)),
    (
        "features",
        (
            "modelreg.catalog",
            "modelreg.consumers",
            "modelreg.tokens",
            "modelreg.views",
            "modelreg.routing",
            "modelreg.sweep",
            "modelreg.monitoring",
            "modelreg.regfile",
            "modelreg.bench",
        ),
    ),
    ("facade", ("modelreg.registry", "modelreg.remote")),
    ("interfaces", ("modelreg.cli", "modelreg.server", "modelreg.__main__", "modelreg.demo_endpoint")),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts or p.name != "env.py"}


def floor_of(name: str) -> int:
    if name == "modelreg":
        return 4  # the package itself exposes the facade
    for index, (_, prefixes) in enumerate(FLOORS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    raise AssertionError(f"{name} is on no floor: add it to tests/test_architecture.py FLOORS")


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The modelreg modules `name` imports (the most specific module named)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.startswith("modelreg") and target != name:
                found.add(target)
    # importing a submodule names its package too; the package is not a dependency of its own modules
    return {t for t in found if not name.startswith(t + ".")}


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_point_down(name):
    mine = floor_of(name)
    upward = sorted(t for t in GRAPH[name] if floor_of(t) > mine)
    assert not upward, f"{name} ({FLOORS[mine][0]}) imports upward: {upward}"


def test_no_import_cycles():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in GRAPH.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(GRAPH):
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_the_pure_monitoring_modules_import_no_database_code():
    pure = (
        "modelreg.monitoring.observations",
        "modelreg.monitoring.drift",
        "modelreg.monitoring.rules",
        "modelreg.monitoring.signing",
        "modelreg.monitoring.prometheus",
        "modelreg.monitoring.webhooks",
    )
    for name in pure:
        reached, todo = set(), [name]
        while todo:
            for nxt in GRAPH[todo.pop()]:
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        assert not [m for m in reached if m.startswith("modelreg.store")], name


def test_typer_and_rich_only_below_cli():
    for name, path in modules().items():
        if name.startswith(("modelreg.cli", "modelreg.__main__")):
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in ("typer", "rich") for n in names), f"{name} imports {names}"


def test_mutation_testing_runs_every_rules_test():
    """The tests written to pin a rule (tests/test_rules_*.py, issue 17) are
    the ones mutmut must run: a file left out of the selection kills nothing."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    selection = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mutmut"][
        "pytest_add_cli_args_test_selection"
    ]
    rules_tests = sorted(f"tests/{p.name}" for p in (root / "tests").glob("test_rules_*.py"))
    assert [t for t in rules_tests if t not in selection] == []
