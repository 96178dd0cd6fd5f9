"""yuqing demo [--once]: the bundled sample, end to end, on a fresh SQLite file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.cli.common import InputError, load_config, register_secrets, run, serve_app
from monitor.config.settings import BUNDLED_CONFIG, load_settings

DEMO_DATA = BUNDLED_CONFIG / "demo"
DEMO_DB = "yuqing-demo.db"
DEMO_USER = "demo"


def register(sub) -> None:
    p = sub.add_parser("demo", help="演示：导入样例、分类分办、开启期限、打开值班台 / end-to-end showcase",
                       description="在内置样例数据上演示全流程（SQLite 文件 yuqing-demo.db，每次重建）。\n"
                       "Import the bundled sample, classify, route, open deadlines, then serve the dashboard.")
    p.add_argument("--once", action="store_true", help="只运行一次并打印摘要，不启动值班台 / print a summary and exit")
    p.add_argument("--listen", default=None, help="值班台地址 / HOST:PORT (default 127.0.0.1:8080)")
    p.set_defaults(func=lambda a: run(_demo(a)))


def demo_records(settings, now):
    from monitor.sources.importer import records
    from monitor.core.model import RawItem

    out = list(records(DEMO_DATA / "hotline_sample.csv", "hotline", settings))
    out += list(records(DEMO_DATA / "synthetic_incidents.jsonl", "push", settings))
    # Replay the sample as if it were live: the newest message is ten minutes old.
    newest = max(r.occurred_at for r in out if isinstance(r, RawItem) and r.occurred_at)
    delta = now - timedelta(minutes=10) - newest
    for r in out:
        if isinstance(r, RawItem):
            r.occurred_at = r.occurred_at + delta if r.occurred_at else None
            r.replied_at = r.replied_at + delta if r.replied_at else None
    return out


async def demo_sign_in(app) -> str:
    """The demo's admin account with a fresh random password (the dashboard needs a sign-in, docs/accounts.md)."""
    import secrets

    from monitor.cli.users import ensure_account

    password = secrets.token_urlsafe(12)
    await ensure_account(app.store, DEMO_USER, "admin", password, app.clock.now())
    return password


async def _demo(args) -> int:
    from monitor.app import build
    from monitor.cli.render import console, counts_table, deadlines_table, print_import_summary
    from monitor.core.model import Severity
    from monitor.pipeline import ImportStats

    settings = load_config(args) if args.config else register_secrets(load_settings(BUNDLED_CONFIG / "demo.yaml"))
    listen = args.listen or settings.listen
    if not args.once:  # a bad --listen is refused before the demo database is rebuilt
        from monitor.web.server import parse_listen

        try:
            parse_listen(listen)
        except ValueError as exc:
            raise InputError(str(exc)) from None
    db = args.db
    if db is None:
        Path(DEMO_DB).unlink(missing_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(DEMO_DB + suffix).unlink(missing_ok=True)
        db = f"sqlite:///{DEMO_DB}"
    app = await build(settings, db)
    try:
        now = app.clock.now()
        stats = ImportStats()
        batch = demo_records(settings, now)
        for source in ("hotline", "push"):
            stats.add(await app.pipeline.ingest([r for r in batch if getattr(r, "source", "hotline") == source],
                                                source, "demo"))
        fired = await app.escalator.sweep()  # steps already due (the explosion was reported 4 hours ago)
        console.rule("舆情哨兵演示 yuqing-sentinel demo")
        print_import_summary(stats)
        async with app.store.read() as tx:
            by_department = await tx.incidents.counts("department")
            by_severity = await tx.incidents.counts("severity")
            open_deadlines = await tx.deadlines.list(state="open")
            incidents = {d.incident_id: await tx.incidents.get(d.incident_id) for d in open_deadlines}
            triage = len(await tx.incidents.list(status="open", triage="pending", limit=100000))
        console.print(counts_table("按责任单位 By department", by_department, "责任单位 department"))
        console.print(counts_table("按等级 By severity", [(Severity(k).zh, n) for k, n in by_severity],
                                   "等级 severity"))
        console.print(deadlines_table([(d, incidents[d.incident_id]) for d in open_deadlines], now))
        console.print(f"待人工研判 triage queue: {triage} 个事件；已发出提醒 reminders: {fired} 次（见值班台）")
        if args.once:
            return 0
        password = await demo_sign_in(app)
        print(f"值班台登录 sign in: 用户名 user {DEMO_USER}  密码 password {password}"
              "（管理员，每次启动随机生成，只显示这一次 / admin, new each run, shown once）", flush=True)
        await serve_app(app, listen, ready=lambda url: console.print(
            f"\n[bold green]值班台已启动 dashboard: {url}[/bold green]  （Ctrl+C 退出 / to stop）"))
    finally:
        await app.close()
    return 0
