"""sources.lease_owner, sources.lease_until: a source is polled by one process at a time (serve --role)

Revision ID: 0013_source_leases
Revises: 0012_accounts
Create Date: 2026-12-06 12:00:00
"""
from alembic import op
import sqlalchemy as sa

import monitor.store.schema


revision = '0013_source_leases'
down_revision = '0012_accounts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('sources') as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(200), nullable=True))
        batch_op.add_column(sa.Column('lease_until', monitor.store.schema.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('sources') as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')
