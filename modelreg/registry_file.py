"""Registry as code: the whole registry as one TOML document, and back.

    export   the database -> a canonical document -> TOML (tomli-w)
    import   a TOML file  -> the same canonical document -> a plan -> applied
    diff     the file's canonical document against the database's

The document (``format = 1``) holds every model (provider, owner, created_at,
description, fallbacks) and under it every version: its status, every
timestamp and actor of its lifecycle, the manifest part (capabilities,
parameters, performance SLO, compliance, endpoint), deprecation fields and
canary weight, its check results, benchmark runs (settings and results) and
the retirement notices raised for it; and the security advisories. Alerts,
observations and the audit trail are operational records of one database and
are not exported (the importing database writes its own audit events).

Determinism: models sorted by id, versions by SemVer precedence, checks by
(time, insertion order), benchmark runs by run id, advisories by (model,
id); None is omitted (TOML has no null), as are empty check / run / notice
lists and an empty parameter table. Inside benchmark settings and results a
null value is omitted too; a value that still could not be written as TOML
(a null inside a list) is kept as JSON text, so nothing is ever lost.
Timestamps are fixed-width UTC text (``2026-03-01T12:00:00.000000Z``); the
file may give any ISO 8601 instant (or a TOML datetime) and it is normalised.

Import rules (all-or-nothing: one transaction; if anything is refused,
nothing is written and the plan lists every refusal with its reason):

* Nothing is ever deleted. Models, versions, checks, runs, notices and
  advisories that exist only in the database are kept.
* Records are identified by: model id; ``model@version``; a check by all of
  (name, result, actor, at, note, evidence); a benchmark run by ``run_id``
  (kept on import, so a check's evidence "benchmark run N" stays true); a
  notice by (retire_on, days_before); an advisory by (advisory_id, model_id).
  A record the file adds is written with the recorded values (times and
  actors as in the file); the audit event for it says ``import`` and names
  the importing actor.
* History is not rewritten: a version's manifest part (capabilities,
  parameters, SLO, compliance, endpoint, description) is immutable — a change
  is a new version; a model's provider and created_at, a run, a notice and an
  advisory that differ from the database are refused. A recorded time or
  actor of an existing version that the file states differently is refused;
  one the file leaves out is kept. A model's owner, description and
  fallbacks may change.
* An existing version whose status differs goes through the lifecycle, as
  the importing actor, now (the file's times and actors for that transition
  are not used; `export` afterwards records what happened):
  EXPERIMENTAL->TESTING; TESTING->APPROVED only when `governance.unmet_gates`
  is empty for the importing actor (checks and runs the same file adds count;
  a ``canary_weight`` in the file makes it a canary, as `promote --canary`);
  TESTING->REJECTED when its latest result of some check is a fail;
  APPROVED->DEPRECATED with the file's deprecation_reason, retire_on (at least
  policy.deprecation_notice_days from today) and live replacement;
  DEPRECATED->APPROVED (cancel); DEPRECATED->RETIRED once retire_on has come;
  a canary's weight change, completion (weight dropped, still APPROVED) or
  abort (back to TESTING). Anything else is refused with the allowed moves.
* A new version enters with its recorded status only when its own record in
  the file supports it, judged with the importing database's policy:
  - EXPERIMENTAL / TESTING: no approval, deprecation, retirement or rejection
    fields;
  - REJECTED: rejected_at, and a failed check recorded at or before it;
  - APPROVED, DEPRECATED, RETIRED (it was approved once): approved_at and
    approved_by; every required check's latest result at or before
    approved_at is a pass; when ``benchmark`` is required, the newest
    non-aborted run finished at or before approved_at passed and is at most
    benchmark_max_age_days older than approved_at; approved_by differs from
    registered_by under separation_of_duties and is listed in approvers when
    that list is set; no open advisory created at or before approved_at
    covers it; a canary_weight (APPROVED only) is 1-99, one canary per model;
  - DEPRECATED, RETIRED also: deprecated_at/by, deprecation_reason and a
    retire_on at least deprecation_notice_days after deprecated_at; a
    replacement that exists (in the database or the file);
  - RETIRED also: retired_at on or after retire_on.
  registered_at / registered_by may be left out for a new version: it is
  then registered now by the importing actor.
* Fallbacks: targets must exist (database or file), not be the model itself
  and not form a cycle; a target the file adds to a model that already has
  fallbacks must resolve now, as with `fallback set`. A new model's recorded
  list is reproduced even when a target no longer resolves (e.g. it retired),
  with a warning in the plan.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, text

from modelreg import clock
from modelreg.errors import InvalidInput, PolicyRefused
from modelreg.lifecycle import STATUSES, TRANSITIONS
from modelreg.manifest import SLUG, parse_version_spec
from modelreg.semver import SemVer
from modelreg.store.database import dumps
from modelreg.store.monitoring_tables import Advisory
from modelreg.store.tables import BenchmarkRun, CheckResult, Model, ModelVersion, RetirementNotice, VersionAttribute
from modelreg.targets import parse_target

if TYPE_CHECKING:
    from modelreg.registry import Registry

FORMAT = 1
MAX_TEXT = 4000
APPROVED_ONCE = ("APPROVED", "DEPRECATED", "RETIRED")

# version keys, in the order they are written
LIFECYCLE_KEYS = ("status", "registered_at", "registered_by", "status_changed_at", "approved_at", "approved_by",
                  "default_since", "canary_weight", "deprecated_at", "deprecated_by", "deprecation_reason",
                  "retire_on", "replacement", "retired_at", "rejected_at")
SPEC_KEYS = ("description", "capabilities", "endpoint", "endpoint_kind", "parameters", "performance", "compliance")
RECORD_KEYS = ("checks", "benchmarks", "retirement_notices")
STAMP_KEYS = tuple(k for k in LIFECYCLE_KEYS if k != "status")
MODEL_KEYS = ("provider", "owner", "created_at", "description", "fallbacks", "versions")
CHECK_KEYS = ("name", "result", "actor", "at", "note", "evidence")
RUN_KEYS = ("run_id", "endpoint", "actor", "started_at", "finished_at", "mode", "passed", "aborted", "settings",
            "results")
NOTICE_KEYS = ("retire_on", "days_before", "raised_at")
ADVISORY_KEYS = ("model_id", "advisory_id", "affected", "severity", "summary", "status", "created_at", "created_by")
# which lifecycle fields a status may carry
FIELDS_OF_STATUS = {
    "EXPERIMENTAL": set(),
    "TESTING": set(),
    "REJECTED": {"rejected_at"},
    "APPROVED": {"approved_at", "approved_by", "default_since", "canary_weight"},
    "DEPRECATED": {"approved_at", "approved_by", "default_since", "deprecated_at", "deprecated_by",
                   "deprecation_reason", "retire_on", "replacement"},
    "RETIRED": {"approved_at", "approved_by", "default_since", "deprecated_at", "deprecated_by",
                "deprecation_reason", "retire_on", "replacement", "retired_at"},
}
ALWAYS = {"registered_at", "registered_by", "status_changed_at"}


# -- canonical values ----------------------------------------------------------
def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


class _NotToml(Exception):
    pass


def _tomlable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in sorted(value.items()) if v is not None}
    if isinstance(value, list):
        if any(v is None for v in value):
            raise _NotToml
        return [_tomlable(v) for v in value]
    return value


def payload_to_file(value: Any) -> Any:
    """A benchmark settings/results JSON value -> its canonical TOML form."""
    try:
        return _tomlable(value)
    except _NotToml:
        return dumps(value)


def payload_from_file(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _key_text(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def path_text(parts: list[str]) -> str:
    return ".".join(_key_text(p) for p in parts)


# -- export ----------------------------------------------------------------------
def _version_entry(row: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {k: getattr(row, k) for k in LIFECYCLE_KEYS}
    out["description"] = row.description or ""
    out["capabilities"] = json.loads(row.capabilities)
    out["endpoint"] = row.endpoint
    out["endpoint_kind"] = row.endpoint_kind
    params = json.loads(row.parameters)
    out["parameters"] = {name: params[name] for name in sorted(params)} or None
    out["performance"] = {"avg_latency_ms": row.avg_latency_ms, "p95_latency_ms": row.p95_latency_ms,
                          "cost_per_request_usd": row.cost_per_request_usd}
    out["compliance"] = {"data_residency": json.loads(row.data_residency), "pii_handling": row.pii_handling,
                         "approved_domains": json.loads(row.approved_domains)}
    return _drop_none(out)


def _check_entry(row: CheckResult) -> dict[str, Any]:
    return _drop_none({"name": row.name, "result": row.result, "actor": row.actor, "at": row.at, "note": row.note,
                       "evidence": row.evidence})


def _run_entry(row: BenchmarkRun) -> dict[str, Any]:
    return {"run_id": row.run_id, "endpoint": row.endpoint, "actor": row.actor, "started_at": row.started_at,
            "finished_at": row.finished_at, "mode": row.mode, "passed": bool(row.passed), "aborted": bool(row.aborted),
            "settings": payload_to_file(json.loads(row.settings)), "results": payload_to_file(json.loads(row.results))}


def _advisory_entry(row: Advisory) -> dict[str, Any]:
    return {"model_id": row.model_id, "advisory_id": row.advisory_id, "affected": row.affected,
            "severity": row.severity, "summary": row.summary or "", "status": row.status,
            "created_at": row.created_at, "created_by": row.created_by}


def _finish_version(entry: dict[str, Any], checks: list[dict], runs: list[dict], notices: list[dict]) -> dict:
    if checks:
        entry["checks"] = sorted(checks, key=lambda c: c["at"])  # stable: insertion order within one instant
    if runs:
        entry["benchmarks"] = sorted(runs, key=lambda r: r["run_id"])
    if notices:
        entry["retirement_notices"] = sorted(notices, key=lambda n: (n["retire_on"], -n["days_before"]))
    return entry


def build_document(session) -> dict[str, Any]:
    """The whole registry as the canonical document (plain, TOML-ready values)."""
    checks: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(CheckResult).order_by(CheckResult.id)).scalars():
        checks.setdefault((row.model_id, row.version), []).append(_check_entry(row))
    runs: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(BenchmarkRun).order_by(BenchmarkRun.run_id)).scalars():
        runs.setdefault((row.model_id, row.version), []).append(_run_entry(row))
    notices: dict[tuple[str, str], list[dict]] = {}
    for row in session.execute(select(RetirementNotice)).scalars():
        notices.setdefault((row.model_id, row.version), []).append(
            {"retire_on": row.retire_on, "days_before": row.days_before, "raised_at": row.raised_at})
    versions: dict[str, list[ModelVersion]] = {}
    for row in session.execute(select(ModelVersion).order_by(ModelVersion.model_id, ModelVersion.version_key,
                                                             ModelVersion.version)).scalars():
        versions.setdefault(row.model_id, []).append(row)
    models: dict[str, Any] = {}
    for m in session.execute(select(Model).order_by(Model.model_id)).scalars():
        entry = {"provider": m.provider, "owner": m.owner, "created_at": m.created_at,
                 "description": m.description or "", "fallbacks": json.loads(m.fallbacks), "versions": {}}
        for row in versions.get(m.model_id, []):
            key = (m.model_id, row.version)
            entry["versions"][row.version] = _finish_version(_version_entry(row), checks.get(key, []),
                                                             runs.get(key, []), notices.get(key, []))
        models[m.model_id] = entry
    advisories = [_advisory_entry(a) for a in session.execute(
        select(Advisory).order_by(Advisory.model_id, Advisory.advisory_id)).scalars()]
    doc: dict[str, Any] = {"format": FORMAT}
    if advisories:
        doc["advisories"] = advisories
    doc["models"] = models
    return doc


def to_toml(doc: dict[str, Any]) -> str:
    import tomli_w
    header = ("# modelreg registry export (format 1). Apply with `modelreg import FILE`;\n"
              "# compare with `modelreg diff FILE`.\n")
    return header + tomli_w.dumps(doc)


# -- reading a file: validation into the canonical document ------------------------
class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: list[str], text_: str) -> InvalidInput:
        at = path_text(where) if where else "top level"
        return InvalidInput(f"{self.source}: {at}: {text_}")

    @staticmethod
    def show(value: Any) -> str:
        text_ = repr(value)
        return text_ if len(text_) <= 40 else text_[:37] + "..."

    def table(self, where: list[str], value: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {self.show(value)}")
        for key in value:
            if key not in allowed:
                raise self.fail(where, f"unknown key {key!r} (known: {', '.join(allowed)})")
        for key in required:
            if key not in value:
                raise self.fail(where, f"missing key {key!r}")
        return value

    def string(self, where: list[str], value: Any, *, limit: int = MAX_TEXT, empty: bool = True) -> str:
        if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
            raise self.fail(where, f"expected {'non-empty ' if not empty else ''}text (at most {limit} characters), got {self.show(value)}")
        return value

    def actor(self, where: list[str], value: Any) -> str:
        text_ = self.string(where, value, limit=128, empty=False)
        if any(ord(c) < 32 for c in text_):
            raise self.fail(where, "expected an actor name without control characters")
        return text_

    def instant(self, where: list[str], value: Any) -> str:
        if isinstance(value, datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        elif isinstance(value, str) and len(value) > 10:
            try:
                moment = clock.parse_instant(value)
            except InvalidInput:
                raise self.fail(where, f"expected an ISO 8601 time such as 2026-03-01T12:00:00Z, got {self.show(value)}") from None
        else:
            raise self.fail(where, f"expected an ISO 8601 time such as 2026-03-01T12:00:00Z, got {self.show(value)}")
        return clock.stamp(moment)

    def day(self, where: list[str], value: Any) -> str:
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        raise self.fail(where, f"expected a date YYYY-MM-DD, got {self.show(value)}")

    def integer(self, where: list[str], value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise self.fail(where, f"expected a whole number from {lo} to {hi}, got {self.show(value)}")
        return value

    def boolean(self, where: list[str], value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {self.show(value)}")
        return value

    def choice(self, where: list[str], value: Any, choices: tuple[str, ...]) -> str:
        if value not in choices or not isinstance(value, str):
            raise self.fail(where, f"expected one of {', '.join(choices)}, got {self.show(value)}")
        return value

    def records(self, where: list[str], value: Any) -> list:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list of tables, got {self.show(value)}")
        return value

    def payload(self, where: list[str], value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                raise self.fail(where, "expected a table or JSON text") from None
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a table, got {self.show(value)}")

        def check(v: Any, depth: int) -> None:
            if depth > 32:
                raise self.fail(where, "nested too deeply")
            if isinstance(v, dict):
                for item in v.values():
                    check(item, depth + 1)
            elif isinstance(v, list):
                for item in v:
                    check(item, depth + 1)
            elif v is not None and not isinstance(v, (str, int, float, bool)):
                raise self.fail(where, f"expected JSON-like values (text, numbers, booleans, lists, tables), got {self.show(v)}")
        check(value, 0)
        return payload_to_file(value)

    # -- the document ------------------------------------------------------
    def document(self, raw: Any) -> dict[str, Any]:
        top = self.table([], raw, ("format", "models", "advisories"), ("format",))
        if isinstance(top["format"], bool) or top["format"] != FORMAT:
            raise self.fail(["format"], f"unknown format {self.show(top['format'])}: this modelreg reads format {FORMAT}")
        doc: dict[str, Any] = {"format": FORMAT}
        advisories = []
        seen = set()
        for i, item in enumerate(self.records(["advisories"], top.get("advisories", []))):
            adv = self.advisory(["advisories", str(i)], item)
            key = (adv["model_id"], adv["advisory_id"])
            if key in seen:
                raise self.fail(["advisories", str(i)], f"advisory {key[1]} for {key[0]} is listed twice")
            seen.add(key)
            advisories.append(adv)
        if advisories:
            doc["advisories"] = sorted(advisories, key=lambda a: (a["model_id"], a["advisory_id"]))
        models_raw = top.get("models", {})
        if not isinstance(models_raw, dict):
            raise self.fail(["models"], f"expected a table of models, got {self.show(models_raw)}")
        models = {}
        for model_id in sorted(models_raw):
            if not SLUG.match(model_id):
                raise self.fail(["models", model_id], "expected a model id matching [a-z0-9][a-z0-9._-]{0,63}")
            models[model_id] = self.model(["models", model_id], model_id, models_raw[model_id])
        doc["models"] = models
        return doc

    def advisory(self, where: list[str], raw: Any) -> dict[str, Any]:
        from modelreg.alerts.advisories import parse_advisory_severity, parse_affected
        t = self.table(where, raw, ADVISORY_KEYS, ("model_id", "advisory_id", "affected", "severity", "created_at",
                                                   "created_by"))
        model_id = t["model_id"]
        if not isinstance(model_id, str) or not SLUG.match(model_id):
            raise self.fail(where + ["model_id"], f"expected a model id, got {self.show(model_id)}")
        try:
            parse_affected(self.string(where + ["affected"], t["affected"], limit=400))
            severity = parse_advisory_severity(self.string(where + ["severity"], t["severity"], limit=16))
        except InvalidInput as exc:
            raise self.fail(where, exc.message) from None
        return {"model_id": model_id, "advisory_id": self.string(where + ["advisory_id"], t["advisory_id"], limit=64, empty=False),
                "affected": t["affected"], "severity": severity,
                "summary": self.string(where + ["summary"], t.get("summary", "")),
                "status": self.choice(where + ["status"], t.get("status", "open"), ("open", "withdrawn")),
                "created_at": self.instant(where + ["created_at"], t["created_at"]),
                "created_by": self.actor(where + ["created_by"], t["created_by"])}

    def model(self, where: list[str], model_id: str, raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, MODEL_KEYS, ("provider", "owner", "created_at"))
        provider = t["provider"]
        if not isinstance(provider, str) or not SLUG.match(provider):
            raise self.fail(where + ["provider"], f"expected a provider slug, got {self.show(provider)}")
        fallbacks = t.get("fallbacks", [])
        if not isinstance(fallbacks, list) or len(fallbacks) > 16:
            raise self.fail(where + ["fallbacks"], f"expected a list of up to 16 targets (model or model@version), got {self.show(fallbacks)}")
        normalized = []
        for i, target in enumerate(fallbacks):
            try:
                mid, ver = parse_target(target, version_required=False)
            except InvalidInput as exc:
                raise self.fail(where + ["fallbacks", str(i)], exc.message) from None
            normalized.append(f"{mid}@{ver}" if ver else mid)
        if len(set(normalized)) != len(normalized):
            raise self.fail(where + ["fallbacks"], "a target is listed twice")
        versions_raw = t.get("versions", {})
        if not isinstance(versions_raw, dict):
            raise self.fail(where + ["versions"], f"expected a table of versions, got {self.show(versions_raw)}")
        parsed = []
        for version in versions_raw:
            try:
                sv = SemVer.parse(version)
            except InvalidInput as exc:
                raise self.fail(where + ["versions", version], exc.message) from None
            parsed.append((sv, version))
        versions = {}
        for _sv, version in sorted(parsed, key=lambda p: (p[0]._key(), p[1])):
            versions[version] = self.version(where + ["versions", version], model_id, provider, version,
                                             versions_raw[version])
        return {"provider": provider, "owner": self.actor(where + ["owner"], t["owner"]),
                "created_at": self.instant(where + ["created_at"], t["created_at"]),
                "description": self.string(where + ["description"], t.get("description", "")),
                "fallbacks": normalized, "versions": versions}

    def version(self, where: list[str], model_id: str, provider: str, version: str, raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, LIFECYCLE_KEYS + SPEC_KEYS + RECORD_KEYS, ("capabilities", "performance"))
        manifest = {k: t[k] for k in SPEC_KEYS if k in t}
        manifest.update(model_id=model_id, version=version, provider=provider)
        try:
            spec = parse_version_spec(manifest, f"{self.source}: {path_text(where)}")
        except InvalidInput:
            raise
        except (TypeError, ValueError, RecursionError):
            raise self.fail(where, "invalid manifest values") from None
        out: dict[str, Any] = {"status": self.choice(where + ["status"], t.get("status", "TESTING"), STATUSES)}
        for key in STAMP_KEYS:
            if key not in t:
                continue
            value, here = t[key], where + [key]
            if key.endswith("_at") or key == "default_since":
                out[key] = self.instant(here, value)
            elif key.endswith("_by"):
                out[key] = self.actor(here, value)
            elif key == "canary_weight":
                out[key] = self.integer(here, value, 1, 99)
            elif key == "retire_on":
                out[key] = self.day(here, value)
            elif key == "replacement":
                try:
                    rm, rv = parse_target(value)
                except InvalidInput as exc:
                    raise self.fail(here, exc.message) from None
                out[key] = f"{rm}@{rv}"
            else:  # deprecation_reason
                out[key] = self.string(here, value, limit=2000, empty=False)
        out["description"] = spec.description
        out["capabilities"] = spec.capabilities
        out["endpoint"] = spec.endpoint
        out["endpoint_kind"] = spec.endpoint_kind
        out["parameters"] = {n: spec.parameters[n].to_dict() for n in sorted(spec.parameters)} or None
        out["performance"] = {"avg_latency_ms": spec.avg_latency_ms, "p95_latency_ms": spec.p95_latency_ms,
                              "cost_per_request_usd": spec.cost_per_request_usd}
        out["compliance"] = {"data_residency": spec.data_residency, "pii_handling": spec.pii_handling,
                             "approved_domains": spec.approved_domains}
        out = {k: out.get(k) for k in LIFECYCLE_KEYS + SPEC_KEYS if out.get(k) is not None}
        checks = [self.check(where + ["checks", str(i)], c) for i, c in enumerate(self.records(where + ["checks"], t.get("checks", [])))]
        runs = [self.run(where + ["benchmarks", str(i)], r) for i, r in enumerate(self.records(where + ["benchmarks"], t.get("benchmarks", [])))]
        if len({r["run_id"] for r in runs}) != len(runs):
            raise self.fail(where + ["benchmarks"], "a run_id is listed twice")
        notices = [self.notice(where + ["retirement_notices", str(i)], n)
                   for i, n in enumerate(self.records(where + ["retirement_notices"], t.get("retirement_notices", [])))]
        if len({(n["retire_on"], n["days_before"]) for n in notices}) != len(notices):
            raise self.fail(where + ["retirement_notices"], "a notice is listed twice")
        return _finish_version(out, checks, runs, notices)

    def check(self, where: list[str], raw: Any) -> dict[str, Any]:
        from modelreg.governance import check_name
        t = self.table(where, raw, CHECK_KEYS, ("name", "result", "actor", "at"))
        try:
            name = check_name(t["name"])
        except InvalidInput as exc:
            raise self.fail(where + ["name"], exc.message) from None
        if name != t["name"]:
            raise self.fail(where + ["name"], f"expected a lower-case check name, got {self.show(t['name'])}")
        out = {"name": name, "result": self.choice(where + ["result"], t["result"], ("pass", "fail")),
               "actor": self.actor(where + ["actor"], t["actor"]), "at": self.instant(where + ["at"], t["at"]),
               "note": self.string(where + ["note"], t.get("note", ""), limit=2000)}
        if "evidence" in t:
            out["evidence"] = self.string(where + ["evidence"], t["evidence"], limit=400)
        return out

    def run(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, RUN_KEYS, ("run_id", "endpoint", "actor", "started_at", "finished_at", "mode",
                                              "passed"))
        return {"run_id": self.integer(where + ["run_id"], t["run_id"], 1, 2**31 - 1),
                "endpoint": self.string(where + ["endpoint"], t["endpoint"], limit=2048, empty=False),
                "actor": self.actor(where + ["actor"], t["actor"]),
                "started_at": self.instant(where + ["started_at"], t["started_at"]),
                "finished_at": self.instant(where + ["finished_at"], t["finished_at"]),
                "mode": self.choice(where + ["mode"], t["mode"], ("closed", "open")),
                "passed": self.boolean(where + ["passed"], t["passed"]),
                "aborted": self.boolean(where + ["aborted"], t.get("aborted", False)),
                "settings": self.payload(where + ["settings"], t.get("settings", {})),
                "results": self.payload(where + ["results"], t.get("results", {}))}

    def notice(self, where: list[str], raw: Any) -> dict[str, Any]:
        t = self.table(where, raw, NOTICE_KEYS, NOTICE_KEYS)
        return {"retire_on": self.day(where + ["retire_on"], t["retire_on"]),
                "days_before": self.integer(where + ["days_before"], t["days_before"], 0, 36500),
                "raised_at": self.instant(where + ["raised_at"], t["raised_at"])}


def parse_document(raw: Any, source: str = "file") -> dict[str, Any]:
    """A loaded TOML value -> the canonical document; InvalidInput (exit 2) on any problem."""
    return _Reader(source).document(raw)


def read_file(path: str) -> dict[str, Any]:
    """Read and validate a registry file ('-' for stdin)."""
    from modelreg.textfile import read_text

    content = read_text(path, "a registry file (TOML)")
    try:
        raw = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: malformed TOML: {exc}") from None
    except RecursionError:
        raise InvalidInput(f"{path}: nested too deeply") from None
    return parse_document(raw, path)


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
    node, parts = doc, ()
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
    prefixes = {"file": {p[:n] for p in left for n in range(len(p) + 1)},
                "database": {p[:n] for p in right for n in range(len(p) + 1)}}
    rows: list[dict[str, Any]] = []
    reported: set[tuple] = set()
    for path in sorted(set(left) | set(right)):
        if any(path[:n] in reported for n in range(1, len(path) + 1)):
            continue
        if path in left and path in right:
            if not _same(left[path], right[path]):
                rows.append({"path": path_text(list(path)), "change": "changed", "file": left[path],
                             "database": right[path]})
            continue
        side = "file" if path in left else "database"
        other = prefixes["database" if side == "file" else "file"]
        prefix = next(path[:n] for n in range(1, len(path) + 1) if path[:n] not in other)
        reported.add(prefix)
        value = _subtree(file_doc if side == "file" else db_doc, prefix)
        rows.append({"path": path_text(list(prefix)), "change": f"only in {side}",
                     "file": value if side == "file" else None, "database": value if side == "database" else None})
    return rows


# -- import: plan and apply ----------------------------------------------------------
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
        return {"dry_run": self.dry_run, "applied": self.applied,
                **{action: [e.to_dict() for e in self.of(action)] for action in ("added", "changed", "unchanged", "refused")},
                "warnings": list(self.warnings)}


class ImportRefused(PolicyRefused):
    """Something in the file was refused; nothing was written. Carries the plan."""

    def __init__(self, plan: ImportPlan):
        refused = plan.refused
        super().__init__(f"import refused: {len(refused)} item(s) cannot be applied; nothing was written",
                         details=[f"{e.target}: {e.reason}" for e in refused])
        self.plan = plan


class _Refusal(Exception):
    pass


def _day(stamp: str) -> date:
    return clock.parse_instant(stamp).date()


class _Importer:
    def __init__(self, reg: "Registry", doc: dict[str, Any], tx):
        self.reg = reg
        self.doc = doc
        self.tx = tx
        self.session = tx.session
        self.policy = reg.policy
        self.plan = ImportPlan()
        self.explicit_run_ids = False
        self.file_versions = {(mid, v) for mid, m in doc["models"].items() for v in m["versions"]}

    # -- helpers -------------------------------------------------------------
    def version_exists(self, model_id: str, version: str) -> bool:
        return (model_id, version) in self.file_versions or self.session.get(ModelVersion, (model_id, version)) is not None

    def model_exists(self, model_id: str) -> bool:
        return model_id in self.doc["models"] or self.session.get(Model, model_id) is not None

    def file_advisories(self, model_id: str) -> list[dict]:
        return [a for a in self.doc.get("advisories", []) if a["model_id"] == model_id]

    # -- the whole import ----------------------------------------------------
    def run(self) -> ImportPlan:
        self.advisories()
        transitions = []
        for model_id, model in self.doc["models"].items():
            row = self.session.get(Model, model_id)
            if row is None:
                self.add_model(model_id, model)
            else:
                self.update_model(row, model_id, model)
            for version, entry in model["versions"].items():
                existing = self.session.get(ModelVersion, (model_id, version))
                if existing is None:
                    self.add_version(model_id, model, version, entry)
                else:
                    transitions.append((existing, entry))
        self.session.flush()
        for existing, entry in transitions:
            self.update_version(existing, entry)
        self.session.flush()
        self.canaries()
        self.fallbacks()
        if self.explicit_run_ids and not self.reg.db.is_sqlite:
            # run ids were written as recorded: move the serial past them
            self.session.execute(text("SELECT setval(pg_get_serial_sequence('benchmark_run', 'run_id'), "
                                      "(SELECT MAX(run_id) FROM benchmark_run))"))
        return self.plan

    # -- advisories ------------------------------------------------------------
    def advisories(self) -> None:
        for adv in self.doc.get("advisories", []):
            target = f"advisory {adv['advisory_id']} ({adv['model_id']})"
            row = self.session.get(Advisory, (adv["advisory_id"], adv["model_id"]))
            if row is None:
                self.session.add(Advisory(**adv))
                self.tx.audit("import", adv["model_id"], None, {"advisory": adv})
                self.plan.add("added", "advisory", target, f"{adv['severity']}, affects {adv['affected']}")
                continue
            differing = [k for k, v in _advisory_entry(row).items() if v != adv[k]]
            if differing:
                self.plan.add("refused", "advisory", target,
                              f"differs from the database in {', '.join(differing)}; import does not change a recorded advisory")
            else:
                self.plan.add("unchanged", "advisory", target)
        self.session.flush()

    # -- models -------------------------------------------------------------------
    def add_model(self, model_id: str, model: dict) -> None:
        self.session.add(Model(model_id=model_id, provider=model["provider"], description=model["description"],
                               owner=model["owner"], created_at=model["created_at"], fallbacks="[]", row_version=0))
        self.session.flush()
        self.tx.audit("import", model_id, None, {k: model[k] for k in ("provider", "owner", "created_at", "description",
                                                                        "fallbacks")})
        self.plan.add("added", "model", model_id, f"provider {model['provider']}, {len(model['versions'])} version(s)")

    def update_model(self, row: Model, model_id: str, model: dict) -> None:
        refusals = []
        if row.provider != model["provider"]:
            refusals.append(f"provider is {row.provider!r} in the database, {model['provider']!r} in the file (fixed at registration)")
        if row.created_at != model["created_at"]:
            refusals.append(f"created_at is {row.created_at} in the database, {model['created_at']} in the file (recorded history)")
        if refusals:
            self.plan.add("refused", "model", model_id, "; ".join(refusals))
            return
        before, after = {}, {}
        for key in ("owner", "description"):
            if getattr(row, key) != model[key]:
                before[key], after[key] = getattr(row, key), model[key]
                setattr(row, key, model[key])
        current = json.loads(row.fallbacks)
        if current != model["fallbacks"]:
            before["fallbacks"], after["fallbacks"] = current, model["fallbacks"]
        if after:
            row.row_version += 1
            self.tx.audit("import", model_id, before, after)
            self.plan.add("changed", "model", model_id, ", ".join(f"{k}: {_short(before[k])} -> {_short(after[k])}" for k in after))
        else:
            self.plan.add("unchanged", "model", model_id)

    # -- fallbacks (after every version is in place) ---------------------------------
    def fallbacks(self) -> None:
        from modelreg.routing import _find_cycle, _graph, resolve_target
        changed = []
        for model_id, model in self.doc["models"].items():
            row = self.session.get(Model, model_id)
            if row is None or json.loads(row.fallbacks) == model["fallbacks"]:
                continue
            problems = []
            for target in model["fallbacks"]:
                tm, tv = parse_target(target, version_required=False)
                if tm == model_id:
                    problems.append(f"fallback {target} is the model itself")
                elif not self.model_exists(tm) or (tv is not None and not self.version_exists(tm, tv)):
                    problems.append(f"fallback target {target} does not exist")
            if problems:
                self._refuse_model(model_id, "; ".join(problems))
                continue
            previous = set(json.loads(row.fallbacks))
            is_new = self._added_in_plan("model", model_id)
            row.fallbacks = json.dumps(model["fallbacks"])
            changed.append((model_id, row, previous, is_new))
        if not changed:
            return
        self.session.flush()
        graph = _graph(self.session)
        for model_id, row, previous, is_new in changed:
            cycle = _find_cycle(graph, model_id)
            if cycle:
                self._refuse_model(model_id, f"fallbacks would form a cycle: {' -> '.join(cycle)}")
                continue
            for target in json.loads(row.fallbacks):
                if resolve_target(self.session, target) is not None:
                    continue
                if is_new or target in previous:
                    self.plan.warnings.append(f"{model_id}: fallback {target} resolves to no APPROVED or DEPRECATED version")
                else:
                    self._refuse_model(model_id, f"fallback target {target} has no resolvable (APPROVED or DEPRECATED) version")

    def _added_in_plan(self, kind: str, target: str) -> bool:
        return any(e.kind == kind and e.target == target and e.action == "added" for e in self.plan.entries)

    def _refuse_model(self, model_id: str, reason: str) -> None:
        for e in self.plan.entries:
            if e.kind == "model" and e.target == model_id:
                e.action, e.reason = "refused", reason
                return
        self.plan.add("refused", "model", model_id, reason)

    # -- new versions ------------------------------------------------------------------
    def add_version(self, model_id: str, model: dict, version: str, entry: dict) -> None:
        target = f"{model_id}@{version}"
        entry = dict(entry)
        defaulted = []
        if "registered_at" not in entry:
            entry["registered_at"] = self.tx.now
            defaulted.append("registered now")
        if "registered_by" not in entry:
            entry["registered_by"] = self.tx.actor
            defaulted.append(f"by {self.tx.actor}")
        entry.setdefault("status_changed_at", entry["registered_at"])
        problems = self.supports_status(model_id, version, entry)
        if problems:
            self.plan.add("refused", "version", target, "; ".join(problems))
            return
        semver = SemVer.parse(version)
        row = ModelVersion(
            model_id=model_id, version=version, version_key=semver.sort_key(), prerelease=semver.is_prerelease,
            provider=model["provider"], status=entry["status"], capabilities=dumps(entry["capabilities"]),
            parameters=dumps(entry.get("parameters") or {}),
            avg_latency_ms=entry["performance"]["avg_latency_ms"], p95_latency_ms=entry["performance"]["p95_latency_ms"],
            cost_per_request_usd=entry["performance"]["cost_per_request_usd"],
            data_residency=dumps(entry["compliance"]["data_residency"]), pii_handling=entry["compliance"]["pii_handling"],
            approved_domains=dumps(entry["compliance"]["approved_domains"]), endpoint=entry.get("endpoint"),
            endpoint_kind=entry.get("endpoint_kind"), description=entry.get("description", ""),
            **{k: entry.get(k) for k in STAMP_KEYS})
        self.session.add(row)
        self.session.flush()
        for kind, key in (("capability", None), ("residency", "data_residency"), ("domain", "approved_domains")):
            values = entry["capabilities"] if key is None else entry["compliance"][key]
            for value in values:
                self.session.add(VersionAttribute(kind=kind, value=value, model_id=model_id, version=version))
        counts = self.add_records(row, entry, new=True)
        if counts is None:
            return
        self.tx.audit("import", target, None, {"status": entry["status"], "registered_by": entry["registered_by"],
                                               "approved_by": entry.get("approved_by"), **counts})
        extra = [f"{n} {LABELS[what]}" for what, n in counts.items() if n]
        self.plan.add("added", "version", target, ", ".join([entry["status"], *defaulted, *extra]))

    def supports_status(self, model_id: str, version: str, e: dict) -> list[str]:
        """Does the file's own record support a new version's status? (module docstring)"""
        status, p = e["status"], []
        stray = [k for k in STAMP_KEYS if k in e and k not in ALWAYS and k not in FIELDS_OF_STATUS[status]]
        if stray:
            p.append(f"{', '.join(stray)} do(es) not belong to a {status} version")
        checks = sorted(e.get("checks", []), key=lambda c: c["at"])
        if status == "REJECTED":
            if "rejected_at" not in e:
                p.append("REJECTED without rejected_at")
            elif not any(c["result"] == "fail" and c["at"] <= e["rejected_at"] for c in checks):
                p.append("REJECTED, but no failed check is recorded at or before rejected_at")
        if status in APPROVED_ONCE:
            p.extend(self._approval_supported(model_id, version, e, checks))
        if status in ("DEPRECATED", "RETIRED"):
            missing = [k for k in ("deprecated_at", "deprecated_by", "deprecation_reason", "retire_on") if k not in e]
            if missing:
                p.append(f"{status} without {', '.join(missing)}")
            else:
                notice = (date.fromisoformat(e["retire_on"]) - _day(e["deprecated_at"])).days
                if notice < self.policy.deprecation_notice_days:
                    p.append(f"deprecated with {notice} day(s) of notice, shorter than the policy's {self.policy.deprecation_notice_days} (policy.deprecation_notice_days)")
            if "replacement" in e:
                rm, rv = parse_target(e["replacement"])
                if not self.version_exists(rm, rv):
                    p.append(f"replacement {e['replacement']} is neither in the database nor in the file")
        if status == "RETIRED":
            if "retired_at" not in e:
                p.append("RETIRED without retired_at")
            elif "retire_on" in e and _day(e["retired_at"]) < date.fromisoformat(e["retire_on"]):
                p.append(f"retired at {e['retired_at']}, before its retire_on {e['retire_on']}")
        for key in ("approved_at", "deprecated_at", "retired_at", "rejected_at", "status_changed_at"):
            if key in e and e[key] < e["registered_at"]:
                p.append(f"{key} {e[key]} is before registered_at {e['registered_at']}")
        return p

    def _approval_supported(self, model_id: str, version: str, e: dict, checks: list[dict]) -> list[str]:
        from modelreg.alerts.advisories import affects
        p = []
        if "approved_at" not in e or "approved_by" not in e:
            return [f"{e['status']} without approved_at and approved_by (no recorded approval)"]
        at, by = e["approved_at"], e["approved_by"]
        latest: dict[str, dict] = {}
        for c in checks:
            if c["at"] <= at:
                latest[c["name"]] = c
        for name in self.policy.required_checks:
            if name == "benchmark":
                continue
            found = latest.get(name)
            if found is None:
                p.append(f"check {name!r} is not recorded before approved_at")
            elif found["result"] != "pass":
                p.append(f"check {name!r} had failed when it was approved ({found['actor']}, {found['at']})")
        if "benchmark" in self.policy.required_checks:
            runs = [r for r in e.get("benchmarks", []) if not r["aborted"] and r["finished_at"] <= at]
            run = max(runs, key=lambda r: (r["finished_at"], r["run_id"]), default=None)
            if run is None:
                p.append("no benchmark run finished before approved_at")
            elif not run["passed"]:
                p.append(f"the newest benchmark before approval (run {run['run_id']}) missed its SLO")
            elif (clock.parse_instant(at) - clock.parse_instant(run["finished_at"])) > timedelta(days=self.policy.benchmark_max_age_days):
                p.append(f"the newest passing benchmark (run {run['run_id']}) was older than {self.policy.benchmark_max_age_days} days at approval")
        if self.policy.separation_of_duties and by == e["registered_by"]:
            p.append(f"approved_by {by!r} also registered it (separation_of_duties)")
        if self.policy.approvers and by not in self.policy.approvers:
            p.append(f"approved_by {by!r} is not an approver (policy.approvers: {', '.join(self.policy.approvers)})")
        advisories = [(a["advisory_id"], a["affected"], a["status"], a["created_at"]) for a in self.file_advisories(model_id)]
        advisories += [(a.advisory_id, a.affected, a.status, a.created_at) for a in self.session.execute(
            select(Advisory).where(Advisory.model_id == model_id)).scalars()]
        for adv_id, affected, status, created in sorted(set(advisories)):
            if status == "open" and created <= at and affects(affected, version):
                p.append(f"security advisory {adv_id} was open when it was approved")
        if e.get("canary_weight") is not None and e["status"] != "APPROVED":
            p.append("canary_weight on a version that is not APPROVED")
        return p

    # -- checks, runs and notices (new or existing versions) ---------------------------
    def add_records(self, row: ModelVersion, entry: dict, *, new: bool) -> dict[str, int] | None:
        target = f"{row.model_id}@{row.version}"
        have_checks = set()
        have_notices: dict[tuple, str] = {}
        if not new:
            for c in self.session.execute(select(CheckResult).where(CheckResult.model_id == row.model_id,
                                                                    CheckResult.version == row.version)).scalars():
                have_checks.add(_check_identity(_check_entry(c)))
            for n in self.session.execute(select(RetirementNotice).where(RetirementNotice.model_id == row.model_id,
                                                                         RetirementNotice.version == row.version)).scalars():
                have_notices[(n.retire_on, n.days_before)] = n.raised_at
        problems = []
        new_runs = []
        for run in entry.get("benchmarks", []):
            existing = self.session.get(BenchmarkRun, run["run_id"])
            if existing is None:
                new_runs.append(run)
            elif (existing.model_id, existing.version) != (row.model_id, row.version):
                problems.append(f"benchmark run {run['run_id']} is already recorded for {existing.model_id}@{existing.version}")
            elif _run_entry(existing) != run:
                differing = [k for k, v in _run_entry(existing).items() if v != run[k]]
                problems.append(f"benchmark run {run['run_id']} differs from the database in {', '.join(differing)}")
        new_notices = []
        for n in entry.get("retirement_notices", []):
            key = (n["retire_on"], n["days_before"])
            if key not in have_notices:
                new_notices.append(n)
            elif have_notices[key] != n["raised_at"]:
                problems.append(f"retirement notice {key[0]} -{key[1]}d was raised at {have_notices[key]}, not {n['raised_at']}")
        if problems:
            self.plan.add("refused", "version", target, "; ".join(problems))
            return None
        new_checks = []
        for c in entry.get("checks", []):
            ident = _check_identity(c)
            if ident not in have_checks:
                new_checks.append(c)
        for c in new_checks:
            self.session.add(CheckResult(model_id=row.model_id, version=row.version, name=c["name"], result=c["result"],
                                         actor=c["actor"], at=c["at"], note=c.get("note", ""), evidence=c.get("evidence")))
            self.session.flush()  # keep the file's order in the ids (the order checks are judged in)
        for r in new_runs:
            self.session.add(BenchmarkRun(model_id=row.model_id, version=row.version, run_id=r["run_id"],
                                          endpoint=r["endpoint"], actor=r["actor"], started_at=r["started_at"],
                                          finished_at=r["finished_at"], mode=r["mode"], passed=r["passed"],
                                          aborted=r["aborted"], settings=dumps(payload_from_file(r["settings"])),
                                          results=dumps(payload_from_file(r["results"]))))
            self.explicit_run_ids = True
        for n in new_notices:
            self.session.add(RetirementNotice(model_id=row.model_id, version=row.version, **n))
        return {"checks": len(new_checks), "benchmarks": len(new_runs), "notices": len(new_notices)}

    # -- existing versions ---------------------------------------------------------------
    def update_version(self, row: ModelVersion, entry: dict) -> None:
        target = f"{row.model_id}@{row.version}"
        current = _version_entry(row)
        problems = []
        spec_changes = [k for k in SPEC_KEYS if current.get(k) != entry.get(k)]
        if spec_changes:
            problems.append(f"{', '.join(spec_changes)} differ(s) from the registered version; a change is a new version")
        transition = entry["status"] != row.status or entry.get("canary_weight") != row.canary_weight
        compare = [k for k in STAMP_KEYS if k not in ("canary_weight",)]
        if transition:
            # the file's values for what the transition writes are not used; the rest must agree
            compare = [k for k in ("registered_at", "registered_by") if k in entry]
        rewritten = [f"{k} ({current.get(k)} in the database, {entry[k]} in the file)"
                     for k in compare if k in entry and current.get(k) != entry[k]]
        if rewritten:
            problems.append("recorded history differs: " + "; ".join(rewritten) + " (import does not rewrite history)")
        if transition and row.status != entry["status"] and entry["status"] not in TRANSITIONS[row.status] \
                and not (row.status == "APPROVED" and entry["status"] == "TESTING"):
            allowed = ", ".join(TRANSITIONS[row.status]) or "none (final status)"
            problems.append(f"is {row.status} in the database; cannot move to {entry['status']} (allowed next: {allowed})")
        if problems:
            self.plan.add("refused", "version", target, "; ".join(problems))
            return
        before = {"status": row.status, "canary_weight": row.canary_weight}
        counts = self.add_records(row, entry, new=False)
        if counts is None:
            return
        self.session.flush()
        what = ""
        if transition:
            try:
                what = self.transition(row, entry)
            except _Refusal as exc:
                self.plan.add("refused", "version", target, str(exc))
                return
        extra = [f"{n} {LABELS[k]} added" for k, n in counts.items() if n]
        if not what and not extra:
            self.plan.add("unchanged", "version", target)
            return
        self.tx.audit("import", target, before, {"status": row.status, "canary_weight": row.canary_weight,
                                                 "transition": what or None, **counts})
        self.plan.add("changed", "version", target, ", ".join(([what] if what else []) + extra))

    def transition(self, row: ModelVersion, e: dict) -> str:
        from modelreg.governance import _production_default, latest_checks, unmet_gates
        from modelreg.registry import lock_model
        model = lock_model(self.session, row.model_id)
        now, actor = self.tx.now, self.tx.actor
        old, new = row.status, e["status"]
        weight = e.get("canary_weight")
        if old == new == "APPROVED":
            if model.canary_version != row.version:
                raise _Refusal("a canary starts with a promotion (`promote --canary`), not by setting canary_weight")
            if weight is not None:
                row.canary_weight = weight
                return f"rollout: canary weight {weight}%"
            row.canary_weight, row.default_since, model.canary_version = None, now, None
            model.row_version += 1
            return "rollout completed: now the production default"
        if old == "APPROVED" and new == "TESTING" and model.canary_version == row.version:
            row.canary_weight, row.status, row.status_changed_at = None, "TESTING", now
            row.approved_at = row.approved_by = None
            model.canary_version = None
            model.row_version += 1
            return "rollout aborted: back to TESTING"
        if new not in TRANSITIONS[old]:
            allowed = ", ".join(TRANSITIONS[old]) or "none (final status)"
            raise _Refusal(f"is {old} in the database; cannot move to {new} (allowed next: {allowed})")
        if weight is not None and new != "APPROVED":
            raise _Refusal("canary_weight on a version that is not APPROVED")
        done = f"{old} -> {new}"
        if new == "TESTING":
            pass
        elif new == "APPROVED" and old == "TESTING":
            unmet = unmet_gates(self.reg, self.session, row, actor)
            if unmet:
                raise _Refusal(f"cannot be promoted to APPROVED by {actor}: " + "; ".join(unmet))
            if weight is not None:
                if model.canary_version:
                    raise _Refusal(f"{row.model_id} already has a canary ({model.canary_version})")
                if _production_default(self.session, row.model_id) is None:
                    raise _Refusal(f"{row.model_id} has no production default to share traffic with")
                row.canary_weight, model.canary_version = weight, row.version
                done += f" as canary with {weight}%"
            else:
                row.default_since = now
            row.approved_at, row.approved_by = now, actor
        elif new == "APPROVED":  # DEPRECATED -> APPROVED
            row.deprecated_at = row.deprecated_by = row.deprecation_reason = row.retire_on = row.replacement = None
            done += " (deprecation cancelled)"
        elif new == "REJECTED":
            failed = [n for n, c in latest_checks(self.session, row.model_id, row.version).items() if c.result == "fail"]
            if not failed:
                raise _Refusal("cannot be REJECTED: no check's latest result is a fail")
            row.rejected_at = now
        elif new == "DEPRECATED":
            missing = [k for k in ("deprecation_reason", "retire_on") if k not in e]
            if missing:
                raise _Refusal(f"to deprecate, the file must give {', '.join(missing)}")
            if model.canary_version:
                raise _Refusal(f"{row.model_id} has a rollout in progress; complete or abort it first")
            today = clock.now().date()
            days = (date.fromisoformat(e["retire_on"]) - today).days
            if days < self.policy.deprecation_notice_days:
                raise _Refusal(f"a notice of {days} day(s) is shorter than the policy's {self.policy.deprecation_notice_days} (policy.deprecation_notice_days)")
            if "replacement" in e:
                rm, rv = parse_target(e["replacement"])
                rep = self.session.get(ModelVersion, (rm, rv))
                if rep is None or rep.status in ("RETIRED", "REJECTED", "DEPRECATED"):
                    raise _Refusal(f"replacement {e['replacement']} is {'unknown' if rep is None else rep.status}; name a live version")
            row.deprecated_at, row.deprecated_by = now, actor
            row.deprecation_reason, row.retire_on, row.replacement = e["deprecation_reason"], e["retire_on"], e.get("replacement")
            done += f" (retires on {e['retire_on']})"
        elif new == "RETIRED":
            if date.fromisoformat(row.retire_on) > clock.now().date():
                raise _Refusal(f"cannot retire before its retire_on {row.retire_on}")
            row.retired_at = now
        row.status, row.status_changed_at = new, now
        model.row_version += 1
        return done + f" by {actor}"

    # -- one canary per model ---------------------------------------------------------------
    def canaries(self) -> None:
        rows = self.session.execute(select(ModelVersion.model_id, ModelVersion.version).where(
            ModelVersion.canary_weight.is_not(None), ModelVersion.model_id.in_(list(self.doc["models"])))).all()
        by_model: dict[str, list[str]] = {}
        for mid, ver in rows:
            by_model.setdefault(mid, []).append(ver)
        for mid, versions in by_model.items():
            if len(versions) > 1:
                self._refuse_model(mid, f"more than one canary: {', '.join(sorted(versions))}")
                continue
            model = self.session.get(Model, mid)
            if model.canary_version not in (None, versions[0]):
                self._refuse_model(mid, f"has a canary {model.canary_version} already")
                continue
            model.canary_version = versions[0]


LABELS = {"checks": "check(s)", "benchmarks": "benchmark run(s)", "notices": "retirement notice(s)"}


def _check_identity(c: dict) -> tuple:
    return tuple(c.get(k) for k in CHECK_KEYS)


def _short(value: Any) -> str:
    text_ = value if isinstance(value, str) else json.dumps(value)
    return text_ if len(text_) <= 60 else text_[:57] + "..."


# -- the library entry points ---------------------------------------------------------
def export_document(reg: "Registry") -> dict[str, Any]:
    return reg.db.run_read(build_document)


def export_toml(reg: "Registry") -> str:
    return to_toml(export_document(reg))


def import_document(reg: "Registry", doc: dict[str, Any], *, dry_run: bool = False) -> ImportPlan:
    """Plan and apply in one write transaction; ImportRefused (exit 5, nothing
    written) when anything is refused; a dry run rolls everything back."""

    def work(tx):
        plan = _Importer(reg, doc, tx).run()
        plan.dry_run = dry_run
        if plan.refused and not dry_run:
            raise ImportRefused(plan)
        return plan

    plan = reg.write(work, dry_run=dry_run)
    plan.applied = not dry_run
    return plan


def diff_document(reg: "Registry", doc: dict[str, Any]) -> list[dict[str, Any]]:
    return diff_documents(doc, export_document(reg))
