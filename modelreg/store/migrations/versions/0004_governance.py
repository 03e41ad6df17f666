"""governance: policy in the registry, lifecycle events, enforced roles

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Both backends:
- `policy_version`: the registry's policy, versioned (version 1: the defaults);
- `audit_event.os_user` and `.policy_version`: who ran modelreg, under which policy;
- `lifecycle_event` and `event_delivery`: the transactional outbox of lifecycle events;
- `model_version.version_key` rewritten: numbers carry their length, so SemVer
  precedence sorts right at any length (10000000000.0.0 after 9999999999.0.0).

PostgreSQL also gets the enforcement (this file is its one definition, frozen
with the revision as migrations are; a test compares the transitions it allows
with `lifecycle.status.TRANSITIONS`):
- group roles modelreg_reader, _operator, _approver, _admin (created when the
  migrating role may; otherwise the upgrade stops and prints the SQL for a DBA);
- grants: nobody but the owner may write audit_event / audit_head directly;
- `modelreg_begin()` (the writer lock, who acts, the server clock, the roles),
  `modelreg_audit_append(...)` (the only way to add an event: the server stamps
  the authenticated role and checks the time), both SECURITY DEFINER;
- guard triggers on the governed tables: roles, legal transitions, separation
  of duties, immutable manifests, timestamps from the server's clock;
- row-level security on model_version and check_result;
- a deferred row trigger that records every change to a governed table that no
  audit event of the same transaction covers (raw SQL), naming session_user;
- access management (`modelreg_access_grant/revoke`) and restore (`db copy`).
Superusers and the owner of the tables (the role that ran the upgrade) are
exempt from the guards, as they are from every PostgreSQL control; their
changes are still recorded.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = 27
DEFAULT_POLICY = (
    '{"alerts":{"error_rate_threshold":0.01,"webhooks":[]},"policy":{"approvers":[],'
    '"benchmark_max_age_days":7,"deprecation_notice_days":90,"max_error_rate":0.01,'
    '"notice_before_retirement_days":[30,7,1],"require_model_card":false,'
    '"required_checks":["evaluation","security","compliance","benchmark"],'
    '"separation_of_duties":true,"test_clock":false}}'
)
ROLES = ("modelreg_reader", "modelreg_operator", "modelreg_approver", "modelreg_admin")


def _number_key(number: int) -> str:
    digits = str(number)
    return f"{len(digits):03d}{digits}"


def _sort_key(version: str) -> str:
    """SemVer.sort_key as of this revision (frozen here, as migrations are)."""
    core, _, _build = version.partition("+")
    core, dash, pre = core.partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    key = ".".join(_number_key(n) for n in (major, minor, patch))
    if not dash:
        return key + "~"
    ids = [("0" + _number_key(int(p))) if p.isdigit() else f"1{p}" for p in pre.split(".")]
    return key + "-" + "\x01".join(ids)


def upgrade() -> None:
    conn = op.get_bind()
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        preflight(conn)
    op.create_table(
        "policy_version",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    conn.execute(
        sa.text(
            "INSERT INTO policy_version (version, document, created_at, created_by) "
            "VALUES (1, :doc, :at, 'modelreg db upgrade')"
        ),
        {"doc": DEFAULT_POLICY, "at": "1970-01-01T00:00:00.000000Z"},
    )
    with op.batch_alter_table("audit_event") as batch:
        batch.add_column(sa.Column("os_user", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True))
        batch.add_column(sa.Column("policy_version", sa.Integer(), nullable=True))
    op.create_table(
        "lifecycle_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.Column("policy_version", sa.Integer(), nullable=True),
        sa.Column("payload", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lifecycle_event_target", "lifecycle_event", ["target"])
    op.create_table(
        "event_delivery",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("url", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["lifecycle_event.id"]),
        sa.PrimaryKeyConstraint("event_id", "url"),
    )
    op.create_index("ix_event_delivery_status", "event_delivery", ["status"])
    rows = conn.execute(sa.text("SELECT model_id, version FROM model_version")).all()
    for start in range(0, len(rows), 5000):
        conn.execute(
            sa.text("UPDATE model_version SET version_key = :k WHERE model_id = :m AND version = :v"),
            [{"k": _sort_key(v), "m": m, "v": v} for m, v in rows[start : start + 5000]],
        )
    if postgres:
        for statement in enforcement_sql(conn):
            conn.execute(sa.text(statement))


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported")


# -- PostgreSQL ----------------------------------------------------------------------------------
def role_sql(roles: tuple[str, ...] = ROLES) -> list[str]:
    out = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{r}') THEN "
        f"CREATE ROLE {r} NOLOGIN; END IF; END $$"
        for r in roles
    ]
    out.append(f"GRANT {roles[0]} TO {', '.join(roles[1:])}")
    return out


def preflight(conn, roles: tuple[str, ...] = ROLES) -> None:
    """Refuse to continue half-configured: without the group roles and no
    right to create them, stop and print the SQL for a database administrator."""
    missing = [
        r for r in roles if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": r}).first() is None
    ]
    if not missing:
        return
    can = conn.execute(sa.text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")).scalar()
    if can:
        for statement in role_sql(roles):
            conn.execute(sa.text(statement))
        return
    from modelreg.errors import DatabaseError

    raise DatabaseError(
        f"the PostgreSQL group roles {', '.join(missing)} do not exist and this role may not create "
        "them; nothing was changed. Ask a database administrator to run this SQL, then run "
        "`modelreg db upgrade` again:",
        details=[statement + ";" for statement in role_sql(roles)],
    )


def enforcement_sql(conn) -> list[str]:
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    s = f'"{schema}"'
    path = f"SET search_path = {s}, pg_temp"
    tables = [
        "model",
        "model_version",
        "version_attribute",
        "check_result",
        "benchmark_run",
        "retirement_notice",
        "audit_event",
        "audit_head",
        "advisory",
        "observation",
        "baseline",
        "alert",
        "alert_delivery",
        "policy_version",
        "lifecycle_event",
        "event_delivery",
        "alembic_version",
    ]
    writers = "modelreg_operator, modelreg_approver, modelreg_admin"
    # restore_marker: the transactions that `db copy` restores in (owner-only; see modelreg_restore_begin)
    sql = [
        "CREATE TABLE IF NOT EXISTS restore_marker (xact text PRIMARY KEY)",
        "REVOKE ALL ON restore_marker FROM PUBLIC",
    ]
    sql += [f"REVOKE ALL ON {t} FROM PUBLIC" for t in tables]
    sql += [f"GRANT SELECT ON {t} TO modelreg_reader" for t in tables]
    sql += [
        "GRANT INSERT, UPDATE ON model, model_version TO modelreg_operator, modelreg_approver",
        "GRANT INSERT ON version_attribute, check_result, benchmark_run TO modelreg_operator",
        "GRANT INSERT, UPDATE ON advisory TO modelreg_operator, modelreg_approver",
        "GRANT INSERT ON retirement_notice TO modelreg_operator, modelreg_approver",
        "GRANT INSERT, UPDATE, DELETE ON observation TO modelreg_operator",
        "GRANT INSERT, UPDATE ON baseline, alert, alert_delivery TO modelreg_operator, modelreg_approver",
        f"GRANT INSERT ON lifecycle_event TO {writers}",
        f"GRANT INSERT, UPDATE ON event_delivery TO {writers}",
        "GRANT INSERT ON policy_version TO modelreg_admin",
    ]
    for table, column in (
        ("check_result", "id"),
        ("benchmark_run", "run_id"),
        ("alert", "id"),
        ("lifecycle_event", "id"),
    ):
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}).scalar()
        sql.append(f"GRANT USAGE, SELECT ON SEQUENCE {sequence} TO {writers}")

    sql.append("""
