"""The audit chain's rules pinned by behaviour (issue 17): what `verify`
answers for each kind of tampering (the whole answer: verdict, events read,
first bad event, reason), an anchor that no longer holds, and a write refused
when the chain's head does not verify. On SQLite and on PostgreSQL (tampered
with as the tables' owner: nobody else may touch audit rows there)."""

from __future__ import annotations

import hashlib

import pytest
from conftest import small_spec, user_url
from sqlalchemy import text

from modelreg.errors import AuditBroken
from modelreg.store.audit import GENESIS, Verification, canonical, event_hash


def tamper(registry, *statements: str) -> None:
    from sqlalchemy import create_engine

    url = registry.db.url if registry.db.url.startswith("sqlite") else user_url(registry.db.url, "postgres")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))
    finally:
        engine.dispose()


def refusal_of_a_write(registry) -> str:
    with pytest.raises(AuditBroken) as refused:
        registry.register(small_spec("m", "2.0.0"))
    return str(refused.value)


@pytest.fixture
def chain(registry):
    """Four events: four registrations."""
    for version in ("1.0.0", "1.1.0", "1.2.0", "1.3.0"):
        registry.register(small_spec("m", version))
    assert registry.verify_audit().events == 4
    return registry


def test_an_intact_chain_verifies_to_its_head(chain):
    assert chain.verify_audit() == Verification(True, 4, None, "", head=chain.audit_head())
    assert chain.audit_head()[0] == 4


def test_a_missing_event_is_named(chain):
    tamper(chain, "DELETE FROM audit_event WHERE seq = 2")
    assert chain.verify_audit() == Verification(False, 2, 2, "event 2 is missing (next is 3)")


def test_a_broken_link_is_named(chain):
    tamper(chain, f"UPDATE audit_event SET prev_hash = '{GENESIS}' WHERE seq = 3")
    assert chain.verify_audit() == Verification(False, 3, 3, "its previous-hash does not match the event before it")


def test_an_edited_event_is_named(chain):
    tamper(chain, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 2")
    assert chain.verify_audit() == Verification(False, 2, 2, "its contents do not match its hash (edited)")


def test_a_deleted_newest_event_is_named_by_the_head(chain):
    tamper(chain, "DELETE FROM audit_event WHERE seq = 4")
    assert chain.verify_audit() == Verification(
        False, 3, 4, "the chain ends at event 3 but its head records event 4 (events deleted or head edited)"
    )


def test_deleted_newest_events_are_named_from_the_first_missing_one(chain):
    tamper(chain, "DELETE FROM audit_event WHERE seq > 2")
    assert chain.verify_audit() == Verification(
        False, 2, 3, "the chain ends at event 2 but its head records event 4 (events deleted or head edited)"
    )


def test_an_edited_head_hash_is_named(chain):
    tamper(chain, f"UPDATE audit_head SET hash = '{'1' * 64}'")
    assert chain.verify_audit() == Verification(False, 4, 4, "its head records another hash for event 4 (head edited)")


def test_a_head_moved_back_is_named(chain):
    tamper(chain, "UPDATE audit_head SET seq = 1")
    assert chain.verify_audit() == Verification(
        False, 4, 1, "the chain ends at event 4 but its head records event 1 (events deleted or head edited)"
    )


def test_an_anchor_proves_the_chain_up_to_it(chain):
    seq, digest = chain.audit_head()
    assert chain.verify_audit(anchor=f"2:{'0' * 64}") == Verification(
        False, 2, 2, "it no longer has the anchored hash 0000000000000000... (the chain up to it was rewritten)"
    )
    assert chain.verify_audit(anchor=f"9:{digest}") == Verification(
        False, 4, 9, "the anchored event 9 is gone (the chain ends at 4)"
    )
    assert chain.verify_audit(anchor=f"{seq}:{digest}") == Verification(True, 4, None, "", head=(seq, digest))


def test_a_write_onto_an_edited_head_is_refused(chain):
    tamper(chain, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 4")
    assert refusal_of_a_write(chain) == (
        "the audit chain's head (event 4) does not verify: refusing to extend it (run `modelreg audit verify`)"
    )
    assert chain.verify_audit().events == 4  # nothing was written


def test_a_write_onto_a_head_row_that_was_reset_is_refused(chain):
    tamper(chain, "DELETE FROM audit_event", f"UPDATE audit_head SET seq = 0, hash = '{'1' * 64}'")
    assert refusal_of_a_write(chain) == (
        "the audit chain's head row was edited: refusing to extend it (run `modelreg audit verify`)"
    )


def test_a_write_onto_a_head_moved_back_is_refused(chain):
    tamper(chain, "UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_event WHERE seq = 2)")
    assert refusal_of_a_write(chain) == (
        "the audit chain's head records event 2 but its newest event is 4: refusing to extend it "
        "(run `modelreg audit verify`)"
    )


def test_a_missing_head_row_refuses_every_write(chain):
    tamper(chain, "DELETE FROM audit_head")
    assert refusal_of_a_write(chain) == (
        "the audit chain's head row is missing: refusing to extend it (run `modelreg audit verify`)"
    )
    assert chain.verify_audit() == Verification(
        False, 4, 0, "the chain ends at event 4 but its head records event 0 (events deleted or head edited)"
    )


def test_the_hash_covers_os_user_and_policy_version_only_when_recorded():
    fields = [7, "2026-03-01T10:00:00Z", "alice", "register", "m@1.0.0", "null", "{}", GENESIS]

    def sha(values):
        return hashlib.sha256(canonical(values).encode()).hexdigest()

    assert event_hash(*fields) == sha(fields)  # an event from before they were recorded hashes as it did
    assert event_hash(*fields, os_user="alice") == sha([*fields, "alice", None])
    assert event_hash(*fields, policy_version=3) == sha([*fields, None, 3])
    assert event_hash(*fields, os_user="alice", policy_version=3) == sha([*fields, "alice", 3])


def test_one_transaction_of_more_than_5000_events_chains_every_one(registry):
    """PostgreSQL appends a transaction's events in chunks of 5000: none lost or doubled at the seams."""
    from modelreg.manifest import parse_version_spec

    specs = [parse_version_spec(small_spec(f"m{i // 1000}", f"1.0.{i % 1000}")) for i in range(5001)]
    assert len(registry.register_many(specs)) == 5001
    assert registry.verify_audit() == Verification(True, 5001, None, "", head=registry.audit_head())
    assert len({e["target"] for e in registry.history("m5")}) == 1  # the last event, past the seam
