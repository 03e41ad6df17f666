"""The schema. Timestamps are fixed-width ISO 8601 UTC text
(YYYY-MM-DDTHH:MM:SS.ffffffZ): they sort as text, hash identically on both
backends (the audit chain needs that) and round-trip through export exactly.
Lists and tables are JSON text; capabilities, residencies and domains are
also stored one row each in `version_attribute` so lookups use an index.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from sqlalchemy import BigInteger, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

TS = 27  # len("2026-11-27T05:28:46.000000Z")


def json_text(value: Any) -> str:
    """The one JSON form of the text columns and of audit payloads: sorted
    keys, no spaces, UTF-8 as is (hashes identically on both backends)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Model(SQLModel, table=True):
    __tablename__ = "model"
    model_id: str = Field(primary_key=True, max_length=64)
    provider: str = Field(max_length=64, index=True)
    description: str = ""
    owner: str = Field(max_length=128)  # the owning team (the registering actor unless a manifest names one)
    contacts: str = "[]"  # revision 0006: JSON list of emails or handles to notify
    created_at: str = Field(max_length=TS)
    fallbacks: str = "[]"  # JSON list of "model" or "model@spec", in order
    canary_version: Optional[str] = Field(default=None, max_length=128)
    row_version: int = 0  # bumped by every change to the model or its versions


class ModelVersion(SQLModel, table=True):
    __tablename__ = "model_version"
    __table_args__ = (
        Index("ix_model_version_status", "status"),
        Index("ix_model_version_model_key", "model_id", "version_key"),
        Index("ix_model_version_cover", "model_id", "version", "status"),  # revision 0003
        Index("ix_model_version_display", "model_id", text("version_key DESC")),  # revision 0003
        Index(
            "ix_model_version_approved", "status", "approved_at", "model_id"
        ),  # revision 0007 (PostgreSQL: COLLATE "C")
    )
    model_id: str = Field(primary_key=True, foreign_key="model.model_id", max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    version_key: str = Field(max_length=400)  # sorts like SemVer precedence
    prerelease: bool = False
    provider: str = Field(max_length=64)
    status: str = Field(max_length=16)
    capabilities: str = "[]"
    parameters: str = "{}"
    avg_latency_ms: float = 0
    p95_latency_ms: float = 0
    cost_per_request_usd: float = 0
    data_residency: str = "[]"
    pii_handling: str = Field(default="none", max_length=16)
    approved_domains: str = "[]"
    endpoint: Optional[str] = None
    endpoint_kind: Optional[str] = Field(default=None, max_length=16)
    description: str = ""
    registered_at: str = Field(max_length=TS)
    registered_by: str = Field(max_length=128)
    status_changed_at: str = Field(max_length=TS)
    approved_at: Optional[str] = Field(default=None, max_length=TS)
    approved_by: Optional[str] = Field(default=None, max_length=128)
    default_since: Optional[str] = Field(default=None, max_length=TS)  # became the production default
    canary_weight: Optional[int] = None
    deprecated_at: Optional[str] = Field(default=None, max_length=TS)
    deprecated_by: Optional[str] = Field(default=None, max_length=128)
    deprecation_reason: Optional[str] = None
    retire_on: Optional[str] = Field(default=None, max_length=10)  # YYYY-MM-DD
    replacement: Optional[str] = Field(default=None, max_length=200)
    retired_at: Optional[str] = Field(default=None, max_length=TS)
    rejected_at: Optional[str] = Field(default=None, max_length=TS)


class VersionAttribute(SQLModel, table=True):
    """One row per capability / residency / domain of a version (indexed lookups)."""

    __tablename__ = "version_attribute"
    __table_args__ = (Index("ix_version_attribute_version", "model_id", "version"),)
    kind: str = Field(primary_key=True, max_length=16)  # capability | residency | domain
    value: str = Field(primary_key=True, max_length=64)
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)


