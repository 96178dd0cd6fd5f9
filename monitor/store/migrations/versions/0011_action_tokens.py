"""action_tokens: the one-click action links of chat robots that have been used (a link works once)

Revision ID: 0011_action_tokens
Revises: 0010_quarantine_keys
Create Date: 2026-12-06 08:00:00
"""
from alembic import op
import sqlalchemy as sa

import monitor.store.schema


revision = '0011_action_tokens'
down_revision = '0010_quarantine_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'action_tokens',
        sa.Column('nonce', sa.String(64), primary_key=True),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('rule', sa.String(100), nullable=False, server_default=''),
        sa.Column('action', sa.String(20), nullable=False),
        sa.Column('used_at', monitor.store.schema.UtcDateTime(timezone=True), nullable=False),
        sa.Column('used_by', sa.String(200), nullable=False, server_default=''),
    )


def downgrade() -> None:
    op.drop_table('action_tokens')
