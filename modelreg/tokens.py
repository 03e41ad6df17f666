"""Bearer tokens for `modelreg serve --require-token`.

A token is printed once, when it is created; the registry keeps only its
SHA-256. Its name is the consumer that the server counts its resolves for.
Creating and revoking are an admin's acts, audited (the digest never appears
in the audit trail, the output or a log).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from modelreg.errors import Conflict, InvalidInput, NotFound
from modelreg.lifecycle import authority
from modelreg.lifecycle.authority import Role
from modelreg.store import application_queries as aq
from modelreg.store.tables import ApiToken

PREFIX = "mrt_"
NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}\Z")
_TOKEN = re.compile(r"mrt_[A-Za-z0-9_-]{43}\Z")


def check_name(text: Any) -> str:
    name = str(text).strip() if isinstance(text, str) else ""
    if not NAME.match(name):
        raise InvalidInput(
            f"invalid token name {ascii(text)[:40]}: expected 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit "
            "(the consumer name its requests are counted for, e.g. checkout-api)"
        )
    return name


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(tx, name: Any) -> dict[str, Any]:
    """A new token for `name` (a revoked name may be given a new token)."""
    wanted = check_name(name)
    authority.require(tx, Role.ADMIN, "create tokens")
    token = PREFIX + secrets.token_urlsafe(32)
    row = tx.session.get(ApiToken, wanted)
    if row is not None and row.revoked_at is None:
        raise Conflict(f"token {wanted!r} exists; revoke it first (`modelreg token revoke {wanted}`)")
    before = None if row is None else view(row)
    if row is None:
        row = ApiToken(name=wanted, digest=digest(token), created_at=tx.now, created_by=tx.actor)
        tx.session.add(row)
    else:
        row.digest, row.created_at, row.created_by = digest(token), tx.now, tx.actor
        row.revoked_at = row.revoked_by = None
    tx.audit("token.create", f"token:{wanted}", before, {"name": wanted, "created_by": tx.actor})
    return {**view(row), "token": token}


def revoke(tx, name: Any) -> dict[str, Any]:
    wanted = check_name(name)
    authority.require(tx, Role.ADMIN, "revoke tokens")
    row = tx.session.get(ApiToken, wanted)
    if row is None:
        raise NotFound(f"unknown token {wanted!r}")
    if row.revoked_at is not None:
        raise Conflict(f"token {wanted!r} was already revoked on {row.revoked_at} by {row.revoked_by}")
    before = view(row)
    row.revoked_at, row.revoked_by = tx.now, tx.actor
    tx.audit("token.revoke", f"token:{wanted}", before, view(row))
    return view(row)


def listing(session) -> list[dict[str, Any]]:
    return [view(t) for t in aq.tokens(session)]


def consumer_of(session, token: str) -> str | None:
    """The name behind a live token, or None (malformed, unknown or revoked)."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    return aq.token_consumer(session, digest(token))


def view(row: ApiToken) -> dict[str, Any]:
    return {
        "name": row.name,
        "status": "revoked" if row.revoked_at else "active",
        "created_at": row.created_at,
        "created_by": row.created_by,
        "revoked_at": row.revoked_at,
        "revoked_by": row.revoked_by,
    }
