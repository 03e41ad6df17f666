"""The registry library: what `from modelreg import Registry` gives.

The CLI is a thin layer over this class. Every write goes through
`Database.write`, which runs it in one transaction together with its audit
events and retries on contention.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Iterable

from sqlalchemy import and_, func, insert, or_, select, update

from modelreg import clock
from modelreg.config import Config, load_config
from modelreg.errors import Conflict, InvalidInput, NotFound
from modelreg.lifecycle import STAGE_OF, STAGES, STATUSES, statuses_of_stage
from modelreg.manifest import VersionSpec, check_slug, parse_manifest_document, parse_version_spec
from modelreg.store import audit
from modelreg.store.database import Database, Tx, dumps
from modelreg.store.tables import AuditEvent, BenchmarkRun, CheckResult, Model, ModelVersion, VersionAttribute
from modelreg.views import alert_view, days_until, rollout_weight, version_view, window_view

CHUNK = 500
BROAD_MATCH = 2000  # above this many matches, find pages by walking versions in order


def now_stamp() -> str:
    """The clock as fixed-width UTC text (sorts as text)."""
    return clock.stamp(clock.now())


def today() -> date:
    return clock.now().date()


def chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def like_pattern(glob: str) -> str:
    """Translate a shell glob (* ?) into a SQL LIKE pattern with '\\' escapes."""
    out = []
    for ch in glob:
        if ch in "%_\\":
            out.append("\\" + ch)
        elif ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        else:
            out.append(ch)
    return "".join(out)


class Registry:
    def __init__(self, database: Database, config: Config):
        self.db = database
        self.config = config

    @classmethod
    def open(cls, url: str | None = None, *, config: Config | None = None, actor: str | None = None,
             config_path: str | None = None) -> "Registry":
        """Open (and on first use create) the registry; same precedence as the CLI."""
        cfg = config or load_config(db=url, actor=actor, config_path=config_path)
        if cfg.database_url.lower().startswith(("http://", "https://")):  # a `modelreg serve` API: read-only
            from modelreg.remote import RemoteRegistry
            return RemoteRegistry.open(cfg)  # type: ignore[return-value]
        database = Database(cfg.database_url)
        database.ensure_schema()
        return cls(database, cfg)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> "Registry":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def actor(self) -> str:
        return self.config.actor

    @property
    def policy(self):
        return self.config.policy

    def write(self, fn, *, dry_run: bool = False):
        return self.db.write(fn, actor=self.actor, now=now_stamp, dry_run=dry_run)

    # -- lookups used everywhere ----------------------------------------
    @staticmethod
    def version_row(session, model_id: str, version: str, *, lock: bool = False) -> ModelVersion:
        if lock:
            lock_model(session, model_id)
        row = session.get(ModelVersion, (model_id, version))
        if row is None:
            if session.get(Model, model_id) is None:
                raise NotFound(f"unknown model {model_id!r}")
            raise NotFound(f"unknown version {model_id}@{version}")
        return row

    # -- 1. submission --------------------------------------------------
    def register(self, manifest: dict | VersionSpec) -> dict[str, Any]:
        spec = manifest if isinstance(manifest, VersionSpec) else parse_version_spec(manifest)
        self.register_many([spec])
        return self.get_version(spec.model_id, spec.version)

    def register_document(self, document: dict, source: str = "manifest") -> list[str]:
        return self.register_many(parse_manifest_document(document, source))

    def register_many(self, specs: list[VersionSpec]) -> list[str]:
        """All-or-nothing bulk registration (one transaction, bulk inserts)."""
        if not specs:
            return []

        def work(tx: Tx) -> list[str]:
            session = tx.session
            model_ids = sorted({s.model_id for s in specs})
            existing_models: dict[str, str] = {}
            for part in chunks(model_ids):
                for mid, provider in session.execute(select(Model.model_id, Model.provider).where(Model.model_id.in_(part))):
                    existing_models[mid] = provider
            for spec in specs:
                known = existing_models.get(spec.model_id)
                if known is not None and known != spec.provider:
                    raise Conflict(f"{spec.target}: model {spec.model_id} is registered under provider {known!r}, not {spec.provider!r}")
            duplicates: list[str] = []
            by_model: dict[str, list[str]] = {}
            for spec in specs:
                by_model.setdefault(spec.model_id, []).append(spec.version)
            for mid, versions in by_model.items():
                if mid not in existing_models:
                    continue
                for part in chunks(versions):
                    rows = session.execute(select(ModelVersion.version).where(
                        ModelVersion.model_id == mid, ModelVersion.version.in_(part)))
                    duplicates.extend(f"{mid}@{v}" for (v,) in rows)
            if duplicates:
                more = f" (and {len(duplicates) - 1} more)" if len(duplicates) > 1 else ""
                raise Conflict(f"{duplicates[0]} is already registered{more}; a change is a new version")

            new_models = []
            for spec in specs:
                if spec.model_id not in existing_models:
                    existing_models[spec.model_id] = spec.provider
                    new_models.append({"model_id": spec.model_id, "provider": spec.provider, "description": spec.description,
                                       "owner": tx.actor, "created_at": tx.now, "fallbacks": "[]", "row_version": 0})
            for part in chunks(new_models):
                session.execute(insert(Model), part)
            version_rows, attr_rows = [], []
            for spec in specs:
                semver = spec.semver
                version_rows.append({
                    "model_id": spec.model_id, "version": spec.version, "version_key": semver.sort_key(),
                    "prerelease": semver.is_prerelease, "provider": spec.provider,
                    "status": "EXPERIMENTAL" if spec.experimental else "TESTING",
                    "capabilities": dumps(spec.capabilities),
                    "parameters": dumps({k: p.to_dict() for k, p in spec.parameters.items()}),
                    "avg_latency_ms": spec.avg_latency_ms, "p95_latency_ms": spec.p95_latency_ms,
                    "cost_per_request_usd": spec.cost_per_request_usd,
                    "data_residency": dumps(spec.data_residency), "pii_handling": spec.pii_handling,
                    "approved_domains": dumps(spec.approved_domains), "endpoint": spec.endpoint,
                    "endpoint_kind": spec.endpoint_kind, "description": spec.description,
                    "registered_at": tx.now, "registered_by": tx.actor, "status_changed_at": tx.now,
                })
                for kind, values in (("capability", spec.capabilities), ("residency", spec.data_residency),
                                     ("domain", spec.approved_domains)):
                    attr_rows.extend({"kind": kind, "value": v, "model_id": spec.model_id, "version": spec.version}
                                     for v in values)
                tx.audit("register", spec.target, None, {"status": version_rows[-1]["status"], "provider": spec.provider})
            for part in chunks(version_rows, 2000):
                session.execute(insert(ModelVersion), part)
            for part in chunks(attr_rows, 5000):
                session.execute(insert(VersionAttribute), part)
            for part in chunks(list(by_model)):
                session.execute(update(Model).where(Model.model_id.in_(part)).values(row_version=Model.row_version + 1))
            return [s.target for s in specs]

        targets = self.write(work)
        if len(specs) >= 1000:
            self.db.refresh_statistics()
        return targets

    # -- reading ---------------------------------------------------------
    def _checks_for(self, session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, dict]]:
        """Latest result of each check for each (model_id, version)."""
        out: dict[tuple[str, str], dict[str, dict]] = {k: {} for k in keys}
        by_model: dict[str, list[str]] = {}
        for mid, ver in keys:
            by_model.setdefault(mid, []).append(ver)
        for mid, versions in by_model.items():
            for part in chunks(versions):
                rows = session.execute(select(CheckResult).where(CheckResult.model_id == mid, CheckResult.version.in_(part))
                                       .order_by(CheckResult.id)).scalars()
                for row in rows:
                    out[(row.model_id, row.version)][row.name] = {
                        "result": row.result, "actor": row.actor, "at": row.at, "note": row.note, "evidence": row.evidence}
        return out

    def _views(self, session, rows: list[ModelVersion]) -> list[dict[str, Any]]:
        keys = [(r.model_id, r.version) for r in rows]
        checks = self._checks_for(session, keys)
        models = {}
        for part in chunks(sorted({r.model_id for r in rows})):
            for m in session.execute(select(Model).where(Model.model_id.in_(part))).scalars():
                models[m.model_id] = m
        defaults = self._defaults(session, list(models))
        ref = today()
        out = []
        for r in rows:
            m = models[r.model_id]
            canary_weight = None
            if m.canary_version:
                canary_weight = next((x.canary_weight for x in rows if x.model_id == r.model_id and x.version == m.canary_version), None)
                if canary_weight is None:
                    canary_weight = session.get(ModelVersion, (r.model_id, m.canary_version)).canary_weight
            weight = rollout_weight(r, m.canary_version, canary_weight, defaults.get(r.model_id))
            out.append(version_view(r, checks[(r.model_id, r.version)], weight=weight, today=ref))
        return out

    @staticmethod
    def _defaults(session, model_ids: list[str]) -> dict[str, str]:
        """Each model's production default: the APPROVED version most recently
        made default (promoted without a canary, or completed from one)."""
        out: dict[str, str] = {}
        for part in chunks(model_ids):
            rows = session.execute(
                select(ModelVersion.model_id, ModelVersion.version, ModelVersion.default_since, ModelVersion.version_key)
                .where(ModelVersion.model_id.in_(part), ModelVersion.status == "APPROVED",
                       ModelVersion.default_since.is_not(None)))
            best: dict[str, tuple] = {}
            for mid, ver, since, key in rows:
                if mid not in best or (since, key) > best[mid][0]:
                    best[mid] = ((since, key), ver)
            out.update({mid: v for mid, (_, v) in best.items()})
        return out

    def get_version(self, model_id: str, version: str) -> dict[str, Any]:
        def read(session):
            row = self.version_row(session, model_id, version)
            view = self._views(session, [row])[0]
            runs = session.execute(select(BenchmarkRun).where(BenchmarkRun.model_id == model_id, BenchmarkRun.version == version)
                                   .order_by(BenchmarkRun.run_id.desc()).limit(5)).scalars()
            view["benchmarks"] = [benchmark_summary(r) for r in runs]
            view["observations"] = recent_windows(session, model_id, version)
            view["alerts"] = active_alerts(session, model_id, version)
            return view
        return self.db.run_read(read)

    def get_model(self, model_id: str) -> dict[str, Any]:
        def read(session):
            model = session.get(Model, model_id)
            if model is None:
                raise NotFound(f"unknown model {model_id!r}")
            rows = list(session.execute(select(ModelVersion).where(ModelVersion.model_id == model_id)
                                        .order_by(ModelVersion.version_key.desc())).scalars())
            defaults = self._defaults(session, [model_id])
            return {
                "model_id": model.model_id, "provider": model.provider, "description": model.description,
                "owner": model.owner, "created_at": model.created_at,
                "fallbacks": json.loads(model.fallbacks),
                "production_default": defaults.get(model_id), "canary": model.canary_version,
                "versions": self._views(session, rows),
            }
        return self.db.run_read(read)

    def find_models(self, *, provider: str | None = None, capabilities: Iterable[str] = (), status: str | None = None,
                    stage: str | None = None, domain: str | None = None, residency: str | None = None,
                    max_p95: float | None = None, max_cost: float | None = None, model: str | None = None,
                    include_retired: bool = False, limit: int | None = None) -> list[dict[str, Any]]:
        return self.find(provider=provider, capabilities=capabilities, status=status, stage=stage, domain=domain,
                         residency=residency, max_p95=max_p95, max_cost=max_cost, model=model,
                         include_retired=include_retired, limit=limit)[0]

    def find(self, *, provider=None, capabilities: Iterable[str] = (), status=None, stage=None, domain=None,
             residency=None, max_p95=None, max_cost=None, model=None, include_retired=False,
             limit: int | None = None) -> tuple[list[dict[str, Any]], int]:
        """Versions matching every filter, newest first within each model; and the total count."""
        statuses = None
        if status is not None:
            wanted = str(status).upper()
            if wanted not in STATUSES:
                raise InvalidInput(f"invalid status {status!r}: expected one of {', '.join(STATUSES)}")
            statuses = [wanted]
        if stage is not None:
            if stage not in STAGES:
                raise InvalidInput(f"invalid stage {stage!r}: expected one of {', '.join(STAGES)}")
            statuses = [s for s in statuses_of_stage(stage) if statuses is None or s in statuses]
        if statuses is None and not include_retired:
            statuses = [s for s in STATUSES if s not in ("RETIRED", "REJECTED")]
        filters = dict(provider=provider, capabilities=capabilities, domain=domain, residency=residency,
                       model=model, statuses=statuses, max_p95=max_p95, max_cost=max_cost)
        query = version_query(**filters)
        if limit is not None and limit < 0:
            raise InvalidInput("--limit takes a non-negative number (0: no limit)")

        def read(session):
            total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
            page = version_query(**filters, walk_in_order=True) if limit and total > BROAD_MATCH else query
            ordered = page.order_by(ModelVersion.model_id, ModelVersion.version_key.desc())
            if limit:
                ordered = ordered.limit(limit)
            rows = list(session.execute(ordered).scalars())
            return self._views(session, rows), total
        return self.db.run_read(read)

    def tree(self, *, include_retired: bool = False) -> dict[str, dict[str, list[dict]]]:
        """stage -> model -> [{version, status, ...}] (newest version first)."""
        def read(session):
            query = select(ModelVersion.model_id, ModelVersion.version, ModelVersion.status, ModelVersion.retire_on,
                           ModelVersion.canary_weight, ModelVersion.version_key)
            if not include_retired:
                query = query.where(ModelVersion.status.not_in(["RETIRED", "REJECTED"]))
            rows = session.execute(query.order_by(ModelVersion.model_id, ModelVersion.version_key.desc())).all()
            canaries = dict(session.execute(select(Model.model_id, Model.canary_version).where(Model.canary_version.is_not(None))).all())
            latest: dict[tuple[str, str, str], str] = {}
            for mid, ver, name, result in session.execute(
                    select(CheckResult.model_id, CheckResult.version, CheckResult.name, CheckResult.result)
                    .order_by(CheckResult.id)):
                latest[(mid, ver, name)] = result
            checks: dict[tuple[str, str], set[str]] = {}
            for (mid, ver, name), result in latest.items():
                if result == "pass":
                    checks.setdefault((mid, ver), set()).add(name)
            ref = today()
            tree: dict[str, dict[str, list[dict]]] = {stage: {} for stage in STAGES}
            for mid, ver, status, retire_on, weight, _key in rows:
                entry = {"version": ver, "status": status,
                         "checks_passed": sorted(checks.get((mid, ver), ())),
                         "canary_weight": weight if canaries.get(mid) == ver else None,
                         "days_to_retirement": days_until(retire_on, ref) if status == "DEPRECATED" else None}
                tree[STAGE_OF[status]].setdefault(mid, []).append(entry)
            if not include_retired:
                tree.pop("archived")
            return tree
        return self.db.run_read(read)

    # -- audit -------------------------------------------------------------
    def history(self, model_id: str, version: str | None = None) -> list[dict[str, Any]]:
        def read(session):
            if session.get(Model, model_id) is None:
                raise NotFound(f"unknown model {model_id!r}")
            if version is not None:
                self.version_row(session, model_id, version)
                where = AuditEvent.target == f"{model_id}@{version}"
            else:
                where = or_(AuditEvent.target == model_id,
                            and_(AuditEvent.target >= f"{model_id}@", AuditEvent.target < f"{model_id}A"))
            rows = session.execute(select(AuditEvent).where(where).order_by(AuditEvent.seq)).scalars()
            return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
                     "before": json.loads(e.before), "after": json.loads(e.after)} for e in rows]
        return self.db.run_read(read)

    def verify_audit(self) -> audit.Verification:
        return self.db.run_read(audit.verify)

    # -- lifecycle (modelreg.governance), routing (modelreg.routing) -------
    def review(self, target: str, check: str, passed: bool, *, reject: bool = False, note: str = "") -> dict:
        from modelreg import governance
        return governance.review(self, target, check, passed, reject=reject, note=note)

    def promote(self, target: str, *, canary: int | None = None, dry_run: bool = False) -> dict:
        from modelreg import governance
        return governance.promote(self, target, canary=canary, dry_run=dry_run)

    def rollout(self, model_id: str, *, set_weight: int | None = None, complete: bool = False, abort: bool = False) -> dict:
        from modelreg import governance
        return governance.rollout(self, model_id, set_weight=set_weight, complete=complete, abort=abort)

    def deprecate(self, target: str, *, reason: str, notice_days: int | None = None, retire_on: str | None = None,
                  replacement: str | None = None) -> dict:
        from modelreg import governance
        return governance.deprecate(self, target, reason=reason, notice_days=notice_days, retire_on=retire_on,
                                    replacement=replacement)

    def cancel_deprecation(self, target: str) -> dict:
        from modelreg import governance
        return governance.cancel_deprecation(self, target)

    def sweep(self, *, dry_run: bool = False) -> dict:
        from modelreg.sweep import RetirementSweep
        return RetirementSweep(self).run(dry_run=dry_run)

    def record_benchmark(self, target: str, *, endpoint: str, settings: dict, results: dict, passed: bool,
                         aborted: bool = False, started_at: str | None = None) -> int:
        from modelreg import governance
        return governance.record_benchmark(self, target, endpoint=endpoint, settings=settings, results=results,
                                           passed=passed, aborted=aborted, started_at=started_at)

    def set_fallbacks(self, model_id: str, targets: list[str]) -> dict:
        from modelreg import routing
        return routing.set_fallbacks(self, model_id, targets)

    def clear_fallbacks(self, model_id: str) -> dict:
        from modelreg import routing
        return routing.set_fallbacks(self, model_id, [], clearing=True)

    def show_fallbacks(self, model_id: str) -> dict:
        from modelreg import routing
        return routing.show_fallbacks(self, model_id)

    def resolve(self, *, model: str | None = None, provider: str | None = None, capabilities: Iterable[str] = (),
                domain: str | None = None, residency: str | None = None, key: str | None = None,
                prerelease: bool = False):
        from modelreg import routing
        return routing.resolve(self, model=model, provider=provider, capabilities=list(capabilities), domain=domain,
                               residency=residency, key=key, prerelease=prerelease)

    def get_latest_approved(self, **filters):
        """The guide's getLatestApproved: the same code path as `resolve`."""
        return self.resolve(**filters)

    # -- monitoring and alerts (modelreg.monitoring) ------------------------
    def ingest_observations(self, text: str, *, fmt: str = "auto", strict: bool = False) -> dict:
        from modelreg import monitoring
        return monitoring.ingest(self, text, fmt=fmt, strict=strict)

    def recent_observations(self, model_id: str, version: str, *, limit: int = 24) -> list[dict]:
        from modelreg import monitoring
        return monitoring.recent_observations(self, model_id, version, limit=limit)

    def pin_baseline(self, target: str, *, windows: int | None = None) -> dict:
        from modelreg import monitoring
        return monitoring.pin_baseline(self, target, windows=windows)

    def check_alerts(self, *, deliver: bool = True, **delivery) -> dict:
        from modelreg import monitoring
        return monitoring.check(self, deliver=deliver, **delivery)

    def deliver_alerts(self, **delivery) -> dict:
        from modelreg import monitoring
        return monitoring.deliver_pending(self, **delivery)

    def list_alerts(self, *, status: str | None = None, severity: str | None = None, model: str | None = None) -> list[dict]:
        from modelreg import monitoring
        return monitoring.list_alerts(self, status=status, severity=severity, model=model)

    def ack_alert(self, alert_id) -> dict:
        from modelreg import monitoring
        return monitoring.ack_alert(self, alert_id)

    def resolve_alert(self, alert_id) -> dict:
        from modelreg import monitoring
        return monitoring.resolve_alert(self, alert_id)

    def add_advisory(self, advisory_id: str, *, model_id: str, affected: str, severity: str, summary: str) -> dict:
        from modelreg import monitoring
        return monitoring.add_advisory(self, advisory_id, model_id=model_id, affected=affected, severity=severity,
                                       summary=summary)

    def withdraw_advisory(self, advisory_id: str, *, model_id: str) -> dict:
        from modelreg import monitoring
        return monitoring.withdraw_advisory(self, advisory_id, model_id=model_id)

    def list_advisories(self, *, model_id: str | None = None) -> list[dict]:
        from modelreg import monitoring
        return monitoring.list_advisories(self, model_id=model_id)

    def export_prometheus(self, path: str | None = None) -> str:
        from modelreg import monitoring
        return monitoring.export_prometheus(self, path)

    # -- registry as code (modelreg.registry_file) -------------------------
    def export_document(self) -> dict[str, Any]:
        from modelreg import registry_file
        return registry_file.export_document(self)

    def export_toml(self) -> str:
        from modelreg import registry_file
        return registry_file.export_toml(self)

    def import_document(self, document: dict, *, dry_run: bool = False, source: str = "document"):
        """Validate a loaded registry document, plan it and apply it in one transaction."""
        from modelreg import registry_file
        return registry_file.import_document(self, registry_file.parse_document(document, source), dry_run=dry_run)

    def diff_document(self, document: dict, *, source: str = "document") -> list[dict[str, Any]]:
        from modelreg import registry_file
        return registry_file.diff_document(self, registry_file.parse_document(document, source))


