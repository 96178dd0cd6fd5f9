"""yuqing db upgrade | current"""

from __future__ import annotations

from monitor.cli.common import load_config, run
from monitor.config.settings import database_url
from monitor.store.db import Store, head_revision, migrate, safe_url


def register(sub) -> None:
    p = sub.add_parser("db", help="数据库迁移 / database migrations",
                       description="数据库结构迁移（serve 启动时会自动升级）。数据库由 --db 或 YUQING_DATABASE 指定。\n"
                       "Database schema migrations (serve upgrades by itself); the database is --db or YUQING_DATABASE.")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True,
                             help="upgrade 升级 / downgrade 回退")
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


async def _migrate(args, action: str) -> int:
    url = database_url(load_config(args), args.db)
    store = Store(url)
    try:
        revision = await migrate(store.engine, args.revision, action)
    finally:
        await store.close()
    print(f"数据库已是最新 (database at revision {revision}, head {head_revision()}): {safe_url(url)}")
    return 0
