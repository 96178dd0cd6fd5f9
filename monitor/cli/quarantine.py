"""yuqing quarantine [--source S] [--all] [--json] | yuqing quarantine reprocess [--source S] [--id N…]"""

from __future__ import annotations

import json

from monitor.cli.common import load_config, run


def register(sub) -> None:
    p = sub.add_parser("quarantine", help="查看/重新处理隔离的记录 / list or re-process quarantined rows",
                       description="列出无法入库的行（文件、行号、原因）；修正映射后用 reprocess 重新处理。\n"
                       "List rows that could not be used (file, row, reason); after fixing the mapping, re-process.")
    p.add_argument("--source", help="只看某个来源 / one source")
    p.add_argument("--all", action="store_true", help="包括已处理的 / include resolved rows")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON lines output")
    p.add_argument("--limit", type=int, default=200, help="最多显示行数 / rows to show (default 200)")
    p.set_defaults(func=lambda a: run(_list(a)))
    qsub = p.add_subparsers(dest="quarantine_action", metavar="ACTION",
                            help="reprocess 重新处理 / map again and ingest")
    r = qsub.add_parser("reprocess", help="按当前配置重新处理 / map again with the current config and ingest",
                        description="按当前配置（字段映射等）重新处理隔离的记录，能入库的入库并标记为已处理。\n"
                        "Map quarantined rows again with the current config; those that now work are ingested "
                        "and marked resolved.")
    r.add_argument("--source", dest="rsource", help="只处理某个来源 / one source")
    r.add_argument("--id", dest="ids", type=int, nargs="+", help="只处理这些隔离记录 / these quarantine ids")
    r.add_argument("--json", dest="rjson", action="store_true", help="最后一行输出 JSON / JSON as the last line")
    r.set_defaults(func=lambda a: run(_reprocess(a)))


async def _list(args) -> int:
    from monitor.app import build
    from monitor.core.clock import fmt_local
    from monitor.cli.render import console
    from rich.table import Table

    app = await build(load_config(args), args.db)
    try:
        async with app.store.read() as tx:
            rows = await tx.items.quarantined(args.source, include_resolved=args.all)
    finally:
        await app.close()
    shown = rows[-args.limit:] if args.limit else rows
    if args.json:
        for r in shown:
            print(json.dumps({"id": r["id"], "source": r["source"], "file": r["file"], "row": r["row_no"],
                              "reason": r["reason"], "raw": r["raw"], "created_at": r["created_at"].isoformat(),
                              "resolved_at": r["resolved_at"].isoformat() if r["resolved_at"] else None},
                             ensure_ascii=False))
        return 0
    t = Table(title=f"隔离记录 Quarantine（{len(rows)} 行，显示 {len(shown)}）")
    for col in ("编号 id", "来源 source", "文件 file", "行 row", "原因 reason", "时间 at"):
        t.add_column(col)
    for r in shown:
        t.add_row(str(r["id"]), r["source"], r["file"], str(r["row_no"] or ""), r["reason"],
                  fmt_local(r["created_at"]) + (" ✓" if r["resolved_at"] else ""))
    console.print(t)
    if rows and not args.all:
        console.print("修正映射（config 的 sources[].mapping）后运行 / after fixing the mapping run: "
                      "yuqing quarantine reprocess")
    return 0


async def _reprocess(args) -> int:
    from monitor.app import build
    from monitor.cli.render import console
    from monitor.sources.reprocess import reprocess

    settings = load_config(args)
    app = await build(settings, args.db)
    try:
        result = await reprocess(app.pipeline, settings, args.rsource, args.ids)
    finally:
        await app.close()
    out = {"resolved": result.resolved, "still_quarantined": result.still, **result.stats.as_json()}
    if args.rjson:
        print(json.dumps(out, ensure_ascii=False))
    else:
        console.print(f"已重新处理 resolved: {result.resolved} 行；仍隔离 still quarantined: {result.still} 行；"
                      f"新增 {result.stats.inserted}，更新 {result.stats.updated}，重复 {result.stats.duplicates}")
    return 0
