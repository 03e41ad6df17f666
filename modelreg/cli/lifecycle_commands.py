"""Steps 2-5 and the lifecycle: review, promote, rollout, deprecate (and the
cron sweep), fallbacks, resolve."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from modelreg.cli.app import app, open_registry
from modelreg.cli.complete_targets import complete_model, complete_target
from modelreg.cli.output import Output, message, output_options, warn

REVIEW_FIELDS = ("target", "check", "result", "actor", "at", "status")
PROMOTE_FIELDS = ("target", "from", "to", "unmet", "canary", "policy_version", "dry_run", "would_succeed")
ROLLOUT_FIELDS = ("model_id", "action", "canary", "weight", "default", "status", "from")
DEPRECATE_FIELDS = ("target", "status", "retire_on", "replacement", "days_of_notice", "consumers")
SWEEP_FIELDS = ("as_of", "dry_run", "retired", "notices", "broken_fallbacks", "unchanged")
FALLBACK_FIELDS = ("model_id", "fallbacks")
RESOLVE_FIELDS = (
    "model_id",
    "version",
    "provider",
    "recommended_parameters",
    "fallbacks",
    "deprecation",
    "rollout",
    "broken_fallbacks",
)


@app.command(rich_help_panel="2-3. Evaluation, security & compliance review")
@output_options(REVIEW_FIELDS)
def review(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL@VERSION.", autocompletion=complete_target),
    check: str = typer.Option(..., "--check", help="evaluation | security | compliance | any other check name."),
    passed: Optional[bool] = typer.Option(None, "--pass/--fail", help="The result."),
    reject: bool = typer.Option(False, "--reject", help="With --fail: move TESTING -> REJECTED."),
    note: str = typer.Option("", "--note", help="What was checked, links to evidence."),
    out: Output = Output(),
) -> None:
    """Record an evaluation, security or compliance result (who, when, note).

    Example: modelreg review ms-advanced-reasoning@3.0.1 --check security --pass --note "pen test 2026-11"
    """
    from modelreg.errors import InvalidInput
    from modelreg.lifecycle.evidence import unrequired_check_hint

    if passed is None:
        raise InvalidInput("give --pass or --fail")
    with open_registry(ctx) as reg:
        result = reg.review(target, check, passed, reject=reject, note=note)
        hint = unrequired_check_hint(result["check"], reg.policy())
    if hint:
        warn(f"recorded {result['check']!r}, which the policy does not require{hint}")
    if out.is_json:
        out.json(result)
    else:
        message(f"{target}: {result['check']} {result['result']} (by {result['actor']}); status {result['status']}")


@app.command(rich_help_panel="5. Approval & deployment")
@output_options(PROMOTE_FIELDS)
def promote(
    ctx: typer.Context,
    target: str = typer.Argument(..., help="MODEL@VERSION.", autocompletion=complete_target),
    canary: Optional[int] = typer.Option(
        None, "--canary", help="Start a controlled rollout with this % of traffic.", metavar="PCT"
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would happen; change nothing (exits as the real run would)."
    ),
    out: Output = Output(),
) -> None:
    """EXPERIMENTAL -> TESTING, or TESTING -> APPROVED when every gate holds (exit 5 lists each unmet gate).

    Example: modelreg promote ms-advanced-reasoning@3.0.1 --canary 10
    """
    from modelreg.errors import PolicyRefused

    with open_registry(ctx) as reg:
        try:
            result = reg.promote(target, canary=canary, dry_run=dry_run)
        except PolicyRefused as exc:
            if dry_run and isinstance(exc.data, dict):
                plan = {**exc.data, "dry_run": True, "would_succeed": False}
                out.json(plan) if out.is_json else message(
                    f"dry run: {target} would be REFUSED: {plan['from']} -> {plan['to']}"
                )
            raise
    if out.is_json:
        out.json(result)
    elif dry_run:
        message(f"dry run: {target} would move {result['from']} -> {result['to']}")
    else:
        extra = (
            f" as canary with {result['canary']['weight']}% (stable {result['canary']['stable']})"
            if result.get("canary")
            else ""
        )
        message(f"promoted {target}: {result['from']} -> {result['to']}{extra}")


@app.command(rich_help_panel="5. Approval & deployment")
@output_options(ROLLOUT_FIELDS)
def rollout(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., metavar="MODEL", autocompletion=complete_model),
    set_weight: Optional[int] = typer.Option(None, "--set", help="Give the canary this % of traffic.", metavar="PCT"),
    complete: bool = typer.Option(False, "--complete", help="The canary becomes the production default."),
    abort: bool = typer.Option(False, "--abort", help="The canary goes back to TESTING."),
    rollback: bool = typer.Option(
        False, "--rollback", help="An earlier APPROVED version becomes the production default again."
    ),
    to: Optional[str] = typer.Option(
        None, "--to", help="With --rollback: that version (default: the newest earlier APPROVED one).", metavar="V"
    ),
    out: Output = Output(),
) -> None:
    """Move a controlled rollout (--set PCT, --complete, --abort) or roll back the production default.

    Example: modelreg rollout ms-advanced-reasoning --set 50
    Example: modelreg rollout ms-advanced-reasoning --rollback --to 3.0.1
    """
    from modelreg.errors import InvalidInput

    if to is not None and not rollback:
        raise InvalidInput("--to goes with --rollback")
    with open_registry(ctx) as reg:
        if rollback:
            if set_weight is not None or complete or abort:
                raise InvalidInput("--rollback takes no --set, --complete or --abort")
            result = reg.rollback(model_id, to=to)
        else:
            result = reg.rollout(model_id, set_weight=set_weight, complete=complete, abort=abort)
    if out.is_json:
        out.json(result)
    elif rollback:
        message(f"{model_id}: rolled back; production default {result['default']} (was {result['from']})")
    else:
        message(
            f"{model_id}: rollout {result['action']}: "
            + ", ".join(f"{k}={v}" for k, v in result.items() if k not in ("model_id", "action"))
        )


@app.command(rich_help_panel="Lifecycle")
@output_options(DEPRECATE_FIELDS + SWEEP_FIELDS)
def deprecate(
    ctx: typer.Context,
    target: Optional[str] = typer.Argument(
        None, help="MODEL@VERSION (not with --sweep).", autocompletion=complete_target
    ),
    reason: Optional[str] = typer.Option(None, "--reason", help="Why (required to deprecate)."),
    notice_days: Optional[int] = typer.Option(
        None, "--notice-days", help="Days until retirement (default: policy, 90)."
    ),
    retire_on: Optional[str] = typer.Option(
        None, "--retire-on", help="Retirement date YYYY-MM-DD (UTC).", metavar="DATE"
    ),
    replacement: Optional[str] = typer.Option(
        None, "--replacement", help="MODEL@VERSION to move to.", metavar="MODEL@V"
    ),
    cancel: bool = typer.Option(False, "--cancel", help="Revert a deprecation before retirement."),
    sweep: bool = typer.Option(
        False, "--sweep", help="For cron: retire what is due, raise notices, report broken fallbacks."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="With --sweep: report, change nothing."),
    out: Output = Output(),
) -> None:
    """APPROVED -> DEPRECATED with notice; --cancel reverts; --sweep retires what is due (cron).

    Example: modelreg deprecate ms-advanced-reasoning@3.0.1 --reason "superseded" --replacement ms-advanced-reasoning@4.0.0
    Example (cron): modelreg deprecate --sweep --json
    """
    from modelreg.errors import InvalidInput

    if sweep:
        extra = [
            n
            for n, v in (
                ("MODEL@VERSION", target),
                ("--reason", reason),
                ("--notice-days", notice_days),
                ("--retire-on", retire_on),
                ("--replacement", replacement),
            )
            if v is not None
        ]
        if extra or cancel:
            raise InvalidInput(f"--sweep takes no {', '.join(extra) or '--cancel'}")
        with open_registry(ctx) as reg:
            report = reg.sweep(dry_run=dry_run)
        out.json(report) if out.is_json else _print_sweep(report)
        return
    if dry_run:
        raise InvalidInput("--dry-run goes with --sweep")
    if target is None:
        raise InvalidInput("give MODEL@VERSION, or --sweep")
    if cancel and any(v is not None for v in (reason, notice_days, retire_on, replacement)):
        raise InvalidInput("--cancel takes no --reason/--notice-days/--retire-on/--replacement")
    with open_registry(ctx) as reg:
        if cancel:
            result = reg.cancel_deprecation(target)
        else:
            result = reg.deprecate(
                target, reason=reason or "", notice_days=notice_days, retire_on=retire_on, replacement=replacement
            )
    if out.is_json:
        out.json(result)
    elif cancel:
        message(f"{target}: deprecation cancelled; status {result['status']}")
    else:
        from modelreg.consumers import note

        rep = f", replacement {result['replacement']}" if result["replacement"] else ""
        message(
            f"deprecated {target}: retires on {result['retire_on']} UTC ({result['days_of_notice']} days' notice{rep})"
        )
        in_use = note(target, result.get("consumers") or [])
        if in_use:
            warn(in_use)


def _print_sweep(report: dict) -> None:
    from modelreg.cli.local_time import for_people
    from modelreg.cli.output import for_terminal, safe

    prefix = "dry run: would retire" if report["dry_run"] else "retired"
    lines = [f"sweep as of {for_people(report['as_of']) if for_terminal() else report['as_of']}"]
    lines += [f"  {prefix} {t}" for t in report["retired"]]
    lines += [
        f"  notice: {n['target']} retires on {n['retire_on']} ({n['days_left']} days left)"
        + (f"; still used by {', '.join(n['consumers'])}" if n.get("consumers") else "")
        for n in report["notices"]
    ]
    lines += [
        f"  broken fallback: {b['model_id']} -> {b['target']} resolves to nothing" for b in report["broken_fallbacks"]
    ]
    lines.append(
        f"  {len(report['retired'])} retired, {len(report['notices'])} notices, "
        f"{len(report['broken_fallbacks'])} broken fallbacks, {report['unchanged']} unchanged"
    )
    sys.stdout.write("\n".join(safe(line) for line in lines) + "\n")


fallback_app = typer.Typer(
    help="Ordered fallback models for a primary model.\n\nExample: modelreg fallback set ms-advanced-reasoning ms-standard",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(fallback_app, name="fallback", rich_help_panel="Lifecycle")


@fallback_app.command("set")
@output_options(FALLBACK_FIELDS)
def fallback_set(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., metavar="MODEL", autocompletion=complete_model),
    targets: list[str] = typer.Argument(
        ..., metavar="TARGET...", help="model or model@version, in order.", autocompletion=complete_target
    ),
    out: Output = Output(),
) -> None:
    """Set the ordered fallbacks of MODEL (replaces the list).

    Example: modelreg fallback set ms-advanced-reasoning ms-standard ms-standard@1.9.0
    """
    with open_registry(ctx) as reg:
        result = reg.set_fallbacks(model_id, list(targets))
    out.json(result) if out.is_json else message(f"{model_id} falls back to: {', '.join(result['fallbacks'])}")


@fallback_app.command("show")
@output_options(("target", "resolves_to", "status"), plain=True)
def fallback_show(
    ctx: typer.Context,
    model_id: str = typer.Argument(..., metavar="MODEL", autocompletion=complete_model),
    out: Output = Output(),
) -> None:
    """Show MODEL's fallbacks and what each resolves to now.

    Example: modelreg fallback show ms-advanced-reasoning
    """
    with open_registry(ctx) as reg:
        result = reg.show_fallbacks(model_id)
    if out.is_json:
        out.json(result)
    else:
        out.rows(result["fallbacks"], [("target", "TARGET"), ("resolves_to", "RESOLVES TO"), ("status", "STATUS")])


@fallback_app.command("clear")
def fallback_clear(
    ctx: typer.Context, model_id: str = typer.Argument(..., metavar="MODEL", autocompletion=complete_model)
) -> None:
    """Remove every fallback of MODEL.

    Example: modelreg fallback clear ms-advanced-reasoning
    """
    with open_registry(ctx) as reg:
        reg.clear_fallbacks(model_id)
    message(f"{model_id}: fallbacks cleared")


@app.command(rich_help_panel="Query")
@output_options(RESOLVE_FIELDS)
def resolve(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model"),
    provider: Optional[str] = typer.Option(None, "--provider"),
    capability: list[str] = typer.Option([], "--capability", help="Repeatable; all must match."),
    domain: Optional[str] = typer.Option(None, "--domain"),
    residency: Optional[str] = typer.Option(None, "--residency"),
    key: Optional[str] = typer.Option(None, "--key", help="Caller key: picks stable or canary by a stable hash."),
    prerelease: bool = typer.Option(False, "--prerelease", help="Allow SemVer pre-releases."),
    out: Output = Output(),
) -> None:
    """The guide's getLatestApproved: the version an application should call, as JSON (exit 3: nothing fits).

    Example: modelreg resolve --provider mindstudio --capability text-generation --key user-42
    """
    with open_registry(ctx) as reg:
        result = reg.resolve(
            model=model,
            provider=provider,
            capabilities=capability,
            domain=domain,
            residency=residency,
            key=key,
            prerelease=prerelease,
        )
    out.json(result.to_dict())
