"""Monitoring tables (revision 0002): advisories, observation windows, drift
baselines, alerts and their webhook deliveries.

Kept apart from modelreg.store.tables so that commands which never touch
monitoring (find, show, register, ...) do not pay for building these
SQLModel classes at start-up; they share its metadata and conventions.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from modelreg.store.tables import TS


class Advisory(SQLModel, table=True):
    __tablename__ = "advisory"
    advisory_id: str = Field(primary_key=True, max_length=64)
    model_id: str = Field(primary_key=True, max_length=64)
    affected: str = Field(max_length=400)  # PEP 440 specifier set
    severity: str = Field(max_length=16)
    summary: str = ""
    status: str = Field(default="open", max_length=16)  # open | withdrawn
    created_at: str = Field(max_length=TS)
    created_by: str = Field(max_length=128)


class Observation(SQLModel, table=True):
    __tablename__ = "observation"
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    window_start: str = Field(primary_key=True, max_length=TS)
    window_end: str = Field(primary_key=True, max_length=TS)
    requests: int = 0
    errors: int = 0
    latency_avg_ms: float = 0
    latency_p95_ms: float = 0
    cost_usd: Optional[float] = None
    sample: Optional[str] = None  # JSON list of numbers, for drift
    ingested_at: str = Field(max_length=TS)


class Baseline(SQLModel, table=True):
    """The observed drift/usage baseline of a version: first windows after approval, or pinned."""

    __tablename__ = "baseline"
    model_id: str = Field(primary_key=True, max_length=64)
    version: str = Field(primary_key=True, max_length=128)
    sample: str = "[]"
    source: str = Field(max_length=16)  # observed | pinned
    created_at: str = Field(max_length=TS)


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    # Also a partial unique index ux_alert_active_dedup on dedup_key WHERE
    # status != 'resolved' (re-running a check never duplicates an active
    # alert). It is created by migration 0002 and not declared here: its
    # dialect-specific arguments would load both SQLAlchemy dialects on every
    # start (about 30 ms), and tables are only ever created by migrations.
    __table_args__ = (Index("ix_alert_status", "status", "severity"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=300)
    kind: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    status: str = Field(max_length=16)  # open | acked | resolved
    model_id: Optional[str] = Field(default=None, max_length=64)
    version: Optional[str] = Field(default=None, max_length=128)
    message: str = ""
    first_seen: str = Field(max_length=TS)
    last_seen: str = Field(max_length=TS)
    acked_by: Optional[str] = Field(default=None, max_length=128)
    resolved_at: Optional[str] = Field(default=None, max_length=TS)


class AlertDelivery(SQLModel, table=True):
    __tablename__ = "alert_delivery"
    alert_id: int = Field(primary_key=True, foreign_key="alert.id")
    url: str = Field(primary_key=True, max_length=2048)
    status: str = Field(max_length=16)  # pending | delivered | failed
    attempts: int = 0
    last_error: Optional[str] = None
    updated_at: str = Field(max_length=TS)
