"""Times for a person at a terminal: `2026-11-27 15:58 (3 min ago)` in the
local time zone. Stored and machine-readable times stay ISO 8601 UTC (JSON,
CSV, --plain, pipes); only the terminal views call this. No rich import."""

from __future__ import annotations

from datetime import datetime

from modelreg.clock import now as clock_now


def _parse(text: str) -> datetime | None:
    if len(text) <= 10:  # a date (retire_on) has no time of day to move
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def relative(moment: datetime, now: datetime) -> str:
    """`just now`, `3 min ago`, `5 h ago`, `1 day ago`, `in 89 days`."""
    seconds = (now - moment).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "just now"
    if span < 3600:
        amount = f"{int(span // 60)} min"
    elif span < 86400:
        amount = f"{int(span // 3600)} h"
    else:
        days = int(span // 86400)
        amount = f"{days} day" if days == 1 else f"{days} days"
    return f"{amount} ago" if seconds > 0 else f"in {amount}"


def for_people(text: object, *, hint: bool = True, now: datetime | None = None) -> str:
    """An ISO 8601 UTC instant as local `YYYY-MM-DD HH:MM`, with a relative
    hint against the registry's clock (MODELREG_NOW when set). Anything that
    is not an instant (a date, empty, malformed) comes back as it was."""
    value = "" if text is None else str(text)
    moment = _parse(value)
    if moment is None:
        return value
    shown = moment.astimezone().strftime("%Y-%m-%d %H:%M")
    if not hint:
        return shown
    return f"{shown} ({relative(moment, now or clock_now())})"
