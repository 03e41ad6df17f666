"""Lifecycle events: a transactional outbox.

Every change the engine makes writes one `lifecycle_event` row in the same
transaction (so an event exists exactly when its change committed), and one
pending `event_delivery` row for each webhook in the policy that wants that
event type. Delivery happens afterwards (`modelreg.monitoring.delivery`):
signed and retried like alert webhooks, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import col

from modelreg.policy import EVENT_TYPES
from modelreg.store import queries
from modelreg.store.tables import EventDelivery, LifecycleEvent, json_text


def emit(tx, event_type: str, target: str, payload: dict[str, Any]) -> None:
    assert event_type in EVENT_TYPES, event_type
    row = LifecycleEvent(
        type=event_type,
        target=target,
        actor=tx.actor,
        at=tx.now,
        policy_version=tx.policy.version,
        payload=json_text(payload),
    )
    tx.session.add(row)
    hooks = [h for h in tx.policy.webhooks if h.wants_event(event_type)]
    if hooks:
        tx.session.flush()
        for url in sorted({h.url for h in hooks}):
            tx.session.add(
                EventDelivery(event_id=int(row.id or 0), url=url, status="pending", attempts=0, updated_at=tx.now)
            )


def emit_many(tx, event_type: str, items: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Many events of one type (a bulk registration), in bulk inserts."""
    if not items:
        return
    rows = [
        {
            "type": event_type,
            "target": target,
            "actor": tx.actor,
            "at": tx.now,
            "policy_version": tx.policy.version,
            "payload": json_text(payload),
        }
        for target, payload in items
    ]
    hooks = sorted({h.url for h in tx.policy.webhooks if h.wants_event(event_type)})
    if not hooks:
        queries.insert_rows(tx.session, LifecycleEvent, rows)
        return
    ids = queries.insert_rows(tx.session, LifecycleEvent, rows, returning=col(LifecycleEvent.id))
    queries.insert_rows(
        tx.session,
        EventDelivery,
        [
            {"event_id": i, "url": url, "status": "pending", "attempts": 0, "updated_at": tx.now}
            for i in ids
            for url in hooks
        ],
    )
