"""Step 1 (submission) and reading the registry: register, find, show, tree, history."""

from __future__ import annotations

import re
from typing import List, Optional

import typer

from modelreg.cli import app, open_registry
from modelreg.cli.complete_targets import complete_target
from modelreg.cli.output import emit_json, message, output_format, render

VERSION_COLUMNS = [("model_id", "MODEL"), ("version", "VERSION"), ("status", "STATUS"), ("provider", "PROVIDER"),
                   ("capabilities", "CAPABILITIES"), ("p95_latency_ms", "P95 MS"), ("cost_usd", "COST $"),
                   ("lifecycle", "LIFECYCLE")]

_PARAM = re.compile(r"^(?P<name>[^=]+)=(?P<default>[^:]+)(?::(?:(?P<lo>[^.]+)\.\.(?P<hi>.+)|max=(?P<max>.+)))?$")


def _number(text: str, where: str) -> float:
    from modelreg.errors import InvalidInput
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{where}: {text!r} is not a number") from None
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def parse_param(text: str) -> tuple[str, dict]:
    """--param NAME=DEFAULT[:LO..HI | :max=N]"""
    from modelreg.errors import InvalidInput
    match = _PARAM.match(text)
    if not match:
        raise InvalidInput(f"--param {text!r}: expected NAME=DEFAULT[:LO..HI | :max=N], e.g. temperature=0.7:0..1")
    spec: dict = {"default": _number(match["default"], f"--param {match['name']}")}
    if match["lo"] is not None:
        spec["range"] = [_number(match["lo"], f"--param {match['name']}"), _number(match["hi"], f"--param {match['name']}")]
    if match["max"] is not None:
        spec["max"] = _number(match["max"], f"--param {match['name']}")
    return match["name"], spec


def lifecycle_note(v: dict) -> str:
    parts = []
    if v.get("rollout_weight") and v["status"] == "APPROVED":
        parts.append(f"weight {v['rollout_weight']}%")
    if v.get("days_to_retirement") is not None:
        parts.append(f"retires in {v['days_to_retirement']}d")
    checks = v.get("checks") or {}
    passed = sorted(n for n, c in checks.items() if c["result"] == "pass")
    failed = sorted(n for n, c in checks.items() if c["result"] == "fail")
    if passed:
        parts.append("passed " + ",".join(passed))
    if failed:
        parts.append("FAILED " + ",".join(failed))
    return "; ".join(parts)


def version_rows(versions: list[dict]) -> list[dict]:
    return [{**v, "p95_latency_ms": v["performance"]["p95_latency_ms"],
             "cost_usd": v["performance"]["cost_per_request_usd"], "lifecycle": lifecycle_note(v)} for v in versions]


@app.command(rich_help_panel="1. Submission")
def register(
    ctx: typer.Context,
    model_id: Optional[str] = typer.Argument(None, help="Model id, e.g. ms-advanced-reasoning."),
    version: Optional[str] = typer.Option(None, "--version", help="SemVer 2.0.0 version, e.g. 3.0.1."),
    file: Optional[str] = typer.Option(None, "--file", "-f", help="Manifest (TOML or JSON; one version or [[models]]); '-' for stdin."),
    provider: Optional[str] = typer.Option(None, "--provider"),
    capability: List[str] = typer.Option([], "--capability", help="Repeatable."),
    param: List[str] = typer.Option([], "--param", help="NAME=DEFAULT[:LO..HI | :max=N]; repeatable."),
    avg_latency: Optional[float] = typer.Option(None, "--avg-latency", help="SLO average latency, ms."),
    p95_latency: Optional[float] = typer.Option(None, "--p95-latency", help="SLO p95 latency, ms."),
    cost: Optional[float] = typer.Option(None, "--cost", help="Cost per request, USD."),
    residency: List[str] = typer.Option([], "--residency", help="Data residency region; repeatable."),
    pii: Optional[str] = typer.Option(None, "--pii", help="compliant | restricted | none."),
    domain: List[str] = typer.Option([], "--domain", help="Approved domain; repeatable."),
    endpoint: Optional[str] = typer.Option(None, "--endpoint", help="http(s) URL of the model endpoint."),
    endpoint_kind: Optional[str] = typer.Option(None, "--endpoint-kind", help="openai-chat | json."),
    description: Optional[str] = typer.Option(None, "--description"),
    experimental: bool = typer.Option(False, "--experimental", help="Register as EXPERIMENTAL (off the production track)."),
    json_out: bool = typer.Option(False, "--json", help="Print the registered versions as JSON."),
) -> None:
    """Register a model version (step 1, submission); status TESTING, or EXPERIMENTAL.

    Example: modelreg register --file ms-advanced-reasoning.toml
    Example: modelreg register ms-standard --version 2.0.0 --provider mindstudio --capability text-generation --avg-latency 400 --p95-latency 700 --cost 0.01
    """
    from modelreg.errors import InvalidInput
    from modelreg.manifest import load_manifest_file, parse_version_spec

    if file is not None:
        given = [name for name, value in (("MODEL_ID", model_id), ("--version", version), ("--provider", provider),
                 ("--capability", capability), ("--param", param), ("--avg-latency", avg_latency),
                 ("--p95-latency", p95_latency), ("--cost", cost), ("--residency", residency), ("--pii", pii),
                 ("--domain", domain), ("--endpoint", endpoint), ("--endpoint-kind", endpoint_kind),
                 ("--description", description)) if value not in (None, [])]
        if given:
            raise InvalidInput(f"--file takes the whole manifest; drop {', '.join(given)}")
        specs = load_manifest_file(file)
        if experimental:
            for spec in specs:
                spec.experimental = True
    else:
        if model_id is None:
            raise InvalidInput("give MODEL_ID with --version etc., or --file MANIFEST")
        missing = [flag for flag, value in (("--version", version), ("--provider", provider),
                   ("--capability", capability), ("--avg-latency", avg_latency), ("--p95-latency", p95_latency),
                   ("--cost", cost)) if value in (None, [])]
        if missing:
            raise InvalidInput(f"missing {', '.join(missing)}")
        manifest: dict = {"modelId": model_id, "version": version, "provider": provider, "capabilities": list(capability),
                          "performance": {"avgLatency": avg_latency, "p95Latency": p95_latency, "costPerRequest": cost},
                          "experimental": experimental}
        params = dict(parse_param(p) for p in param)
        if params:
            manifest["parameters"] = params
        compliance: dict = {}
        if residency:
            compliance["dataResidency"] = list(residency)
        if domain:
            compliance["approvedDomains"] = list(domain)
        if pii is not None:
            compliance["piiHandling"] = pii
        if compliance:
            manifest["compliance"] = compliance
        for key, value in (("endpoint", endpoint), ("endpointKind", endpoint_kind), ("description", description)):
            if value is not None:
                manifest[key] = value
        specs = [parse_version_spec(manifest, "flags")]
    with open_registry(ctx) as reg:
        targets = reg.register_many(specs)
    if json_out:
        emit_json([{"model_id": s.model_id, "version": s.version,
                    "status": "EXPERIMENTAL" if s.experimental else "TESTING"} for s in specs])
    elif len(targets) <= 20:
        for spec in specs:
            message(f"registered {spec.target} [{'EXPERIMENTAL' if spec.experimental else 'TESTING'}]")
    else:
        message(f"registered {len(targets)} versions")


