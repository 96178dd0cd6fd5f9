"""yuqing serve [--listen HOST:PORT] [--role all|web|collector|worker]"""

from __future__ import annotations

from monitor.cli.common import InputError, load_config, run

# monitor.web.server.ROLES (not imported here: building the parser must stay cheap)
ROLES = ("all", "web", "collector", "worker")


def register(sub) -> None:
    p = sub.add_parser("serve", help="运行服务：采集、调度、提醒、值班台 / run everything in one process",
                       description="运行采集、期限调度、提醒发送、接收推送和值班台；自动建库/迁移；SIGTERM 时干净退出。\n"
                       "Collectors, scheduler, responders, webhook and dashboard in one process, or one role of "
                       "them (docs/roles.md).")
    p.add_argument("--listen", default=None,
                   help="监听地址 / HOST:PORT (all, web: default from config, 127.0.0.1:8080; collector, worker: "
                        "only /healthz, and only when given)")
    p.add_argument("--role", choices=ROLES, default="all",
                   help="进程角色 / role: all（全部，默认）, web（值班台、API、推送接收）, collector（采集）, "
                        "worker（期限提醒、发送、日报）; 多个进程共用一个 PostgreSQL 数据库分担工作 "
                        "(several processes share one PostgreSQL database)")
    p.set_defaults(func=lambda a: run(_serve(a)))


async def _serve(args) -> int:
    from loguru import logger

    from monitor.app import build
    from monitor.cli.common import serve_app
    from monitor.web.server import HTTP_ROLES, parse_listen

    settings = load_config(args)
    role = args.role
    listen = args.listen or (settings.listen if role in HTTP_ROLES else None)
    if listen is not None:
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    app = await build(settings, args.db)
    if role != "all" and app.store.dialect == "sqlite":
        # Correct (claims are transactions, leases conditional updates) but not faster: SQLite has one writer
        logger.warning("角色 {} 使用 SQLite：各进程须在同一台机器上，写入依次进行；要扩展请用 PostgreSQL "
                       "(role {} on SQLite: processes must share this machine and write one at a time; "
                       "use PostgreSQL to scale out)", role, role)

    def ready(url: str | None) -> None:
        if url is None:
            print(f"舆情哨兵已启动 (serving): role {role}，无 HTTP 监听 (no HTTP listener)", flush=True)
        else:
            print(f"舆情哨兵已启动 (serving): {url}" + ("" if role == "all" else f" [role {role}]"), flush=True)

    try:
        await serve_app(app, listen, ready=ready, role=role)
    finally:
        await app.close()
    return 0
