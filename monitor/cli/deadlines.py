"""yuqing deadlines | ack | evidence | reassign | regrade — the duty officer's commands."""

from __future__ import annotations

import json
import os

from monitor.cli.common import InputError, load_config, run
from monitor.core.model import Severity


def actor_arg(p) -> None:
    p.add_argument("--by", "--actor", dest="by", default=os.environ.get("YUQING_USER") or os.environ.get("USER") or "cli",
                   help="操作人 / who does it (default $YUQING_USER or $USER)")


def incident_arg(p) -> None:
    p.add_argument("incident", type=int, help="事件编号 / incident id (#N in the dashboard and `yuqing deadlines`)")


def register(sub) -> None:
    p = sub.add_parser("deadlines", help="列出期限 / list deadlines",
                       description="列出回应期限（默认只列未关闭的）：事件、等级、责任单位、到期时间（北京时间）、剩余时间。"
                       "--json 时每行一个 JSON 对象，至少含 incident_id、rule、due_at、state。\n"
                       "List response deadlines (open ones by default); with --json one JSON object per line with "
                       "at least incident_id, rule, due_at, state.")
    p.add_argument("--overdue", action="store_true", help="只看已超时 / overdue only")
    p.add_argument("--state", default="open", choices=["open", "satisfied", "cancelled", "all"],
                   help="期限状态：进行中、已完成、已取消或全部 / which deadlines (default open)")
    p.add_argument("--json", action="store_true", help="JSON 输出 / JSON lines output")
    p.set_defaults(func=lambda a: run(_deadlines(a)))

    p = sub.add_parser("ack", help="确认收到提醒（停止本级重复提醒，不关闭期限）/ acknowledge reminders",
                       description="确认已收到某事件的提醒：本级提醒不再重复，期限仍在进行，后续升级照常发出；"
                       "只有证据（yuqing evidence）才能关闭期限。\n"
                       "Acknowledge an incident's reminders: repeats of the step last sent stop; the deadline stays "
                       "open and later escalation steps still fire. Only evidence closes a deadline.")
    incident_arg(p)
    p.add_argument("--rule", help="只确认这条期限：规则名或标题，如 5小时内发布权威信息 / only this rule (name or title)")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_call(a, "acknowledge", a.incident, a.by, rule=a.rule)))

    p = sub.add_parser("evidence", help="登记证据并关闭期限 / record evidence that satisfies deadlines",
                       description="登记回应证据（发布链接或发布会记录），关闭它所满足的期限；超过到期时间的记为逾期完成。\n"
                       "Record evidence (a release URL, a press-conference record); it satisfies the deadlines "
                       "it answers, late ones are recorded as late.")
    incident_arg(p)
    p.add_argument("--rule", help="期限：规则名或标题，如 authoritative_release 或 5小时内发布权威信息 / the rule it "
                                  "satisfies (name or title)")
    p.add_argument("--kind", help="证据类型：release 权威信息发布、press_conference 新闻发布会、interpretation 政策解读、"
                                  "reply 答复 / evidence kind")
    p.add_argument("--url", default="", help="发布链接 / where it was published")
    p.add_argument("--note", default="", help="说明（如发布会记录）/ note, e.g. press-conference record")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_call(a, "add_evidence", a.incident, a.by, url=a.url, note=a.note,
                                            rule=a.rule, kind=a.kind)))

    p = sub.add_parser("reassign", help="改派责任单位（期限时钟不变）/ move to another department",
                       description="把事件及其未关闭的期限改派给辖区内另一个责任单位，期限时钟不重新开始。"
                       "单位名称须是辖区配置中的部门（或其别名）；未知名称被拒绝并列出可选名称。\n"
                       "Move the incident and its open deadlines to another department of the jurisdiction; the "
                       "clock does not restart. Unknown names are refused with the allowed ones.")
    incident_arg(p)
    p.add_argument("department", help="新的责任单位，如 区卫生健康局 / the new responsible department")
    p.add_argument("--reason", default="", help="改派理由（记入审计日志）/ why (audit log)")
    actor_arg(p)
    p.set_defaults(func=lambda a: run(_reassign(a)))

    p = sub.add_parser("regrade", help="调整事件等级（开启或取消相应期限）/ change severity",
                       description="人工调整事件等级：升级时按首次发现时间开启新等级要求的期限，降级时取消不再适用的期限并记录理由"
                       "（降级必须说明理由）。\n"
                       "Change an incident's severity: raising it opens the deadlines the new level requires "
                       "(counted from first seen), lowering it (only with a reason) cancels those that no longer apply.")
    incident_arg(p)
    p.add_argument("severity", help="一般 / 较大 / 重大 / 特别重大")
    p.add_argument("--reason", default="", help="调整理由（降级时必填，记入审计日志）/ why (required to lower; audit log)")
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
    return await with_app(args, lambda app: getattr(app.service, method)(*params, **kw))


async def with_app(args, command):
    """`await command(app)` on a freshly built app, closed afterwards; a refused command (ServiceError,
    including an unknown department or domain) is bad input (exit 2)."""
    from monitor.app import build
    from monitor.service import ServiceError

    app = await build(load_config(args), args.db)
    try:
        return await command(app)
    except ServiceError as exc:
        raise InputError(str(exc)) from None
    finally:
        await app.close()


async def _reassign(args) -> int:
    from monitor.understanding.names import check_department

    result = await with_app(args, lambda app: app.service.reassign(
        args.incident, check_department(app.jurisdiction, args.department), args.by, args.reason))
    _report("reassign", result)
    return 0


async def _call(args, method: str, *params, **kw) -> int:
    _report(method, await service_call(args, method, *params, **kw))
    return 0


def _report(method: str, result) -> None:
    if method == "acknowledge":
        for d in result:
            print(f"已确认 (acknowledged): #{d.incident_id} {d.title}（{d.rule}）— 本级重复提醒停止，期限仍在进行")
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
