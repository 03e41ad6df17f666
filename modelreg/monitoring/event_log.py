"""Reading the lifecycle-event outbox, and asking for an event to be sent again."""

from __future__ import annotations

import json
from typing import Any

from modelreg.errors import InvalidInput, NotFound
from modelreg.lifecycle import authority
from modelreg.lifecycle.authority import Role
from modelreg.monitoring.webhooks import display_url
from modelreg.store import monitoring_queries as mq
from modelreg.store.tables import EventDelivery, LifecycleEvent


def _id(value: Any, what: str = "event id") -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else -1
    except ValueError:
        number = -1
    if not 1 <= number <= 2**63 - 1:
        raise InvalidInput(f"invalid {what} {str(value)[:40]!r}: expected a positive integer")
    return number


def view(event: LifecycleEvent, deliveries: list[EventDelivery]) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "target": event.target,
        "actor": event.actor,
        "at": event.at,
        "policy_version": event.policy_version,
        "payload": json.loads(event.payload),
        "deliveries": [
            {"url": display_url(d.url), "status": d.status, "attempts": d.attempts, "last_error": d.last_error}
            for d in deliveries
        ],
    }


def listing(session, *, since: int = 0, limit: int | None = 100, target: str | None = None) -> list[dict[str, Any]]:
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise InvalidInput("--since takes an event id (0: from the start)")
    rows = mq.lifecycle_events(session, since=since, limit=limit, target=target)
    deliveries = mq.event_deliveries(session, [int(e.id or 0) for e in rows])
    return [view(e, deliveries.get(int(e.id or 0), [])) for e in rows]


def redeliver(tx, event_id: Any) -> dict[str, Any]:
    """Queue an event again for every webhook of the policy that wants its type."""
    ident = _id(event_id)
    authority.require_any(tx, (Role.OPERATOR, Role.ADMIN), "redeliver events")
    event = tx.session.get(LifecycleEvent, ident)
    if event is None:
        raise NotFound(f"unknown event {ident}")
    queued = []
    for url in sorted({h.url for h in tx.policy.webhooks if h.wants_event(event.type)}):
        row = tx.session.get(EventDelivery, (ident, url))
        if row is None:
            tx.session.add(EventDelivery(event_id=ident, url=url, status="pending", attempts=0, updated_at=tx.now))
        else:
            row.status, row.updated_at = "pending", tx.now
        queued.append(display_url(url))
    tx.audit("event.redeliver", event.target, None, {"event_id": ident, "webhooks": queued})
    return {"id": ident, "queued": queued}
