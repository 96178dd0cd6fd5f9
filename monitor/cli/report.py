"""yuqing report --month M | --quarter Q | --year Y [--out FILE.xlsx] — 月检查、季通报、年考核."""

from __future__ import annotations

from pathlib import Path

from monitor.cli.common import InputError, check_writable, load_config, run, write_output


def register(sub) -> None:
    p = sub.add_parser("report", help="月检查/季通报/年考核报表 / the monthly, quarterly or yearly check",
                       description="按责任单位统计某月、某季度或某年（北京时间）：新增事件、到期的回应期限（按时、逾期、未回应、"
                       "进行中）、按时率、平均首次回应用时、承诺兑现，按按时率排名；列出全部逾期和未回应事项及原因；另有图表页。"
                       "与 yuqing ledger export 计数一致（一个事件只计一次）。\n"
                       "Per department for a month, quarter or year (Beijing time): incidents, response deadlines due "
                       "(on time, late, missing, pending), on-time rate, average time to first response, commitments "
                       "kept; ranked; every late and missing item with its reason; a sheet of charts. Counted as the "
                       "ledger export counts (one event once).")
    period = p.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="月份 YYYY-MM，如 2026-11 / a month")
    period.add_argument("--quarter", help="季度 YYYYQn，如 2026Q4 / a quarter")
    period.add_argument("--year", help="年份 YYYY，如 2026 / a year")
    p.add_argument("--out", default=None, help="输出 XLSX / output file (default 舆情回应通报-<期间>.xlsx)")
    p.set_defaults(func=lambda a: run(_report(a)))


async def _report(args) -> int:
    from monitor.app import build
    from monitor.reports import period as period_mod
    from monitor.reports.job import load_period

    try:
        period = period_mod.parse_period(args.month, args.quarter, args.year)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    out = Path(args.out or f"舆情回应通报-{period.key}.xlsx")
    check_writable(out)  # before the database is opened: a wrong --out costs nothing
    app = await build(load_config(args), args.db)
    try:
        async with app.store.read() as tx:
            data = await load_period(tx, period, app.clock.now())
    finally:
        await app.close()
    report = period_mod.build(data)
    write_output(out, lambda path: period_mod.write_xlsx(path, report))
    t = report.total
    print(f"{period.label}：回应期限 {t.deadlines.total} 项，按时 {t.deadlines.on_time}，逾期 {t.deadlines.late}，"
          f"未回应 {t.deadlines.missing}，进行中 {t.deadlines.pending}，按时率 {t.deadlines.percent()}；"
          f"承诺 {t.promises.total} 项，按时兑现 {t.promises.on_time} → {out}")
    for r in report.rows:
        rank = f"{r.rank:>3}" if r.rank is not None else "  —"
        print(f"  {rank}  {r.department}  事件 {r.incidents}  期限 {r.deadlines.total}  按时率 {r.deadlines.percent()}"
              f"  未回应 {r.deadlines.missing}")
    return 0
