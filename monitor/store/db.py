"""Engine, migrations and the unit of work. SQLite (aiosqlite, WAL) by default; PostgreSQL (asyncpg) by URL."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import AsyncIterator

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 73_510_001  # pg_advisory_xact_lock key: one migrator at a time


class StoreError(Exception):
    """The database cannot be reached or used; the message says which URL (without password)."""


def unavailable(exc: BaseException) -> bool:
    """Is this the database being away or full (connection refused or dropped, disk full), not a bug? The
    web answers such errors with 503 and Retry-After instead of a 500 and a traceback per request."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or isinstance(exc, (OperationalError,
                                                                                       InterfaceError))):
        return True
    if isinstance(exc, (ConnectionError, TimeoutError)) or (isinstance(exc, OSError) and exc.errno is not None):
        return True
    return "database or disk is full" in str(exc) or getattr(exc, "sqlstate", None) == "53100"


class DatabaseURLError(StoreError):
    """The database URL is the user's mistake (malformed, another database system, a folder that does not
    exist): bad input, which the CLI answers with exit 2 and the way to write it."""


_URL_HINT = ("请使用 sqlite:///文件名.db 或 postgresql://用户:密码@主机:5432/库名 "
             "(use sqlite:///FILE.db or postgresql://USER:PASSWORD@HOST:5432/DB)")
_DRIVERS = {"sqlite": ("", "pysqlite", "aiosqlite"), "postgresql": ("", "psycopg2", "psycopg", "asyncpg"),
            "postgres": ("",)}


def check_url(url: str):
    """The parsed URL if it names a database this program can use (SQLite or PostgreSQL, any of their usual
    driver spellings); DatabaseURLError otherwise, with the way to write it and without the password."""
    try:
        u = make_url(url)
    except Exception:  # sqlalchemy's ArgumentError, or ValueError for a port that is not a number
        raise DatabaseURLError(f"数据库地址格式不对 (malformed database URL) {_hide_password(url)!r}；{_URL_HINT}") \
            from None
    backend, _, driver = u.drivername.partition("+")
    if driver not in _DRIVERS.get(backend, ()):
        raise DatabaseURLError(f"不支持的数据库 (unsupported database) {u.render_as_string(hide_password=True)}："
                               f"舆情哨兵只支持 SQLite 和 PostgreSQL (only SQLite and PostgreSQL are supported)；{_URL_HINT}")
    return u


def _hide_password(url: str) -> str:
    return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", url)


def async_url(url: str) -> str:
    """Accept plain URLs (sqlite:///x.db, postgresql://…) and pick the async driver."""
    u = check_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite"):
        u = u.set(drivername="sqlite+aiosqlite")
    elif u.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return _hide_password(url)


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
                raise DatabaseURLError(f"数据库目录不存在 (database folder does not exist): {folder}；"
                                       "请先创建该目录，或用 --db 指定另一个位置 (create it or choose another --db)")
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
                # the first line: not SQLAlchemy's "Background on this error" link
                reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise StoreError(f"数据库不可用 (database unusable) {safe_url(self.url)}: {reason}") from exc
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
        from monitor.store.accounts import AccountRepo
        from monitor.store.reports import ReportRepo
        from monitor.store.tokens import TokenRepo

        self.conn = conn
        self.items = ItemRepo(conn)
        self.incidents = IncidentRepo(conn)
        self.deadlines = DeadlineRepo(conn)
        self.outbox = OutboxRepo(conn)
        self.audit = AuditRepo(conn)
        self.sources = SourceRepo(conn)
        self.ledger = LedgerRepo(conn)
        self.people = PeopleRepo(conn)
        self.reports = ReportRepo(conn)  # the digest's and the reports' reads (monitor/store/reports.py)
        self.metrics = __import__("monitor.store.metrics", fromlist=["MetricsRepo"]).MetricsRepo(conn)  # /metrics
        self.accounts = AccountRepo(conn)  # sign-in: accounts, sessions, API tokens (monitor/store/accounts.py)
        self.tokens = TokenRepo(conn)  # used one-click action links (monitor/store/tokens.py)
        self.dashboard = __import__("monitor.store.dashboard", fromlist=["_"]).DashboardRepo(conn)  # the now page
