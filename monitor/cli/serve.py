"""yuqing serve [--listen HOST:PORT]"""

from __future__ import annotations

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("serve", help="运行服务：采集、调度、提醒、值班台 / run everything in one process",
                       description="运行采集、期限调度、提醒发送、接收推送和值班台；自动建库/迁移；SIGTERM 时干净退出。\n"
                       "Collectors, scheduler, responders, webhook and dashboard in one process.")
    p.add_argument("--listen", default=None, help="监听地址 / HOST:PORT (default from config, 127.0.0.1:8080)")
    p.set_defaults(func=lambda a: run(_serve(a)))


async def _serve(args) -> int:
    from monitor.app import build
    from monitor.cli.common import serve_app
    from monitor.web.server import parse_listen

    settings = load_config(args)
    listen = args.listen or settings.listen
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    app = await build(settings, args.db)
    try:
        await serve_app(app, listen, ready=lambda url: print(f"舆情哨兵已启动 (serving): {url}", flush=True))
    finally:
        await app.close()
    return 0
