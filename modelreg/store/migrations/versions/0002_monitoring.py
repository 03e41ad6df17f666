"""monitoring

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:34:35.399113
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('advisory',
    sa.Column('advisory_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('affected', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('summary', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('advisory_id', 'model_id')
    )
    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedup_key', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('message', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('first_seen', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('last_seen', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('acked_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index('ix_alert_status', ['status', 'severity'], unique=False)
        batch_op.create_index('ux_alert_active_dedup', ['dedup_key'], unique=True, sqlite_where=sa.text("status != 'resolved'"), postgresql_where=sa.text("status != 'resolved'"))

    op.create_table('baseline',
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('sample', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.PrimaryKeyConstraint('model_id', 'version')
    )
    op.create_table('observation',
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('window_start', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('window_end', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('requests', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('latency_avg_ms', sa.Float(), nullable=False),
    sa.Column('latency_p95_ms', sa.Float(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('sample', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('ingested_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.PrimaryKeyConstraint('model_id', 'version', 'window_start', 'window_end')
    )
    op.create_table('alert_delivery',
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2048), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.PrimaryKeyConstraint('alert_id', 'url')
    )


def downgrade() -> None:
    op.drop_table('alert_delivery')
    op.drop_table('observation')
    op.drop_table('baseline')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index('ux_alert_active_dedup', sqlite_where=sa.text("status != 'resolved'"), postgresql_where=sa.text("status != 'resolved'"))
        batch_op.drop_index('ix_alert_status')

    op.drop_table('alert')
    op.drop_table('advisory')
