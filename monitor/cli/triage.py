"""yuqing triage list|accept|correct: the queue of incidents waiting for a person."""

from __future__ import annotations

import json

from monitor.cli.common import load_config, run
from monitor.cli.deadlines import actor_arg, service_call, with_app


def register(sub) -> None:
    p = sub.add_parser("triage", help="人工研判队列：列出、确认、更正 / triage queue: list, accept, correct",
                       description="置信度低或分办不明确的事件等待人工研判。\n"
                       "Incidents with low domain confidence or ambiguous routing wait for a person.")
    ts = p.add_subparsers(dest="triage_command", metavar="ACTION", required=True,
                          help="list 列出 / accept 确认 / correct 更正")
    ls = ts.add_parser("list", help="列出待研判事件 / list pending incidents",
                       description="列出等待人工研判的事件及原因（置信度低、分办不明确等）。\n"
                       "List the incidents waiting for a person, with why each waits.")
    ls.add_argument("--limit", type=int, default=50, help="最多列出的事件数（默认 50）/ at most this many (default 50)")
    ls.add_argument("--json", action="store_true", help="输出 JSON 数组 / print a JSON array")
    ls.set_defaults(func=lambda a: run(_list(a)))
    ac = ts.add_parser("accept", help="确认系统结果 / accept the incident as understood",
                       description="确认系统对事件的研判（领域、部门、等级）无误，事件离开研判队列。\n"
                       "Accept the incident as the system understood it; it leaves the triage queue.")
    ac.add_argument("id", type=int, help="事件编号 / incident id")
    actor_arg(ac)
    ac.add_argument("--json", action="store_true", help="输出 JSON / print JSON")
    ac.set_defaults(func=lambda a: run(_accept(a)))
    co = ts.add_parser("correct", help="更正领域、部门、等级等 / correct domain, department, severity …",
                       description="更正事件的领域、牵头部门、协办部门、等级或回应类型。部门和领域须是辖区配置和分类器已知的名称，"
                       "未知名称被拒绝并列出可选名称；更正部门时未关闭的期限随之转移（时钟不变），更正等级时开启或取消相应期限。\n"
                       "Correct domain, lead department, co-handlers, severity or response type. Departments and "
                       "domains must be names the jurisdiction and classifier know (unknown ones are refused "
                       "with the allowed names); open deadlines move with the department, severity re-grades.")
    co.add_argument("id", type=int, help="事件编号 / incident id")
    co.add_argument("--domain", help="领域，如 城乡建设 / domain, e.g. 城乡建设")
    co.add_argument("--department", help="牵头部门 / lead department (its open deadlines move with it)")
    co.add_argument("--co-departments", dest="co_departments", help="协办部门，逗号分隔 / co-handlers, comma-separated")
    co.add_argument("--severity", help="一般 / 较大 / 重大 / 特别重大")
    co.add_argument("--response-type", dest="response_type",
                    help="回应类型：建设性意见、实际困难、重大问题、模糊认识、错误看法、虚假不实信息 / response type")
    actor_arg(co)
    co.add_argument("--json", action="store_true", help="输出 JSON / print JSON")
    co.set_defaults(func=lambda a: run(_correct(a)))


async def _list(args) -> int:
    from rich.table import Table

    from monitor.understanding import triage
    from monitor.cli.render import console
    from monitor.config.settings import database_url
    from monitor.store import Store

    store = await Store(database_url(load_config(args), args.db)).open()
    try:
        async with store.read() as tx:
            incidents = await triage.pending(tx, args.limit)
            total = dict(await tx.incidents.counts("triage")).get("pending", 0)
    finally:
        await store.close()
    if args.json:
        print(json.dumps([_brief(i) for i in incidents], ensure_ascii=False))
        return 0
    shown = f"{len(incidents)}" if len(incidents) == total else f"{len(incidents)} / {total}"
    table = Table(title=f"待人工研判 Triage queue（{shown}）")
    for col in ("#", "事件 title", "领域 domain", "置信度", "牵头部门 lead", "等级", "原因 why"):
        table.add_column(col)
    for i in incidents:
        why = next((r["text"] for r in i.reasons if r.get("stage") == "triage"), "")
        table.add_row(str(i.id), i.title[:30], i.domain, f"{i.domain_confidence:.2f}", i.department,
                      _severity(i.severity), why)
    console.print(table)
    return 0


async def _accept(args) -> int:
    return _show(args, await service_call(args, "accept_triage", args.id, args.by))


async def _correct(args) -> int:
    from monitor.understanding import triage
    from monitor.understanding.names import check_correction

    values = {k: getattr(args, k) for k in triage.FIELDS if getattr(args, k, None) is not None}
    return _show(args, await with_app(args, lambda app: app.service.correct(
        args.id, check_correction(app.jurisdiction, app.understander, values), args.by)))


def _show(args, outcome) -> int:
    result = _brief(outcome.incident) | {"changes": outcome.changes, "deadlines_moved": outcome.deadlines_moved,
                                         "opened": outcome.opened, "cancelled": outcome.cancelled}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    what = "；".join(f"{k}: {a} → {b}" for k, (a, b) in outcome.changes.items()) or "确认 accepted"
    print(f"事件 #{outcome.incident.id} {outcome.incident.triage}：{what}"
          + (f"（{outcome.deadlines_moved} 个未关闭期限已转至新部门）" if outcome.deadlines_moved else "")
          + (f"（新开期限 {'、'.join(outcome.opened)}）" if outcome.opened else "")
          + (f"（取消期限 {'、'.join(outcome.cancelled)}）" if outcome.cancelled else ""))
    return 0


def _severity(value: int) -> str:
    from monitor.core.model import Severity

    return Severity(value).zh


def _brief(i) -> dict:
    return {"id": i.id, "title": i.title, "triage": i.triage, "domain": i.domain,
            "domain_confidence": i.domain_confidence, "department": i.department,
            "co_departments": i.co_departments, "severity": _severity(i.severity), "response_type": i.response_type}
