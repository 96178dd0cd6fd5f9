"""incidents.merged_into: an incident merged into another (status "merged") says which one it went to

Revision ID: 0008_incident_merge
Revises: 0007_sqlite_whole_second_times
Create Date: 2026-12-06 03:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_incident_merge'
down_revision = '0007_sqlite_whole_second_times'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents') as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.Integer(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite ≥ 3.35 drops the column in place; batch mode would rebuild the table, and DROP TABLE incidents
        # fails while items, deadlines… reference its rows (foreign_keys=ON)
        op.execute('ALTER TABLE incidents DROP COLUMN merged_into')
    else:
        op.drop_column('incidents', 'merged_into')