def version_query(*, provider=None, capabilities: Iterable[str] = (), domain=None, residency=None, model=None,
                  statuses: list[str] | None = None, max_p95=None, max_cost=None, walk_in_order: bool = False):
    """SELECT of versions matching every filter; capability, domain and
    residency lookups go through the indexed version_attribute table: joined
    (best when they are selective), or as EXISTS probes when `walk_in_order`
    (best for a page of a broad match: the database walks versions in display
    order and stops at the limit instead of sorting every match)."""
    caps = sorted({check_slug("--capability", c) for c in capabilities})
    query = select(ModelVersion)
    conditions = []
    if provider is not None:
        conditions.append(ModelVersion.provider == check_slug("--provider", provider))
    if statuses is not None:
        conditions.append(ModelVersion.status.in_(statuses))
    for value in (max_p95, max_cost):
        if value is not None and (value != value or value < 0 or value == float("inf")):
            raise InvalidInput("--max-p95 and --max-cost take non-negative numbers")
    if max_p95 is not None:
        conditions.append(ModelVersion.p95_latency_ms <= max_p95)
    if max_cost is not None:
        conditions.append(ModelVersion.cost_per_request_usd <= max_cost)
    if model is not None:
        if not model or len(model) > 200 or any(c.isspace() or ord(c) < 32 for c in model):
            raise InvalidInput(f"invalid --model glob {model[:60]!r}")
        if any(ch in model for ch in "*?"):
            conditions.append(ModelVersion.model_id.like(like_pattern(model), escape="\\"))
        else:
            conditions.append(ModelVersion.model_id == model)
    attr_filters = [("capability", c) for c in caps]
    if domain is not None:
        attr_filters.append(("domain", check_slug("--domain", domain)))
    if residency is not None:
        attr_filters.append(("residency", check_slug("--residency", residency)))
    for kind, value in attr_filters:
        if walk_in_order:
            conditions.append(select(VersionAttribute.model_id).where(
                VersionAttribute.kind == kind, VersionAttribute.value == value,
                VersionAttribute.model_id == ModelVersion.model_id, VersionAttribute.version == ModelVersion.version).exists())
            continue
        alias = select(VersionAttribute.model_id, VersionAttribute.version).where(
            VersionAttribute.kind == kind, VersionAttribute.value == value).subquery()
        query = query.join(alias, and_(alias.c.model_id == ModelVersion.model_id, alias.c.version == ModelVersion.version))
    if conditions:
        query = query.where(*conditions)
    return query


SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def recent_windows(session, model_id: str, version: str, limit: int = 24) -> list[dict[str, Any]]:
    """The latest `limit` observation windows of a version, oldest first."""
    from modelreg.store.monitoring_tables import Observation
    rows = list(session.execute(select(Observation).where(Observation.model_id == model_id, Observation.version == version)
                                .order_by(Observation.window_end.desc(), Observation.window_start.desc()).limit(limit)).scalars())
    rows.reverse()
    return [window_view(r) for r in rows]


def active_alerts(session, model_id: str, version: str) -> list[dict[str, Any]]:
    """Open and acked alerts of one version, most severe first."""
    from modelreg.store.monitoring_tables import Alert
    rows = session.execute(select(Alert).where(Alert.model_id == model_id, Alert.version == version,
                                               Alert.status != "resolved")).scalars()
    return [alert_view(a) for a in sorted(rows, key=lambda a: (SEVERITY_ORDER.get(a.severity, 9), a.id))]


def lock_model(session, model_id: str) -> Model:
    """Lock the model row for the rest of the transaction (PostgreSQL row
    lock; on SQLite the write transaction already holds the database)."""
    model = session.execute(select(Model).where(Model.model_id == model_id).with_for_update()).scalar_one_or_none()
    if model is None:
        raise NotFound(f"unknown model {model_id!r}")
    return model


def benchmark_summary(run: BenchmarkRun) -> dict[str, Any]:
    results = json.loads(run.results)
    return {"run_id": run.run_id, "endpoint": run.endpoint, "started_at": run.started_at, "finished_at": run.finished_at,
            "actor": run.actor, "mode": run.mode, "passed": run.passed, "aborted": run.aborted,
            "latency_ms": results.get("latency_ms"), "error_rate": results.get("error_rate"),
            "throughput_rps": results.get("throughput_rps")}
