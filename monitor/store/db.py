"""Engine, migrations and the unit of work. SQLite (aiosqlite, WAL) by default; PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 73_510_001  # pg_advisory_xact_lock key: one migrator at a time


class StoreError(Exception):
    """The database cannot be reached or used; the message says which URL (without password)."""


def async_url(url: str) -> str:
    """Accept plain URLs (sqlite:///x.db, postgresql://…) and pick the async driver."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> AsyncEngine:
    url = async_url(url)
    if url.startswith("sqlite"):
        # A small pool, not a connection per transaction: SQLite's page cache lives in the connection, and
        # a fresh one per batch re-reads every index page it touches (big imports slowed as the file grew).
        engine = create_async_engine(url, pool_size=2, max_overflow=8, connect_args={"timeout": 30})
        _sqlite_setup(engine)
    else:
        engine = create_async_engine(url, pool_size=5, max_overflow=5, pool_pre_ping=True)
    return engine


def _sqlite_setup(engine: AsyncEngine) -> None:
    # Take transaction control from the driver so that writers start with BEGIN IMMEDIATE: two writers
    # then queue on the lock (busy timeout) instead of failing when a read lock is upgraded.
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # 8 MB of pages per connection (of a pool of 2+): enough for the hot index pages of an import; the
        # OS page cache holds the rest, and the import stays under 400 MB RSS at 1M rows
        cursor.execute("PRAGMA cache_size=-8192")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("write") else "BEGIN")


def _alembic(sync_conn, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = sync_conn
    getattr(command, action)(cfg, revision)


def _current(sync_conn) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(sync_conn).get_current_revision()


def head_revision() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(cfg).get_current_head()


async def migrate(engine: AsyncEngine, revision: str = "head", action: str = "upgrade") -> str | None:
    """Apply migrations up to (or, with action="downgrade", down to) `revision`; safe to call from several
    processes at once. Returns the revision the database is at afterwards."""
    async with engine.connect() as conn:
        conn = await conn.execution_options(write=True)
        async with conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            if action != "upgrade" or revision != "head" or await conn.run_sync(_current) != head_revision():
                await conn.run_sync(_alembic, action, revision)
            return await conn.run_sync(_current)


class Store:
    """The only door to the database. `async with store.write() as tx:` is one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name

    async def open(self, migrate_schema: bool = True) -> "Store":
        u = make_url(self.url)
        if u.drivername.startswith("sqlite") and u.database and u.database != ":memory:":
            folder = Path(u.database).expanduser().resolve().parent
            if not folder.is_dir():
                await self.engine.dispose()
                raise StoreError(f"数据库目录不存在 (database folder does not exist): {folder}")
        try:
            if migrate_schema:
                await migrate(self.engine)
            else:
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except (OSError, ConnectionError) as exc:
            await self.engine.dispose()
            raise StoreError(f"数据库无法连接 (cannot reach database) {safe_url(self.url)}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite")):
                await self.engine.dispose()
                raise StoreError(f"数据库不可用 (database unusable) {safe_url(self.url)}: {exc}") from exc
            raise
        return self

    async def close(self) -> None:
        await self.engine.dispose()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator["Tx"]:
        async with self.engine.connect() as conn:
            conn = await conn.execution_options(write=True)
            async with conn.begin():
                yield Tx(conn)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator["Tx"]:
        async with self.engine.connect() as conn:
            async with conn.begin():
                yield Tx(conn)


class Tx:
    """Repositories bound to one connection and transaction."""

    def __init__(self, conn: AsyncConnection) -> None:
        from monitor.store.repos import (
            AuditRepo,
            DeadlineRepo,
            IncidentRepo,
            ItemRepo,
            LedgerRepo,
            OutboxRepo,
            PeopleRepo,
            SourceRepo,
        )

        self.conn = conn
        self.items = ItemRepo(conn)
        self.incidents = IncidentRepo(conn)
        self.deadlines = DeadlineRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.audit = AuditRepo(conn)
        self.sources = SourceRepo(conn)
        self.ledger = LedgerRepo(conn)
        self.people = PeopleRepo(conn)
