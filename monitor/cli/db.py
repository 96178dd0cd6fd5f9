"""yuqing db upgrade | current"""

from __future__ import annotations

from monitor.cli.common import load_config, run
from monitor.config.settings import database_url
from monitor.store.db import Store, head_revision, migrate, safe_url


def register(sub) -> None:
    p = sub.add_parser("db", help="数据库迁移 / database migrations")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="升级到最新结构 / migrate to the latest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=lambda a: run(_migrate(a, "upgrade")))
    down = dbsub.add_parser("downgrade", help="回退到指定版本 / migrate down to a revision (base = empty)")
    down.add_argument("revision")
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
