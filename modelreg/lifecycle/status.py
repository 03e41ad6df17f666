"""The status machine of a version, and where each status shows in the tree.

Every status set the rest of the code needs is named here once (LIVE,
RESOLVABLE, ARCHIVED, ...), so no module spells out ("RETIRED", "REJECTED")
on its own.
"""

from __future__ import annotations

from enum import Enum

from modelreg.errors import Conflict, InvalidInput


class Status(str, Enum):
    EXPERIMENTAL = "EXPERIMENTAL"
    TESTING = "TESTING"
    APPROVED = "APPROVED"
    DEPRECATED = "DEPRECATED"
    RETIRED = "RETIRED"
    REJECTED = "REJECTED"

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, text: object, *, what: str = "status") -> Status:
        value = str(text).strip().upper() if isinstance(text, str) else ""
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"invalid {what} {str(text)[:40]!r}: expected one of {', '.join(STATUSES)}") from None


STATUSES: tuple[str, ...] = tuple(s.value for s in Status)
# live in production: resolvable, watched by alerts, counted by advisories
LIVE: tuple[str, ...] = (Status.APPROVED.value, Status.DEPRECATED.value)
RESOLVABLE = LIVE
# final: hidden from lists unless asked for, no more checks or transitions
ARCHIVED: tuple[str, ...] = (Status.RETIRED.value, Status.REJECTED.value)
NOT_ARCHIVED: tuple[str, ...] = tuple(s for s in STATUSES if s not in ARCHIVED)
# off the production track, or on the way to it
PRE_RELEASE: tuple[str, ...] = (Status.EXPERIMENTAL.value, Status.TESTING.value)
# once approved: these carry an approval
APPROVED_ONCE: tuple[str, ...] = (Status.APPROVED.value, Status.DEPRECATED.value, Status.RETIRED.value)
# a replacement must be one of these
REPLACEMENT_OK: tuple[str, ...] = (Status.APPROVED.value, Status.TESTING.value, Status.EXPERIMENTAL.value)

STAGE_OF = {
    "EXPERIMENTAL": "experimental",
    "TESTING": "staging",
    "APPROVED": "production",
    "DEPRECATED": "production",
    "RETIRED": "archived",
    "REJECTED": "archived",
}
STAGES = ("production", "staging", "experimental", "archived")

# SPEC section 3. (A canary that `rollout --abort` sends back goes APPROVED ->
# TESTING: that move belongs to the rollout, not to this table.)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "EXPERIMENTAL": ("TESTING",),
    "TESTING": ("APPROVED", "REJECTED"),
    "APPROVED": ("DEPRECATED",),
    "DEPRECATED": ("RETIRED", "APPROVED"),
    "RETIRED": (),
    "REJECTED": (),
}


def require_transition(target: str, current: str, new: str) -> None:
    if new not in TRANSITIONS[current]:
        allowed = ", ".join(TRANSITIONS[current]) or "none (final status)"
        raise Conflict(f"{target} is {current}; cannot move to {new} (allowed next: {allowed})")


def statuses_of_stage(stage: str) -> list[str]:
    if stage not in STAGES:
        raise InvalidInput(f"invalid stage {stage!r}: expected one of {', '.join(STAGES)}")
    return [s for s, st in STAGE_OF.items() if st == stage]


def status_filter(
    *, status: str | None = None, stage: str | None = None, include_archived: bool = False
) -> list[str] | None:
    """The statuses a find/list with these options shows (None: all)."""
    statuses = None
    if status is not None:
        statuses = [Status.parse(status).value]
    if stage is not None:
        statuses = [s for s in statuses_of_stage(stage) if statuses is None or s in statuses]
    if statuses is None and not include_archived:
        statuses = list(NOT_ARCHIVED)
    return statuses
