"""Deliver pending webhooks: alerts (queued by `alerts check`) and lifecycle
events (queued by the engine's outbox).

Every pending or failed delivery to a webhook of the policy in force is
claimed in one transaction (status `sending`, so concurrent deliverers do
not send twice; a claim older than LEASE_S is taken over), then posted,
signed, with retries, and its outcome recorded (delivered / failed,
attempts, last error). Failed deliveries are retried next time, never
dropped. Secrets are read from the environment at send time and never
stored, printed or logged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from modelreg import clock
from modelreg.monitoring import webhooks
from modelreg.policy import Policy, Webhook
from modelreg.store import monitoring_queries as mq
from modelreg.store.monitoring_tables import Alert, AlertDelivery
from modelreg.store.tables import EventDelivery, LifecycleEvent
from modelreg.views import alert_view

LEASE_S = 600


def alert_payload(alert: Alert) -> dict[str, Any]:
    return {"event": "modelreg.alert", **alert_view(alert), "dedup_key": alert.dedup_key}


def event_payload(event: LifecycleEvent) -> dict[str, Any]:
    return {
        "event": event.type,
        "id": event.id,
        "target": event.target,
        "actor": event.actor,
        "at": event.at,
        "policy_version": event.policy_version,
        **json.loads(event.payload),
    }


def _cutoffs(now: str, retry_failed_after_s: float) -> dict[str, Any]:
    moment = clock.parse_instant(now)
    return {
        "cutoff": clock.stamp(moment - timedelta(seconds=LEASE_S)),
        "failed_before": clock.stamp(moment - timedelta(seconds=retry_failed_after_s))
        if retry_failed_after_s
        else None,
    }


def anything_to_send(session, policy: Policy, *, events: bool, retry_failed_after_s: float = 0) -> bool:
    """A cheap read: is there a delivery `deliver_pending` would claim now?"""
    hooks = sorted({h.url for h in policy.webhooks})
    if not hooks:
        return False
    found = mq.deliveries_to_claim(
        session, hooks, events=events, limit=1, **_cutoffs(clock.stamp(clock.now()), retry_failed_after_s)
    )
    return bool(found)


def claim(
    tx, policy: Policy, *, events: bool, retry_failed_after_s: float = 0
) -> list[tuple[Any, str, dict[str, Any]]]:
    """(key, url, payload) of every delivery this call now owns (failed ones
    once `retry_failed_after_s` passed since their last attempt)."""
    hooks = sorted({h.url for h in policy.webhooks})
    if not hooks:
        return []
    jobs = []
    for d in mq.deliveries_to_claim(tx.session, hooks, events=events, **_cutoffs(tx.now, retry_failed_after_s)):
        d.status, d.updated_at = "sending", tx.now
        if events:
            event = tx.session.get(LifecycleEvent, d.event_id)
            jobs.append((d.event_id, d.url, event_payload(event)))
        else:
            alert = tx.session.get(Alert, d.alert_id)
            jobs.append((d.alert_id, d.url, alert_payload(alert)))
    return jobs


def record(tx, key: Any, url: str, outcome: webhooks.DeliveryOutcome, *, events: bool) -> dict[str, Any]:
    table = EventDelivery if events else AlertDelivery
    row = tx.session.get(table, (key, url))
    status = "delivered" if outcome.ok else "failed"
    result = {
        "event_id" if events else "alert_id": key,
        "url": webhooks.display_url(url),
        "status": status,
        "attempts": outcome.attempts,
        "http_status": outcome.status,
        "error": outcome.error,
    }
    if row is None:
        return result
    row.status = status
    row.attempts += outcome.attempts
    row.last_error = outcome.error
    row.updated_at = tx.now
    target = "events" if events else "alerts"
    tx.audit(
        "event.delivery" if events else "alert.delivery",
        target,
        None,
        {k: v for k, v in result.items() if k != "http_status"} | {"attempts": row.attempts},
    )
    return result


def send(
    hook: Webhook, payload: dict[str, Any], *, timeout: float, attempts: int, backoff_s: float
) -> webhooks.DeliveryOutcome:
    return webhooks.deliver(hook, payload, timeout=timeout, attempts=attempts, backoff_s=backoff_s)


def deliver_pending(
    write: Callable,
    policy: Policy,
    *,
    events: bool,
    timeout: float = 5.0,
    attempts: int = 3,
    backoff_s: float = 0.2,
    retry_failed_after_s: float = 0,
) -> dict[str, Any]:
    """Claim, send and record (`write` runs a function in a write
    transaction). Returns {delivered, failed, results [...]}."""
    hooks = {h.url: h for h in policy.webhooks}
    if not hooks:
        return {"delivered": 0, "failed": 0, "results": []}
    jobs = write(lambda tx: claim(tx, policy, events=events, retry_failed_after_s=retry_failed_after_s))
    results = []
    for key, url, payload in jobs:
        hook = hooks.get(url)
        if hook is None:  # the policy changed between claim and send
            continue
        outcome = send(hook, payload, timeout=timeout, attempts=attempts, backoff_s=backoff_s)
        results.append(
            write(lambda tx, key=key, url=url, outcome=outcome: record(tx, key, url, outcome, events=events))
        )
    return {
        "delivered": sum(r["status"] == "delivered" for r in results),
        "failed": sum(r["status"] == "failed" for r in results),
        "results": results,
    }


def listing(session, alert_id: int | None = None) -> list[dict[str, Any]]:
    """Alert delivery rows (URLs shown without query or credentials)."""
    return [
        {
            "alert_id": d.alert_id,
            "url": webhooks.display_url(d.url),
            "status": d.status,
            "attempts": d.attempts,
            "last_error": d.last_error,
            "updated_at": d.updated_at,
        }
        for d in mq.deliveries(session, alert_id)
    ]