CREATE OR REPLACE FUNCTION modelreg_stamp(ts timestamptz) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_policy() RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER {path}
AS $$ SELECT document::jsonb FROM policy_version ORDER BY version DESC LIMIT 1 $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_policy_version() RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER {path}
AS $$ SELECT max(version) FROM policy_version $$""")
    sql.append("""
CREATE OR REPLACE FUNCTION modelreg_test_clock() RETURNS boolean LANGUAGE sql STABLE
AS $$ SELECT coalesce((modelreg_policy() #>> '{policy,test_clock}')::boolean, false) $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_restoring() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER {path}
AS $$ SELECT pg_has_role(session_user, 'modelreg_admin', 'USAGE')
        AND EXISTS (SELECT 1 FROM restore_marker WHERE xact = pg_current_xact_id()::text) $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_exempt() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER {path}
AS $$ SELECT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = session_user), false)
        OR pg_has_role(session_user, (SELECT relowner FROM pg_class WHERE oid = '{s}.model_version'::regclass), 'MEMBER')
        OR modelreg_restoring() $$""")
    sql.append("""
CREATE OR REPLACE FUNCTION modelreg_audit_hash(p_seq bigint, p_at text, p_actor text, p_action text, p_target text,
    p_before text, p_after text, p_prev text, p_os_user text, p_policy_version integer) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT encode(sha256(convert_to('[' || p_seq::text || ',' || to_json(p_at)::text || ',' || to_json(p_actor)::text
    || ',' || to_json(p_action)::text || ',' || to_json(p_target)::text || ',' || to_json(p_before)::text
    || ',' || to_json(p_after)::text || ',' || to_json(p_prev)::text
    || CASE WHEN p_os_user IS NULL AND p_policy_version IS NULL THEN ''
            ELSE ',' || coalesce(to_json(p_os_user)::text, 'null') || ',' || coalesce(p_policy_version::text, 'null')
       END || ']', 'UTF8')), 'hex') $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_append_all(p_at text[], p_action text[], p_target text[], p_before text[],
    p_after text[], p_os_user text[], p_policy_version integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE
  h_seq bigint; h_hash text; n integer := coalesce(array_length(p_action, 1), 0);
  who text := lower(session_user::text);
  seqs bigint[] := '{{}}'; prevs text[] := '{{}}'; hashes text[] := '{{}}'; i integer;
BEGIN
  IF n = 0 THEN
    RETURN;
  END IF;
  SELECT seq, hash INTO h_seq, h_hash FROM audit_head WHERE id = 1 FOR UPDATE;
  FOR i IN 1 .. n LOOP
    h_seq := h_seq + 1;
    seqs := seqs || h_seq;
    prevs := prevs || h_hash;
    h_hash := modelreg_audit_hash(h_seq, p_at[i], who, p_action[i], p_target[i], p_before[i], p_after[i], h_hash,
                                  p_os_user[i], p_policy_version);
    hashes := hashes || h_hash;
  END LOOP;
  INSERT INTO audit_event (seq, at, actor, action, target, before, after, prev_hash, hash, os_user, policy_version)
  SELECT u.seq, u.at, who, u.action, u.target, u.before, u.after, u.prev, u.hash, u.os_user, p_policy_version
  FROM unnest(seqs, p_at, p_action, p_target, p_before, p_after, prevs, hashes, p_os_user)
       AS u(seq, at, action, target, before, after, prev, hash, os_user);
  UPDATE audit_head SET seq = h_seq, hash = h_hash WHERE id = 1;
END $$""")
    sql.append(
        "REVOKE ALL ON FUNCTION modelreg_append_all(text[], text[], text[], text[], text[], text[], integer) "
        "FROM PUBLIC"
    )
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_audit_append(p_at text[], p_action text[], p_target text[], p_before text[],
    p_after text[], p_os_user text[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE low text := modelreg_stamp(transaction_timestamp()); high text := modelreg_stamp(clock_timestamp());
BEGIN
  IF NOT modelreg_test_clock() AND EXISTS (SELECT 1 FROM unnest(p_at) a WHERE a IS NULL OR a < low OR a > high) THEN
    RAISE EXCEPTION 'modelreg: an audit event must carry the server''s time (writes are stamped by the database server)'
      USING ERRCODE = '42501';
  END IF;
  PERFORM modelreg_append_all(p_at, p_action, p_target, p_before, p_after, p_os_user, modelreg_policy_version());
END $$""")
    sql.append(
        "REVOKE ALL ON FUNCTION modelreg_audit_append(text[], text[], text[], text[], text[], text[]) FROM PUBLIC"
    )
    sql.append(
        f"GRANT EXECUTE ON FUNCTION modelreg_audit_append(text[], text[], text[], text[], text[], text[]) TO {writers}"
    )
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_begin() RETURNS TABLE(seq bigint, actor text, now text, roles text[])
LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  RETURN QUERY SELECT h.seq::bigint, lower(session_user::text), modelreg_stamp(clock_timestamp()),
    ARRAY(SELECT r.rolname::text FROM pg_roles r WHERE r.rolname LIKE 'modelreg\\_%'
          AND pg_has_role(session_user, r.oid, 'USAGE') ORDER BY 1)
  FROM audit_head h WHERE h.id = 1 FOR UPDATE;
