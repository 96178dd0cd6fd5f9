"""SQLite: times that the bulk insert wrote without fractional digits get SQLAlchemy's ".000000"

Stored times are compared as text on SQLite: "… 08:00:00" sorts before "… 08:00:00.000000", the same
instant as written by every other statement. No change on PostgreSQL (timestamptz).

Revision ID: 0007_sqlite_whole_second_times
Revises: 0006_provisional_deadlines
Create Date: 2026-12-02 11:20:00
"""
from alembic import op


revision = '0007_sqlite_whole_second_times'
down_revision = '0006_provisional_deadlines'
branch_labels = None
depends_on = None

# the tables written by the bulk path, and their time columns
COLUMNS = {
    'items': ('replied_at', 'occurred_at', 'received_at', 'updated_at'),
    'incidents': ('first_seen_at', 'last_seen_at', 'published_at', 'created_at', 'updated_at'),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.execute(f"UPDATE {table} SET {column} = {column} || '.000000' WHERE length({column}) = 19")


def downgrade() -> None:
    pass  # the longer form is what SQLAlchemy itself writes: nothing to undo
