"""The status machine of a version, and where each status shows in the tree."""

from __future__ import annotations

from modelreg.errors import Conflict

STATUSES = ("EXPERIMENTAL", "TESTING", "APPROVED", "DEPRECATED", "RETIRED", "REJECTED")
STAGE_OF = {
    "EXPERIMENTAL": "experimental", "TESTING": "staging", "APPROVED": "production",
    "DEPRECATED": "production", "RETIRED": "archived", "REJECTED": "archived",
}
STAGES = ("production", "staging", "experimental", "archived")
TRANSITIONS = {
    "EXPERIMENTAL": ("TESTING",),
    "TESTING": ("APPROVED", "REJECTED"),
    "APPROVED": ("DEPRECATED",),
    "DEPRECATED": ("RETIRED", "APPROVED"),
    "RETIRED": (),
    "REJECTED": (),
}
RESOLVABLE = ("APPROVED", "DEPRECATED")


def require_transition(target: str, current: str, new: str) -> None:
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (final status)"
        raise Conflict(f"{target} is {current}; cannot move to {new} (allowed next: {allowed})")


def statuses_of_stage(stage: str) -> list[str]:
    return [s for s, st in STAGE_OF.items() if st == stage]
