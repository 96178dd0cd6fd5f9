"""yuqing incidents split INCIDENT_ID ITEM_ID… [--actor NAME]
yuqing incidents merge INCIDENT_ID INCIDENT_ID… [--actor NAME] [--reason TEXT]
yuqing incidents close INCIDENT_ID [--reply-url U] [--note N] [--by NAME]
yuqing incidents reopen INCIDENT_ID --reason TEXT [--by NAME]
yuqing incidents note INCIDENT_ID TEXT [--by NAME]"""

from __future__ import annotations

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("incidents", help="事件操作（拆分、合并、办结、重新打开、备注）/ incident actions",
                       description="纠正事件归并：把误并的留言拆出为新事件，或把同一真实事件的多个事件合并；"
                       "办结事件、重新打开已办结的事件，或在时间线中记一条备注。\n"
                       "Correct the grouping (split, merge); close an incident (办结), reopen a closed one, or add "
                       "a note to its timeline.")
    isub = p.add_subparsers(dest="incidents_action", metavar="ACTION", required=True,
                            help="split 拆分 / merge 合并 / close 办结 / reopen 重新打开 / note 备注")
    s = isub.add_parser("split", help="把留言从事件中拆出为新事件 / move items out into a new incident",
                        description="归并有误时，把指定留言从事件中拆出，成为新事件（重新研判、开启期限）。\n"
                        "Move the given items out of an incident into a new one (understood again, own deadlines).")
    s.add_argument("incident_id", type=int, help="事件编号 / incident id")
    s.add_argument("item_ids", type=int, nargs="+", metavar="ITEM_ID", help="留言编号 / item ids to move")
    s.add_argument("--actor", default="cli", help="操作人 / who does it (audit log)")
    s.set_defaults(func=lambda a: run(_split(a)))
    m = isub.add_parser("merge", help="把同一事件的多个事件合并为一个 / merge incidents that are one event",
                        description="同一真实事件被分成了多个事件时合并：保留最早发现的事件，其余事件的留言、证据、台账并入；"
                        "保留最早的计时和最高等级，重复期限取消并注明原因。\n"
                        "Merge incidents that are one real event into the one seen first: items, evidence and "
                        "ledger lines move; the earliest clock and the highest severity are kept; duplicate "
                        "deadlines are cancelled with the reason.")
    m.add_argument("incident_ids", type=int, nargs="+", metavar="INCIDENT_ID", help="事件编号（至少两个）/ incident ids")
    m.add_argument("--actor", default="cli", help="操作人 / who does it (audit log)")
    m.add_argument("--reason", default="", help="合并理由 / why (audit log)")
    m.set_defaults(func=lambda a: run(_merge(a)))
    _register_closing(isub)


def _register_closing(isub) -> None:
    from monitor.cli.deadlines import actor_arg, incident_arg

    c = isub.add_parser("close", help="办结事件 / close an incident (办结)",
                        description="办结：事件的期限均已完成（有证据）或已取消，且答复已登记时关闭事件。"
                        "可用 --reply-url/--note 登记答复；12345 工单「已办结」视为已答复。仍有未完成期限时拒绝并列出这些期限（退出码 2）。\n"
                        "Close an incident once every deadline is satisfied (or cancelled) and its reply is on record: "
                        "give it with --reply-url/--note, or a 12345 export's 已办结 counts. Refused, naming the open "
                        "deadlines, otherwise (exit 2).")
    incident_arg(c)
    c.add_argument("--reply-url", default="", help="答复的发布链接 / where the reply was published")
    c.add_argument("--note", default="", help="答复说明 / the reply, in words")
    actor_arg(c)
    c.set_defaults(func=lambda a: run(_close(a)))
    r = isub.add_parser("reopen", help="重新打开已办结的事件 / reopen a closed incident",
                        description="重新打开已办结的事件（须说明理由，记入时间线）。新的留言归入已办结事件时会自动重新打开。\n"
                        "Reopen a closed incident (with a reason, kept in its timeline); a new report joining a "
                        "closed incident reopens it by itself.")
    incident_arg(r)
    r.add_argument("--reason", required=True, help="理由（必填）/ why (required)")
    actor_arg(r)
    r.set_defaults(func=lambda a: run(_reopen(a)))
    n = isub.add_parser("note", help="在事件时间线中记一条备注 / add a note to the timeline",
                        description="在事件时间线中记一条备注（如电话沟通情况）。\nAdd a free-text note to the incident's "
                        "timeline.")
    incident_arg(n)
    n.add_argument("text", help="备注内容 / the note")
    actor_arg(n)
    n.set_defaults(func=lambda a: run(_note(a)))


async def _close(args) -> int:
    from monitor.cli.deadlines import with_app

    out = await with_app(args, lambda app: app.service.close(args.incident, args.by, reply_url=args.reply_url,
                                                             note=args.note))
    print(f"已办结 (closed): #{out['incident_id']}，答复：{out['reply']}")
    return 0


async def _reopen(args) -> int:
    from monitor.cli.deadlines import with_app

    await with_app(args, lambda app: app.service.reopen(args.incident, args.by, args.reason))
    print(f"已重新打开 (reopened): #{args.incident}")
    return 0


async def _note(args) -> int:
    from monitor.cli.deadlines import with_app

    await with_app(args, lambda app: app.service.note(args.incident, args.by, args.text))
    print(f"备注已记入事件 #{args.incident} 的时间线 (note added)")
    return 0


async def _split(args) -> int:
    from monitor.app import build
    from monitor.regroup import SplitError, split_incident

    app = await build(load_config(args), args.db)
    try:
        new_id = await split_incident(app.pipeline, args.incident_id, args.item_ids, args.actor)
    except SplitError as exc:
        raise InputError(str(exc)) from None
    finally:
        await app.close()
    print(f"已拆分 (split): 留言 {args.item_ids} 从事件 #{args.incident_id} 移入新事件 #{new_id}")
    return 0


async def _merge(args) -> int:
    from monitor.app import build
    from monitor.regroup import MergeError, merge_incidents

    if len(args.incident_ids) < 2:  # before opening the store
        raise InputError("合并至少需要两个事件 (a merge needs at least two incidents)")
    app = await build(load_config(args), args.db)
    try:
        result = await merge_incidents(app.pipeline, args.incident_ids, args.actor, args.reason)
    except MergeError as exc:
        raise InputError(str(exc)) from None
    finally:
        await app.close()
    merged = "、".join(f"#{i}" for i in result.merged)
    print(f"已合并 (merged): {merged} 并入事件 #{result.survivor}（保留最早发现的事件 / kept the incident seen first）")
    print(f"  留言 {result.items_moved} 条移入；首次发现 {_local(result.first_seen_at)}；"
          f"等级 {_zh(result.severity[1])}")
    for d in result.deadlines:
        state = {"open": "进行中", "satisfied": "已完成" + ("（按时）" if d["on_time"] else "（逾期）")}[d["state"]]
        dup = "、".join(f"#{i}" for i in d["cancelled_on"])
        print(f"  期限 {d['rule']}：到期 {_local(d['due_at'])}，{state}"
              + (f"；取消重复期限（{dup}）" if dup else "")
              + (f"；证据来自事件 #{d['evidence_from']}" if d["evidence_from"] not in (None, result.survivor) else ""))
    return 0


def _local(value) -> str:
    from datetime import datetime

    from monitor.core.clock import fmt_local

    return fmt_local(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _zh(severity: int) -> str:
    from monitor.core.model import Severity

    return Severity(severity).zh