END $$""")
    sql.append("REVOKE ALL ON FUNCTION modelreg_begin() FROM PUBLIC")
    sql.append(f"GRANT EXECUTE ON FUNCTION modelreg_begin() TO {writers}")

    sql += guard_sql(path)

    # -- row-level security: what each role may even touch ----------------------------------------
    sql += [
        "ALTER TABLE model_version ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY read_all ON model_version FOR SELECT TO modelreg_reader USING (true)",
        "CREATE POLICY register ON model_version FOR INSERT TO modelreg_operator "
        "WITH CHECK (status IN ('TESTING', 'EXPERIMENTAL') AND registered_by = lower(session_user::text))",
        "CREATE POLICY operate ON model_version FOR UPDATE TO modelreg_operator "
        "USING (status IN ('EXPERIMENTAL', 'TESTING', 'DEPRECATED')) WITH CHECK (status IN ('TESTING', 'REJECTED', 'RETIRED'))",
        "CREATE POLICY approve ON model_version FOR UPDATE TO modelreg_approver USING (true) WITH CHECK (true)",
        "ALTER TABLE check_result ENABLE ROW LEVEL SECURITY",
        "CREATE POLICY read_all ON check_result FOR SELECT TO modelreg_reader USING (true)",
        "CREATE POLICY own_reviews ON check_result FOR INSERT TO modelreg_operator "
        "WITH CHECK (actor = lower(session_user::text))",
    ]

    # -- access management and restore ---------------------------------------------------------------
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_access(p_grant boolean, p_user text, p_role text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  IF NOT modelreg_exempt() THEN
    PERFORM modelreg_need('modelreg_admin', 'change who holds modelreg roles');
  END IF;
  IF p_role NOT IN ('modelreg_reader', 'modelreg_operator', 'modelreg_approver', 'modelreg_admin') THEN
    RAISE EXCEPTION 'modelreg: unknown role %', p_role USING ERRCODE = '42704';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = p_user) THEN
    RAISE EXCEPTION 'modelreg: unknown user %', p_user USING ERRCODE = '42704';
  END IF;
  IF p_grant THEN
    EXECUTE format('GRANT %I TO %I', p_role, p_user);
  ELSE
    EXECUTE format('REVOKE %I FROM %I', p_role, p_user);
  END IF;
  PERFORM modelreg_append_all(ARRAY[modelreg_stamp(clock_timestamp())],
                              ARRAY[CASE WHEN p_grant THEN 'access.grant' ELSE 'access.revoke' END], ARRAY['access'],
                              ARRAY['null'], ARRAY[json_build_object('user', p_user, 'role', p_role)::text],
                              ARRAY[NULL::text], modelreg_policy_version());
END $$""")
    sql.append("REVOKE ALL ON FUNCTION modelreg_access(boolean, text, text) FROM PUBLIC")
    sql.append("GRANT EXECUTE ON FUNCTION modelreg_access(boolean, text, text) TO modelreg_admin")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_restore_begin() RETURNS void LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  PERFORM modelreg_need('modelreg_admin', 'restore a registry');
  IF EXISTS (SELECT 1 FROM model) OR (SELECT seq FROM audit_head WHERE id = 1) <> 0
     OR (SELECT count(*) FROM policy_version) <> 1 THEN
    RAISE EXCEPTION 'modelreg: a registry is restored only into an empty one' USING ERRCODE = '42501';
  END IF;
  DELETE FROM restore_marker;
  INSERT INTO restore_marker (xact) VALUES (pg_current_xact_id()::text);
  DELETE FROM policy_version;
