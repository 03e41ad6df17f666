"""core registry

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 05:34:34.592094
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_event',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('target', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('before', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('after', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_target', ['target'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # the chain's single head row, locked by every writer
    op.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table('benchmark_run',
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('started_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('finished_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('mode', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('passed', sa.Boolean(), nullable=False),
    sa.Column('aborted', sa.Boolean(), nullable=False),
    sa.Column('settings', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('results', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.PrimaryKeyConstraint('run_id')
    )
    with op.batch_alter_table('benchmark_run', schema=None) as batch_op:
        batch_op.create_index('ix_benchmark_run_version', ['model_id', 'version', 'finished_at'], unique=False)

    op.create_table('check_result',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('result', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('evidence', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.create_index('ix_check_result_version', ['model_id', 'version', 'name'], unique=False)

    op.create_table('model',
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('fallbacks', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('canary_version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('row_version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('model_id')
    )
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_provider'), ['provider'], unique=False)

    op.create_table('retirement_notice',
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('retire_on', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('raised_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.PrimaryKeyConstraint('model_id', 'version', 'retire_on', 'days_before')
    )
    op.create_table('version_attribute',
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'value', 'model_id', 'version')
    )
    with op.batch_alter_table('version_attribute', schema=None) as batch_op:
        batch_op.create_index('ix_version_attribute_version', ['model_id', 'version'], unique=False)

    op.create_table('model_version',
    sa.Column('model_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('version', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('version_key', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('prerelease', sa.Boolean(), nullable=False),
    sa.Column('provider', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('capabilities', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('parameters', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('avg_latency_ms', sa.Float(), nullable=False),
    sa.Column('p95_latency_ms', sa.Float(), nullable=False),
    sa.Column('cost_per_request_usd', sa.Float(), nullable=False),
    sa.Column('data_residency', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('pii_handling', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('approved_domains', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('endpoint', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('endpoint_kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('registered_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('registered_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('status_changed_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=False),
    sa.Column('approved_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.Column('approved_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('default_since', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.Column('canary_weight', sa.Integer(), nullable=True),
    sa.Column('deprecated_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.Column('deprecated_by', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('deprecation_reason', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('retire_on', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('replacement', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('retired_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.Column('rejected_at', sqlmodel.sql.sqltypes.AutoString(length=27), nullable=True),
    sa.ForeignKeyConstraint(['model_id'], ['model.model_id'], ),
    sa.PrimaryKeyConstraint('model_id', 'version')
    )
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.create_index('ix_model_version_model_key', ['model_id', 'version_key'], unique=False)
        batch_op.create_index('ix_model_version_status', ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.drop_index('ix_model_version_status')
        batch_op.drop_index('ix_model_version_model_key')

    op.drop_table('model_version')
    with op.batch_alter_table('version_attribute', schema=None) as batch_op:
        batch_op.drop_index('ix_version_attribute_version')

    op.drop_table('version_attribute')
    op.drop_table('retirement_notice')
    with op.batch_alter_table('model', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_provider'))

    op.drop_table('model')
    with op.batch_alter_table('check_result', schema=None) as batch_op:
        batch_op.drop_index('ix_check_result_version')

    op.drop_table('check_result')
    with op.batch_alter_table('benchmark_run', schema=None) as batch_op:
        batch_op.drop_index('ix_benchmark_run_version')

    op.drop_table('benchmark_run')
    op.drop_table('audit_head')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_target')

    op.drop_table('audit_event')
