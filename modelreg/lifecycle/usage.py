"""Consumers still seen using a version, as the engine reports them when it
deprecates or retires one (event payloads, the command's answer). The
counting itself is `modelreg.consumers`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from modelreg import clock
from modelreg.store import application_queries as aq
from modelreg.store.queries import chunks

WINDOW_DAYS = 7


def since_day(now: str | None = None, days: int = WINDOW_DAYS) -> str:
    """The first UTC day of the window that ends today (the registry's clock)."""
    today = clock.parse_instant(now).date() if now else clock.today()
    return (today - timedelta(days=days - 1)).isoformat()


def seen(session, targets: Iterable[tuple[str, str]], now: str | None = None) -> dict[tuple[str, str], list[dict]]:
    """(model_id, version) -> [{consumer, requests, last_seen}] in the window, busiest first."""
    since = since_day(now)
    out: dict[tuple[str, str], list[dict]] = {}
    for part in chunks(sorted(set(targets))):
        out.update(aq.consumers_of(session, part, since))
    return out


def names(found: list[dict]) -> list[str]:
    return [c["consumer"] for c in found]