END $$""")
    restorable = "', '".join(t for t in tables if t not in ("audit_event", "audit_head", "alembic_version"))
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_restore_rows(p_table text, p_rows jsonb) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER {path} AS $$
BEGIN
  IF NOT modelreg_restoring() THEN
    RAISE EXCEPTION 'modelreg: rows are copied in only by `modelreg db copy`' USING ERRCODE = '42501';
  END IF;
  IF p_table NOT IN ('{restorable}') THEN
    RAISE EXCEPTION 'modelreg: % is not restored row by row', p_table USING ERRCODE = '42501';
  END IF;
  EXECUTE format('INSERT INTO %I SELECT * FROM jsonb_populate_recordset(NULL::%I, $1)', p_table, p_table) USING p_rows;
END $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_restore_audit(p_seq bigint[], p_at text[], p_actor text[], p_action text[],
    p_target text[], p_before text[], p_after text[], p_prev text[], p_hash text[], p_os_user text[],
    p_policy_version integer[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  IF NOT modelreg_restoring() THEN
    RAISE EXCEPTION 'modelreg: audit events are copied only by `modelreg db copy`' USING ERRCODE = '42501';
  END IF;
  INSERT INTO audit_event (seq, at, actor, action, target, before, after, prev_hash, hash, os_user, policy_version)
  SELECT * FROM unnest(p_seq, p_at, p_actor, p_action, p_target, p_before, p_after, p_prev, p_hash, p_os_user,
                       p_policy_version);
END $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_restore_end(p_seq bigint, p_hash text) RETURNS void LANGUAGE plpgsql
SECURITY DEFINER {path} AS $$
BEGIN
  IF NOT modelreg_restoring() THEN
    RAISE EXCEPTION 'modelreg: not restoring' USING ERRCODE = '42501';
  END IF;
  UPDATE audit_head SET seq = p_seq, hash = p_hash WHERE id = 1;
  -- the copied rows kept their ids: move each serial past them
  PERFORM setval(pg_get_serial_sequence('check_result', 'id'), GREATEST((SELECT max(id) FROM check_result), 1),
                 (SELECT max(id) FROM check_result) IS NOT NULL);
  PERFORM setval(pg_get_serial_sequence('benchmark_run', 'run_id'), GREATEST((SELECT max(run_id) FROM benchmark_run), 1),
                 (SELECT max(run_id) FROM benchmark_run) IS NOT NULL);
  PERFORM setval(pg_get_serial_sequence('alert', 'id'), GREATEST((SELECT max(id) FROM alert), 1),
                 (SELECT max(id) FROM alert) IS NOT NULL);
  PERFORM setval(pg_get_serial_sequence('lifecycle_event', 'id'), GREATEST((SELECT max(id) FROM lifecycle_event), 1),
                 (SELECT max(id) FROM lifecycle_event) IS NOT NULL);
END $$""")
    for fn in (
        "modelreg_restore_begin()",
        "modelreg_restore_rows(text, jsonb)",
        "modelreg_restore_audit(bigint[], text[], text[], text[], text[], text[], "
        "text[], text[], text[], text[], integer[])",
        "modelreg_restore_end(bigint, text)",
    ):
        sql.append(f"REVOKE ALL ON FUNCTION {fn} FROM PUBLIC")
        sql.append(f"GRANT EXECUTE ON FUNCTION {fn} TO modelreg_admin")
    return sql


