"""Two facade calls the server needs that the library does not offer yet.

TODO(merge): use Registry.audit_head / find(offset=) -- once the facade has
them these shims call them (they already prefer them when present) and can go.
"""

from __future__ import annotations

import inspect
from typing import Any

GENESIS = "0" * 64


def audit_head(reg) -> tuple[int, str]:
    """(seq, hash) of the audit chain's head: moves with every committed change."""
    # TODO(merge): use Registry.audit_head
    if hasattr(type(reg), "audit_head"):
        return reg.audit_head()
    from sqlalchemy import text

    row = reg.db.run_read(lambda session: session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).first())
    return (int(row[0]), str(row[1])) if row else (0, GENESIS)


def find_page(reg, *, offset: int, limit: int, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """One page of `find` (same order), and the total."""
    # TODO(merge): use Registry.find(offset=)
    if "offset" in inspect.signature(reg.find).parameters:
        return reg.find(offset=offset, limit=limit, **filters)
    rows, total = reg.find(limit=offset + limit, **filters)
    return rows[offset:], total
