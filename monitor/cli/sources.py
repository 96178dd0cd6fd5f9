"""yuqing sources [--json] | yuqing sources poll NAME"""

from __future__ import annotations

import json

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("sources", help="数据来源状态 / source health and cursors",
                       description="列出配置的数据来源及其状态（健康、上次成功、失败次数、下次采集时间）。\n"
                       "List configured sources with their health, last success, failures and next poll.")
    p.add_argument("--json", action="store_true", help="JSON 输出 / one JSON object per source")
    p.set_defaults(func=lambda a: run(_list(a)))
    ssub = p.add_subparsers(dest="sources_action", metavar="ACTION", help="poll 立即采集 / poll one source now")
    poll = ssub.add_parser("poll", help="立即采集一次 / poll one source now",
                           description="立即采集一次指定的数据来源（不等下次定时），入库并打印导入结果。\n"
                           "Poll one configured source now, ingest what it returns and print the import summary.")
    poll.add_argument("name", help="来源名称 / source name")
    poll.set_defaults(func=lambda a: run(_poll(a)))


async def _list(args) -> int:
    from rich.table import Table

    from monitor.app import build
    from monitor.core.clock import fmt_local
    from monitor.cli.render import console
    from monitor.sources.health import health_report

    settings = load_config(args)
    app = await build(settings, args.db)
    try:
        report = await health_report(settings, app.store, app.clock.now())
        async with app.store.read() as tx:
            items = await tx.items.counts_by_source()
            quarantined = await tx.items.quarantine_counts()
    finally:
        await app.close()
    for r in report:
        r["items"], r["quarantined"] = items.get(r["name"], 0), quarantined.get(r["name"], 0)
    if args.json:
        for r in report:
            print(json.dumps(r, ensure_ascii=False))
        return 0
    from datetime import datetime

    def when(iso):
        return fmt_local(datetime.fromisoformat(iso)) if iso else "—"

    t = Table(title="数据来源 Sources")
    for col in ("名称", "类型", "状态", "留言", "隔离", "失败", "上次成功", "下次采集", "最近错误"):
        t.add_column(col, no_wrap=col != "最近错误")
    for r in report:
        style = "" if r["healthy"] else "red"
        t.add_row(r["name"], r["kind"], r["state"], str(r["items"]), str(r["quarantined"]), str(r["failures"]),
                  when(r["last_ok_at"]), when(r["next_poll_at"]), (r["last_error"] or "")[:80], style=style)
    console.print(t)
    if not report:
        console.print("配置中没有数据来源 (no sources in the config)")
    return 0


async def _poll(args) -> int:
    from monitor.app import build
    from monitor.cli.render import print_import_summary
    from monitor.sources.registry import make_collector
    from monitor.sources.runner import SourceRunner

    settings = load_config(args)
    cfg = settings.source(args.name)
    if cfg is None:
        raise InputError(f"没有名为 {args.name!r} 的来源 (no such source); 已配置: {[s.name for s in settings.sources]}")
    collector = make_collector(cfg, settings)
    if collector is None:
        raise InputError(f"来源 {args.name!r} 不需要采集 (kind {cfg.kind} is pushed or import-only)")
    app = await build(settings, args.db)
    runner = SourceRunner(app, cfg, collector)
    try:
        ctx = await runner.poll()
    finally:
        await runner.close()
        await app.close()
    print_import_summary(ctx.stats)
    if ctx.error:
        print(f"采集失败 (poll failed): {ctx.error}")
        return 1
    return 0
