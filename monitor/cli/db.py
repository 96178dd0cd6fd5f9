"""yuqing db upgrade | downgrade | backup | restore"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Callable, Iterator

from monitor.cli.common import InputError, check_writable, load_config, run
from monitor.config.settings import database_url
from monitor.store.db import Store, head_revision, migrate, safe_url


def register(sub) -> None:
    p = sub.add_parser("db", help="数据库迁移、备份与恢复 / database migrations, backup and restore",
                       description="数据库结构迁移（serve 启动时会自动升级）、备份与恢复。数据库由 --db 或 YUQING_DATABASE 指定。\n"
                       "Database schema migrations (serve upgrades by itself), backup and restore; the database is "
                       "--db or YUQING_DATABASE.")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True,
                             help="upgrade 升级 / downgrade 回退 / backup 备份 / restore 恢复")
    up = dbsub.add_parser("upgrade", help="升级到最新结构 / migrate to the latest schema",
                          description="把数据库结构升级到指定版本（默认最新 head）。\n"
                          "Migrate the database schema up to a revision (default head).")
    up.add_argument("revision", nargs="?", default="head", help="目标版本，默认 head / target revision (default head)")
    up.set_defaults(func=lambda a: run(_migrate(a, "upgrade")))
    down = dbsub.add_parser("downgrade", help="回退到指定版本 / migrate down to a revision (base = empty)",
                            description="把数据库结构回退到指定版本；base 表示删除全部表（数据随之丢失）。\n"
                            "Migrate the schema down to a revision; base drops every table (and its data).")
    down.add_argument("revision", help="目标版本，base 为空库 / target revision (base = empty)")
    down.set_defaults(func=lambda a: run(_migrate(a, "downgrade")))
    back = dbsub.add_parser("backup", help="在线备份到文件 / back up to a file (while serve runs)",
                            description="SQLite：用在线备份 API 复制某一时刻的完整数据库（serve 运行时也一致），校验后写入 FILE。\n"
                            "PostgreSQL：运行 pg_dump -Fc（找不到 pg_dump 时打印应运行的命令并以 2 退出）。\n"
                            "SQLite: a consistent copy of one moment, taken with the online backup API while serve "
                            "runs, checked, then written to FILE. PostgreSQL: pg_dump -Fc (without pg_dump: prints the "
                            "commands and exits 2).")
    back.add_argument("file", metavar="FILE", help="备份文件 / backup file")
    back.set_defaults(func=lambda a: run(_backup(a)))
    rest = dbsub.add_parser("restore", help="从备份恢复并升级结构 / restore a backup and migrate it to head",
                            description="用 FILE 替换数据库，原数据库另存为 数据库文件.before-restore（PostgreSQL："
                            "库名.before-restore.dump，在 FILE 旁），再把结构升级到最新。数据库正被使用（如 serve 在运行）时拒绝，"
                            "除非加 --force。\nReplace the database with FILE, keep the previous one as DB.before-restore "
                            "(PostgreSQL: DBNAME.before-restore.dump beside FILE), then migrate to head. Refused while "
                            "the database is in use (a running serve) unless --force.")
    rest.add_argument("file", metavar="FILE", help="备份文件 / backup file")
    rest.add_argument("--force", action="store_true",
                      help="数据库正被使用也恢复（之后须重启 serve）/ restore even while in use (restart serve after)")
    rest.set_defaults(func=lambda a: run(_restore(a)))


async def _migrate(args, action: str) -> int:
    url = database_url(load_config(args), args.db)
    store = Store(url)
    try:
        revision = await migrate(store.engine, args.revision, action)
    finally:
        await store.close()
    print(f"数据库已是最新 (database at revision {revision}, head {head_revision()}): {safe_url(url)}")
    return 0


async def _backup(args) -> int:
    from monitor.store import backup

    url = database_url(load_config(args), args.db)
    dest = Path(args.file).expanduser()
    check_writable(dest)
    try:
        db = backup.sqlite_file(url)
        if db is None:
            copied = backup.backup_pg(url, dest)
        else:
            with _progress("备份 (backing up)", db) as report:
                copied = backup.backup_sqlite(db, dest, report)
    except backup.BackupError as exc:
        raise InputError(str(exc)) from None
    revision = f"，结构版本 (schema) {copied.revision}" if copied.revision else ""
    print(f"备份完成 (backup written): {copied.path} ({_size(copied.bytes)}{revision}) ← {safe_url(url)}")
    return 0


async def _restore(args) -> int:
    from monitor.store import backup

    url = database_url(load_config(args), args.db)
    source = Path(args.file).expanduser()
    try:
        db = backup.sqlite_file(url)
        if db is None:
            store = Store(url)
            try:
                kept = await backup.restore_pg(store, source, force=args.force)
            finally:
                await store.close()
        else:
            with _progress("恢复 (restoring)", source) as report:
                kept = backup.restore_sqlite(source, db, force=args.force, progress=report)
    except backup.BackupError as exc:
        raise InputError(str(exc)) from None
    store = Store(url)
    try:
        async with store.read() as tx:
            before = await tx.metrics.revision()
        revision = await migrate(store.engine)
    finally:
        await store.close()
    if kept is not None:
        print(f"原数据库已另存为 (the previous database is kept as): {kept}")
    upgraded = f"，结构已从 {before} 升级到 {revision} (schema upgraded from {before})" if before != revision else ""
    print(f"恢复完成 (restored) {source} → {safe_url(url)}，结构版本 (schema) {revision}{upgraded}")
    if args.force:
        print("如 serve 正在运行，请重启它 (restart serve if it is running)", file=sys.stderr)
    return 0


@contextlib.contextmanager
def _progress(label: str, path: Path) -> Iterator[Callable[[int, int], None] | None]:
    """A bar on stderr (bytes copied and MB/s) while a large file is copied, on a terminal only: quiet in
    cron and pipes, like every long command (monitor.core.progress, which counts rows)."""
    from monitor.store.backup import LARGE

    if not (sys.stderr.isatty() and path.is_file() and path.stat().st_size >= LARGE):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=path.stat().st_size)

        def report(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield report


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"
