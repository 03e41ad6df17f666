"""What a model or version carries beside its manifest: `label`, `card`, `lineage`."""

from __future__ import annotations

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.complete_targets import complete_target
from modelreg.cli.output import Output, Pairs, message, output_options, write_blocks

PANEL = "Metadata"
label_app = typer.Typer(
    help="Labels (KEY=VALUE) of a model or a version; `find --label` finds them.\n\n"
    "Example: modelreg label set ms-advanced-reasoning@3.0.1 tier=gold team=search",
    no_args_is_help=True,
    rich_markup_mode=None,
)
card_app = typer.Typer(
    help="A version's Markdown model card (intended use, limitations, evaluation, ethical considerations).\n\n"
    "Example: modelreg card set ms-advanced-reasoning@3.0.1 CARD.md",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(label_app, name="label", rich_help_panel=PANEL)
app.add_typer(card_app, name="card", rich_help_panel=PANEL)
LABEL_FIELDS = ("target", "labels", "changed")
CARD_FIELDS = ("target", "sha256", "size", "set_at", "set_by", "body")
LINEAGE_FIELDS = ("target", "lineage", "derives_from", "derived")


def _render_labels(result: dict, out: Output, verb: str) -> None:
    if out.is_json:
        out.json(result)
        return
    changed = ", ".join(result["changed"]) or "nothing changed"
    message(f"{result['target']}: {verb} {changed}")


@label_app.command("set")
@output_options(LABEL_FIELDS)
def label_set(
    ctx: typer.Context,
    subject: str = typer.Argument(..., metavar="MODEL[@VERSION]", autocompletion=complete_target),
    labels: list[str] = typer.Argument(..., metavar="KEY=VALUE..."),
    out: Output = Output(),
) -> None:
    """Add or change labels of a model (all its versions see them) or of one version (audited).

    Example: modelreg label set ms-advanced-reasoning tier=gold
    """
    with open_registry(ctx) as reg:
        result = reg.set_labels(subject, labels)
    _render_labels(result, out, "set")


@label_app.command("unset")
@output_options(LABEL_FIELDS)
def label_unset(
    ctx: typer.Context,
    subject: str = typer.Argument(..., metavar="MODEL[@VERSION]", autocompletion=complete_target),
    keys: list[str] = typer.Argument(..., metavar="KEY..."),
    out: Output = Output(),
) -> None:
    """Remove labels of a model or a version (audited); KEY=VALUE is accepted as KEY.

    Example: modelreg label unset ms-advanced-reasoning@3.0.1 tier
    """
    with open_registry(ctx) as reg:
        result = reg.unset_labels(subject, keys)
    _render_labels(result, out, "removed")


@card_app.command("set")
@output_options(CARD_FIELDS[:-1])
def card_set(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL@VERSION", autocompletion=complete_target),
    file: str = typer.Argument(..., metavar="FILE.md", help="Markdown, at most 1 MB; '-' for stdin."),
    out: Output = Output(),
) -> None:
    """Store (or replace) a version's model card, with its SHA-256 (audited).

    Example: modelreg card set ms-advanced-reasoning@3.0.1 CARD.md
    """
    with open_registry(ctx) as reg:
        result = reg.set_card(target, path=file)
    if out.is_json:
        out.json(result)
    else:
        message(f"{result['target']}: model card set (sha256:{result['sha256']}, {result['size']} bytes)")


@card_app.command("show")
@output_options(CARD_FIELDS)
def card_show(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL@VERSION", autocompletion=complete_target),
    out: Output = Output(),
) -> None:
    """Print a version's model card (the Markdown, as stored); --json adds its hash and who set it.

    Example: modelreg card show ms-advanced-reasoning@3.0.1
    """
    with open_registry(ctx) as reg:
        result = reg.card(target)
    if out.is_json:
        out.json(result)
        return
    body = result["body"]
    typer.echo(body, nl=not body.endswith("\n"))


@app.command("lineage", rich_help_panel=PANEL)
@output_options(LINEAGE_FIELDS)
def lineage(
    ctx: typer.Context,
    target: str = typer.Argument(..., metavar="MODEL@VERSION", autocompletion=complete_target),
    out: Output = Output(),
) -> None:
    """What a version derives from (its base model, and that one's) and what derives from it.

    Example: modelreg lineage ms-advanced-reasoning@3.0.1
    """
    with open_registry(ctx) as reg:
        result = reg.lineage(target)
    if out.is_json:
        out.json(result)
        return
    own = result["lineage"] or {}
    artifact = own.get("artifact")
    chain = " <- ".join(
        [result["target"]]
        + [a["base_model"] + ("" if a["registered"] else " (not registered)") for a in result["derives_from"]]
    )
    write_blocks(
        [
            chain,
            Pairs(
                [
                    ("artifact", f"{artifact['uri']} ({artifact['digest']})" if artifact else None),
                    ("source", own.get("source")),
                    ("datasets", own.get("datasets")),
                    ("derived", [("  " * (d["depth"] - 1)) + d["target"] for d in result["derived"]]),
                ]
            ),
        ]
    )