@app.command(rich_help_panel="Query")
def find(
    ctx: typer.Context,
    provider: Optional[str] = typer.Option(None, "--provider"),
    capability: List[str] = typer.Option([], "--capability", help="Repeatable; all must match."),
    status: Optional[str] = typer.Option(None, "--status", help="EXPERIMENTAL|TESTING|APPROVED|DEPRECATED|RETIRED|REJECTED."),
    stage: Optional[str] = typer.Option(None, "--stage", help="production|staging|experimental|archived."),
    domain: Optional[str] = typer.Option(None, "--domain"),
    residency: Optional[str] = typer.Option(None, "--residency"),
    max_p95: Optional[float] = typer.Option(None, "--max-p95", help="Registered p95 SLO at most this (ms)."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="Cost per request at most this (USD)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model id or glob, e.g. 'ms-*'."),
    include_retired: bool = typer.Option(False, "--include-retired", help="Include RETIRED and REJECTED versions."),
    limit: int = typer.Option(50, "--limit", help="At most this many rows (0: all)."),
    json_out: bool = typer.Option(False, "--json"),
    csv_out: bool = typer.Option(False, "--csv"),
    plain: bool = typer.Option(False, "--plain", help="Tab-separated, no header."),
) -> None:
    """Find model versions; every filter must match.

    Example: modelreg find --provider mindstudio --capability reasoning --status APPROVED
    """
    fmt = output_format(json_out, csv_out, plain)
    with open_registry(ctx) as reg:
        versions, total = reg.find(provider=provider, capabilities=capability, status=status, stage=stage, domain=domain,
                                   residency=residency, max_p95=max_p95, max_cost=max_cost, model=model,
                                   include_retired=include_retired, limit=limit or None)
    if fmt == "table" and not versions:
        message("no versions match")
        return
    render(version_rows(versions), fmt=fmt, columns=VERSION_COLUMNS, json_rows=versions)
    if limit and total > len(versions):
        message(f"showing {len(versions)} of {total} versions; use --limit 0 for all")


@app.command(rich_help_panel="Query")
def show(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL or MODEL@VERSION.", autocompletion=complete_target),
    json_out: bool = typer.Option(False, "--json"),
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
    if json_out:
        emit_json(data)
    elif version:
        show_view.render_version(data)
    else:
        show_view.render_model(data)


@app.command(rich_help_panel="Query")
def tree(
    ctx: typer.Context,
    include_retired: bool = typer.Option(False, "--include-retired", help="Also show archived (RETIRED, REJECTED)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The registry as a tree: stage -> model -> version [STATUS], as in the guide.

    Example: modelreg tree
    """
    with open_registry(ctx) as reg:
        data = reg.tree(include_retired=include_retired)
    if json_out:
        emit_json(data)
        return
    from modelreg.cli import show_view
    show_view.render_tree(data)


@app.command(rich_help_panel="Audit")
def history(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL or MODEL@VERSION.", autocompletion=complete_target),
    json_out: bool = typer.Option(False, "--json"),
    plain: bool = typer.Option(False, "--plain"),
) -> None:
    """The audit trail of a model or version, oldest first.

    Example: modelreg history ms-advanced-reasoning@3.0.1
    """
    from modelreg.targets import parse_target

    model_id, version = parse_target(target, version_required=False)
    with open_registry(ctx) as reg:
        events = reg.history(model_id, version)
    rows = [{**e, "change": _change(e)} for e in events]
    render(rows, fmt=output_format(json_out, False, plain), json_rows=events,
           columns=[("seq", "#"), ("at", "AT"), ("actor", "ACTOR"), ("action", "ACTION"), ("target", "TARGET"),
                    ("change", "CHANGE")])


def _change(event: dict) -> str:
    before, after = event.get("before"), event.get("after")
    if isinstance(before, dict) and isinstance(after, dict) and before.get("status") != after.get("status") and "status" in after:
        return f"{before.get('status')} -> {after.get('status')}"
    if isinstance(after, dict):
        return ", ".join(f"{k}={v}" for k, v in after.items() if v not in (None, "", [], {}))
    return "" if after is None else str(after)