# -- the guards and the record of raw changes (PostgreSQL) ---------------------------------------
# Statement-level triggers with transition tables: each statement is checked and
# staged set-based (a bulk registration of thousands of versions costs a few
# queries, not thousands of trigger calls). Every change to a governed table is
# staged in `audit_stage`; at commit one deferred trigger per transaction appends
# an audit event (naming session_user) for each staged change that no audit event
# of the same transaction covers (same target, or its model), so raw SQL never
# goes unrecorded.
KEYS = {
    "model": ("model_id",),
    "model_version": ("model_id", "version"),
    "version_attribute": ("kind", "value", "model_id", "version"),
    "check_result": ("id",),
    "benchmark_run": ("run_id",),
    "advisory": ("advisory_id", "model_id"),
    "policy_version": ("version",),
    "retirement_notice": ("model_id", "version", "retire_on", "days_before"),
}
TARGET = {"model": "r.model_id", "advisory": "r.model_id", "policy_version": "'policy'"}
MANIFEST = (
    "model_id",
    "version",
    "version_key",
    "prerelease",
    "provider",
    "capabilities",
    "parameters",
    "avg_latency_ms",
    "p95_latency_ms",
    "cost_per_request_usd",
    "data_residency",
    "pii_handling",
    "approved_domains",
    "endpoint",
    "endpoint_kind",
    "description",
    "registered_at",
    "registered_by",
)
LIFECYCLE = (
    "canary_weight",
    "default_since",
    "approved_at",
    "approved_by",
    "deprecated_at",
    "deprecated_by",
    "deprecation_reason",
    "retire_on",
    "replacement",
    "retired_at",
    "rejected_at",
)


def _differ(columns: tuple[str, ...]) -> str:
    return f"({', '.join('o.' + c for c in columns)}) IS DISTINCT FROM ({', '.join('n.' + c for c in columns)})"


def _fail(condition: str, message: str, *args: str) -> str:
    """RAISE when some row meets `condition` (a WHERE over the transition tables)."""
    shown = ", ".join(args)
    return (
        f"  SELECT {shown or 'NULL'} INTO bad FROM {condition} LIMIT 1;\n"
        f"  IF FOUND THEN RAISE EXCEPTION 'modelreg: {message}'{', ' + ', '.join('bad.' + a.split()[-1] for a in args) if args else ''}"
        f" USING ERRCODE = '42501'; END IF;\n"
    )


def guard_sql(path: str) -> list[str]:
    sql = [
        "CREATE UNLOGGED TABLE IF NOT EXISTS audit_stage (id bigserial PRIMARY KEY, xact text NOT NULL, "
        "op text NOT NULL, tbl text NOT NULL, target text NOT NULL, before text NOT NULL, after text NOT NULL)",
        "CREATE INDEX IF NOT EXISTS ix_audit_stage_xact ON audit_stage (xact)",
        "CREATE UNLOGGED TABLE IF NOT EXISTS audit_tx (xact text PRIMARY KEY)",
        "REVOKE ALL ON audit_stage, audit_tx FROM PUBLIC",
    ]
    sql.append("""
CREATE OR REPLACE FUNCTION modelreg_need(p_role text, p_doing text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT pg_has_role(session_user, p_role, 'USAGE') THEN
    RAISE EXCEPTION 'modelreg: % may not %: that needs the % role (an admin runs `modelreg access grant % %`)',
      lower(session_user::text), p_doing, replace(p_role, 'modelreg_', ''), lower(session_user::text),
      replace(p_role, 'modelreg_', '') USING ERRCODE = '42501';
  END IF;
END $$""")
    sql.append("""
CREATE OR REPLACE FUNCTION modelreg_need_any(p_roles text[], p_doing text) RETURNS void LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM unnest(p_roles) r WHERE pg_has_role(session_user, r, 'USAGE')) THEN
    PERFORM modelreg_need(p_roles[1], p_doing);
  END IF;
END $$""")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_record_raw() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE
  cur text := pg_current_xact_id()::text;
  me xid := pg_current_xact_id()::xid;
  r record;
  ats text[] := '{{}}'; actions text[] := '{{}}'; targets text[] := '{{}}'; befores text[] := '{{}}';
  afters text[] := '{{}}'; users text[] := '{{}}';
