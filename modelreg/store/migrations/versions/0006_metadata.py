"""metadata: contacts, labels, lineage, model cards

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Both backends:
- `model.contacts`: emails or handles (JSON list) named in lifecycle events
  beside the owner;
- `label`: `key=value` labels of a model (version "") or a version, indexed
  by (key, value) for `find --label`;
- `version_lineage`: artifact URI and sha256 digest, source, base model,
  datasets and evaluations of a version, recorded at registration (indexed by
  base model for `find --base-model` and `lineage`);
- `model_card`: a version's Markdown card with its SHA-256.

PostgreSQL: readers read them; operators and approvers write labels and
cards, operators record lineage (at registration); lineage is never changed
and nothing is deleted but a label. Every change, by any path, is staged for
the audit record as in revision 0004; `db copy` restores the new tables.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = 27
# every table `db copy` fills row by row (revision 0005's list, plus this revision's)
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
    "label",
    "version_lineage",
    "model_card",
)
# table -> the statements operators and approvers may run (anything else is refused by the trigger)
WRITES = {
    "label": ("insert", "update", "delete"),
    "model_card": ("insert", "update"),
    "version_lineage": ("insert",),
}


def upgrade() -> None:
    conn = op.get_bind()
    with op.batch_alter_table("model") as batch:
        batch.add_column(sa.Column("contacts", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default="[]"))
    op.create_table(
        "label",
        sa.Column("model_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version", "key"),
    )
    op.create_index("ix_label_key_value", "label", ["key", "value"])
    op.create_table(
        "version_lineage",
        sa.Column("model_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("artifact_uri", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("artifact_digest", sqlmodel.sql.sqltypes.AutoString(length=71), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=True),
        sa.Column("base_model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("datasets", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("evaluations", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version"),
    )
    op.create_index("ix_version_lineage_base_model", "version_lineage", ["base_model"])
    op.create_table(
        "model_card",
        sa.Column("model_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("set_at", sqlmodel.sql.sqltypes.AutoString(length=TS), nullable=False),
        sa.Column("set_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint("model_id", "version"),
    )
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
        "REVOKE ALL ON label, version_lineage, model_card FROM PUBLIC",
        "GRANT SELECT ON label, version_lineage, model_card TO modelreg_reader",
        "GRANT INSERT, UPDATE, DELETE ON label TO modelreg_operator, modelreg_approver",
        "GRANT INSERT, UPDATE ON model_card TO modelreg_operator, modelreg_approver",
        "GRANT INSERT ON version_lineage TO modelreg_operator",
    ]
    target = "r.model_id || CASE WHEN coalesce(r.version, '') = '' THEN '' ELSE '@' || r.version END"
    for table, allowed in WRITES.items():
        body = "(to_jsonb({}) - 'body')::text" if table == "model_card" else "to_jsonb({})::text"
        for event in ("insert", "update", "delete"):
            if event == "insert":
                rows = f"SELECT {target}, 'null', {body.format('r')} FROM n r"
                ref = "REFERENCING NEW TABLE AS n"
            elif event == "delete":
                rows = f"SELECT {target}, {body.format('r')}, 'null' FROM o r"
                ref = "REFERENCING OLD TABLE AS o"
            else:
                key = "o.model_id = n.model_id AND o.version = n.version" + (
                    " AND o.key = n.key" if table == "label" else ""
                )
                rows = f"SELECT {target.replace('r.', 'n.')}, {body.format('o')}, {body.format('n')} FROM o JOIN n ON {key}"
                ref = "REFERENCING OLD TABLE AS o NEW TABLE AS n"
            if event in allowed:
                check = (
                    "    PERFORM modelreg_need_any(ARRAY['modelreg_operator', 'modelreg_approver'], "
                    f"'change {table.replace('_', ' ')}s');\n"
                )
            else:
                check = (
                    f"    RAISE EXCEPTION 'modelreg: % may not {event} {table} rows: they are never changed', "
                    "lower(session_user::text) USING ERRCODE = '42501';\n"
                )
            name = f"modelreg_{event}_{table}"
            sql.append(f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER {path} AS $$
BEGIN
  IF modelreg_restoring() THEN
    RETURN NULL;
  END IF;
  IF NOT modelreg_exempt() THEN
{check}  END IF;
  INSERT INTO audit_stage (xact, op, tbl, target, before, after)
  SELECT pg_current_xact_id()::text, '{event}', '{table}', t.* FROM ({rows}) AS t;
  INSERT INTO audit_tx (xact) VALUES (pg_current_xact_id()::text) ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""")
            sql.append(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            sql.append(
                f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} {ref} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            )
        sql.append(f"DROP TRIGGER IF EXISTS modelreg_truncate ON {table}")
        sql.append(
            f"CREATE TRIGGER modelreg_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
            "EXECUTE FUNCTION modelreg_refuse_truncate()"
        )

    # `db copy` restores the new tables too (the function of revision 0005, with the longer list)
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
