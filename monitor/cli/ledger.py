"""yuqing ledger export | promise | keep — the response ledger (舆情回应台账)."""

from __future__ import annotations

from pathlib import Path

from monitor.cli.common import InputError, check_writable, load_config, run, write_output
from monitor.cli.deadlines import actor_arg, service_call, with_app


def register(sub) -> None:
    p = sub.add_parser("ledger", help="回应台账：导出、承诺、办结 / the response ledger",
                       description="舆情回应台账：按月导出、登记回应中的承诺事项（成为期限）、登记承诺的办理结果。\n"
                       "The response ledger (舆情回应台账): export a month, record a commitment made in a response "
                       "(it becomes a deadline), record that it was kept.")
    lsub = p.add_subparsers(dest="ledger_command", metavar="ACTION", required=True,
                            help="export 导出 / promise 登记承诺 / keep 登记办结")

    e = lsub.add_parser("export", help="导出某月台账为 XLSX / export a month as XLSX",
                        description="把某月（北京时间）的事件、期限、回应和承诺导出为 XLSX 台账，并打印统计。\n"
                        "Export a month (Beijing time) of incidents, deadlines, responses and commitments as XLSX.")
    e.add_argument("--month", required=True, help="月份 YYYY-MM（北京时间）/ the month, YYYY-MM (Beijing time)")
    e.add_argument("--out", default=None, help="输出文件 / output file (default 回应台账-YYYY-MM.xlsx)")
    e.set_defaults(func=lambda a: run(_export(a)))

    pr = lsub.add_parser("promise", help="登记回应中的承诺事项（成为期限）/ record a commitment",
                         description="登记回应中承诺的事项和办结期限：成为一条台账记录和一个期限，只有登记办理结果才能关闭。\n"
                         "Record a commitment made in a response and its due date: a ledger line and a deadline "
                         "that only `yuqing ledger keep` closes.")
    pr.add_argument("incident", type=int, help="事件编号 / incident id")
    pr.add_argument("--text", required=True, help="承诺内容 / what was promised")
    pr.add_argument("--due", required=True, help="办结期限，如 2026-12-01 或 2026-12-01T18:00")
    pr.add_argument("--department", default=None, help="承诺单位 / who promised (default the responsible department)")
    actor_arg(pr)
    pr.set_defaults(func=lambda a: run(_promise(a)))

    k = lsub.add_parser("keep", help="登记承诺办理结果 / record that a commitment was kept",
                        description="登记承诺事项的办理结果（和公开链接），关闭对应期限，并记录是否按时。\n"
                        "Record the result of a commitment (and where it was published); closes its deadline, "
                        "on time or late.")
    k.add_argument("ledger_id", type=int, help="台账编号（ledger promise 输出的 #N）/ ledger id printed by `ledger promise`")
    k.add_argument("--result", required=True, help="办理结果 / the result")
    k.add_argument("--url", default="", help="公开链接 / where it was published")
    actor_arg(k)
    k.set_defaults(func=lambda a: run(_keep(a)))


async def _export(args) -> int:
    from monitor.deadlines import ledger
    from monitor.app import build

    try:
        start, end = ledger.month_bounds(args.month)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    out = Path(args.out or f"回应台账-{args.month}.xlsx")
    check_writable(out)  # before the database is opened: a wrong --out costs nothing
    app = await build(load_config(args), args.db)
    try:
        async with app.store.read() as tx:
            incidents, deadlines, entries = await tx.ledger.month(start, end)
        report = ledger.build(incidents, deadlines, entries, min(app.clock.now(), end), start, end)
    finally:
        await app.close()
    write_output(out, lambda path: ledger.write_xlsx(path, args.month, report))
    print(f"已导出 (exported) {len(report.rows)} 个事件 → {out}")
    for row in report.stats:
        print("  " + "  ".join(str(v) for v in row))
    return 0


def _due(text: str):
    from monitor.sources.hotline_export import parse_time

    try:
        due = parse_time(text)
    except ValueError:
        due = None
    if due is None:
        raise InputError(f"--due {text!r}: 不是有效时间 (use 2026-12-01 or 2026-12-01T18:00)")
    if len(text.strip()) <= 10:  # a date alone means the end of that day, Beijing time
        from datetime import timedelta

        due += timedelta(days=1)
    return due


async def _promise(args) -> int:
    from monitor.understanding.names import check_department

    due = _due(args.due)
    ledger_id = await with_app(args, lambda app: app.service.promise(
        args.incident, args.text, due, args.by,
        check_department(app.jurisdiction, args.department) if args.department is not None else None))
    print(f"已登记承诺 (promise recorded) #{ledger_id}；办结后：yuqing ledger keep {ledger_id} --result …")
    return 0


async def _keep(args) -> int:
    on_time = await service_call(args, "keep_promise", args.ledger_id, args.by, args.result, args.url)
    print(f"承诺 #{args.ledger_id} 已办结（{'按时' if on_time else '逾期'}）")
    return 0
