"""Backups of the store (`yuqing db backup FILE`, `yuqing db restore FILE`).

SQLite: SQLite's online backup API, copying from one read transaction, so the copy is the database as it was
at one moment however much `serve` writes meanwhile (WAL: the writers do not wait for it); the copy is one
self-contained file (rollback journal, no -wal beside it) and is checked before it replaces FILE. A restore
refuses a database that another connection has open — a running `serve` keeps its pool open — unless forced,
holds an exclusive lock while it writes, and keeps what was there as DB.before-restore. The caller then
migrates the restored schema to head (docs/operations.md).

PostgreSQL: pg_dump -Fc and pg_restore, the password passed in PGPASSWORD and never on the command line."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import text
from sqlalchemy.engine import make_url

from monitor.store.db import MIGRATIONS, StoreError, check_url

STEP_PAGES = 1024  # pages copied per backup step (4 MB at SQLite's default page size)
LARGE = 64 * 1024 * 1024  # bytes: a copy this big shows progress (on a terminal)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_PG_MAGIC = b"PGDMP"

Progress = Callable[[int, int], None]  # (bytes copied, bytes in all)


class BackupError(Exception):
    """A backup or restore that cannot be done: the message (Chinese, then English) says why and what to do."""


@dataclass
class Copied:
    path: Path
    bytes: int
    revision: str | None


def sqlite_file(url: str) -> Path | None:
    """The database file of an SQLite URL; None for PostgreSQL."""
    u = check_url(url)
    if not u.drivername.startswith("sqlite"):
        return None
    if not u.database or u.database == ":memory:":
        raise BackupError("内存数据库无法备份或恢复，请用 --db 指定数据库文件 (an in-memory database has no file: "
                          "give --db sqlite:///FILE.db)")
    return Path(u.database).expanduser().resolve()


# -- SQLite


def backup_sqlite(db: Path, dest: Path, progress: Progress | None = None, step: int = STEP_PAGES) -> Copied:
    """Copy the live database `db` to `dest` (replaced only once the copy is complete and checked)."""
    if not db.is_file():
        raise BackupError(f"{db}: 数据库文件不存在，没有可备份的内容 (no database file to back up)")
    if dest.resolve() == db:
        raise BackupError(f"{dest}: 不能把数据库备份到它自己，请换一个文件名 (the backup must be another file)")
    _check_sqlite(db)
    partial = dest.with_name(dest.name + ".partial")
    partial.unlink(missing_ok=True)
    with _connect(db) as src, _connect(partial) as out:
        # One read transaction for the whole copy: its snapshot is what is copied. Without it, SQLite starts
        # the copy over whenever another connection writes between two steps (and never ends under load).
        src.execute("BEGIN")
        pages = src.execute("PRAGMA page_count").fetchone()[0]
        _copy(src, out, pages, progress, step)
        src.execute("ROLLBACK")
        out.execute("PRAGMA journal_mode=DELETE")  # one file: nothing left in a -wal beside it
        _verify(out, partial)
        revision = _revision(out)
    os.replace(partial, dest)
    return Copied(dest, dest.stat().st_size, revision)


def restore_sqlite(backup: Path, db: Path, force: bool = False, progress: Progress | None = None,
                   step: int = STEP_PAGES) -> Path | None:
    """Replace the database `db` with the backup; returns where the previous database was kept (None when
    there was none). The schema is left as the backup has it: the caller migrates it."""
    if backup.resolve() == db:
        raise BackupError(f"{backup}: 这就是当前数据库，不能用它恢复自己 (this is the database itself)")
    if not backup.is_file():
        raise BackupError(f"{backup}: 备份文件不存在 (no such backup file)")
    if not db.parent.is_dir():
        raise BackupError(f"{db}: 数据库目录不存在，请先创建 {db.parent} (the database folder does not exist)")
    _check_backup(backup)
    with _connect(db, timeout=0) as target:
        if db.stat().st_size and not force:
            _claim(target, db)
        previous = None
        if db.stat().st_size:
            previous = _free_name(db.with_name(db.name + ".before-restore"))
            with _connect(previous) as keep:
                _copy(target, keep, target.execute("PRAGMA page_count").fetchone()[0], None, step)
                keep.execute("PRAGMA journal_mode=DELETE")
        with _connect(backup) as src:
            src.execute("BEGIN")
            _copy(src, target, src.execute("PRAGMA page_count").fetchone()[0], progress, step)
            src.execute("ROLLBACK")
    return previous


def _claim(conn: sqlite3.Connection, db: Path) -> None:
    """Fail unless this is the only connection to `db`, then keep it exclusive until closed. Leaving WAL
    mode needs every other connection gone, and `serve` always has one open (its pool, in WAL mode)."""
    try:
        conn.execute("PRAGMA journal_mode=DELETE").fetchall()
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise BackupError(f"{db}: 数据库无法打开 (cannot open the database): {exc}") from None
        raise BackupError(f"{db}: 数据库正在被使用（yuqing serve 或其他程序正打开它）；请先停止 serve 再恢复，"
                          f"或加 --force 强制覆盖（之后须重启 serve）(the database is in use, e.g. by a running "
                          f"yuqing serve: stop it first, or use --force and restart serve afterwards)") from None


def _copy(src: sqlite3.Connection, out: sqlite3.Connection, pages: int, progress: Progress | None,
          step: int) -> None:
    size = src.execute("PRAGMA page_size").fetchone()[0]

    def report(_status, remaining, total):
        progress((total - remaining) * size, total * size)

    try:
        src.backup(out, pages=step, progress=report if progress else None, sleep=0.05)
    except sqlite3.Error as exc:
        raise BackupError(f"复制数据库失败 (copy failed): {exc}") from None
    if progress:
        progress(pages * size, pages * size)


def _verify(conn: sqlite3.Connection, path: Path) -> None:
    problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
    if problems != ["ok"]:
        raise BackupError(f"{path}: 备份校验失败 (the copy failed its check): {problems[0]}")


def _check_sqlite(path: Path) -> None:
    with open(path, "rb") as f:
        if f.read(16) != _SQLITE_MAGIC:
            raise BackupError(f"{path}: 不是 SQLite 数据库文件 (not an SQLite database file)")


def _check_backup(path: Path) -> None:
    """A backup worth restoring: an SQLite file that passes its check and holds a schema this version knows."""
    with open(path, "rb") as f:
        head = f.read(16)
    if head.startswith(_PG_MAGIC):
        raise BackupError(f"{path}: 这是 PostgreSQL 的 pg_dump 备份，请用 --db postgresql://… 恢复到 PostgreSQL "
                          f"(a pg_dump archive: restore it into PostgreSQL with --db postgresql://…)")
    if head != _SQLITE_MAGIC:
        raise BackupError(f"{path}: 不是 SQLite 备份文件 (not an SQLite backup)")
    with _connect(path) as conn:
        try:
            _verify(conn, path)
            revision = _revision(conn)
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{path}: 备份文件已损坏 (the backup is damaged): {exc}") from None
    if revision is None:
        raise BackupError(f"{path}: 不是舆情哨兵的数据库备份（没有结构版本）(not a yuqing-sentinel backup: no "
                          f"schema revision)")
    if revision not in known_revisions():
        raise BackupError(f"{path}: 备份的结构版本 {revision} 不是本程序所知的版本（来自更新的版本？）；请用相同或更新版本的"
                          f"舆情哨兵恢复 (schema revision {revision} is unknown here: restore it with the same or a "
                          f"newer version)")


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table
        return None
    return row[0] if row else None


def known_revisions() -> set[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return {s.revision for s in ScriptDirectory.from_config(cfg).walk_revisions()}


def _free_name(path: Path) -> Path:
    """`path`, or path.2, path.3 … when taken: an earlier restore's safety copy is never overwritten."""
    n, candidate = 1, path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.{n}")
    return candidate