BEGIN
  IF NOT modelreg_restoring() THEN
    -- a change is covered when this transaction appended a lifecycle event about its target or model
    FOR r IN SELECT s.* FROM audit_stage s WHERE s.xact = cur AND NOT EXISTS (
               SELECT 1 FROM audit_event e WHERE e.xmin = me AND e.action NOT LIKE 'sql.%'
               AND (e.target = s.target OR e.target = split_part(s.target, '@', 1)
                    OR (e.target >= split_part(s.target, '@', 1) || '@' AND e.target < split_part(s.target, '@', 1) || 'A')))
             ORDER BY s.id LOOP
      ats := ats || modelreg_stamp(clock_timestamp());
      actions := actions || ('sql.' || r.op || '.' || r.tbl);
      targets := targets || r.target;
      befores := befores || r.before;
      afters := afters || r.after;
      users := users || NULL::text;
    END LOOP;
    PERFORM modelreg_append_all(ats, actions, targets, befores, afters, users, modelreg_policy_version());
  END IF;
  DELETE FROM audit_stage WHERE xact = cur;
  DELETE FROM audit_tx WHERE xact = cur;
  RETURN NULL;
END $$""")
    sql.append("DROP TRIGGER IF EXISTS modelreg_record_raw ON audit_tx")
    sql.append(
        "CREATE CONSTRAINT TRIGGER modelreg_record_raw AFTER INSERT ON audit_tx DEFERRABLE INITIALLY DEFERRED "
        "FOR EACH ROW EXECUTE FUNCTION modelreg_record_raw()"
    )

    for table, keys in KEYS.items():
        target = TARGET.get(table, "r.model_id || '@' || r.version")
        join = " AND ".join(f"o.{k} = n.{k}" for k in keys)
        for event in ("insert", "update", "delete"):
            checks = guard_checks(table, event, join)
            if event == "insert":
                rows = f"SELECT {target}, 'null', to_jsonb(r)::text FROM n r"
                ref = "REFERENCING NEW TABLE AS n"
            elif event == "delete":
                rows = f"SELECT {target}, to_jsonb(r)::text, 'null' FROM o r"
                ref = "REFERENCING OLD TABLE AS o"
            else:
                rows = (
                    f"SELECT {target.replace('r.', 'n.')}, to_jsonb(o)::text, to_jsonb(n)::text FROM o JOIN n ON {join}"
                )
                ref = "REFERENCING OLD TABLE AS o NEW TABLE AS n"
            name = f"modelreg_{event}_{table}"
            sql.append(f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE
  me text := lower(session_user::text);
  pol jsonb := modelreg_policy();
  test_clock boolean := coalesce((pol #>> '{{policy,test_clock}}')::boolean, false);
  low text := modelreg_stamp(transaction_timestamp());
  high text := modelreg_stamp(clock_timestamp());
  today text := to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD');
  bad record;
  pair text;
BEGIN
  IF modelreg_restoring() THEN
    RETURN NULL;  -- `db copy` into an empty registry: the copied audit chain records these rows
  END IF;
  IF NOT modelreg_exempt() THEN
{checks}  END IF;
  INSERT INTO audit_stage (xact, op, tbl, target, before, after)
  SELECT pg_current_xact_id()::text, '{event}', '{table}', t.* FROM ({rows}) AS t;
  INSERT INTO audit_tx (xact) VALUES (pg_current_xact_id()::text) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""")
            sql.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            sql.append(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {ref} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION {name}()"
            )
    for table in KEYS:
        sql.append(f"DROP TRIGGER IF EXISTS modelreg_truncate ON {table}")
        sql.append(
            f"CREATE TRIGGER modelreg_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION modelreg_refuse_truncate()"
        )
    sql.insert(
        4,
        f"""
CREATE OR REPLACE FUNCTION modelreg_refuse_truncate() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  IF NOT modelreg_exempt() THEN
    RAISE EXCEPTION 'modelreg: % may not truncate %: registry records are never deleted', lower(session_user::text),
      TG_TABLE_NAME USING ERRCODE = '42501';
  END IF;
  RETURN NULL;
END $$""",
    )
    return sql


