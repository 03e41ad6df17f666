"""The append-only, hash-chained audit trail.

Each event's hash covers its own fields and the previous event's hash; the
head row holds the newest hash, so editing, deleting or re-ordering any row,
including the last one, breaks verification at the first bad event.

The hash is SHA-256 of the canonical JSON array
    [seq, at, actor, action, target, before, after, prev_hash]
and, for events that record them, `os_user` and `policy_version` appended
(events written before they existed hash as before). On SQLite modelreg
computes it here; on PostgreSQL the server appends every event itself
(`modelreg_audit_append`, a SECURITY DEFINER function owned by the schema
owner, and the row triggers that record raw SQL changes), stamping the
authenticated role and the server's clock; `verify` recomputes both the same
way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update

from modelreg.errors import AuditBroken
from modelreg.store.tables import AuditEvent, AuditHead, json_text

GENESIS = "0" * 64
HEAD_MISSING = "the audit chain's head row is missing: refusing to extend it (run `modelreg audit verify`)"
canonical = json_text


def event_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    target: str,
    before: str,
    after: str,
    prev_hash: str,
    os_user: str | None = None,
    policy_version: int | None = None,
) -> str:
    fields: list[Any] = [seq, at, actor, action, target, before, after, prev_hash]
    if os_user is not None or policy_version is not None:
        fields += [os_user, policy_version]
    return hashlib.sha256(canonical(fields).encode()).hexdigest()


def _hash_of(event: Any) -> str:
    return event_hash(
        event.seq,
        event.at,
        event.actor,
        event.action,
        event.target,
        event.before,
        event.after,
        event.prev_hash,
        event.os_user,
        event.policy_version,
    )


class Appender:
    """Collects a transaction's events and writes them at the end, chained
    onto the head read under the writer lock: in one bulk insert on SQLite,
    through the server's append function on PostgreSQL."""

    def __init__(self, session, *, server: bool = False):
        self.session = session
        self.server = server
        self.rows: list[dict] = []
        self.head: tuple[int, str] | None = None

    def mark(self) -> tuple[int, tuple[int, str] | None]:
        return len(self.rows), self.head

    def reset(self, mark: tuple[int, tuple[int, str] | None]) -> None:
        """Forget the events added since `mark` (their work was rolled back to a savepoint)."""
        del self.rows[mark[0] :]
        self.head = mark[1]

    def check_head(self) -> None:
        """Refuse to extend a chain whose newest event does not verify (a
        cheap check of the head, not the whole chain)."""
        head = self.session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
        if head is None:  # the schema creates it; without it new events would reuse the first numbers
            raise AuditBroken(HEAD_MISSING)
        seq, digest = head[0], head[1]
        newest = self.session.execute(select(func.max(AuditEvent.seq))).scalar() or 0
        if newest != seq:  # a head moved back, or events added past it: new ones would collide or fill gaps
            raise AuditBroken(
                f"the audit chain's head records event {seq} but its newest event is {newest}: "
                "refusing to extend it (run `modelreg audit verify`)"
            )
        if seq == 0:
            if digest != GENESIS:
                raise AuditBroken(
                    "the audit chain's head row was edited: refusing to extend it (run `modelreg audit verify`)"
                )
            return
        last = self.session.get(AuditEvent, seq)
        if last is None or last.hash != digest or _hash_of(last) != digest:
            raise AuditBroken(
                f"the audit chain's head (event {seq}) does not verify: refusing to extend it "
                "(run `modelreg audit verify`)"
            )

    def add(
        self,
        at: str,
        actor: str,
        action: str,
        target: str,
        before: Any,
        after: Any,
        *,
        os_user: str | None = None,
        policy_version: int | None = None,
    ) -> None:
        row = {
            "at": at,
            "actor": actor,
            "action": action,
            "target": target,
            "before": canonical(before),
            "after": canonical(after),
            "os_user": os_user,
            "policy_version": policy_version,
        }
        if self.server:
            self.rows.append(row)
            return
        if self.head is None:
            found = self.session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
            self.head = (found[0], found[1]) if found else (0, GENESIS)
        seq, prev = self.head
        seq += 1
        digest = event_hash(seq, at, actor, action, target, row["before"], row["after"], prev, os_user, policy_version)
        self.rows.append({**row, "seq": seq, "prev_hash": prev, "hash": digest})
        self.head = (seq, digest)

    def flush(self) -> None:
        if not self.rows:
            return
        if self.server:
            for start in range(0, len(self.rows), 5000):
                part = self.rows[start : start + 5000]
                self.session.execute(
                    text(
                        "SELECT modelreg_audit_append(CAST(:at AS text[]), CAST(:action AS text[]), CAST(:target AS text[]), "
                        "CAST(:before AS text[]), CAST(:after AS text[]), CAST(:os_user AS text[]))"
                    ),
                    {key: [r[key] for r in part] for key in ("at", "action", "target", "before", "after", "os_user")},
                )
            self.rows = []
            return
        from modelreg.store.queries import insert_rows

        insert_rows(self.session, AuditEvent, self.rows)
        assert self.head is not None
        self.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=self.head[0], hash=self.head[1]))
        self.rows = []


@dataclass
class Verification:
    ok: bool
    events: int
    first_bad: int | None = None
    reason: str = ""
    head: tuple[int, str] | None = None


def verify(session, *, anchor: tuple[int, str] | None = None) -> Verification:
    """Walk the chain (streamed). With an anchor (seq, hash) recorded earlier,
    also prove that event `seq` still has that hash, i.e. that nothing up to
    it was rewritten, even by someone able to recompute every hash after it."""
    from modelreg.store.queries import audit_events, audit_head

    prev = GENESIS
    expected_seq = 1
    count = 0
    for event in audit_events(session):
        count += 1
        if event.seq != expected_seq:
            return Verification(False, count, expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "its previous-hash does not match the event before it")
        if _hash_of(event) != event.hash:
            return Verification(False, count, event.seq, "its contents do not match its hash (edited)")
        if anchor is not None and event.seq == anchor[0] and event.hash != anchor[1]:
            return Verification(
                False,
                count,
                event.seq,
                f"it no longer has the anchored hash {anchor[1][:16]}... (the chain up to it was rewritten)",
            )
        prev = event.hash
        expected_seq += 1
    head_seq, head_hash = audit_head(session)
    if head_seq == count and head_hash != prev:
        return Verification(False, count, count, f"its head records another hash for event {count} (head edited)")
    if head_seq != count:
        return Verification(
            False,
            count,
            count + 1 if head_seq > count else head_seq,
            f"the chain ends at event {count} but its head records event {head_seq} (events deleted or head edited)",
        )
    if anchor is not None and anchor[0] > count:
        return Verification(
            False, count, anchor[0], f"the anchored event {anchor[0]} is gone (the chain ends at {count})"
        )
    return Verification(True, count, head=(head_seq, head_hash))