@contextlib.contextmanager
def _connect(path: Path, timeout: float = 30) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


# -- PostgreSQL

_TABLES = text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
_OTHER_SESSIONS = text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND pid <> pg_backend_pid() AND backend_type = 'client backend'")


@dataclass
class PgTarget:
    args: list[str]  # -h HOST -p PORT -U USER -d DB
    env: dict[str, str]  # PGPASSWORD when the URL has one
    database: str
    shown: str  # the URL without its password


def pg_target(url: str) -> PgTarget:
    u = make_url(url)
    args = [a for flag, v in (("-h", u.host), ("-p", u.port), ("-U", u.username)) if v for a in (flag, str(v))]
    env = {"PGPASSWORD": u.password} if u.password else {}
    return PgTarget([*args, "-d", u.database or ""], env, u.database or "", u.render_as_string(hide_password=True))


def pg_commands(url: str, file: str) -> list[str]:
    """The documented commands, for a machine without pg_dump (or to run by hand)."""
    t = pg_target(url)
    conn = " ".join(t.args)
    return [f"pg_dump -Fc --no-owner {conn} -f {file}",
            f"pg_restore --no-owner --single-transaction --exit-on-error {conn} {file}"]


def backup_pg(url: str, dest: Path) -> Copied:
    tool = _tool("pg_dump", url, str(dest))
    t = pg_target(url)
    partial = dest.with_name(dest.name + ".partial")
    _run([tool, "-Fc", "--no-owner", *t.args, "-f", str(partial)], t)
    os.replace(partial, dest)
    return Copied(dest, dest.stat().st_size, None)


