"""Every change of a version's status or rollout, each defined once:
promote (EXPERIMENTAL -> TESTING, or the gated TESTING -> APPROVED, as the
production default or as a canary), rollout (set, complete, abort),
rollback, deprecate, cancel a deprecation, reject, retire.

Each runs inside the caller's write transaction (`tx`): it checks the
actor's role, locks the model row, checks the current state and the gates,
changes the rows and appends one audit event (and one lifecycle event).
Commands, the library, `import`, the sweep and alerts all come here.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, update
from sqlmodel import col

from modelreg import clock
from modelreg.errors import Conflict, InvalidInput, PolicyRefused
from modelreg.lifecycle import authority, events, evidence, production, usage
from modelreg.lifecycle.authority import Role
from modelreg.lifecycle.gates import unmet_gates
from modelreg.lifecycle.status import LIVE, REPLACEMENT_OK, Status, require_transition
from modelreg.policy import MAX_DAYS
from modelreg.store import queries
from modelreg.store.tables import Model, ModelVersion


def require(target: str, row: ModelVersion, new: Status) -> None:
    require_transition(target, row.status, new.value)


def snapshot(row: ModelVersion) -> dict[str, Any]:
    """What a lifecycle audit event records before and after a change."""
    return {
        "status": row.status,
        "canary_weight": row.canary_weight,
        "retire_on": row.retire_on,
        "replacement": row.replacement,
    }


def _percent(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 99:
        raise InvalidInput(f"{what}: expected a whole percentage from 1 to 99, got {value!r}")
    return value


def _locked(tx, model_id: str, version: str) -> tuple[Model, ModelVersion]:
    model = queries.lock_model(tx.session, model_id)
    return model, queries.version(tx.session, model_id, version)


def _default_of(session, model: Model) -> ModelVersion | None:
    return production.production_default(queries.versions_of(session, model.model_id, LIVE), model.canary_version)


def _changed(tx, model: Model, row: ModelVersion, action: str, before: dict, **extra: Any) -> None:
    row.status_changed_at = tx.now
    model.row_version += 1
    tx.audit(action, f"{row.model_id}@{row.version}", before, {**snapshot(row), **extra})


# -- step 5: approval & deployment ------------------------------------------------------
def approval_plan(tx, model: Model, row: ModelVersion, canary: int | None) -> dict[str, Any]:
    """What promoting `row` would do, with every unmet gate."""
    target = f"{row.model_id}@{row.version}"
    if row.status == Status.EXPERIMENTAL:
        if canary is not None:
            raise InvalidInput("--canary applies to TESTING -> APPROVED, not EXPERIMENTAL -> TESTING")
        authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), f"move {target} to TESTING")
        return {"target": target, "from": row.status, "to": Status.TESTING.value, "unmet": []}
    if row.status == Status.DEPRECATED:
        raise Conflict(f"{target} is DEPRECATED; `modelreg deprecate {target} --cancel` reinstates it")
    require(target, row, Status.APPROVED)
    authority.require(tx, Role.APPROVER, f"approve {target}")
    gates = unmet_gates(tx.policy, evidence.load(tx.session, row), tx.actor, clock.parse_instant(tx.now))
    plan: dict[str, Any] = {
        "target": target,
        "from": row.status,
        "to": Status.APPROVED.value,
        "unmet": gates,
        "policy_version": tx.policy.version,
    }
    if canary is not None:
        if model.canary_version:
            raise Conflict(
                f"{row.model_id} already has a canary ({model.canary_version}); "
                f"`modelreg rollout {row.model_id} --complete` or --abort it first"
            )
        stable = _default_of(tx.session, model)
        if stable is None or stable.status != Status.APPROVED:
            raise Conflict(f"{row.model_id} has no production default to share traffic with; promote without --canary")
        plan["canary"] = {"weight": canary, "stable": stable.version}
    return plan


def promote(tx, model_id: str, version: str, *, canary: int | None = None) -> dict[str, Any]:
    if canary is not None:
        _percent(canary, "--canary")
    model, row = _locked(tx, model_id, version)
    plan = approval_plan(tx, model, row, canary)
    if plan["unmet"]:
        raise PolicyRefused(
            f"{plan['target']} cannot be promoted to APPROVED: {len(plan['unmet'])} unmet gate(s)",
            details=plan["unmet"],
            data=plan,
        )
    before = snapshot(row)
    row.status = plan["to"]
    if plan["to"] == Status.APPROVED:
        row.approved_at, row.approved_by = tx.now, tx.actor
        if canary is None:
            row.default_since = tx.now
        else:
            row.canary_weight = canary
            model.canary_version = row.version
        _changed(tx, model, row, "promote" if canary is None else "promote.canary", before)
        events.emit(tx, "version.approved", plan["target"], {"canary_weight": canary})
    else:
        _changed(tx, model, row, "promote", before)
    return plan


def rollout(
    tx, model_id: str, *, set_weight: int | None = None, complete: bool = False, abort: bool = False
) -> dict[str, Any]:
    if sum([set_weight is not None, complete, abort]) != 1:
        raise InvalidInput("give exactly one of --set PCT, --complete, --abort")
    if set_weight is not None:
        _percent(set_weight, "--set")
    authority.require(tx, Role.APPROVER, f"move the rollout of {model_id}")
    model = queries.lock_model(tx.session, model_id)
    if not model.canary_version:
        raise Conflict(
            f"{model_id} has no rollout in progress (start one with `modelreg promote {model_id}@V --canary PCT`)"
        )
    row = queries.version(tx.session, model_id, model.canary_version)
    target = f"{model_id}@{row.version}"
    before = snapshot(row)
    if set_weight is not None:
        row.canary_weight = set_weight
        action, outcome = "rollout.set", {"canary": row.version, "weight": set_weight}
        model.row_version += 1
        tx.audit(action, target, before, snapshot(row))
    elif complete:
        row.canary_weight, row.default_since = None, tx.now
        model.canary_version = None
        action, outcome = "rollout.complete", {"default": row.version}
        model.row_version += 1
        tx.audit(action, target, before, snapshot(row))
    else:
        row.canary_weight, row.status = None, Status.TESTING.value
        row.approved_at = row.approved_by = None
        model.canary_version = None
        action, outcome = "rollout.abort", {"canary": row.version, "status": row.status}
        _changed(tx, model, row, action, before)
    events.emit(tx, "rollout.changed", target, {"action": action.split(".")[1], **outcome})
    return {"model_id": model_id, "action": action.split(".")[1], **outcome}


def rollback(tx, model_id: str, *, to: str | None = None) -> dict[str, Any]:
    """Make an earlier APPROVED version the production default again (the
    newest APPROVED version below the current default, or `to`)."""
    authority.require(tx, Role.APPROVER, f"roll back {model_id}")
    model = queries.lock_model(tx.session, model_id)
    if model.canary_version:
        raise Conflict(f"{model_id} has a rollout in progress; `modelreg rollout {model_id} --abort` it instead")
    live = queries.versions_of(tx.session, model_id, LIVE)
    current = production.production_default(live, None)
    if current is None or current.status != Status.APPROVED:
        raise Conflict(f"{model_id} has no APPROVED production default to roll back from")
    if to is not None:
        row = next((v for v in live if v.version == to), None)
        if row is None:
            queries.version(tx.session, model_id, to)  # NotFound names it when it does not exist
            raise Conflict(f"{model_id}@{to} is not APPROVED; only an APPROVED version can become the default again")
        if row.status != Status.APPROVED:
            raise Conflict(f"{model_id}@{to} is {row.status}; only an APPROVED version can become the default again")
        if row.version == current.version:
            raise Conflict(f"{model_id}@{to} is already the production default")
    else:
        earlier = [
            v
            for v in live
            if v.status == Status.APPROVED and v.version != current.version and v.version_key < current.version_key
        ]
        if not earlier:
            raise Conflict(
                f"{model_id} has no earlier APPROVED version to roll back to (deprecated versions are "
                "reinstated with `modelreg deprecate M@V --cancel` first)"
            )
        row = max(earlier, key=lambda v: v.version_key)
    before = {"default": current.version}
    row.default_since = tx.now
    model.row_version += 1
    target = f"{model_id}@{row.version}"
    tx.audit("rollback", target, before, {"default": row.version, "from": current.version})
    events.emit(tx, "version.rolled_back", target, {"from": current.version, "to": row.version})
    return {"model_id": model_id, "default": row.version, "from": current.version}


# -- deprecation --------------------------------------------------------------------------------
def retire_date(tx, notice_days: int | None, retire_on: str | None) -> date:
    today = date.fromisoformat(tx.now[:10])
    policy = tx.policy
    if notice_days is not None and retire_on is not None:
        raise InvalidInput("give --notice-days or --retire-on, not both")
    if retire_on is not None:
        try:
            when = date.fromisoformat(retire_on)
        except (TypeError, ValueError):
            raise InvalidInput(
                f"invalid --retire-on {str(retire_on)[:40]!r}: expected a date YYYY-MM-DD (UTC)"
            ) from None
        days = (when - today).days
        if days > MAX_DAYS:
            raise InvalidInput(f"--retire-on {retire_on} is more than {MAX_DAYS} days away")
    else:
        days = policy.deprecation_notice_days if notice_days is None else notice_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 0 or days > MAX_DAYS:
            raise InvalidInput(f"invalid --notice-days {days!r}: expected whole days from 0 to {MAX_DAYS}")
        when = today + timedelta(days=days)
    if days < policy.deprecation_notice_days:
        raise PolicyRefused(
            f"a notice of {days} day(s) is shorter than the policy's {policy.deprecation_notice_days} "
            f"(policy.deprecation_notice_days); retire on "
            f"{today + timedelta(days=policy.deprecation_notice_days)} or later"
        )
    return when


def deprecate(
    tx,
    model_id: str,
    version: str,
    *,
    reason: str,
    notice_days: int | None = None,
    retire_on: str | None = None,
    replacement: tuple[str, str] | None = None,
) -> dict[str, Any]:
    target = f"{model_id}@{version}"
    if not isinstance(reason, str) or not reason.strip() or len(reason) > evidence.MAX_NOTE:
        raise InvalidInput("--reason is required (why this version is deprecated)")
    if replacement is not None and replacement == (model_id, version):
        raise InvalidInput("a version cannot replace itself")
    authority.require(tx, Role.APPROVER, f"deprecate {target}")
    model, row = _locked(tx, model_id, version)
    require(target, row, Status.DEPRECATED)
    if model.canary_version:
        default = _default_of(tx.session, model)
        if model.canary_version == version or (default is not None and default.version == version):
            raise Conflict(f"{model_id} has a rollout in progress; complete or abort it before deprecating {target}")
    when = retire_date(tx, notice_days, retire_on)
    replacement_text = None
    if replacement is not None:
        replacement_text = f"{replacement[0]}@{replacement[1]}"
        rep = tx.session.get(ModelVersion, replacement)
        if rep is None:
            raise queries.unknown_version(tx.session, *replacement, "replacement")
        if rep.status not in REPLACEMENT_OK:
            raise Conflict(f"replacement {replacement_text} is {rep.status}; name a live version")
    before = snapshot(row)
    row.status = Status.DEPRECATED.value
    row.deprecated_at, row.deprecated_by = tx.now, tx.actor
    row.deprecation_reason, row.retire_on, row.replacement = reason.strip(), when.isoformat(), replacement_text
    _changed(tx, model, row, "deprecate", before, reason=row.deprecation_reason)
    consumers = usage.seen(tx.session, [(model_id, version)], tx.now)[(model_id, version)]
    events.emit(
        tx,
        "version.deprecated",
        target,
        {
            "retire_on": row.retire_on,
            "replacement": replacement_text,
            "reason": row.deprecation_reason,
            "consumers": usage.names(consumers),
            **queries.owners_of(tx.session, [model_id])[model_id],
        },
    )
    return {
        "target": target,
        "status": row.status,
        "retire_on": row.retire_on,
        "replacement": replacement_text,
        "days_of_notice": (when - date.fromisoformat(tx.now[:10])).days,
        "consumers": consumers,
    }


def cancel_deprecation(tx, model_id: str, version: str) -> dict[str, Any]:
    target = f"{model_id}@{version}"
    authority.require(tx, Role.APPROVER, f"cancel the deprecation of {target}")
    model, row = _locked(tx, model_id, version)
    if row.status != Status.DEPRECATED:
        raise Conflict(f"{target} is {row.status}, not DEPRECATED; nothing to cancel")
    before = snapshot(row)
    row.status = Status.APPROVED.value
    row.deprecated_at = row.deprecated_by = row.deprecation_reason = row.retire_on = row.replacement = None
    _changed(tx, model, row, "deprecate.cancel", before)
    events.emit(tx, "deprecation.cancelled", target, {})
    return {"target": target, "status": row.status}


def reject(tx, model_id: str, version: str) -> dict[str, Any]:
    """TESTING -> REJECTED, when the newest result of some check is a fail
    (`review --fail --reject`, or an import)."""
    target = f"{model_id}@{version}"
    authority.require(tx, Role.OPERATOR, f"reject {target}")
    model, row = _locked(tx, model_id, version)
    require(target, row, Status.REJECTED)
    failed = sorted(n for n, c in queries.latest_checks(tx.session, model_id, version).items() if c.result == "fail")
    if not failed:
        raise PolicyRefused(f"{target} cannot be REJECTED: no check's newest result is a fail")
    before = snapshot(row)
    row.status, row.rejected_at = Status.REJECTED.value, tx.now
    _changed(tx, model, row, "reject", before, failed=failed)
    return {"target": target, "status": row.status, "failed": failed}


def retire_due(tx, due: Iterable[Any]) -> list[str]:
    """DEPRECATED -> RETIRED for versions whose retire_on has come (the
    sweep): rows with model_id, version, retire_on, replacement. One ordered
    lock statement per chunk of models and one bulk update, so a sweep of
    thousands stays one short transaction; each version gets its own event."""
    authority.require_any(tx, (Role.OPERATOR, Role.APPROVER), "retire versions (the sweep)")
    rows = [r for r in due if date.fromisoformat(r.retire_on) <= date.fromisoformat(tx.now[:10])]
    if not rows:
        return []
    models = sorted({r.model_id for r in rows})
    queries.lock_models(tx.session, models)
    table = ModelVersion.__table__  # type: ignore[attr-defined]
    statement = (
        update(table)
        .where(
            table.c.model_id == bindparam("m"),
            table.c.version == bindparam("v"),
            table.c.status == Status.DEPRECATED.value,
        )
        .values(status=Status.RETIRED.value, retired_at=tx.now, status_changed_at=tx.now)
    )
    tx.session.execute(statement, [{"m": r.model_id, "v": r.version} for r in rows])
    for part in queries.chunks(models):
        tx.session.execute(
            update(Model).where(col(Model.model_id).in_(part)).values(row_version=col(Model.row_version) + 1)
        )
    retired = []
    still_used = usage.seen(tx.session, [(r.model_id, r.version) for r in rows], tx.now)
    owners = queries.owners_of(tx.session, models)
    for r in rows:
        target = f"{r.model_id}@{r.version}"
        tx.audit("retire", target, {"status": "DEPRECATED", "retire_on": r.retire_on}, {"status": "RETIRED"})
        consumers = usage.names(still_used.get((r.model_id, r.version), []))
        events.emit(
            tx,
            "version.retired",
            target,
            {"retire_on": r.retire_on, "replacement": r.replacement, "consumers": consumers, **owners[r.model_id]},
        )
        retired.append(target)
    return retired
