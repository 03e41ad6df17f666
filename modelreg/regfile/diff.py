"""What differs between a registry file and the database, per model,
version, field and record (file vs database)."""

from __future__ import annotations

from typing import Any

from modelreg.regfile.document import path_text


# -- diff --------------------------------------------------------------------------
def _keyed(parts: tuple, value: Any) -> Any:
    """Lists of records -> tables keyed by each record's identity, for a per-record diff."""
    if not isinstance(value, list):
        return value
    last = parts[-1] if parts else ""
    if len(parts) == 5 and parts[0] == "models" and parts[2] == "versions":
        if last == "checks":
            out = {}
            for c in value:
                key = f"{c['at']} {c['name']} {c['result']} {c['actor']}"
                n = 2
                while key in out:
                    key, n = f"{key} #{n}", n + 1
                out[key] = c
            return out
        if last == "benchmarks":
            return {f"run {r['run_id']}": r for r in value}
        if last == "retirement_notices":
            return {f"{n['retire_on']} -{n['days_before']}d": n for n in value}
    if parts == ("advisories",):
        return {f"{a['model_id']}/{a['advisory_id']}": a for a in value}
    return value


def _is_leaf(parts: tuple) -> bool:
    # benchmark settings/results are compared whole
    return len(parts) == 7 and parts[4] == "benchmarks" and parts[6] in ("settings", "results")


def _flatten(value: Any, parts: tuple, out: dict[tuple, Any]) -> None:
    value = _keyed(parts, value)
    if isinstance(value, dict) and value and not _is_leaf(parts):
        for key, item in value.items():
            _flatten(item, parts + (str(key),), out)
        return
    out[parts] = value


def _subtree(doc: Any, prefix: tuple) -> Any:
    node: Any = doc
    parts: tuple[str, ...] = ()
    for part in prefix:
        node = _keyed(parts, node)
        node = node[part]
        parts += (part,)
    return _keyed(parts, node)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def diff_documents(file_doc: dict[str, Any], db_doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per model / version / field / record: what differs (file vs database).
    A model, version or record present on one side only is one entry."""
    left: dict[tuple, Any] = {}
    right: dict[tuple, Any] = {}
    _flatten(file_doc, (), left)
    _flatten(db_doc, (), right)
    prefixes = {
        "file": {p[:n] for p in left for n in range(len(p) + 1)},
        "database": {p[:n] for p in right for n in range(len(p) + 1)},
    }
    rows: list[dict[str, Any]] = []
    reported: set[tuple] = set()
    for path in sorted(set(left) | set(right)):
        if any(path[:n] in reported for n in range(1, len(path) + 1)):
            continue
        if path in left and path in right:
            if not _same(left[path], right[path]):
                rows.append(
                    {"path": path_text(list(path)), "change": "changed", "file": left[path], "database": right[path]}
                )
            continue
        side = "file" if path in left else "database"
        other = prefixes["database" if side == "file" else "file"]
        prefix = next(path[:n] for n in range(1, len(path) + 1) if path[:n] not in other)
        reported.add(prefix)
        value = _subtree(file_doc if side == "file" else db_doc, prefix)
        rows.append(
            {
                "path": path_text(list(prefix)),
                "change": f"only in {side}",
                "file": value if side == "file" else None,
                "database": value if side == "database" else None,
            }
        )
    return rows
