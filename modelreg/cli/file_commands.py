"""Registry as code: export, import, diff (modelreg.registry_file does the work)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from modelreg.cli import app, open_registry
from modelreg.cli.output import emit_json, message, render, warn

PANEL = "Registry as code"
DIFF_EXIT = 4  # --exit-code: file and database differ


@app.command("export", rich_help_panel=PANEL)
def export_(
    ctx: typer.Context,
    file: Optional[str] = typer.Option(None, "--file", "-f", help="Write here (atomically) instead of stdout.", metavar="FILE"),
) -> None:
    """Write the whole registry as deterministic TOML (models, versions, checks, runs, advisories).

    Example: modelreg export -f registry.toml

    Sorted and stable, so `git diff` of two exports shows real changes. Re-create the registry
    elsewhere with `modelreg import FILE`; compare with `modelreg diff FILE`.
    """
    from modelreg import registry_file

    with open_registry(ctx) as reg:
        doc = registry_file.export_document(reg)
    content = registry_file.to_toml(doc)
    if file is None or file == "-":
        sys.stdout.write(content)
        return
    from modelreg.textfile import write_atomic
    write_atomic(file, content)
    versions = sum(len(m["versions"]) for m in doc["models"].values())
    message(f"wrote {file}: {len(doc['models'])} model(s), {versions} version(s)")


def _plan_rows(plan) -> list[dict]:
    rows = []
    for action in ("refused", "added", "changed", "unchanged"):
        for entry in plan.of(action):
            rows.append({"action": action, "kind": entry.kind, "target": entry.target, "reason": entry.reason})
    return rows


def _show_plan(plan, json_out: bool) -> None:
    if json_out:
        emit_json(plan.to_dict())
        return
    rows = [r for r in _plan_rows(plan) if r["action"] != "unchanged"]
    if rows:
        render(rows, fmt="table", columns=[("action", "ACTION"), ("kind", "KIND"), ("target", "TARGET"),
                                           ("reason", "DETAIL")])
    for text in plan.warnings:
        warn(text)
    counts = ", ".join(f"{len(plan.of(a))} {a}" for a in ("added", "changed", "unchanged", "refused"))
    if plan.dry_run:
        verdict = "would be REFUSED (nothing would be written)" if plan.refused else "would apply"
        message(f"dry run: {counts}; {verdict}")
    elif plan.refused:
        message(f"{counts}; nothing was written")
    else:
        message(f"imported: {counts}")


@app.command("import", rich_help_panel=PANEL)
def import_(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="A registry file written by `modelreg export` (or by hand); '-' for stdin."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show the plan and write nothing (exit 0 even if refused)."),
    json_out: bool = typer.Option(False, "--json", help="The plan as JSON: added, changed, unchanged, refused, warnings."),
) -> None:
    """Apply a registry file in one transaction: plan (added, changed, unchanged, refused), then all or nothing.

    Example: modelreg import registry.toml --dry-run

    Status changes go through the lifecycle and its gates as the importing actor; a new version
    enters beyond TESTING only when its recorded checks, benchmark and approval support it.
    Exit 5 (nothing written) when anything is refused; 2 for a malformed file.
    """
    from modelreg import registry_file

    doc = registry_file.read_file(file)  # exit 2 before the database is touched
    with open_registry(ctx) as reg:
        try:
            plan = registry_file.import_document(reg, doc, dry_run=dry_run)
        except registry_file.ImportRefused as exc:
            _show_plan(exc.plan, json_out)
            raise
    _show_plan(plan, json_out)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


@app.command("diff", rich_help_panel=PANEL)
def diff(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="A registry file; '-' for stdin."),
    exit_code: bool = typer.Option(False, "--exit-code", help=f"Exit {DIFF_EXIT} when the file and the database differ (for CI gates)."),
    json_out: bool = typer.Option(False, "--json", help="{identical, differences: [{path, change, file, database}]}."),
) -> None:
    """Show what differs between a registry file and the database, per model, version and field.

    Example: modelreg diff registry.toml --exit-code

    Exit 0 whether or not they differ (a diff is a report); with --exit-code, exit 4 when they
    differ (exit 1 stays reserved for bugs, as everywhere in modelreg), 2 for a malformed file.
    """
    from modelreg import registry_file

    doc = registry_file.read_file(file)
    with open_registry(ctx) as reg:
        rows = registry_file.diff_document(reg, doc)
    if json_out:
        emit_json({"identical": not rows, "differences": rows})
    elif rows:
        render([{**r, "file": _cell(r["file"]), "database": _cell(r["database"])} for r in rows], fmt="table",
               columns=[("change", "CHANGE"), ("path", "PATH"), ("file", "FILE"), ("database", "DATABASE")])
        message(f"{len(rows)} difference(s) between {file} and the database")
    else:
        message(f"{file} and the database are identical")
    if rows and exit_code:
        raise typer.Exit(DIFF_EXIT)
