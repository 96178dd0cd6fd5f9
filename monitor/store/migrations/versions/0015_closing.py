"""incidents.closed_at, closed_by, reply: an incident closes (办结) once its deadlines are done and its reply is on
record (monitor/deadlines/closing.py); ix_audit_log_entity_entity_id_at: one incident's timeline (the incident page)
is read by index, not by scanning the whole audit log

Revision ID: 0015_closing
Revises: 0014_search
Create Date: 2026-12-06 14:00:00
"""
from alembic import op
import sqlalchemy as sa

import monitor.store.schema


revision = '0015_closing'
down_revision = '0014_search'
branch_labels = None
depends_on = None

COLUMNS = ('reply', 'closed_by', 'closed_at')


def upgrade() -> None:
    # plain ALTER TABLE … ADD COLUMN on both backends: a SQLite batch rebuild would drop 0014's triggers
    op.add_column('incidents', sa.Column('closed_at', monitor.store.schema.UtcDateTime(timezone=True), nullable=True))
    op.add_column('incidents', sa.Column('closed_by', sa.String(100), nullable=True))
    op.add_column('incidents', sa.Column('reply', sa.Text(), nullable=False, server_default=''))
    op.create_index('ix_audit_log_entity_entity_id_at', 'audit_log', ['entity', 'entity_id', 'at'])


def downgrade() -> None:
    op.drop_index('ix_audit_log_entity_entity_id_at', table_name='audit_log')
    for name in COLUMNS:
        if op.get_bind().dialect.name == 'sqlite':
            # in place (SQLite ≥ 3.35): a batch rebuild would drop incidents while other tables reference it
            op.execute(f'ALTER TABLE incidents DROP COLUMN {name}')
        else:
            op.drop_column('incidents', name)
