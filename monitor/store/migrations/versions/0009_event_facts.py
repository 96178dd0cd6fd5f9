"""incidents.event (what tells the event apart), incidents.transfer (outside the jurisdiction) and items.facts (each report's figures): an incident is one
real event, graded from all of its reports

Revision ID: 0009_event_facts
Revises: 0008_incident_merge
Create Date: 2026-12-06 03:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_event_facts'
down_revision = '0008_incident_merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('incidents') as batch_op:
        batch_op.add_column(sa.Column('event', sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column('transfer', sa.String(200), server_default='', nullable=False))
    with op.batch_alter_table('items') as batch_op:
        batch_op.add_column(sa.Column('facts', sa.JSON(none_as_null=True), nullable=True))
    op.create_index('ix_incidents_event_last_seen', 'incidents', ['last_seen_at'],
                    sqlite_where=sa.text('event IS NOT NULL'), postgresql_where=sa.text('event IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_incidents_event_last_seen', table_name='incidents')
    # SQLite ≥ 3.35 drops a column in place; batch mode would rebuild the table, and DROP TABLE incidents fails
    # while other tables reference its rows (foreign_keys=ON)
    for table, column in (('items', 'facts'), ('incidents', 'transfer'), ('incidents', 'event')):
        if op.get_bind().dialect.name == 'sqlite':
            op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
        else:
            op.drop_column(table, column)
