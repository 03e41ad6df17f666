"""applications: bearer tokens and who resolves what

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Both backends:
- `api_token`: a named bearer token for `modelreg serve --require-token`,
  stored as the SHA-256 of the token (the token itself is printed once);
  the name is the consumer the token's requests are counted for;
- `consumer_usage`: how often a consumer resolved (or, from `alerts ingest`,
  called) a version, per UTC day: counted in memory by `serve` and flushed
  in batches, never a write per request.

PostgreSQL: tokens are the admin's (the table is readable by no one else);
`modelreg_token_consumer(digest)` lets a reader (the role `serve` connects
as) learn the name behind a digest without reading the table, and
`modelreg_record_usage(...)` lets it add counts, stamped with the server's
clock, without any other write. Raw changes to `api_token` are guarded
(admin) and recorded in the audit chain like every governed table's;
`db copy` restores both tables.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = 27
# every table `db copy` fills row by row (revision 0004's list, plus this revision's)
RESTORABLE = (
    "model",
    "model_version",
    "version_attribute",
    "check_result",
    "benchmark_run",
    "retirement_notice",
    "advisory",
    "observation",
    "baseline",
    "alert",
    "alert_delivery",
    "policy_version",
    "lifecycle_event",
    "event_delivery",
    "api_token",
    "consumer_usage",
)


def upgrade() -> None:
    conn = op.get_bind()
    op.create_table(
        "api_token",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=True),
        sa.Column("revoked_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.PrimaryKeyConstraint("name"),
        sa.UniqueConstraint("digest", name="uq_api_token_digest"),
    )
    op.create_table(
        "consumer_usage",
        sa.Column("consumer", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("model_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "model_id", "version", "day"),
    )
    op.create_index("ix_consumer_usage_version", "consumer_usage", ["model_id", "version", "day"])
    if conn.dialect.name == "postgresql":
        for statement in enforcement_sql(conn):
            conn.execute(sa.text(statement))


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported")


def enforcement_sql(conn) -> list[str]:
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    s = f'"{schema}"'
    path = f"SET search_path = {s}, pg_temp"
    sql = [
        "REVOKE ALL ON api_token, consumer_usage FROM PUBLIC",
        "GRANT SELECT, INSERT, UPDATE ON api_token TO modelreg_admin",
        "GRANT SELECT ON consumer_usage TO modelreg_reader",
        "GRANT INSERT, UPDATE ON consumer_usage TO modelreg_operator",  # `alerts ingest` windows naming a consumer
    ]
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_token_consumer(p_digest text) RETURNS text LANGUAGE sql STABLE
SECURITY DEFINER {path}
AS $$ SELECT name FROM api_token WHERE digest = p_digest AND revoked_at IS NULL $$""")
    sql.append("REVOKE ALL ON FUNCTION modelreg_token_consumer(text) FROM PUBLIC")
    sql.append("GRANT EXECUTE ON FUNCTION modelreg_token_consumer(text) TO modelreg_reader")
    sql.append(f"""
CREATE OR REPLACE FUNCTION modelreg_record_usage(p_consumer text[], p_model text[], p_version text[],
    p_requests bigint[]) RETURNS void LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE
  now_ text := modelreg_stamp(clock_timestamp());
BEGIN
  IF NOT pg_has_role(session_user, 'modelreg_reader', 'USAGE') THEN
    RAISE EXCEPTION 'modelreg: % may not record usage: that needs the reader role', lower(session_user::text)
      USING ERRCODE = '42501';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(p_consumer, p_requests) AS u(c, n)
             WHERE c IS NULL OR length(c) NOT BETWEEN 1 AND 128 OR n IS NULL OR n < 1) THEN
    RAISE EXCEPTION 'modelreg: usage counts need a consumer name (1 to 128 characters) and a positive count'
      USING ERRCODE = '22023';
  END IF;
  INSERT INTO consumer_usage AS u (consumer, model_id, version, day, requests, last_seen)
  SELECT c, m, v, left(now_, 10), sum(n), now_
  FROM unnest(p_consumer, p_model, p_version, p_requests) AS x(c, m, v, n)
  WHERE EXISTS (SELECT 1 FROM model_version mv WHERE mv.model_id = x.m AND mv.version = x.v)
  GROUP BY c, m, v
  ON CONFLICT (consumer, model_id, version, day)
  DO UPDATE SET requests = u.requests + excluded.requests, last_seen = excluded.last_seen;
END $$""")
    sql.append("REVOKE ALL ON FUNCTION modelreg_record_usage(text[], text[], text[], bigint[]) FROM PUBLIC")
    sql.append("GRANT EXECUTE ON FUNCTION modelreg_record_usage(text[], text[], text[], bigint[]) TO modelreg_reader")

    # api_token: admin only, by any path; every change staged for the audit record (as in revision 0004)
    for event, ref, rows in (
        (
            "insert",
            "REFERENCING NEW TABLE AS n",
            "SELECT 'token:' || r.name, 'null', (to_jsonb(r) - 'digest')::text FROM n r",
        ),
        (
            "update",
            "REFERENCING OLD TABLE AS o NEW TABLE AS n",
            "SELECT 'token:' || n.name, (to_jsonb(o) - 'digest')::text, (to_jsonb(n) - 'digest')::text "
            "FROM o JOIN n ON o.name = n.name",
        ),
        (
            "delete",
            "REFERENCING OLD TABLE AS o",
            "SELECT 'token:' || r.name, (to_jsonb(r) - 'digest')::text, 'null' FROM o r",
        ),
    ):
        name = f"modelreg_{event}_api_token"
        sql.append(f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  IF modelreg_restoring() THEN
    RETURN NULL;
  END IF;
  IF NOT modelreg_exempt() THEN
    PERFORM modelreg_need('modelreg_admin', 'manage tokens');
  END IF;
  INSERT INTO audit_stage (xact, op, tbl, target, before, after)
  SELECT pg_current_xact_id()::text, '{event}', 'api_token', t.* FROM ({rows}) AS t;
  INSERT INTO audit_tx (xact) VALUES (pg_current_xact_id()::text) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""")
        sql.append(f"DROP TRIGGER IF EXISTS {name} ON api_token")
        sql.append(
            f"CREATE TRIGGER {name} AFTER {event.upper()} ON api_token {ref} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
        )
    sql.append("DROP TRIGGER IF EXISTS modelreg_truncate ON api_token")
    sql.append(
        "CREATE TRIGGER modelreg_truncate BEFORE TRUNCATE ON api_token FOR EACH STATEMENT "
        "EXECUTE FUNCTION modelreg_refuse_truncate()"
    )

    # `db copy` restores the new tables too (the function of revision 0004, with the longer list)
    restorable = "', '".join(RESTORABLE)
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
    return sql
