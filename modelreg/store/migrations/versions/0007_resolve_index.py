"""scale: an index for resolving across models; the commit-time audit check in one pass

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28

Both backends: `resolve` by capability (or any filter across models) walks
the APPROVED versions newest-approved first and stops at the first that is
its model's production default (`lifecycle.production.newest_default_sql`).
The index `ix_model_version_approved` gives that order, so the walk reads a
few rows instead of every live version; `ix_model_version_provider_approved`
gives it within one provider (the guide's getLatestApproved(provider, ...)),
so a provider whose models sort last is not reached by reading every other
provider's first. On PostgreSQL its text columns sort
byte-wise (COLLATE "C"), as the query orders them.

PostgreSQL: `model_version.version_key` compares byte-wise (COLLATE "C"),
whatever the database's collation: the key sorts like SemVer precedence
only so; a database created with a natural collation (glibc en_US, ICU)
listed 1.0.0-alpha-1 before 1.0.0-alpha.1.

PostgreSQL: `modelreg_record_raw`, the deferred trigger that records raw
changes at commit, asked for each staged change whether an audit event of
the transaction covers it, each question a scan of `audit_event` (no index
can serve `xmin`): a bulk registration of 20,000 versions spent minutes in
COMMIT. It now reads the transaction's own events once (the tail of the
chain: the writer lock keeps a transaction's events together) and answers
every staged change from that set. What counts as covered is unchanged: an
event of the transaction about the same target, its model, or a version of
its model.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        op.create_index("ix_model_version_approved", "model_version", ["status", "approved_at", "model_id"])
        op.create_index(
            "ix_model_version_provider_approved", "model_version", ["provider", "status", "approved_at", "model_id"]
        )
        return
    # version_key sorts like SemVer only byte-wise: under a natural collation (glibc en_US, ICU) punctuation
    # and the \x01 separator weigh differently, and 1.0.0-alpha-1 sorted before 1.0.0-alpha.1
    op.execute('ALTER TABLE model_version ALTER COLUMN version_key TYPE VARCHAR(400) COLLATE "C"')
    op.execute(
        'CREATE INDEX ix_model_version_approved ON model_version (status, approved_at COLLATE "C", model_id COLLATE "C")'
    )
    op.execute(
        "CREATE INDEX ix_model_version_provider_approved ON model_version "
        '(provider, status, approved_at COLLATE "C", model_id COLLATE "C")'
    )
    schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
    path = f'SET search_path = "{schema}", pg_temp'
    op.execute(f"""
CREATE OR REPLACE FUNCTION modelreg_record_raw() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
DECLARE
  cur text := pg_current_xact_id()::text;
  me xid := pg_current_xact_id()::xid;
  older bigint;
  r record;
  ats text[] := '{{}}'; actions text[] := '{{}}'; targets text[] := '{{}}'; befores text[] := '{{}}';
  afters text[] := '{{}}'; users text[] := '{{}}';
BEGIN
  IF NOT modelreg_restoring() THEN
    -- this transaction's events are the tail of the chain: walk back from the newest to the first that is not ours
    SELECT e.seq INTO older FROM audit_event e WHERE e.xmin <> me ORDER BY e.seq DESC LIMIT 1;
    -- a change is covered when this transaction appended a lifecycle event about its target, its model
    -- or a version of its model: the events' models, once, as a set
    FOR r IN WITH covered AS MATERIALIZED (
               SELECT DISTINCT split_part(e.target, '@', 1) AS model FROM audit_event e
               WHERE e.seq > coalesce(older, -1) AND e.xmin = me AND e.action NOT LIKE 'sql.%')
             SELECT s.* FROM audit_stage s WHERE s.xact = cur
               AND split_part(s.target, '@', 1) NOT IN (SELECT model FROM covered)
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


def downgrade() -> None:
    raise NotImplementedError("downgrades are not supported")
