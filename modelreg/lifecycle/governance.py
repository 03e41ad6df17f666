"""Changing the policy: an admin's act, versioned and audited.

A change writes a new `policy_version` row (the old ones stay, so every
audited decision's `policy_version` still says what was in force) and one
audit event with the keys that changed, before and after.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from modelreg.lifecycle import authority, events
from modelreg.lifecycle.authority import Role
from modelreg.policy import Policy
from modelreg.store.tables import PolicyVersion


def set_policy(tx, new: Policy) -> dict[str, Any]:
    authority.require(tx, Role.ADMIN, "change the policy")
    current = tx.policy
    before, after = new.changes_from(current)
    if not after:
        return {"version": current.version, "changed": False, "before": {}, "after": {}}
    version = current.version + 1
    tx.session.add(PolicyVersion(version=version, document=new.canonical(), created_at=tx.now, created_by=tx.actor))
    tx.audit("policy.set", "policy", {"version": current.version, **before}, {"version": version, **after})
    events.emit(tx, "policy.changed", "policy", {"version": version, "before": before, "after": after})
    return {"version": version, "changed": True, "before": before, "after": after}


def history(session) -> list[dict[str, Any]]:
    rows = session.execute(select(PolicyVersion).order_by(col(PolicyVersion.version))).scalars()
    return [
        {
            "version": r.version,
            "created_at": r.created_at,
            "created_by": r.created_by,
            "document": json.loads(r.document),
        }
        for r in rows
    ]
