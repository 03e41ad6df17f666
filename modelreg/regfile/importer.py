"""Import: a registry file -> a plan -> applied through the lifecycle engine.

Everything goes through the same engine functions as the commands, as the
importing actor, with their roles and gates; the file is desired state:

* New models and versions are registered now, by the importing actor (the
  file's registration times and actors are history of another registry).
  A model's owner and description may change.
* A version's manifest part (capabilities, parameters, SLO, compliance,
  endpoint, description) and its lineage are immutable: a change is a new
  version (refused). Labels (of models and versions), a model's contacts and
  a version's model card follow the file (`label set|unset`, `card set`).
* A status beyond the current one is reached through the engine's
  transitions (promote, canary and rollout, deprecate, cancel, reject,
  retire); the gates judge the evidence recorded in *this* registry, so an
  approval the file claims is applied only when this registry's reviews and
  benchmark runs support it. Reviews, benchmark runs, approvals, retirement
  notices and history in a file are never accepted as evidence: records the
  file has and the registry lacks are listed as warnings.
* Advisories the file adds are recorded; one the file withdraws is withdrawn
  (an approver's act).
* Fallbacks change through `fallback set` (targets must resolve now).
* Nothing is ever deleted.

All-or-nothing: one transaction; when anything is refused nothing is
written (exit 5) and the plan lists every refusal with its reason. Each item
runs in a savepoint, so a refused item leaves no trace in the ones after it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from modelreg.errors import ModelregError, PolicyRefused
from modelreg.lifecycle import fallbacks, registration, transitions
from modelreg.lifecycle import metadata as version_metadata
from modelreg.lifecycle.status import Status
from modelreg.manifest import parse_version_spec
from modelreg.monitoring import advisories
from modelreg.regfile.document import LINEAGE_KEYS, SPEC_KEYS, check_entry, version_entry
from modelreg.store import metadata_queries, queries
from modelreg.store.monitoring_tables import Advisory
from modelreg.store.tables import Model, ModelVersion
from modelreg.targets import parse_target


@dataclass
class PlanEntry:
    action: str  # added | changed | unchanged | refused
    kind: str  # model | version | advisory
    target: str
    reason: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "target": self.target, "reason": self.reason}


@dataclass
class ImportPlan:
    entries: list[PlanEntry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False

    def add(self, action: str, kind: str, target: str, reason: str = "") -> None:
        self.entries.append(PlanEntry(action, kind, target, reason))

    def of(self, action: str) -> list[PlanEntry]:
        return [e for e in self.entries if e.action == action]

    @property
    def refused(self) -> list[PlanEntry]:
        return self.of("refused")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "applied": self.applied,
            **{
                action: [e.to_dict() for e in self.of(action)]
                for action in ("added", "changed", "unchanged", "refused")
            },
            "warnings": list(self.warnings),
        }


class ImportRefused(PolicyRefused):
    """Something in the file was refused; nothing was written. Carries the plan."""

    def __init__(self, plan: ImportPlan):
        refused = plan.refused
        super().__init__(
            f"import refused: {len(refused)} item(s) cannot be applied; nothing was written",
            details=[f"{e.target}: {e.reason}" for e in refused],
            data=plan,
        )
        self.plan = plan


def reason(exc: ModelregError) -> str:
    """A refusal as one plan line: the message and every detail (e.g. each unmet gate)."""
    return exc.message + (": " + "; ".join(exc.details) if exc.details else "")


class Importer:
    def __init__(self, tx, doc: dict[str, Any]):
        self.tx = tx
        self.session = tx.session
        self.doc = doc
        self.plan = ImportPlan()
        self.pending_advisories: list[dict[str, Any]] = []  # advisories of models this file adds

    def attempt(self, fn: Callable[[], Any]) -> Any:
        """Run one engine step in a savepoint; a refusal undoes it (and its audit events)."""
        mark = self.tx.events.mark()
        nested = self.session.begin_nested()
        try:
            result = fn()
            self.session.flush()
        except ModelregError:
            nested.rollback()
            self.tx.events.reset(mark)
            raise
        nested.commit()
        return result

    def run(self) -> ImportPlan:
        for adv in self.doc.get("advisories", []):
            self.advisory(adv)
        for model_id, model in self.doc["models"].items():
            self.model(model_id, model)
        for model_id, model in self.doc["models"].items():
            self.fallbacks(model_id, model)
        return self.plan

    # -- advisories ------------------------------------------------------------
    def advisory(self, adv: dict[str, Any]) -> None:
        target = f"advisory {adv['advisory_id']} ({adv['model_id']})"
        row = self.session.get(Advisory, (adv["advisory_id"], adv["model_id"]))
        try:
            if row is None:
                if self.session.get(Model, adv["model_id"]) is None and adv["model_id"] not in self.doc["models"]:
                    self.plan.add("refused", "advisory", target, f"unknown model {adv['model_id']!r}")
                    return
                if self.session.get(Model, adv["model_id"]) is None:
                    self.pending_advisories.append(adv)
                    return
                self._add_advisory(adv)
                return
            differing = [k for k in ("affected", "severity", "summary") if getattr(row, k) != adv[k]]
            if differing:
                self.plan.add(
                    "refused",
                    "advisory",
                    target,
                    f"differs from the registry in {', '.join(differing)}; "
                    "a recorded advisory is not changed by an import",
                )
            elif row.status == adv["status"]:
                self.plan.add("unchanged", "advisory", target)
            elif adv["status"] == "withdrawn":
                self.attempt(lambda: advisories.withdraw(self.tx, adv["advisory_id"], model_id=adv["model_id"]))
                self.plan.add("changed", "advisory", target, "withdrawn")
            else:
                self.plan.add(
                    "refused",
                    "advisory",
                    target,
                    "is withdrawn in the registry; record a new advisory instead of re-opening it",
                )
        except ModelregError as exc:
            self.plan.add("refused", "advisory", target, reason(exc))

    def _add_advisory(self, adv: dict[str, Any]) -> None:
        target = f"advisory {adv['advisory_id']} ({adv['model_id']})"
        self.attempt(
            lambda: advisories.add(
                self.tx,
                adv["advisory_id"],
                model_id=adv["model_id"],
                affected=adv["affected"],
                severity=adv["severity"],
                summary=adv["summary"] or adv["advisory_id"],
            )
        )
        if adv["status"] == "withdrawn":
            self.attempt(lambda: advisories.withdraw(self.tx, adv["advisory_id"], model_id=adv["model_id"]))
        self.plan.add("added", "advisory", target, f"{adv['severity']}, affects {adv['affected']}")

    # -- models and versions ---------------------------------------------------------
    def model(self, model_id: str, model: dict[str, Any]) -> None:
        row = self.session.get(Model, model_id)
        if row is not None and row.provider != model["provider"]:
            self.plan.add(
                "refused",
                "model",
                model_id,
                f"provider is {row.provider!r} in the registry, "
                f"{model['provider']!r} in the file (fixed at registration)",
            )
            return
        new_versions = [
            (v, e)
            for v, e in model["versions"].items()
            if row is None or self.session.get(ModelVersion, (model_id, v)) is None
        ]
        if new_versions:
            specs, refused = [], False
            for version, entry in new_versions:
                try:
                    specs.append(self.spec(model_id, model, version, entry))
                except ModelregError as exc:
                    self.plan.add("refused", "version", f"{model_id}@{version}", reason(exc))
                    refused = True
            if refused:
                return
            try:
                self.attempt(lambda: registration.register_versions(self.tx, specs))
            except ModelregError as exc:
                self.plan.add("refused", "model" if row is None else "version", model_id, reason(exc))
                return
        if row is None:
            self.plan.add(
                "added", "model", model_id, f"provider {model['provider']}, {len(model['versions'])} version(s)"
            )
            row = self.session.get(Model, model_id)
            for adv in [a for a in self.pending_advisories if a["model_id"] == model_id]:
                self.pending_advisories.remove(adv)
                try:
                    self._add_advisory(adv)
                except ModelregError as exc:
                    self.plan.add("refused", "advisory", f"advisory {adv['advisory_id']} ({model_id})", reason(exc))
        self.model_fields(row, model)
        new = {v for v, _ in new_versions}
        for version, entry in model["versions"].items():
            self.version(self.session.get(ModelVersion, (model_id, version)), entry, new=version in new)

    def spec(self, model_id: str, model: dict[str, Any], version: str, entry: dict[str, Any]):
        manifest = {k: entry[k] for k in SPEC_KEYS + LINEAGE_KEYS if k in entry and entry[k] is not None}
        manifest.update(
            model_id=model_id,
            version=version,
            provider=model["provider"],
            experimental=entry["status"] == Status.EXPERIMENTAL,
            labels=entry.get("labels", {}),
        )
        return parse_version_spec(manifest, f"{model_id}@{version}")

    def model_fields(self, row: Model, model: dict[str, Any]) -> None:
        changes: dict[str, Any] = {k: model[k] for k in ("owner", "description") if getattr(row, k) != model[k]}
        if json.loads(row.contacts) != model.get("contacts", []):
            changes["contacts"] = model.get("contacts", [])
        try:
            labelled = self.labels(row.model_id, None, model.get("labels", {}))
        except ModelregError as exc:
            self.plan.add("refused", "model", row.model_id, reason(exc))
            return
        if labelled:
            changes["labels"] = model.get("labels", {})
        if not changes:
            if not any(e.kind == "model" and e.target == row.model_id for e in self.plan.entries):
                self.plan.add("unchanged", "model", row.model_id)
            return
        fields = {k: v for k, v in changes.items() if k != "labels"}
        try:
            if fields:
                self.attempt(lambda: registration.update_model(self.tx, row.model_id, **fields))
        except ModelregError as exc:
            self.plan.add("refused", "model", row.model_id, reason(exc))
            return
        if not any(e.kind == "model" and e.target == row.model_id for e in self.plan.entries):
            self.plan.add("changed", "model", row.model_id, ", ".join(f"{k} -> {v!r}" for k, v in changes.items()))

    def labels(self, model_id: str, version: str | None, wanted: dict[str, str]) -> bool:
        """Make the labels of a model (version None) or a version those of the file; True when they changed."""
        have = metadata_queries.labels_of(self.session, model_id, version or queries.MODEL_LABEL)
        if have == wanted:
            return False
        gone = [k for k in have if k not in wanted]
        changed = {k: v for k, v in wanted.items() if have.get(k) != v}
        if gone:
            self.attempt(lambda: version_metadata.unset_labels(self.tx, model_id, version, gone))
        if changed:
            self.attempt(lambda: version_metadata.set_labels(self.tx, model_id, version, changed))
        return True

    def metadata(self, row: ModelVersion, entry: dict[str, Any], *, new: bool) -> list[str]:
        """Labels and the model card of a version, as the file has them (a new version got its labels at registration)."""
        done = []
        if not new and self.labels(row.model_id, row.version, entry.get("labels", {})):
            done.append("labels")
        card = entry.get("card")
        current = metadata_queries.card(self.session, row.model_id, row.version)
        if card and (current is None or current.sha256 != card["sha256"]):
            self.attempt(lambda: version_metadata.set_card(self.tx, row.model_id, row.version, card["body"]))
            done.append("model card")
        elif not card and current is not None:
            self.plan.warnings.append(
                f"{row.model_id}@{row.version}: the registry's model card is kept (an import never deletes one)"
            )
        return done

    def version(self, row: ModelVersion, entry: dict[str, Any], *, new: bool) -> None:
        target = f"{row.model_id}@{row.version}"
        lineage = metadata_queries.lineage_for(self.session, [(row.model_id, row.version)])
        current = version_entry(row, lineage.get((row.model_id, row.version)))
        if not new:
            spec_changes = [k for k in SPEC_KEYS + LINEAGE_KEYS if current.get(k) != entry.get(k)]
            if spec_changes:
                self.plan.add(
                    "refused",
                    "version",
                    target,
                    f"{', '.join(spec_changes)} differ(s) from the registered version; a change is a new version",
                )
                return
        self.evidence_warnings(row, entry)
        try:
            done = self.metadata(row, entry, new=new) + self.transitions(row, entry)
        except ModelregError as exc:
            self.plan.add("refused", "version", target, reason(exc))
            return
        if new:
            self.plan.add("added", "version", target, ", ".join([f"registered by {self.tx.actor}"] + done))
        elif done:
            self.plan.add("changed", "version", target, ", ".join(done))
        else:
            self.plan.add("unchanged", "version", target)

    def evidence_warnings(self, row: ModelVersion, entry: dict[str, Any]) -> None:
        target = f"{row.model_id}@{row.version}"
        have_checks = {
            tuple(check_entry(c).items()) for c in queries.all_checks(self.session, row.model_id, row.version)
        }
        extra_checks = [c for c in entry.get("checks", []) if tuple(c.items()) not in have_checks]
        have_runs = {r.run_id for r in queries.benchmark_runs(self.session, row.model_id, row.version)}
        extra_runs = [r for r in entry.get("benchmarks", []) if r["run_id"] not in have_runs]
        if extra_checks or extra_runs:
            self.plan.warnings.append(
                f"{target}: {len(extra_checks)} check(s) and {len(extra_runs)} benchmark run(s) in the file are not "
                "evidence here (they are recorded only by `modelreg review` and `modelreg benchmark`)"
            )

    def transitions(self, row: ModelVersion, e: dict[str, Any]) -> list[str]:
        """Move `row` toward the file's status and canary weight, one engine step at a time."""
        tx, mid, ver = self.tx, row.model_id, row.version
        wanted, weight = e["status"], e.get("canary_weight")
        model = self.session.get(Model, mid)
        done: list[str] = []

        def step(label: str, fn: Callable[[], Any]) -> None:
            self.attempt(fn)
            done.append(label)

        if row.status == Status.APPROVED and model.canary_version == ver:
            if wanted == Status.TESTING:
                step("rollout aborted: back to TESTING", lambda: transitions.rollout(tx, mid, abort=True))
                return done
            if wanted == Status.APPROVED and weight is None:
                step("rollout completed", lambda: transitions.rollout(tx, mid, complete=True))
            elif wanted == Status.APPROVED and weight != row.canary_weight:
                step(f"canary weight {weight}%", lambda: transitions.rollout(tx, mid, set_weight=weight))
        if row.status == Status.EXPERIMENTAL and wanted != Status.EXPERIMENTAL:
            step("EXPERIMENTAL -> TESTING", lambda: transitions.promote(tx, mid, ver))
        if row.status == Status.TESTING and wanted == Status.REJECTED:
            step("TESTING -> REJECTED", lambda: transitions.reject(tx, mid, ver))
        if row.status == Status.TESTING and wanted in (Status.APPROVED, Status.DEPRECATED, Status.RETIRED):
            label = f"TESTING -> APPROVED{f' as canary with {weight}%' if weight else ''} by {tx.actor}"
            step(label, lambda: transitions.promote(tx, mid, ver, canary=weight))
        if row.status == Status.DEPRECATED and wanted == Status.APPROVED:
            step("deprecation cancelled", lambda: transitions.cancel_deprecation(tx, mid, ver))
        if row.status == Status.APPROVED and wanted in (Status.DEPRECATED, Status.RETIRED):
            missing = [k for k in ("deprecation_reason", "retire_on") if k not in e]
            if missing:
                raise PolicyRefused(f"to deprecate, the file must give {', '.join(missing)}")
            replacement = parse_target(e["replacement"]) if e.get("replacement") else None
            step(
                f"APPROVED -> DEPRECATED (retires on {e['retire_on']})",
                lambda: transitions.deprecate(
                    tx, mid, ver, reason=e["deprecation_reason"], retire_on=e["retire_on"], replacement=replacement
                ),
            )
        if row.status == Status.DEPRECATED and wanted == Status.RETIRED:
            retired = self.attempt(lambda: transitions.retire_due(tx, [row]))
            if not retired:
                raise PolicyRefused(f"cannot retire before its retire_on {row.retire_on} (the sweep retires it then)")
            done.append("DEPRECATED -> RETIRED")
        if row.status != wanted:
            raise PolicyRefused(
                f"is {row.status} in the registry; the file's {wanted} cannot be reached from it"
                + (f" (done: {', '.join(done)})" if done else "")
            )
        return done

    def fallbacks(self, model_id: str, model: dict[str, Any]) -> None:
        row = self.session.get(Model, model_id)
        if row is None or json.loads(row.fallbacks) == model["fallbacks"]:
            return
        try:
            self.attempt(
                lambda: fallbacks.set_fallbacks(self.tx, model_id, model["fallbacks"], clearing=not model["fallbacks"])
            )
        except ModelregError as exc:
            self._refuse_model(model_id, reason(exc))
            return
        for e in self.plan.entries:
            if e.kind == "model" and e.target == model_id and e.action in ("changed", "unchanged"):
                e.action = "changed"
                e.reason = ", ".join(
                    filter(None, [e.reason, f"fallbacks -> {', '.join(model['fallbacks']) or 'none'}"])
                )
                return

    def _refuse_model(self, model_id: str, reason: str) -> None:
        for e in self.plan.entries:
            if e.kind == "model" and e.target == model_id:
                e.action, e.reason = "refused", reason
                return
        self.plan.add("refused", "model", model_id, reason)


def apply(tx, doc: dict[str, Any], *, dry_run: bool = False) -> ImportPlan:
    """Plan and apply in the caller's transaction; ImportRefused (exit 5) when
    anything is refused (the caller's transaction then writes nothing)."""
    plan = Importer(tx, doc).run()
    plan.dry_run = dry_run
    if plan.refused:
        raise ImportRefused(plan)
    return plan
