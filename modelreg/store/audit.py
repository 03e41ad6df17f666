"""The append-only, hash-chained audit trail.

Each event's hash covers its own fields and the previous event's hash; the
head row holds the newest hash, so editing, deleting or re-ordering any row,
including the last one, breaks verification at the first bad event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select, update

from modelreg.store.tables import AuditEvent, AuditHead

GENESIS = "0" * 64


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(seq: int, at: str, actor: str, action: str, target: str, before: str, after: str, prev_hash: str) -> str:
    payload = canonical([seq, at, actor, action, target, before, after, prev_hash])
    return hashlib.sha256(payload.encode()).hexdigest()


class Appender:
    """Collects a transaction's events and writes them in one bulk insert
    at the end, chained onto the head read under the writer lock."""

    def __init__(self, session):
        self.session = session
        self.rows: list[dict] = []
        self.head: tuple[int, str] | None = None

    def add(self, at: str, actor: str, action: str, target: str, before: Any, after: Any) -> None:
        if self.head is None:
            row = self.session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
            self.head = (row[0], row[1]) if row else (0, GENESIS)
        seq, prev = self.head
        seq += 1
        before_text, after_text = canonical(before), canonical(after)
        digest = event_hash(seq, at, actor, action, target, before_text, after_text, prev)
        self.rows.append({"seq": seq, "at": at, "actor": actor, "action": action, "target": target,
                          "before": before_text, "after": after_text, "prev_hash": prev, "hash": digest})
        self.head = (seq, digest)

    def flush(self) -> None:
        if not self.rows:
            return
        for start in range(0, len(self.rows), 5000):
            self.session.execute(insert(AuditEvent), self.rows[start:start + 5000])
        self.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=self.head[0], hash=self.head[1]))
        self.rows = []


@dataclass
class Verification:
    ok: bool
    events: int
    first_bad: int | None = None
    reason: str = ""


def verify(session) -> Verification:
    prev = GENESIS
    expected_seq = 1
    count = 0
    result = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
    for event in result:
        count += 1
        if event.seq != expected_seq:
            return Verification(False, count, expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
        if event.prev_hash != prev:
            return Verification(False, count, event.seq, "its previous-hash does not match the event before it")
        digest = event_hash(event.seq, event.at, event.actor, event.action, event.target, event.before, event.after, event.prev_hash)
        if digest != event.hash:
            return Verification(False, count, event.seq, "its contents do not match its hash (edited)")
        prev = event.hash
        expected_seq += 1
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    head_seq, head_hash = (head[0], head[1]) if head else (0, GENESIS)
    if head_seq != count or head_hash != prev:
        return Verification(False, count, count + 1 if head_seq > count else head_seq,
                            f"the chain ends at event {count} but its head records event {head_seq} (events deleted or head edited)")
    return Verification(True, count)
