"""Who still uses a version: consumers seen resolving it through `serve`
(a token's name or the X-Modelreg-Consumer header) or named by ingested
metric windows, counted per UTC day.

`serve` counts in memory and hands batches to `record` (one short
transaction per flush, never a write per request). Deprecations, the
sweep's notices and lifecycle-event payloads (`lifecycle.usage`), `show`
and `find --used-by` read the last `usage.WINDOW_DAYS` days.
"""

from __future__ import annotations

from typing import Any

from modelreg import clock
from modelreg.lifecycle import usage
from modelreg.names import check_consumer
from modelreg.store import application_queries as aq


def record(database, counts: dict[aq.UsageKey, int]) -> None:
    """Add a batch of counts (consumer, model_id, version) -> requests, stamped now."""
    batch = {key: n for key, n in counts.items() if n > 0}
    if batch:
        now = clock.stamp(clock.now())
        database.write_telemetry(lambda session: aq.add_usage(session, batch, now))


def used_by(session, consumer: Any, now: str | None = None) -> list[tuple[str, str]]:
    return aq.used_by(session, check_consumer(consumer, "--used-by"), usage.since_day(now))


def note(target: str, found: list[dict]) -> str | None:
    """One line for a person about to deprecate something still in use."""
    if not found:
        return None
    shown = ", ".join(usage.names(found)[:5]) + (f" and {len(found) - 5} more" if len(found) > 5 else "")
    return f"{target} is still used by {shown} in the last {usage.WINDOW_DAYS} days"