def guard_checks(table: str, event: str, join: str) -> str:
    """The plpgsql body that refuses what the acting role may not do (set-based)."""
    stamp = "NOT test_clock AND ({c} < low OR {c} > high)"
    if event == "delete":
        return (
            f"    RAISE EXCEPTION 'modelreg: % may not delete from {table}: registry records are never deleted', me "
            "USING ERRCODE = '42501';\n"
        )
    if event == "update" and table not in ("model", "model_version", "advisory"):
        return f"    RAISE EXCEPTION 'modelreg: {table} records are never changed' USING ERRCODE = '42501';\n"
    if table == "model_version" and event == "insert":
        return (
            "    PERFORM modelreg_need('modelreg_operator', 'register model versions');\n"
            + _fail(
                "n WHERE status NOT IN ('TESTING', 'EXPERIMENTAL') OR registered_by <> me OR approved_at IS NOT NULL "
                "OR approved_by IS NOT NULL OR default_since IS NOT NULL OR canary_weight IS NOT NULL "
                "OR deprecated_at IS NOT NULL OR retired_at IS NOT NULL OR rejected_at IS NOT NULL",
                "% enters as TESTING or EXPERIMENTAL, registered by the role that inserts it (%)",
                "model_id || '@' || version AS target",
                "me AS who",
            )
            + _fail(
                f"n WHERE {stamp.format(c='registered_at')}",
                "registered_at % is not the server''s clock (writes are stamped by the database server)",
                "registered_at AS at",
            )
        )
    if table == "model_version":  # update
        body = _fail(
            f"o JOIN n ON {join} WHERE {_differ(MANIFEST)}",
            "the registered manifest of % is immutable (a change is a new version)",
            "n.model_id || '@' || n.version AS target",
        )
        body += (
            "  FOR pair IN SELECT DISTINCT o.status || '>' || n.status FROM o JOIN n ON "
            + join
            + " WHERE o.status <> n.status LOOP\n"
            "    IF pair = 'EXPERIMENTAL>TESTING' THEN\n"
            "      PERFORM modelreg_need_any(ARRAY['modelreg_operator', 'modelreg_approver'], 'move versions to TESTING');\n"
            "    ELSIF pair = 'TESTING>REJECTED' THEN\n"
            "      PERFORM modelreg_need('modelreg_operator', 'reject versions');\n"
            "    ELSIF pair = 'TESTING>APPROVED' THEN\n"
            "      PERFORM modelreg_need('modelreg_approver', 'approve versions');\n"
            "    ELSIF pair IN ('APPROVED>DEPRECATED', 'DEPRECATED>APPROVED') THEN\n"
            "      PERFORM modelreg_need('modelreg_approver', 'change a deprecation');\n"
            "    ELSIF pair = 'APPROVED>TESTING' THEN\n"
            "      PERFORM modelreg_need('modelreg_approver', 'abort a rollout');\n"
            "    ELSIF pair = 'DEPRECATED>RETIRED' THEN\n"
            "      PERFORM modelreg_need_any(ARRAY['modelreg_operator', 'modelreg_approver'], 'retire versions');\n"
            "    ELSE\n"
            "      SELECT n.model_id || '@' || n.version AS target INTO bad FROM o JOIN n ON "
            + join
            + " WHERE o.status || '>' || n.status = pair LIMIT 1;\n"
            "      RAISE EXCEPTION 'modelreg: % is %; cannot move to %', bad.target, split_part(pair, '>', 1),"
            " split_part(pair, '>', 2) USING ERRCODE = '42501';\n"
            "    END IF;\n"
            "  END LOOP;\n"
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status <> n.status AND {stamp.format(c='n.status_changed_at')}",
            "status_changed_at % is not the server''s clock (writes are stamped by the database server)",
            "n.status_changed_at AS at",
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status = 'TESTING' AND n.status = 'APPROVED' "
            "AND (n.approved_by IS DISTINCT FROM me OR " + stamp.format(c="n.approved_at") + ")",
            "% is approved by the role that approves it (%), at the server''s time",
            "n.model_id || '@' || n.version AS target",
            "me AS who",
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status = 'TESTING' AND n.status = 'APPROVED' AND n.registered_by = me "
            "AND coalesce((pol #>> '{policy,separation_of_duties}')::boolean, true)",
            "% registered % and may not approve it (separation_of_duties)",
            "me AS who",
            "n.model_id || '@' || n.version AS target",
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status = 'TESTING' AND n.status = 'APPROVED' "
            "AND jsonb_array_length(coalesce(pol #> '{policy,approvers}', '[]'::jsonb)) > 0 "
            "AND NOT (pol #> '{policy,approvers}') ? me",
            "% is not an approver (policy.approvers)",
            "me AS who",
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status = 'APPROVED' AND n.status = 'TESTING' AND o.canary_weight IS NULL",
            "% is APPROVED; only a canary goes back to TESTING (`rollout --abort`)",
            "n.model_id || '@' || n.version AS target",
        )
        body += _fail(
            f"o JOIN n ON {join} WHERE o.status = 'DEPRECATED' AND n.status = 'RETIRED' "
            "AND o.retire_on > today AND NOT test_clock",
            "% retires on % (UTC), not before",
            "n.model_id || '@' || n.version AS target",
            "o.retire_on AS day",
        )
        body += (
            "  IF EXISTS (SELECT 1 FROM o JOIN n ON "
            + join
            + " WHERE o.status = n.status AND "
            + _differ(LIFECYCLE)
            + ") THEN\n"
            "    PERFORM modelreg_need('modelreg_approver', 'change a rollout or a lifecycle date');\n"
            "  END IF;\n"
        )
        return body
    if table == "model" and event == "insert":
        return "    PERFORM modelreg_need('modelreg_operator', 'register models');\n"
    if table == "model":  # update
        return (
            _fail(
                f"o JOIN n ON {join} WHERE (o.provider, o.created_at) IS DISTINCT FROM (n.provider, n.created_at)",
                "the provider and creation of model % are fixed",
                "n.model_id AS target",
            )
            + f"  IF EXISTS (SELECT 1 FROM o JOIN n ON {join} WHERE o.canary_version IS DISTINCT FROM n.canary_version) THEN\n"
            "    PERFORM modelreg_need('modelreg_approver', 'change a rollout');\n  END IF;\n"
            f"  IF EXISTS (SELECT 1 FROM o JOIN n ON {join} WHERE o.fallbacks IS DISTINCT FROM n.fallbacks AND EXISTS ("
            "SELECT 1 FROM model_version v WHERE v.model_id = n.model_id AND v.status IN ('APPROVED', 'DEPRECATED'))) THEN\n"
            "    PERFORM modelreg_need('modelreg_approver', 'change the fallbacks of a model with approved versions');\n"
            f"  ELSIF EXISTS (SELECT 1 FROM o JOIN n ON {join} WHERE o.fallbacks IS DISTINCT FROM n.fallbacks) THEN\n"
            "    PERFORM modelreg_need_any(ARRAY['modelreg_operator', 'modelreg_approver'], 'change fallbacks');\n"
            "  END IF;\n"
            f"  IF EXISTS (SELECT 1 FROM o JOIN n ON {join} WHERE (o.owner, o.description) IS DISTINCT FROM "
            "(n.owner, n.description)) THEN\n"
            "    PERFORM modelreg_need('modelreg_operator', 'change models');\n  END IF;\n"
        )
    if table == "check_result":
        return (
            "    PERFORM modelreg_need('modelreg_operator', 'record reviews');\n"
            + _fail(
                "n WHERE actor <> me",
                "a review is recorded by the role that records it (%), not %",
                "me AS who",
                "actor AS claimed",
            )
            + _fail(
                f"n WHERE {stamp.format(c='at')}",
                "a review time % is not the server''s clock (writes are stamped by the database server)",
                "at AS at",
            )
            + _fail(
                "n JOIN model_version v ON v.model_id = n.model_id AND v.version = n.version "
                "WHERE n.name IN ('security', 'compliance') AND v.registered_by = me "
                "AND coalesce((pol #>> '{policy,separation_of_duties}')::boolean, true)",
                "% registered % and may not record its % review (separation_of_duties)",
                "me AS who",
                "n.model_id || '@' || n.version AS target",
                "n.name AS check_name",
            )
        )
    if table == "benchmark_run":
        return (
            "    PERFORM modelreg_need('modelreg_operator', 'record benchmark runs');\n"
            + _fail(
                "n WHERE actor <> me",
                "a benchmark run is recorded by the role that ran it (%), not %",
                "me AS who",
                "actor AS claimed",
            )
            + _fail(
                f"n WHERE {stamp.format(c='finished_at')}",
                "a benchmark finish time % is not the server''s clock",
                "finished_at AS at",
            )
        )
    if table == "version_attribute":
        return "    PERFORM modelreg_need('modelreg_operator', 'register model versions');\n"
    if table == "retirement_notice":
        return "    PERFORM modelreg_need_any(ARRAY['modelreg_operator', 'modelreg_approver'], 'raise retirement notices');\n"
    if table == "policy_version":
        return "    PERFORM modelreg_need('modelreg_admin', 'change the policy');\n" + _fail(
            "n WHERE created_by <> me OR version <> (SELECT max(p.version) FROM policy_version p "
            "WHERE p.version NOT IN (SELECT version FROM n)) + 1 OR (SELECT count(*) FROM n) <> 1",
            "a policy version is the next number, created by the role that writes it (%)",
            "me AS who",
        )
    if table == "advisory" and event == "insert":
        return "    PERFORM modelreg_need('modelreg_operator', 'add security advisories');\n" + _fail(
            "n WHERE created_by <> me OR status <> 'open'",
            "an advisory is added open, by the role that adds it (%)",
            "me AS who",
        )
    if table == "advisory":  # update
        return (
            _fail(
                f"o JOIN n ON {join} WHERE (o.affected, o.severity, o.summary, o.created_at, o.created_by) IS DISTINCT "
                "FROM (n.affected, n.severity, n.summary, n.created_at, n.created_by) "
                "OR (o.status <> n.status AND NOT (o.status = 'open' AND n.status = 'withdrawn'))",
                "advisory % only ever changes from open to withdrawn",
                "n.advisory_id AS ident",
            )
            + f"  IF EXISTS (SELECT 1 FROM o JOIN n ON {join} WHERE o.status <> n.status) THEN\n"
            "    PERFORM modelreg_need('modelreg_approver', 'withdraw advisories');\n  END IF;\n"
        )
    raise AssertionError((table, event))
