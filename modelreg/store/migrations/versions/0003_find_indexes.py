"""indexes for find at scale

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

A covering index (model_id, version, status) lets `find` count matches
without reading the wide version rows, and (model_id, version_key DESC)
lets a broad `find` walk versions in display order and stop at --limit
instead of sorting every match.
"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_model_version_cover', 'model_version', ['model_id', 'version', 'status'])
    op.create_index('ix_model_version_display', 'model_version', ['model_id', sa.text('version_key DESC')])


def downgrade() -> None:
    op.drop_index('ix_model_version_display', table_name='model_version')
    op.drop_index('ix_model_version_cover', table_name='model_version')
