"""yuqing deadlines | ack | evidence | reassign | regrade — the duty officer's commands."""

from __future__ import annotations

import json
import os

from monitor.cli.common import InputError, load_config, run
from monitor.core.model import Severity


def actor_arg(p) -> None:
    p.add_argument("--by", "--actor", dest="by", default=os.environ.get("YUQING_USER") or os.environ.get("USER") or "cli",
                   help="操作人 / who does it (default $YUQING_USER or $USER)")


def register(sub) -> None:
    p = sub.add_parser("deadlines", help="列出期限 / list deadlines")
    p.add_argument("--overdue", action="store_true", help="只看已超时 / overdue only")
    p.add_argument("--state", default="open", choices=["open", "satisfied", "cancelled", "all"])
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON lines output")
    p.set_defaults(func=lambda a: run(_deadlines(a)))

    p = sub.add_parser("ack", help="确认收到提醒（停止本级重复提醒，不关闭期限）/ acknowledge reminders")
    p.add_argument("incident", type=int)
    p.add_argument("--rule", help="只确认这条期限 / only this rule")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_call(a, "acknowledge", a.incident, a.by, rule=a.rule)))

    p = sub.add_parser("evidence", help="登记证据并关闭期限 / record evidence that satisfies deadlines")
    p.add_argument("incident", type=int)
    p.add_argument("--rule", help="期限名，如 authoritative_release / the rule it satisfies")
    p.add_argument("--kind", help="证据类型，如 release, press_conference / evidence kind")
    p.add_argument("--url", default="", help="发布链接 / where it was published")
    p.add_argument("--note", default="", help="说明（如发布会记录）/ note, e.g. press-conference record")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_call(a, "add_evidence", a.incident, a.by, url=a.url, note=a.note,
                                            rule=a.rule, kind=a.kind)))

    p = sub.add_parser("reassign", help="改派责任单位（期限时钟不变）/ move to another department")
    p.add_argument("incident", type=int)
    p.add_argument("department")
    p.add_argument("--reason", default="")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_call(a, "reassign", a.incident, a.department, a.by, a.reason)))

    p = sub.add_parser("regrade", help="调整事件等级（开启或取消相应期限）/ change severity")
    p.add_argument("incident", type=int)
    p.add_argument("severity", help="一般 / 较大 / 重大 / 特别重大")
    p.add_argument("--reason", required=True)
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_regrade(a)))


async def _deadlines(args) -> int:
    from monitor.app import build
    from monitor.cli.render import console, deadlines_table

    app = await build(load_config(args), args.db)
    try:
        now = app.clock.now()
        async with app.store.read() as tx:
            rows = await tx.deadlines.list(state=None if args.state == "all" else args.state,
                                           overdue_at=now if args.overdue else None, limit=100000)
            incidents = {i: await tx.incidents.get(i) for i in {d.incident_id for d in rows}}
    finally:
        await app.close()
    if args.json:
        for d in rows:
            print(json.dumps({"incident_id": d.incident_id, "title": incidents[d.incident_id].title,
                              "rule": d.rule, "department": d.department, "due_at": d.due_at.isoformat(),
                              "state": d.state, "overdue": d.state == "open" and d.due_at <= now,
                              "provisional_year": d.provisional_year},
                             ensure_ascii=False))
        return 0
    console.print(deadlines_table([(d, incidents[d.incident_id]) for d in rows], now,
                                  title="已超时期限 Overdue" if args.overdue else "期限 Deadlines"))
    return 0


async def service_call(args, method: str, *params, **kw):
    """Run one monitor.service command for the CLI; a refused command is bad input (exit 2)."""
    from monitor.app import build
    from monitor.service import ServiceError

    app = await build(load_config(args), args.db)
    try:
        return await getattr(app.service, method)(*params, **kw)
    except ServiceError as exc:
        raise InputError(str(exc)) from None
    finally:
        await app.close()


async def _call(args, method: str, *params, **kw) -> int:
    _report(method, await service_call(args, method, *params, **kw))
    return 0


def _report(method: str, result) -> None:
    if method == "acknowledge":
        for d in result:
            print(f"已确认 (acknowledged): #{d.incident_id} {d.title} — 本级重复提醒停止，期限仍在进行")
    elif method == "add_evidence":
        if not result:
            print("证据已登记；没有因此关闭的期限 (evidence recorded; it closed no deadline)")
        for d in result:
            late = "（逾期完成 late）" if d.closed_at > d.due_at else "（按时 on time）"
            print(f"期限已完成 (satisfied): #{d.incident_id} {d.title}{late}")
    elif method == "reassign":
        print(f"已改派 (reassigned): #{result.id} → {result.department}")
    elif method == "regrade":
        print(f"等级已调整 (regraded)；新开期限 opened：{'、'.join(result['opened']) or '无'}；"
              f"取消期限 cancelled：{'、'.join(result['cancelled']) or '无'}")


async def _regrade(args) -> int:
    try:
        severity = Severity.parse(args.severity)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return await _call(args, "regrade", args.incident, severity, args.by, args.reason)
