"""Registry as code: export, import, diff (the library's regfile package does the work)."""

from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.output import Output, message, output_options, warn

PANEL = "Registry as code"
DIFF_EXIT = 4  # --exit-code: file and database differ


@app.command("export", rich_help_panel=PANEL)
def export_(
    ctx: typer.Context,
    file: Optional[str] = typer.Option(
        None, "--file", "-f", help="Write here (atomically) instead of stdout.", metavar="FILE"
    ),
) -> None:
    """Write the whole registry as deterministic TOML (models, versions, checks, runs, advisories).

    Example: modelreg export -f registry.toml

    Sorted and stable, so `git diff` of two exports shows real changes. Re-create the registry
    elsewhere with `modelreg import FILE`; compare with `modelreg diff FILE`.
    """
    from modelreg.regfile.document import to_toml
    from modelreg.textfile import write_output

    with open_registry(ctx) as reg:
        doc = reg.export_document()
    content = to_toml(doc)
    if file is None or file == "-":
        sys.stdout.write(content)
        return
    write_output(file, content, mode=0o600)
    versions = sum(len(m["versions"]) for m in doc["models"].values())
    message(f"wrote {file}: {len(doc['models'])} model(s), {versions} version(s)")


def _plan_rows(plan) -> list[dict]:
    rows = []
    for action in ("refused", "added", "changed", "unchanged"):
        for entry in plan.of(action):
            rows.append({"action": action, "kind": entry.kind, "target": entry.target, "reason": entry.reason})
    return rows


def _show_plan(plan, out: Output) -> None:
    if out.is_json:
        out.json(plan.to_dict())
        return
    rows = [r for r in _plan_rows(plan) if r["action"] != "unchanged"]
    if rows:
        Output("table").rows(rows, [("action", "ACTION"), ("kind", "KIND"), ("target", "TARGET"), ("reason", "DETAIL")])
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
@output_options(("dry_run", "applied", "added", "changed", "unchanged", "refused", "warnings"))
def import_(
    ctx: typer.Context,
    file: str = typer.Argument(
        ..., metavar="FILE", help="A registry file written by `modelreg export` (or by hand); '-' for stdin."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show the plan and write nothing (exits as the real run would: 5 when refused)."
    ),
    out: Output = Output(),
) -> None:
    """Apply a registry file in one transaction: plan (added, changed, unchanged, refused), then all or nothing.

    Example: modelreg import registry.toml --dry-run

    Everything goes through the lifecycle engine as the importing actor: new versions are
    registered now; a status beyond TESTING is applied only when this registry's own evidence
    passes the gates. Reviews, benchmark runs and approvals in a file are never evidence
    (`modelreg db copy` moves a registry verbatim). Exit 5 (nothing written) when anything is
    refused; 2 for a malformed file.
    """
    from modelreg.regfile import importer, reader

    doc = reader.read_file(file)  # exit 2 before the database is touched
    with open_registry(ctx) as reg:
        try:
            plan = reg.import_document(doc, dry_run=dry_run, source=file, validated=True)
        except importer.ImportRefused as exc:
            exc.plan.dry_run = dry_run
            _show_plan(exc.plan, out)
            raise
    _show_plan(plan, out)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


@app.command("diff", rich_help_panel=PANEL)
@output_options(("identical", "differences"))
def diff(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", help="A registry file; '-' for stdin."),
    exit_code: bool = typer.Option(
        False, "--exit-code", help=f"Exit {DIFF_EXIT} when the file and the database differ (for CI gates)."
    ),
    out: Output = Output(),
) -> None:
    """Show what differs between a registry file and the database, per model, version and field.

    Example: modelreg diff registry.toml --exit-code

    Exit 0 whether or not they differ (a diff is a report); with --exit-code, exit 4 when they
    differ (exit 1 stays reserved for bugs, as everywhere in modelreg), 2 for a malformed file.
    """
    from modelreg.regfile import reader

    doc = reader.read_file(file)
    with open_registry(ctx) as reg:
        rows = reg.diff_document(doc, source=file, validated=True)
    if out.is_json:
        out.json({"identical": not rows, "differences": rows})
    elif rows:
        Output("table").rows(
            [{**r, "file": _cell(r["file"]), "database": _cell(r["database"])} for r in rows],
            [("change", "CHANGE"), ("path", "PATH"), ("file", "FILE"), ("database", "DATABASE")],
        )
        message(f"{len(rows)} difference(s) between {file} and the database")
    else:
        message(f"{file} and the database are identical")
    if rows and exit_code:
        raise typer.Exit(DIFF_EXIT)
