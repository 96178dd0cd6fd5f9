"""quarantine.row_key (a row of a file is quarantined once however often the file is imported) and
quarantine.detail (sizes of values cut to excerpts; both texts of an id conflict)

Revision ID: 0010_quarantine_keys
Revises: 0009_event_facts
Create Date: 2026-12-06 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_quarantine_keys'
down_revision = '0009_event_facts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('quarantine') as batch_op:
        batch_op.add_column(sa.Column('row_key', sa.String(100), nullable=True))
        batch_op.add_column(sa.Column('detail', sa.JSON(none_as_null=True), nullable=True))
        batch_op.create_unique_constraint('uq_quarantine_source_row_key', ['source', 'row_key'])


def downgrade() -> None:
    with op.batch_alter_table('quarantine') as batch_op:
        batch_op.drop_constraint('uq_quarantine_source_row_key', type_='unique')
        batch_op.drop_column('detail')
        batch_op.drop_column('row_key')
