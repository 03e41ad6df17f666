"""Step 1 (submission) and reading the registry: register, find, show, tree, history."""

from __future__ import annotations

from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.complete_targets import complete_status, complete_target
from modelreg.cli.output import Output, message, output_options
from modelreg.cli.show_view import (
    HISTORY_COLUMNS,
    HISTORY_VIEW,
    VERSION_COLUMNS,
    VERSION_VIEW,
    history_rows,
    version_rows,
)

VERSION_FIELDS = (
    "model_id",
    "provider",
    "version",
    "status",
    "stage",
    "capabilities",
    "parameters",
    "performance",
    "compliance",
    "endpoint",
    "endpoint_kind",
    "description",
    "registered_at",
    "registered_by",
    "approved_at",
    "approved_by",
    "deprecated_at",
    "deprecation_reason",
    "retire_on",
    "replacement",
    "retired_at",
    "checks",
    "rollout_weight",
    "days_to_retirement",
    "owner",
    "contacts",
    "labels",
    "lineage",
    "card",
)
SHOW_FIELDS = VERSION_FIELDS + (
    "benchmarks",
    "observations",
    "alerts",
    "history",
    "consumers",
    "created_at",
    "fallbacks",
    "production_default",
    "canary",
    "versions",
)
HISTORY_FIELDS = ("seq", "at", "actor", "os_user", "action", "target", "before", "after", "policy_version")
TREE_FIELDS = ("production", "staging", "experimental", "archived")
REGISTER_FIELDS = ("model_id", "version", "status")


@app.command(rich_help_panel="1. Submission")
@output_options(REGISTER_FIELDS)
def register(
    ctx: typer.Context,
    model_id: Optional[str] = typer.Argument(None, help="Model id, e.g. ms-advanced-reasoning."),
    version: Optional[str] = typer.Option(None, "--version", help="SemVer 2.0.0 version, e.g. 3.0.1."),
    file: Optional[str] = typer.Option(
        None, "--file", "-f", help="Manifest (TOML or JSON; one version or [[models]]); '-' for stdin."
    ),
    provider: Optional[str] = typer.Option(None, "--provider"),
    capability: list[str] = typer.Option([], "--capability", help="Repeatable."),
    param: list[str] = typer.Option([], "--param", help="NAME=DEFAULT[:LO..HI | :max=N]; repeatable."),
    avg_latency: Optional[float] = typer.Option(None, "--avg-latency", help="SLO average latency, ms."),
    p95_latency: Optional[float] = typer.Option(None, "--p95-latency", help="SLO p95 latency, ms."),
    cost: Optional[float] = typer.Option(None, "--cost", help="Cost per request, USD."),
    residency: list[str] = typer.Option([], "--residency", help="Data residency region; repeatable."),
    pii: Optional[str] = typer.Option(None, "--pii", help="compliant | restricted | none."),
    domain: list[str] = typer.Option([], "--domain", help="Approved domain; repeatable."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="http(s) URL of the model endpoint."),
    endpoint_kind: Optional[str] = typer.Option(None, "--endpoint-kind", help="openai-chat | json."),
    description: Optional[str] = typer.Option(None, "--description"),
    experimental: bool = typer.Option(
        False, "--experimental", help="Register as EXPERIMENTAL (off the production track)."
    ),
    label: list[str] = typer.Option([], "--label", help="KEY=VALUE label of the version; repeatable."),
    owner: Optional[str] = typer.Option(None, "--owner", help="The model's owning team."),
    contact: list[str] = typer.Option([], "--contact", help="Email or handle to notify; repeatable."),
    artifact: Optional[str] = typer.Option(
        None, "--artifact", help="What runs, pinned: URI@sha256:<64 hex>, e.g. oci://reg/img@sha256:..."
    ),
    source: Optional[str] = typer.Option(None, "--source", help="URI of the training run or upstream model."),
    base_model: Optional[str] = typer.Option(
        None, "--base-model", help="MODEL@VERSION (or upstream name) it derives from."
    ),
    dataset: list[str] = typer.Option([], "--dataset", help="Training dataset name or URI; repeatable."),
    card: Optional[str] = typer.Option(
        None, "--card", metavar="FILE.md", help="The model card (Markdown, at most 1 MB)."
    ),
    out: Output = Output(),
) -> None:
    """Register a model version (step 1, submission); status TESTING, or EXPERIMENTAL.

    Example: modelreg register --file ms-advanced-reasoning.toml
    Example: modelreg register ms-standard --version 2.0.0 --provider mindstudio --capability text-generation --avg-latency 400 --p95-latency 700 --cost 0.01
    """
    from modelreg.errors import InvalidInput
    from modelreg.manifest import load_manifest_file, spec_from_flags

    if file is not None:
        given = [
            name
            for name, value in (
                ("MODEL_ID", model_id),
                ("--version", version),
                ("--provider", provider),
                ("--capability", capability),
                ("--param", param),
                ("--avg-latency", avg_latency),
                ("--p95-latency", p95_latency),
                ("--cost", cost),
                ("--residency", residency),
                ("--pii", pii),
                ("--domain", domain),
                ("--endpoint", endpoint),
                ("--endpoint-kind", endpoint_kind),
                ("--description", description),
                ("--label", label),
                ("--owner", owner),
                ("--contact", contact),
                ("--artifact", artifact),
                ("--source", source),
                ("--base-model", base_model),
                ("--dataset", dataset),
                ("--card", card),
            )
            if value not in (None, [])
        ]
        if given:
            raise InvalidInput(f"--file takes the whole manifest; drop {', '.join(given)}")
        specs = load_manifest_file(file)
        if experimental:
            for spec in specs:
                spec.experimental = True
    else:
        if model_id is None:
            raise InvalidInput("give MODEL_ID with --version etc., or --file MANIFEST")
        specs = [
            spec_from_flags(
                model_id=model_id,
                version=version,
                provider=provider,
                capabilities=capability,
                params=param,
                avg_latency_ms=avg_latency,
                p95_latency_ms=p95_latency,
                cost_per_request_usd=cost,
                residency=residency,
                pii=pii,
                domains=domain,
                endpoint=endpoint,
                endpoint_kind=endpoint_kind,
                description=description,
                experimental=experimental,
                labels=label,
                owner=owner,
                contacts=contact,
                artifact=artifact,
                source=source,
                base_model=base_model,
                datasets=dataset,
                card=card,
            )
        ]
    with open_registry(ctx) as reg:
        registered = reg.register_many(specs)
    if out.is_json:
        out.json(registered)
    else:
        from modelreg.cli.show_view import render_registration

        render_registration(registered)


