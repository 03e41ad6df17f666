"""The registry library: what `from modelreg import Registry` gives.

A facade: each method parses its arguments, opens a read or a write
transaction and calls the module that owns the work (`catalog`, `routing`,
`lifecycle.*`, `sweep`, `monitoring.*`, `regfile.*`). It owns no rules. The
CLI and the HTTP server are thin layers over this class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from modelreg import catalog, routing
from modelreg.config import Config, load_config
from modelreg.errors import InvalidInput, SLOMissed
from modelreg.lifecycle import evidence, fallbacks, registration, transitions
from modelreg.manifest import VersionSpec, parse_manifest_document, parse_version_spec
from modelreg.policy import Policy
from modelreg.store import audit, queries
from modelreg.store.database import Database, Tx
from modelreg.targets import parse_model_id, parse_target

T = TypeVar("T")


class Registry:
    def __init__(self, database: Database, config: Config):
        self.db = database
        self.config = config

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        config: Config | None = None,
        actor: str | None = None,
        config_path: str | None = None,
    ) -> Registry:
        """Open the registry with the CLI's precedence (flag > env > config file > default).
        The default database is created on the first write; any other path must exist."""
        cfg = config or load_config(db=url, actor=actor, config_path=config_path)
        if cfg.database_url.lower().startswith(("http://", "https://")):  # a `modelreg serve` API: read-only
            from modelreg.remote import RemoteRegistry

            return RemoteRegistry.open(cfg)  # type: ignore[return-value]
        return cls(Database(cfg.database_url, create=cfg.database_is_default), cfg)

    def close(self) -> None:
        self.db.dispose()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def actor(self) -> str:
        return self.config.actor

    def write(self, fn: Callable[[Tx], T], *, dry_run: bool = False) -> T:
        return self.db.write(
            fn,
            actor=self.config.actor,
            actor_source=self.config.actor_source,
            os_user=self.config.os_user,
            dry_run=dry_run,
        )

    def read(self, fn: Callable[[Any], T]) -> T:
        return self.db.run_read(fn)

    # -- 1. submission ---------------------------------------------------------
    def register(self, manifest: dict | VersionSpec) -> dict[str, Any]:
        spec = manifest if isinstance(manifest, VersionSpec) else parse_version_spec(manifest)
        self.register_many([spec])
        return self.get_version(spec.model_id, spec.version)

    def register_document(self, document: dict, source: str = "manifest") -> list[dict[str, Any]]:
        return self.register_many(parse_manifest_document(document, source))

    def register_many(self, specs: list[VersionSpec]) -> list[dict[str, Any]]:
        """All-or-nothing bulk registration: [{model_id, version, status}]."""
        if not specs:
            return []
        registered = self.write(lambda tx: registration.register_versions(tx, specs))
        if len(specs) >= 1000:
            self.db.refresh_statistics()
        return registered

    # -- reading -----------------------------------------------------------------
    def get_version(self, model_id: str, version: str) -> dict[str, Any]:
        return self.read(lambda s: catalog.version(s, model_id, version))

    def get_model(self, model_id: str) -> dict[str, Any]:
        return self.read(lambda s: catalog.model(s, model_id))

    def find(self, *, limit: int | None = 50, offset: int = 0, **filters: Any) -> tuple[list[dict[str, Any]], int]:
        """Versions matching every filter (provider, capabilities, status, stage,
        domain, residency, max_p95, max_cost, model, include_retired, used_by), newest
        first within each model; and how many matched in all."""
        return self.read(lambda s: catalog.find(s, limit=limit, offset=offset, **filters))

    def find_models(self, **filters: Any) -> list[dict[str, Any]]:
        """The guide's findModels: every matching version (no page limit unless `limit`)."""
        filters.setdefault("limit", None)
        return self.find(**filters)[0]

    def deprecations(self) -> list[dict[str, Any]]:
        """Every DEPRECATED version, soonest retirement first: replacement and consumers still seen."""
        return self.read(catalog.deprecations)

    def tree(self, *, include_retired: bool = False) -> dict[str, dict[str, list[dict]]]:
        return self.read(lambda s: catalog.tree(s, include_retired=include_retired))

    def history(self, model_id: str, version: str | None = None) -> list[dict[str, Any]]:
        return self.read(lambda s: catalog.history(s, model_id, version))

    def resolve(
        self,
        *,
        model: str | None = None,
        provider: str | None = None,
        capabilities: Iterable[str] = (),
        domain: str | None = None,
        residency: str | None = None,
        key: str | None = None,
        prerelease: bool = False,
    ) -> routing.Resolution:
        caps = list(capabilities)
        return self.read(
            lambda s: routing.resolve(
                s,
                model=model,
                provider=provider,
                capabilities=caps,
                domain=domain,
                residency=residency,
                key=key,
                prerelease=prerelease,
            )
        )

    def get_latest_approved(self, **filters: Any) -> routing.Resolution:
        """The guide's getLatestApproved: the same code path as `resolve`."""
        return self.resolve(**filters)

    # -- the audit trail -----------------------------------------------------------
    def verify_audit(self, *, anchor: str | None = None) -> audit.Verification:
        parsed = parse_anchor(anchor) if anchor is not None else None
        return self.read(lambda s: audit.verify(s, anchor=parsed))

    def audit_head(self) -> tuple[int, str]:
        return self.read(queries.audit_head)

    def check_database(self) -> dict[str, Any]:
        """Storage integrity, the audit chain and the stored statuses, each as one line."""
        from modelreg.lifecycle.status import STATUSES
        from modelreg.store import integrity

        return integrity.check(self.db, STATUSES)

    @staticmethod
    def raise_for_check(report: dict[str, Any]) -> None:
        from modelreg.store import integrity

        integrity.raise_for(report)

    # -- access (PostgreSQL roles) ------------------------------------------------------
    def access(self, user: str, role: str, *, grant: bool) -> dict[str, Any]:
        from modelreg.store import access

        return self.write(lambda tx: access.change(tx, user, role, grant=grant))

    def access_list(self) -> list[dict[str, Any]]:
        from modelreg.store import access

        return self.read(access.listing)

    # -- 2-5 and the lifecycle (modelreg.lifecycle) ------------------------------------
    def review(self, target: str, check: str, passed: bool, *, reject: bool = False, note: str = "") -> dict:
        model_id, version = parse_target(target)
        if reject and passed:
            raise InvalidInput("--reject goes with --fail")

        def work(tx: Tx) -> dict:
            result = evidence.review(tx, model_id, version, check, passed, note=note)
            if reject:
                result["status"] = transitions.reject(tx, model_id, version)["status"]
            return result

        return self.write(work)

    def record_benchmark(
        self,
        target: str,
        *,
        endpoint: str,
        settings: dict,
        results: dict,
        passed: bool,
        aborted: bool = False,
        started_at: str | None = None,
    ) -> int:
        model_id, version = parse_target(target)
        return self.write(
            lambda tx: evidence.record_benchmark(
                tx,
                model_id,
                version,
                endpoint=endpoint,
                settings=settings,
                results=results,
                passed=passed,
                aborted=aborted,
                started_at=started_at,
            )
        )["run_id"]

    def promote(self, target: str, *, canary: int | None = None, dry_run: bool = False) -> dict:
        """Move M@V one step up; a dry run does the same work and rolls it back
        (and refuses exactly as the real run would)."""
        model_id, version = parse_target(target)
        plan = self.write(lambda tx: transitions.promote(tx, model_id, version, canary=canary), dry_run=dry_run)
        return {**plan, "dry_run": dry_run, "would_succeed": True}

    def rollout(
        self, model_id: str, *, set_weight: int | None = None, complete: bool = False, abort: bool = False
    ) -> dict:
        parse_model_id(model_id)
        return self.write(
            lambda tx: transitions.rollout(tx, model_id, set_weight=set_weight, complete=complete, abort=abort)
        )

    def rollback(self, model_id: str, *, to: str | None = None) -> dict:
        parse_model_id(model_id)
        version = parse_target(f"{model_id}@{to}")[1] if to is not None else None
        return self.write(lambda tx: transitions.rollback(tx, model_id, to=version))

    def deprecate(
        self,
        target: str,
        *,
        reason: str,
        notice_days: int | None = None,
        retire_on: str | None = None,
        replacement: str | None = None,
    ) -> dict:
        model_id, version = parse_target(target)
        rep = parse_target(replacement) if replacement is not None else None
        return self.write(
            lambda tx: transitions.deprecate(
                tx, model_id, version, reason=reason, notice_days=notice_days, retire_on=retire_on, replacement=rep
            )
        )

    def cancel_deprecation(self, target: str) -> dict:
        model_id, version = parse_target(target)
        return self.write(lambda tx: transitions.cancel_deprecation(tx, model_id, version))

    def sweep(self, *, dry_run: bool = False) -> dict:
        from modelreg.sweep import RetirementSweep

        report = self.write(lambda tx: RetirementSweep(tx).run(dry_run=dry_run), dry_run=dry_run)
        if not dry_run:
            self.deliver_pending()
        return report

    def set_fallbacks(self, model_id: str, targets: list[str]) -> dict:
        parse_model_id(model_id)
        return self.write(lambda tx: fallbacks.set_fallbacks(tx, model_id, list(targets)))

    def clear_fallbacks(self, model_id: str) -> dict:
        parse_model_id(model_id)
        return self.write(lambda tx: fallbacks.set_fallbacks(tx, model_id, [], clearing=True))

    def show_fallbacks(self, model_id: str) -> dict:
        parse_model_id(model_id)
        return self.read(lambda s: routing.show_fallbacks(s, model_id))

    # -- 4. benchmarking a version's endpoint ----------------------------------------------
    def benchmark(
        self,
        target: str,
        *,
        endpoint: str | None = None,
        record: bool = True,
        on_progress: Callable | None = None,
        **options: Any,
    ) -> dict[str, Any]:
        """Measure the endpoint (the registered one unless `endpoint`), judge it
        against the version's SLO and record the run. The returned report has
        `slo.passed`; `raise_for_slo(report)` turns a miss into SLOMissed (exit 6)."""
        from modelreg import clock
        from modelreg.bench import BenchmarkSettings, evaluate_slo, run_benchmark

        model_id, version = parse_target(target)
        row = self.get_version(model_id, version)
        url = endpoint or row["endpoint"]
        if not url:
            raise InvalidInput(f"{target} has no registered endpoint; pass --endpoint URL")
        if options.get("max_error_rate") is None:
            options["max_error_rate"] = self.policy().max_error_rate
        settings = BenchmarkSettings(endpoint=url, endpoint_kind=row["endpoint_kind"] or "openai-chat", **options)
        settings.validate()
        started = clock.stamp(clock.now())
        result = run_benchmark(settings, on_progress=on_progress)
        data = result.to_dict()
        data["slo"] = evaluate_slo(
            data, row["performance"]["avg_latency_ms"], row["performance"]["p95_latency_ms"], settings.max_error_rate
        )
        data["run_id"] = None
        data["counts_for_gate"] = False
        if record:
            recorded = self.write(
                lambda tx: evidence.record_benchmark(
                    tx,
                    model_id,
                    version,
                    endpoint=url,
                    settings=settings.to_record(),
                    results=data,
                    passed=data["slo"]["passed"],
                    aborted=result.aborted,
                    started_at=started,
                )
            )
            data["run_id"], data["counts_for_gate"] = recorded["run_id"], recorded["counts_for_gate"]
        return {"run_id": data.pop("run_id"), **data}

    @staticmethod
    def raise_for_slo(report: dict[str, Any], target: str) -> None:
        if not report["slo"]["passed"]:
            failed = [c["name"] for c in report["slo"]["checks"] if not c["passed"]]
            raise SLOMissed(f"{target}: SLO missed ({', '.join(failed) or 'no successful requests'})")

    # -- the policy -------------------------------------------------------------------------
    def policy(self) -> Policy:
        return self.read(self.db.current_policy)

    def set_policy(self, key: str, value: str) -> dict[str, Any]:
        from modelreg.lifecycle import governance

        return self.write(lambda tx: governance.set_policy(tx, tx.policy.with_setting(key, value)))

    def apply_policy(self, document: dict[str, Any], *, source: str = "policy file", dry_run: bool = False) -> dict:
        from modelreg.lifecycle import governance

        new = Policy.from_document(document, source)
        return self.write(lambda tx: governance.set_policy(tx, new), dry_run=dry_run)

    def policy_history(self) -> list[dict[str, Any]]:
        from modelreg.lifecycle import governance

        return self.read(governance.history)

    # -- monitoring and alerts (modelreg.monitoring) ------------------------------------------
    def ingest_observations(self, text: str, *, fmt: str = "auto", strict: bool = False) -> dict:
        from modelreg.monitoring import ingest

        observations, errors = ingest.parse(text, fmt, strict)
        if not observations:  # nothing to look up or write
            return ingest.report(0, 0, 0, errors, [])
        return self.write(lambda tx: ingest.store(tx, observations, errors, strict=strict))

    def delete_windows(self, target: str, *, start: str | None = None, end: str | None = None) -> dict:
        from modelreg.monitoring import ingest

        model_id, version = parse_target(target)
        return self.write(lambda tx: ingest.delete_windows(tx, model_id, version, start=start, end=end))

    def pin_baseline(self, target: str, *, windows: int | None = None) -> dict:
        from modelreg.monitoring import baselines

        model_id, version = parse_target(target)
        return self.write(lambda tx: baselines.pin(tx, model_id, version, windows=windows))

    def check_alerts(self, *, deliver: bool = True, **delivery: Any) -> dict:
        from modelreg.monitoring import alerting

        report = self.write(alerting.check)
        report["deliveries"] = (
            self.deliver_pending(**delivery)["alerts"] if deliver else {"delivered": 0, "failed": 0, "results": []}
        )
        return report

    def deliver_pending(self, **delivery: Any) -> dict[str, Any]:
        """Send every pending alert and lifecycle-event webhook (signed, retried, recorded)."""
        from modelreg.monitoring import delivery as deliveries

        policy = self.policy()
        return {
            kind: deliveries.deliver_pending(self.write, policy, events=kind == "events", **delivery)
            for kind in ("alerts", "events")
        }

    def list_alerts(
        self, *, status: str | None = None, severity: str | None = None, model: str | None = None
    ) -> list[dict]:
        from modelreg.monitoring import alerting

        if model is not None:
            parse_model_id(model)
        return self.read(lambda s: alerting.listing(s, status=status, severity=severity, model=model))

    def ack_alert(self, alert_id: Any) -> dict:
        from modelreg.monitoring import alerting

        return self.write(lambda tx: alerting.ack(tx, alert_id))

    def resolve_alert(self, alert_id: Any) -> dict:
        from modelreg.monitoring import alerting

        return self.write(lambda tx: alerting.resolve(tx, alert_id))

    def alert_deliveries(self, alert_id: Any | None = None) -> list[dict]:
        from modelreg.monitoring import alerting, delivery

        ident = alerting.parse_id(alert_id) if alert_id is not None else None
        return self.read(lambda s: delivery.listing(s, ident))

    def add_advisory(self, advisory_id: str, *, model_id: str, affected: str, severity: str, summary: str) -> dict:
        from modelreg.monitoring import advisories

        parse_model_id(model_id)
        return self.write(
            lambda tx: advisories.add(
                tx, advisory_id, model_id=model_id, affected=affected, severity=severity, summary=summary
            )
        )

    def withdraw_advisory(self, advisory_id: str, *, model_id: str) -> dict:
        from modelreg.monitoring import advisories

        parse_model_id(model_id)
        return self.write(lambda tx: advisories.withdraw(tx, advisory_id, model_id=model_id))

    def list_advisories(self, *, model_id: str | None = None) -> list[dict]:
        from modelreg.monitoring import advisories

        if model_id is not None:
            parse_model_id(model_id)
        return self.read(lambda s: advisories.listing(s, model_id=model_id))

    def export_prometheus(self, path: str | None = None) -> str:
        from modelreg.monitoring import metrics

        text = self.read(metrics.render)
        if path is not None:
            from modelreg.textfile import write_output

            write_output(path, text, mode=0o644)
        return text

    def deliver_events(self, *, retry_failed_after_s: float = 30, **delivery: Any) -> dict[str, Any] | None:
        """For a long-running deliverer (`serve`): send pending lifecycle-event
        webhooks when there are any (a cheap read first: no write lock when
        nothing waits); failed ones again once `retry_failed_after_s` passed."""
        from modelreg.monitoring import delivery as deliveries

        policy = self.policy()
        pending = self.read(
            lambda s: deliveries.anything_to_send(s, policy, events=True, retry_failed_after_s=retry_failed_after_s)
        )
        if not pending:
            return None
        return deliveries.deliver_pending(
            self.write, policy, events=True, retry_failed_after_s=retry_failed_after_s, **delivery
        )

    # -- metadata: labels, model cards, lineage -------------------------------------------------
    def set_labels(self, subject: str, labels: Iterable[str]) -> dict[str, Any]:
        """Add or change `key=value` labels of a model (`M`) or a version (`M@V`)."""
        from modelreg.lifecycle import metadata as version_metadata
        from modelreg.metadata import parse_label_flags

        model_id, version = parse_target(subject, version_required=False)
        parsed = parse_label_flags(list(labels), "label")
        return self.write(lambda tx: version_metadata.set_labels(tx, model_id, version, parsed))

    def unset_labels(self, subject: str, keys: Iterable[str]) -> dict[str, Any]:
        from modelreg.lifecycle import metadata as version_metadata

        model_id, version = parse_target(subject, version_required=False)
        wanted = [k.partition("=")[0] for k in keys]
        return self.write(lambda tx: version_metadata.unset_labels(tx, model_id, version, wanted))

    def set_card(self, target: str, *, path: str | None = None, text: str | None = None) -> dict[str, Any]:
        """Store M@V's Markdown model card (from a file, or text), at most 1 MB."""
        from modelreg.lifecycle import metadata as version_metadata
        from modelreg.metadata import CARD_MAX_BYTES

        model_id, version = parse_target(target)
        source = path or "card"
        if path is not None:
            from modelreg.textfile import read_text

            text = read_text(path, "a Markdown model card", limit=CARD_MAX_BYTES)
        return self.write(lambda tx: version_metadata.set_card(tx, model_id, version, text, source))

    def card(self, target: str) -> dict[str, Any]:
        from modelreg.lifecycle import metadata as version_metadata

        model_id, version = parse_target(target)
        return self.read(lambda s: version_metadata.card(s, model_id, version))

    def lineage(self, target: str) -> dict[str, Any]:
        """What M@V derives from and what derives from it."""
        model_id, version = parse_target(target)
        return self.read(lambda s: catalog.lineage(s, model_id, version))

    # -- applications: bearer tokens and consumers ---------------------------------------------
    def create_token(self, name: str) -> dict[str, Any]:
        """A new bearer token for `serve --require-token` (admin); the token is in the answer, once."""
        from modelreg import tokens

        return self.write(lambda tx: tokens.create(tx, name))

    def revoke_token(self, name: str) -> dict[str, Any]:
        from modelreg import tokens

        return self.write(lambda tx: tokens.revoke(tx, name))

    def list_tokens(self) -> list[dict[str, Any]]:
        from modelreg import tokens

        return self.read(tokens.listing)

    def verify_token(self, token: str) -> str | None:
        """The consumer name behind a live token, or None."""
        from modelreg import tokens

        return self.read(lambda s: tokens.consumer_of(s, token))

    def record_usage(self, counts: dict[tuple[str, str, str], int]) -> None:
        """Add a batch of (consumer, model_id, version) -> resolves (the server's flush)."""
        from modelreg import consumers

        consumers.record(self.db, counts)

    # -- lifecycle events ------------------------------------------------------------------------
    def events(self, *, since: int = 0, limit: int | None = 100, target: str | None = None) -> list[dict[str, Any]]:
        from modelreg.monitoring import event_log

        return self.read(lambda s: event_log.listing(s, since=since, limit=limit, target=target))

    def redeliver_event(self, event_id: Any) -> dict[str, Any]:
        from modelreg.monitoring import event_log

        result = self.write(lambda tx: event_log.redeliver(tx, event_id))
        result["deliveries"] = self.deliver_pending()["events"]
        return result

    # -- registry as code (modelreg.regfile) ---------------------------------------------------
    def export_document(self) -> dict[str, Any]:
        from modelreg.regfile import document

        return self.read(document.build_document)

    def export_toml(self) -> str:
        from modelreg.regfile import document

        return document.to_toml(self.export_document())

    def import_document(
        self, document: dict, *, dry_run: bool = False, source: str = "document", validated: bool = False
    ):
        """Validate a loaded registry document (unless `validated`: it came from
        `regfile.reader`), plan it and apply it in one transaction."""
        from modelreg.regfile import importer, reader

        doc = document if validated else reader.parse_document(document, source)
        plan = self.write(lambda tx: importer.apply(tx, doc, dry_run=dry_run), dry_run=dry_run)
        plan.applied = not dry_run
        return plan

    def diff_document(
        self, document: dict, *, source: str = "document", validated: bool = False
    ) -> list[dict[str, Any]]:
        from modelreg.regfile import diff, reader

        doc = document if validated else reader.parse_document(document, source)
        return diff.diff_documents(doc, self.export_document())


def parse_anchor(text: str) -> tuple[int, str]:
    """`SEQ:HASH` as printed by `audit head`."""
    seq, sep, digest = str(text).strip().partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InvalidInput(f"invalid --head {str(text)[:80]!r}: expected SEQ:HASH as printed by `modelreg audit head`")
    return int(seq), digest
