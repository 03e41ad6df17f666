"""What each operation records, pinned whole (issue 17): for every kind of
change, its answer to the caller, its audit events (actor, before, after) and
its lifecycle events (the outbox webhooks and `events list` read: type,
actor, payload), compared with tests/golden/operation_records.json on SQLite
and on PostgreSQL alike. Times read `<time>`; dates read as days from today.

The golden file is the contract, reviewed by a person: regenerate it only for
a deliberate change to what is recorded,
UPDATE_GOLDEN=1 pytest tests/test_rules_records.py -k sqlite."""

from __future__ import annotations

import json
import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_rules_lifecycle import OPERATIONS, prepared

from modelreg.errors import Conflict, PolicyRefused
from modelreg.store.tables import AuditEvent, LifecycleEvent

GOLDEN = Path(__file__).resolve().parent / "golden" / "operation_records.json"
INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DAY = re.compile(r"^\d{4}-\d\d-\d\d$")


def normal(value: Any) -> Any:
    """Times as <time>, dates as today+N (the records of any day compare equal)."""
    if isinstance(value, dict):
        return {k: normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normal(v) for v in value]
    if isinstance(value, str) and INSTANT.match(value):
        return "<time>"
    if isinstance(value, str) and DAY.match(value):
        return f"today{(date.fromisoformat(value) - date.today()).days:+d}"
    if hasattr(value, "to_dict"):
        return normal(value.to_dict())
    return value


def records(registry, since: tuple[int, int]) -> dict[str, Any]:
    def read(session):
        audit = session.execute(select(AuditEvent).where(AuditEvent.seq > since[0]).order_by(AuditEvent.seq))
        outbox = session.execute(select(LifecycleEvent).where(LifecycleEvent.id > since[1]).order_by(LifecycleEvent.id))
        return (
            [[e.action, e.target, e.actor, json.loads(e.before), json.loads(e.after)] for e in audit.scalars()],
            [[e.type, e.target, e.actor, json.loads(e.payload)] for e in outbox.scalars()],
        )

    audit, outbox = registry.read(read)
    return {"audit": normal(audit), "events": normal(outbox)}


def high_water(registry) -> tuple[int, int]:
    def read(session):
        from sqlalchemy import func

        return (
            session.execute(select(func.coalesce(func.max(AuditEvent.seq), 0))).scalar(),
            session.execute(select(func.coalesce(func.max(LifecycleEvent.id), 0))).scalar(),
        )

    return registry.read(read)


def _recorded(registry, bob, monkeypatch, operation: str) -> dict[str, Any]:
    act = prepared(registry, bob, monkeypatch, operation)
    since = high_water(registry)
    try:
        answer = act()
    except (PolicyRefused, Conflict) as refused:
        answer = {"refused": type(refused).__name__, "message": str(refused)}
    return {"answer": normal(answer), **records(registry, since)}


@pytest.fixture
def bob(registry):
    from conftest import as_actor

    reviewer = as_actor(registry, "bob")
    yield reviewer
    reviewer.close()


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_each_operation_records_what_the_golden_file_says(registry, bob, monkeypatch, operation):
    got = _recorded(registry, bob, monkeypatch, operation)
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden[operation] = got
        GOLDEN.write_text(json.dumps(dict(sorted(golden.items())), indent=1, sort_keys=True) + "\n")
    assert got == golden[operation]
