"""Who holds which modelreg role on PostgreSQL: grant, revoke, list.

Granting goes through `modelreg_access(...)`, a SECURITY DEFINER function
installed by revision 0004: it checks that the caller holds the admin role,
that the role is one of modelreg's and the user exists, runs the GRANT or
REVOKE and appends the audit event itself. SQLite has no roles: the file is
one trust domain.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from modelreg.errors import InvalidInput, NotFound

ROLES = ("reader", "operator", "approver", "admin")


def role_name(role: str) -> str:
    wanted = str(role).strip().lower().removeprefix("modelreg_")
    if wanted not in ROLES:
        raise NotFound(f"unknown role {str(role)[:40]!r}: expected one of {', '.join(ROLES)}")
    return f"modelreg_{wanted}"


def _user(session, user: str) -> str:
    if not isinstance(user, str) or not user.strip() or len(user) > 63 or any(ord(c) < 32 for c in user):
        raise InvalidInput(f"invalid user {str(user)[:40]!r}: expected a PostgreSQL role name")
    found = session.execute(text("SELECT rolname FROM pg_roles WHERE rolname = :u"), {"u": user}).scalar()
    if found is None:
        raise NotFound(f"unknown user {user!r}: no such PostgreSQL role (create it with CREATE ROLE {user} LOGIN)")
    return found


def change(tx, user: str, role: str, *, grant: bool) -> dict[str, Any]:
    if tx.is_sqlite:
        raise InvalidInput(
            "access control is PostgreSQL's: a SQLite registry is one trust domain "
            "(whoever can write the file); see README, Access control"
        )
    name = role_name(role)
    who = _user(tx.session, user)
    tx.session.execute(text("SELECT modelreg_access(:g, :u, :r)"), {"g": grant, "u": who, "r": name})
    return {"user": who, "role": name.removeprefix("modelreg_"), "granted": grant}


def listing(session) -> list[dict[str, Any]]:
    if session.get_bind().dialect.name == "sqlite":
        raise InvalidInput(
            "access control is PostgreSQL's: a SQLite registry is one trust domain "
            "(whoever can write the file); see README, Access control"
        )
    rows = session.execute(
        text(
            "SELECT m.rolname AS member, r.rolname AS role, m.rolcanlogin AS login FROM pg_auth_members a "
            "JOIN pg_roles r ON r.oid = a.roleid JOIN pg_roles m ON m.oid = a.member "
            "WHERE r.rolname LIKE 'modelreg\\_%' AND m.rolname NOT LIKE 'modelreg\\_%' ORDER BY 1, 2"
        )
    ).all()
    out: dict[str, list[str]] = {}
    for member, role, _login in rows:
        out.setdefault(member, []).append(role.removeprefix("modelreg_"))
    return [{"user": user, "roles": sorted(roles, key=ROLES.index)} for user, roles in out.items()]
