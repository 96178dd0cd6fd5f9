"""deadlines.provisional_year: a working-day deadline in a year without holiday data is opened early

Revision ID: 0006_provisional_deadlines
Revises: 0005_band_index_in_memory
Create Date: 2026-12-02 10:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_provisional_deadlines'
down_revision = '0005_band_index_in_memory'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines') as batch_op:
        batch_op.add_column(sa.Column('provisional_year', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('deadlines') as batch_op:
        batch_op.drop_column('provisional_year')