class CheckResult(SQLModel, table=True):
    __tablename__ = "check_result"
    __table_args__ = (Index("ix_check_result_version", "model_id", "version", "name"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    model_id: str = Field(max_length=64)
    version: str = Field(max_length=128)
    name: str = Field(max_length=64)
    result: str = Field(max_length=8)  # pass | fail
    actor: str = Field(max_length=128)
    at: str = Field(max_length=TS)
    note: str = ""
    evidence: Optional[str] = None  # e.g. "benchmark run 12"


class BenchmarkRun(SQLModel, table=True):
    __tablename__ = "benchmark_run"
    __table_args__ = (Index("ix_benchmark_run_version", "model_id", "version", "finished_at"),)
    run_id: Optional[int] = Field(default=None, primary_key=True)
    model_id: str = Field(max_length=64)
    version: str = Field(max_length=128)
    endpoint: str
    actor: str = Field(max_length=128)
    started_at: str = Field(max_length=TS)
    finished_at: str = Field(max_length=TS)
    mode: str = Field(max_length=16)  # closed | open
    passed: bool = False
    aborted: bool = False
    settings: str = "{}"
    results: str = "{}"


class RetirementNotice(SQLModel, table=True):
    """A notice raised by the sweep: one row per (version, retire date, threshold)."""

    __tablename__ = "retirement_notice"
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    retire_on: str = Field(primary_key=True, max_length=10)
    days_before: int = Field(primary_key=True)
    raised_at: str = Field(max_length=TS)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_target", "target"),)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: str = Field(max_length=TS)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    target: str = Field(max_length=200)
    before: str = "null"
    after: str = "null"
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)
    os_user: Optional[str] = Field(default=None, max_length=128)  # revision 0004: the OS login that ran modelreg
    policy_version: Optional[int] = None  # revision 0004: the policy the decision was made under


class AuditHead(SQLModel, table=True):
    """The chain's tip (one row). Writers lock it first, so the chain never
    forks and deleting the newest event is still detectable."""

    __tablename__ = "audit_head"
    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    seq: int = 0
    hash: str = Field(default="0" * 64, max_length=64)


class PolicyVersion(SQLModel, table=True):
    """The registry's policy, one row per version (revision 0004); the newest is in force."""

    __tablename__ = "policy_version"
    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    document: str  # json_text of Policy.to_document()
    created_at: str = Field(max_length=TS)
    created_by: str = Field(max_length=128)


class LifecycleEvent(SQLModel, table=True):
    """The outbox (revision 0004): one row per lifecycle change, written in the change's transaction."""

    __tablename__ = "lifecycle_event"
    __table_args__ = (Index("ix_lifecycle_event_target", "target"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    type: str = Field(max_length=64)
    target: str = Field(max_length=200)
    actor: str = Field(max_length=128)
    at: str = Field(max_length=TS)
    policy_version: Optional[int] = None
    payload: str = "{}"


class EventDelivery(SQLModel, table=True):
    """One event to one webhook (revision 0004): pending | sending | delivered | failed."""

    __tablename__ = "event_delivery"
    __table_args__ = (Index("ix_event_delivery_status", "status"),)
    event_id: int = Field(primary_key=True, foreign_key="lifecycle_event.id")
    url: str = Field(primary_key=True, max_length=2048)
    status: str = Field(max_length=16)
    attempts: int = 0
    last_error: Optional[str] = None
    updated_at: str = Field(max_length=TS)


class ApiToken(SQLModel, table=True):
    """A bearer token for `serve --require-token` (revision 0005): only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("digest", name="uq_api_token_digest"),)
    name: str = Field(primary_key=True, max_length=64)  # the consumer its requests are counted for
    digest: str = Field(max_length=64)
    created_at: str = Field(max_length=TS)
    created_by: str = Field(max_length=128)
    revoked_at: Optional[str] = Field(default=None, max_length=TS)
    revoked_by: Optional[str] = Field(default=None, max_length=128)


class ConsumerUsage(SQLModel, table=True):
    """Requests per consumer, version and UTC day (revision 0005), added in batches."""

    __tablename__ = "consumer_usage"
    __table_args__ = (Index("ix_consumer_usage_version", "model_id", "version", "day"),)
    consumer: str = Field(primary_key=True, max_length=128)
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    day: str = Field(primary_key=True, max_length=10)  # YYYY-MM-DD (UTC)
    requests: int = Field(sa_type=BigInteger)
    last_seen: str = Field(max_length=TS)


class Label(SQLModel, table=True):
    """A `key=value` label (revision 0006) on a model (version "") or a version."""

    __tablename__ = "label"
    __table_args__ = (Index("ix_label_key_value", "key", "value"),)
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)  # "" for a label of the model
    key: str = Field(primary_key=True, max_length=63)
    value: str = Field(max_length=256)


class VersionLineage(SQLModel, table=True):
    """Where a version came from (revision 0006): recorded at registration, never changed."""

    __tablename__ = "version_lineage"
    __table_args__ = (Index("ix_version_lineage_base_model", "base_model"),)
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    artifact_uri: Optional[str] = Field(default=None, max_length=2048)
    artifact_digest: Optional[str] = Field(default=None, max_length=71)  # sha256:<64 hex>
    source: Optional[str] = Field(default=None, max_length=2048)
    base_model: Optional[str] = Field(default=None, max_length=200)
    datasets: str = "[]"
    evaluations: str = "[]"  # JSON list of {name, metric, value, dataset}


class ModelCard(SQLModel, table=True):
    """A version's Markdown model card (revision 0006), with its SHA-256."""

    __tablename__ = "model_card"
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    body: str
    sha256: str = Field(max_length=64)
    size: int
    set_at: str = Field(max_length=TS)
    set_by: str = Field(max_length=128)
