"""The registry's clock: UTC now, or MODELREG_NOW when set (rehearsals, tests)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

from modelreg.errors import InvalidInput


def parse_instant(text: str, *, what: str = "time") -> datetime:
    """ISO 8601 date or datetime -> aware UTC datetime (naive means UTC)."""
    raw = text.strip()
    try:
        if len(raw) == 10:
            parsed = datetime.combine(date.fromisoformat(raw), datetime.min.time())
        else:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid {what} {text!r}: expected ISO 8601, e.g. 2026-03-01 or 2026-03-01T12:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def rehearsal() -> str | None:
    """MODELREG_NOW when set: a date to rehearse (reads and dry runs; real
    writes only where the registry's policy enables a test clock)."""
    value = os.environ.get("MODELREG_NOW")
    if value:
        parse_instant(value, what="MODELREG_NOW")
        return value
    return None


def now() -> datetime:
    """The clock for reads and rehearsals: MODELREG_NOW when set, else UTC now.
    (Writes take theirs from the write transaction: `Tx.now`.)"""
    override = rehearsal()
    if override:
        return parse_instant(override, what="MODELREG_NOW")
    return datetime.now(UTC)


def today() -> date:
    return now().date()


def stamp(moment: datetime) -> str:
    """The schema's fixed-width UTC text (2026-11-27T05:28:46.000000Z): sorts as
    text and hashes identically on both backends."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def isoformat(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