def check_pg_backup(path: Path) -> None:
    if not path.is_file():
        raise BackupError(f"{path}: 备份文件不存在 (no such backup file)")
    with open(path, "rb") as f:
        head = f.read(16)
    if head == _SQLITE_MAGIC:
        raise BackupError(f"{path}: 这是 SQLite 备份，请用 --db sqlite:///文件.db 恢复 (an SQLite backup: restore it "
                          f"with --db sqlite:///FILE.db)")
    if not head.startswith(_PG_MAGIC):
        raise BackupError(f"{path}: 不是 pg_dump -Fc 备份文件 (not a pg_dump -Fc archive)")


async def restore_pg(store, backup: Path, force: bool = False) -> Path | None:
    """Replace the PostgreSQL database of `store` with a pg_dump archive; returns the dump of what was there
    before (DB.before-restore.dump beside the backup; None for a database without tables). The schema is left
    as the archive has it."""
    url = store.url
    check_pg_backup(backup)
    tool = _tool("pg_restore", url, str(backup))
    t = pg_target(url)
    try:
        async with store.engine.connect() as conn:
            others = (await conn.execute(_OTHER_SESSIONS)).scalar_one()
            tables = list((await conn.execute(_TABLES)).scalars())
    except (OSError, ConnectionError) as exc:
        raise StoreError(f"数据库无法连接 (cannot reach database) {t.shown}: {exc}") from None
    if others and not force:
        raise BackupError(f"{t.shown}: 数据库正在被使用（另有 {others} 个连接，如 yuqing serve）；请先停止它们再恢复，或加 "
                          f"--force 强制覆盖（之后须重启 serve）(the database has {others} other connection(s), e.g. a "
                          f"running yuqing serve: stop them first, or use --force and restart serve afterwards)")
    keep = None
    if tables:
        keep = _free_name(backup.with_name(f"{t.database}.before-restore.dump"))
        backup_pg(url, keep)
    async with store.engine.begin() as conn:  # the archive is restored into an empty schema: tables, and the
        # functions, triggers, sequences and types a migration may add, all go (the copy above keeps them)
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
        await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await store.engine.dispose()  # pg_restore waits for no one
    _run([tool, "--no-owner", "--single-transaction", "--exit-on-error", *t.args, str(backup)], t,
         after=f"；恢复前的数据库在 {keep} (the database as it was is in {keep})" if keep else "")
    return keep


def _tool(name: str, url: str, file: str) -> str:
    path = shutil.which(name)
    if path is None:
        commands = "；".join(pg_commands(url, file))
        raise BackupError(f"找不到 {name}（PostgreSQL 客户端工具），无法自动备份/恢复；请安装 postgresql-client 后重试，"
                          f"或手动运行：{commands} ({name} not found: install postgresql-client, or run these commands)")
    return path


def _run(command: list[str], t: PgTarget, after: str = "") -> None:
    done = subprocess.run(command, env={**os.environ, **t.env}, capture_output=True, text=True)
    if done.returncode != 0:  # the line that says what went wrong ("pg_dump: error: …"), not its hint
        lines = done.stderr.strip().splitlines() or ["?"]
        reason = next((line for line in lines if "error:" in line), lines[-1]).strip()
        raise BackupError(f"{Path(command[0]).name} 失败 (failed) {t.shown}: {reason}{after}")
