"""Who may do what: the four roles, and the separation of duties.

On PostgreSQL the roles are the server's group roles (granted with
`modelreg access grant USER ROLE`) and the server enforces them itself
(grants, row-level security, guard triggers: `store/access.py`); checking
here first turns a refusal into one line naming the missing role. On SQLite
the file is one trust domain and every actor holds every role.
"""

from __future__ import annotations

from enum import Enum

from modelreg.errors import AccessDenied, InvalidInput


class Role(str, Enum):
    READER = "modelreg_reader"  # read everything
    OPERATOR = "modelreg_operator"  # register, review, benchmark, ingest, alerts, fallbacks of unapproved models
    APPROVER = "modelreg_approver"  # promote, rollout and rollback, deprecate and cancel, advisory withdraw,
    # fallbacks of approved models
    ADMIN = "modelreg_admin"  # policy, access, tokens, event webhooks, db copy

    @property
    def short(self) -> str:
        return self.value.removeprefix("modelreg_")

    @classmethod
    def parse(cls, text: str) -> Role:
        wanted = str(text).strip().lower().removeprefix("modelreg_")
        for role in cls:
            if role.short == wanted:
                return role
        from modelreg.errors import NotFound

        raise NotFound(f"unknown role {str(text)[:40]!r}: expected one of {', '.join(r.short for r in cls)}")


def require(tx, role: Role, doing: str) -> None:
    """Refuse (exit 5, one line naming the role) unless the actor holds `role`."""
    if role.value not in tx.roles:
        raise AccessDenied(
            f"{tx.actor} may not {doing}: that needs the {role.short} role "
            f"(an admin runs `modelreg access grant {tx.actor} {role.short}`)"
        )


def require_any(tx, roles: tuple[Role, ...], doing: str) -> None:
    if not any(role.value in tx.roles for role in roles):
        names = " or ".join(r.short for r in roles)
        raise AccessDenied(
            f"{tx.actor} may not {doing}: that needs the {names} role "
            f"(an admin runs `modelreg access grant {tx.actor} {roles[0].short}`)"
        )


SOD_CHECKS = ("security", "compliance")


def separate_from_registrant(tx, registered_by: str, doing: str) -> None:
    """Separation of duties: the registrant may not do this to their own version."""
    if tx.policy.separation_of_duties and tx.actor == registered_by:
        raise AccessDenied(f"{tx.actor} registered this version and may not {doing} (separation_of_duties)")


def check_role_name(text: str) -> Role:
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("expected a role: reader, operator, approver or admin")
    return Role.parse(text)
