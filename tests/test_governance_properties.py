"""Random sequences of commands by random roles against one PostgreSQL
registry: no status changes without the role and the gates the policy
requires (a change that skipped the engine in raw SQL is on the record,
naming its role), and the audit chain verifies after every step.

A small reference model of the lifecycle predicts each outcome; the test
fails when the registry does something the model does not allow, or refuses
something it allows (with a different exit code than predicted)."""

from __future__ import annotations

import json

import psycopg
from conftest import (
    _require_pg,
    drop_pg_database,
    new_registry,
    pg_database_url,
    pg_user,
    register_flags,
    run_cli,
    user_url,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import event as note_event
from hypothesis import strategies as st

from modelreg import Registry
from modelreg.errors import ModelregError

ROLES = {
    "olga": {"operator"},
    "otto": {"operator"},
    "abe": {"approver"},
    "pia": {"operator", "approver"},
    "ada": {"admin"},
    "rita": set(),
}
VERSIONS = ["1.0.0", "1.1.0", "2.0.0"]
CHECKS = ["evaluation", "security", "compliance"]
ENDPOINT = "http://127.0.0.1:9/v1"
NOW = "to_char(clock_timestamp() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"


class Model:
    """What the policy allows (separation of duties on, every check required)."""

    def __init__(self):
        self.versions: dict[str, dict] = {}

    def can(self, who: str, role: str) -> bool:
        return role in ROLES[who]

    def gates_hold(self, v: dict, who: str) -> bool:
        return all(v["checks"].get(c) for c in CHECKS) and v["bench"] and who != v["by"]


actor = st.sampled_from(sorted(ROLES))
# approvals are drawn mostly from the people who may approve, so that the gates
# and separation of duties are what decides, not a missing role
approving_actor = st.one_of(st.sampled_from(["abe", "pia"]), actor)
operating_actor = st.one_of(st.sampled_from(["olga", "otto", "pia"]), actor)
version = st.sampled_from(VERSIONS)
step = st.one_of(
    st.tuples(st.just("register"), actor, version),
    st.tuples(st.just("review"), actor, version, st.sampled_from(CHECKS), st.booleans()),
    st.tuples(st.just("bench"), actor, version, st.booleans()),
    st.tuples(st.just("promote"), approving_actor, version),
    st.tuples(st.just("deprecate"), actor, version),
    st.tuples(st.just("cancel"), actor, version),
    st.tuples(st.just("raw_approve"), approving_actor, version),
    st.tuples(st.just("policy"), actor),
)
# A version made ready for promotion in one go (registered by one person, reviewed
# and benchmarked by another), so that random promotions and raw approvals meet
# versions whose gates hold, not only versions that fail them.
ready = st.tuples(operating_actor, operating_actor, version).map(
    lambda t: [
        ("register", t[0], t[2]),
        *[("review", t[1], t[2], c, True) for c in CHECKS],
        ("bench", t[1], t[2], True),
    ]
)
ready_then_approve = st.tuples(ready, st.sampled_from(["promote", "raw_approve"]), approving_actor).map(
    lambda t: [*t[0], (t[1], t[2], t[0][0][2])]
)
# every example starts with a version made ready and an attempt to approve it
steps_strategy = st.tuples(
    ready_then_approve, st.lists(st.one_of(step.map(lambda s: [s]), ready, ready_then_approve), min_size=2, max_size=9)
).map(lambda t: [*t[0], *(s for chunk in t[1] for s in chunk)])


def raw(url: str, sql: str) -> str | None:
    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
            conn.execute(sql)
        return None
    except psycopg.Error as exc:
        return exc.sqlstate


def statuses(url: str) -> dict[str, str]:
    with psycopg.connect(user_url(url, "postgres").replace("postgresql+psycopg://", "postgresql://")) as conn:
        return dict(conn.execute("SELECT version, status FROM model_version WHERE model_id = 'gm'").fetchall())


def test_random_roles_never_change_status_without_role_and_gates(monkeypatch):
    _require_pg()
    monkeypatch.delenv("MODELREG_ACTOR")  # on PostgreSQL the actor is the login role of each URL
    for name, roles in ROLES.items():
        pg_user(name, ("reader", *sorted(roles)))

    @settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
    @given(steps_strategy)
    def run(steps):
        url = new_registry(pg_database_url("govprop"), test_clock=False)
        model = Model()
        counts = {"approved": 0, "raw": 0, "refused": 0}
        try:
            for s in steps:
                kind, who = s[0], s[1]
                db = user_url(url, who)
                cli = lambda *args: run_cli("--db", db, *args, raw=True)
                v = model.versions.get(s[2]) if len(s) > 2 else None
                target = f"gm@{s[2]}" if len(s) > 2 else None
                if kind == "register":
                    r = cli(*register_flags("gm", s[2], "--endpoint", ENDPOINT))
                    ok = model.can(who, "operator") and v is None
                    if ok:
                        model.versions[s[2]] = {"by": who, "status": "TESTING", "checks": {}, "bench": False}
                elif kind == "review":
                    r = cli("review", target, "--check", s[3], "--pass" if s[4] else "--fail")
                    ok = (
                        v is not None
                        and model.can(who, "operator")
                        and v["status"] not in ("RETIRED", "REJECTED")
                        and not (s[3] in ("security", "compliance") and who == v["by"])
                    )
                    if ok:
                        v["checks"][s[3]] = s[4]
                elif kind == "bench":
                    with Registry.open(db) as reg:
                        try:
                            reg.record_benchmark(target, endpoint=ENDPOINT, settings={}, results={}, passed=s[3])
                            code = 0
                        except ModelregError as exc:
                            code = getattr(exc, "exit_code", 1)
                    r = type("R", (), {"exit_code": code, "stderr": ""})()
                    ok = v is not None and model.can(who, "operator")
                    if ok:
                        v["bench"] = s[3] if v["status"] not in ("RETIRED", "REJECTED") else v["bench"]
                elif kind == "promote":
                    r = cli("promote", target)
                    ok = (
                        v is not None
                        and v["status"] == "TESTING"
                        and model.can(who, "approver")
                        and model.gates_hold(v, who)
                    )
                    if ok:
                        v["status"] = "APPROVED"
                        counts["approved"] += 1
                elif kind == "deprecate":
                    r = cli("deprecate", target, "--reason", "r")
                    ok = v is not None and v["status"] == "APPROVED" and model.can(who, "approver")
                    if ok:
                        v["status"] = "DEPRECATED"
                elif kind == "cancel":
                    r = cli("deprecate", target, "--cancel")
                    ok = v is not None and v["status"] == "DEPRECATED" and model.can(who, "approver")
                    if ok:
                        v["status"] = "APPROVED"
                elif kind == "raw_approve":
                    state = raw(
                        db,
                        f"UPDATE model_version SET status = 'APPROVED', approved_by = '{who}', "
                        f"approved_at = {NOW}, status_changed_at = {NOW} "
                        f"WHERE model_id = 'gm' AND version = '{s[2]}' AND status = 'TESTING'",
                    )
                    r = type("R", (), {"exit_code": 0 if state is None else 5, "stderr": state or ""})()
                    # the table grant comes first (readers may not UPDATE at all), then the row guard
                    writer = model.can(who, "operator") or model.can(who, "approver")
                    ok = writer and (
                        v is None or v["status"] != "TESTING" or (model.can(who, "approver") and who != v["by"])
                    )
                    if v is not None and v["status"] == "TESTING" and ok:
                        v["status"] = "APPROVED"
                        counts["raw"] += 1
                else:  # policy
                    r = cli("policy", "set", "benchmark_max_age_days", "6")
                    ok = model.can(who, "admin")
                if not ok:
                    counts["refused"] += 1
                assert (r.exit_code == 0) == ok, (s, r.exit_code, r.stderr)
                assert statuses(url) == {k: x["status"] for k, x in model.versions.items()}, s
                verify = run_cli("--db", user_url(url, "rita"), "audit", "verify", raw=True)
                assert verify.exit_code == 0, verify.stderr
            # every status change is on the record, naming a role that was allowed to make it
            for key, n in counts.items():
                note_event(f"{key}: {n}")
            if not model.versions:
                return
            history = json.loads(run_cli("--db", user_url(url, "rita"), "history", "gm", "--json", raw=True).stdout)
            for event in history:
                if (
                    event["action"] in ("promote", "sql.update.model_version")
                    and (event["after"] or {}).get("status") == "APPROVED"
                ):
                    assert "approver" in ROLES[event["actor"]], event
        finally:
            drop_pg_database(url)

    run()