@app.command(rich_help_panel="Query")
@output_options(VERSION_FIELDS, csv=True, plain=True)
def find(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider"),
    capability: list[str] = typer.Option([], "--capability", help="Repeatable; all must match."),
    status: Optional[str] = typer.Option(
        None,
        "--status",
        autocompletion=complete_status,
        help="EXPERIMENTAL|TESTING|APPROVED|DEPRECATED|RETIRED|REJECTED.",
    ),
    stage: Optional[str] = typer.Option(None, "--stage", help="production|staging|experimental|archived."),
    domain: Optional[str] = typer.Option(None, "--domain"),
    residency: Optional[str] = typer.Option(None, "--residency"),
    max_p95: Optional[float] = typer.Option(None, "--max-p95", help="Registered p95 SLO at most this (ms)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Cost per request at most this (USD)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model id or glob, e.g. 'ms-*'."),
    include_retired: bool = typer.Option(False, "--include-retired", help="Include RETIRED and REJECTED versions."),
    used_by: Optional[str] = typer.Option(
        None, "--used-by", metavar="APP", help="Versions this consumer resolved or called in the last 7 days."
    ),
    label: list[str] = typer.Option(
        [], "--label", metavar="KEY=VALUE", help="Repeatable; all must match (the version's or its model's)."
    ),
    owner: Optional[str] = typer.Option(None, "--owner", help="The model's owning team."),
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Versions derived from this base model."),
    limit: int = typer.Option(50, "--limit", help="At most this many rows (0: all)."),
    out: Output = Output(),
) -> None:
    """Find model versions; every filter must match.

    Example: modelreg find --provider mindstudio --capability reasoning --status APPROVED
    """
    with open_registry(ctx) as reg:
        versions, total = reg.find(
            provider=provider,
            capabilities=capability,
            status=status,
            stage=stage,
            domain=domain,
            residency=residency,
            max_p95=max_p95,
            max_cost=max_cost,
            model=model,
            include_retired=include_retired,
            used_by=used_by,
            labels=label,
            owner=owner,
            base_model=base_model,
            limit=limit,
        )
    if out.fmt == "table" and not versions:
        message("no versions match")
        return
    out.rows(version_rows(versions), VERSION_COLUMNS, json_rows=versions, view=VERSION_VIEW)
    if limit and total > len(versions):
        message(f"showing {len(versions)} of {total} versions; use --limit 0 for all")


@app.command(rich_help_panel="Query")
@output_options(SHOW_FIELDS)
def show(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL or MODEL@VERSION.", autocompletion=complete_target),
    out: Output = Output(),
) -> None:
    """Everything about a model or one version: checks, benchmarks, fallbacks, alerts, history.

    Example: modelreg show ms-advanced-reasoning@3.0.1
    """
    from modelreg.cli import show_view
    from modelreg.targets import parse_target

    model_id, version = parse_target(target, version_required=False)
    with open_registry(ctx) as reg:
        data = reg.get_version(model_id, version) if version else reg.get_model(model_id)
        if version:
            data["history"] = reg.history(model_id, version)
    if out.is_json:
        out.json(data)
    elif version:
        show_view.render_version(data)
    else:
        show_view.render_model(data)


@app.command(rich_help_panel="Query")
@output_options(TREE_FIELDS)
def tree(
    ctx: typer.Context,
    include_retired: bool = typer.Option(False, "--include-retired", help="Also show archived (RETIRED, REJECTED)."),
    out: Output = Output(),
) -> None:
    """The registry as a tree: stage -> model -> version [STATUS], as in the guide.

    Example: modelreg tree
    """
    with open_registry(ctx) as reg:
        data = reg.tree(include_retired=include_retired)
    if out.is_json:
        out.json(data)
        return
    from modelreg.cli import show_view

    show_view.render_tree(data)


@app.command(rich_help_panel="Audit")
@output_options(HISTORY_FIELDS, plain=True)
def history(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL or MODEL@VERSION.", autocompletion=complete_target),
    out: Output = Output(),
) -> None:
    """The audit trail of a model or version, oldest first.

    Example: modelreg history ms-advanced-reasoning@3.0.1
    """
    from modelreg.targets import parse_target

    model_id, version = parse_target(target, version_required=False)
    with open_registry(ctx) as reg:
        events = reg.history(model_id, version)
    out.rows(history_rows(events), HISTORY_COLUMNS, json_rows=events, view=HISTORY_VIEW)
