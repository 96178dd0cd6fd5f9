"""Alembic environment: always run through monitor.store.db.migrate with a live connection."""

from alembic import context

from monitor.store.schema import include_name, metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `yuqing db upgrade` (or python -m monitor.store.revision)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTER
    compare_type=True,
    include_name=include_name,  # not SQLite's FTS5 tables (migration 0014)
)
with context.begin_transaction():
    context.run_migrations()
