"""The now page (当前, issue 18): search over items' segmented words, the change feed of live updates, and the
indexes of the page's ordering (what falls due first).

- items.tokens: the item's title and text as segmented words, space-joined (written by the search indexer,
  monitor/web/search.py; NULL = not indexed yet, and again NULL when the title or text changes). Indexed by
  SQLite FTS5 (`items_fts`, external content, kept by triggers) or a PostgreSQL GIN index over
  to_tsvector('simple', tokens).
- incident_changes: one row per visible change of an incident (new, status, severity, department, title, heat,
  triage; a deadline opened, satisfied, cancelled, acknowledged or moved), written by triggers whatever process
  or code path made the change; the live stream (monitor/web/stream.py) reads it by id.
- ix_incidents_status_rank (status, severity, last_seen_at, id) and ix_incidents_status_department_rank (status,
  department, severity, last_seen_at, id), replacing ix_incidents_status (their first column): incidents without an
  open deadline in page order, of all or of one department, and the counts by level and by department;
  ix_deadlines_state_due (state, due_at, incident_id): open deadlines in due order (the page's first rows), and
  ix_deadlines_state_incident (state, incident_id, due_at): whether an incident has an open one, and its earliest.

A later migration that rebuilds items, incidents or deadlines on SQLite (batch "move and copy") drops their
triggers with the old table and must create them again (TRIGGERS_SQLITE below).

Revision ID: 0014_search
Revises: 0013_source_leases
Create Date: 2026-12-06 08:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014_search'
down_revision = '0013_source_leases'
branch_labels = None
depends_on = None

# what a person sees of an incident on the now page; a change to any of these is an event of the live stream
_VISIBLE = ("status", "severity", "department", "title", "item_count", "last_seen_at", "triage", "domain",
            "merged_into")
_DEADLINE = ("state", "due_at", "acked_at", "incident_id")

TRIGGERS_SQLITE = [
    # FTS5 with external content: the index holds the words, items.tokens the text; 'delete' needs the old words
    "CREATE TRIGGER items_fts_insert AFTER INSERT ON items WHEN new.tokens IS NOT NULL BEGIN "
    "INSERT INTO items_fts (rowid, tokens) VALUES (new.id, new.tokens); END",
    "CREATE TRIGGER items_fts_update AFTER UPDATE OF tokens ON items BEGIN "
    "INSERT INTO items_fts (items_fts, rowid, tokens) SELECT 'delete', old.id, old.tokens "
    "WHERE old.tokens IS NOT NULL; "
    "INSERT INTO items_fts (rowid, tokens) SELECT new.id, new.tokens WHERE new.tokens IS NOT NULL; END",
    "CREATE TRIGGER items_fts_delete AFTER DELETE ON items WHEN old.tokens IS NOT NULL BEGIN "
    "INSERT INTO items_fts (items_fts, rowid, tokens) VALUES ('delete', old.id, old.tokens); END",
    # a new title or text: its words are stale, the indexer segments it again
    "CREATE TRIGGER items_tokens_stale AFTER UPDATE OF title, body ON items WHEN new.tokens IS NOT NULL AND "
    "(old.title IS NOT new.title OR old.body IS NOT new.body) BEGIN "
    "UPDATE items SET tokens = NULL WHERE id = new.id; END",
    "CREATE TRIGGER incident_changes_insert AFTER INSERT ON incidents BEGIN "
    "INSERT INTO incident_changes (incident_id) VALUES (new.id); END",
    "CREATE TRIGGER incident_changes_update AFTER UPDATE ON incidents WHEN "
    + " OR ".join(f"old.{c} IS NOT new.{c}" for c in _VISIBLE) + " BEGIN "
    "INSERT INTO incident_changes (incident_id, was_department) VALUES "
    "(new.id, CASE WHEN old.department IS NOT new.department THEN old.department END); END",
    "CREATE TRIGGER incident_changes_deadline_insert AFTER INSERT ON deadlines BEGIN "
    "INSERT INTO incident_changes (incident_id) VALUES (new.incident_id); END",
    "CREATE TRIGGER incident_changes_deadline_update AFTER UPDATE ON deadlines WHEN "
    + " OR ".join(f"old.{c} IS NOT new.{c}" for c in _DEADLINE) + " BEGIN "
    "INSERT INTO incident_changes (incident_id) VALUES (new.incident_id); END",
]

FUNCTIONS_PG = [
    """CREATE FUNCTION yuqing_items_tokens_stale() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF NEW.title IS DISTINCT FROM OLD.title OR NEW.body IS DISTINCT FROM OLD.body THEN
        NEW.tokens := NULL;
      END IF;
      RETURN NEW;
    END $$""",
    """CREATE FUNCTION yuqing_incident_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO incident_changes (incident_id) VALUES (NEW.id);
      ELSE
        INSERT INTO incident_changes (incident_id, was_department) VALUES
          (NEW.id, CASE WHEN OLD.department IS DISTINCT FROM NEW.department THEN OLD.department END);
      END IF;
      RETURN NULL;
    END $$""",
    """CREATE FUNCTION yuqing_deadline_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO incident_changes (incident_id) VALUES (NEW.incident_id);
      RETURN NULL;
    END $$""",
]

TRIGGERS_PG = [
    "CREATE TRIGGER items_tokens_stale BEFORE UPDATE OF title, body ON items FOR EACH ROW "
    "EXECUTE FUNCTION yuqing_items_tokens_stale()",
    "CREATE TRIGGER incident_changes_insert AFTER INSERT ON incidents FOR EACH ROW "
    "EXECUTE FUNCTION yuqing_incident_changed()",
    "CREATE TRIGGER incident_changes_update AFTER UPDATE ON incidents FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _VISIBLE) + ") "
    "EXECUTE FUNCTION yuqing_incident_changed()",
    "CREATE TRIGGER incident_changes_deadline_insert AFTER INSERT ON deadlines FOR EACH ROW "
    "EXECUTE FUNCTION yuqing_deadline_changed()",
    "CREATE TRIGGER incident_changes_deadline_update AFTER UPDATE ON deadlines FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _DEADLINE) + ") "
    "EXECUTE FUNCTION yuqing_deadline_changed()",
]

_TRIGGER_TABLES = {"items_tokens_stale": "items", "incident_changes_insert": "incidents",
                   "incident_changes_update": "incidents", "incident_changes_deadline_insert": "deadlines",
                   "incident_changes_deadline_update": "deadlines"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # plain ALTER TABLE … ADD COLUMN on both (no batch rebuild of items: it would drop other triggers)
    op.add_column('items', sa.Column('tokens', sa.Text(), nullable=True))
    op.create_table(
        'incident_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('was_department', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_changes')),
    )
    op.create_index('ix_items_unindexed', 'items', ['id'], sqlite_where=sa.text('tokens IS NULL'),
                    postgresql_where=sa.text('tokens IS NULL'))  # what the indexer has still to do
    op.create_index('ix_incidents_status_rank', 'incidents', ['status', 'severity', 'last_seen_at', 'id'])
    op.create_index('ix_incidents_status_department_rank', 'incidents',
                    ['status', 'department', 'severity', 'last_seen_at', 'id'])
    op.drop_index('ix_incidents_status', table_name='incidents')  # the first column of both: one index more, not two
    op.create_index('ix_deadlines_state_due', 'deadlines', ['state', 'due_at', 'incident_id'])
    op.create_index('ix_deadlines_state_incident', 'deadlines', ['state', 'incident_id', 'due_at'])
    if sqlite:
        op.execute("CREATE VIRTUAL TABLE items_fts USING fts5(tokens, content='items', content_rowid='id')")
        for sql in TRIGGERS_SQLITE:
            op.execute(sql)
        op.execute("INSERT INTO items_fts (items_fts) VALUES ('rebuild')")  # whatever words are stored already
    else:
        op.execute("CREATE INDEX ix_items_tokens_search ON items USING gin (to_tsvector('simple', tokens))")
        for sql in FUNCTIONS_PG + TRIGGERS_PG:
            op.execute(sql)
    # Existing rows have no words yet: the indexer of `serve` segments them in the background (a migration that
    # segmented a million items would hold up the start by minutes), oldest last.


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for sql in TRIGGERS_SQLITE:
            op.execute(f"DROP TRIGGER IF EXISTS {sql.split()[2]}")
        op.execute("DROP TABLE IF EXISTS items_fts")
    else:
        for name, table in _TRIGGER_TABLES.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in ("yuqing_items_tokens_stale", "yuqing_incident_changed", "yuqing_deadline_changed"):
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.execute("DROP INDEX IF EXISTS ix_items_tokens_search")
    op.drop_index('ix_deadlines_state_incident', table_name='deadlines')
    op.drop_index('ix_deadlines_state_due', table_name='deadlines')
    op.create_index('ix_incidents_status', 'incidents', ['status'])
    op.drop_index('ix_incidents_status_department_rank', table_name='incidents')
    op.drop_index('ix_incidents_status_rank', table_name='incidents')
    op.drop_index('ix_items_unindexed', table_name='items')
    op.drop_table('incident_changes')
    if sqlite:  # in place (SQLite ≥ 3.35): a batch rebuild of items would fail on the tables that reference it
        op.execute('ALTER TABLE items DROP COLUMN tokens')
    else:
        op.drop_column('items', 'tokens')
