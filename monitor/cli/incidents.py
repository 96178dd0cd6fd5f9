"""yuqing incidents split INCIDENT_ID ITEM_ID… [--actor NAME]"""

from __future__ import annotations

from monitor.cli.common import InputError, load_config, run


def register(sub) -> None:
    p = sub.add_parser("incidents", help="事件操作（拆分错误归并）/ incident actions (split a wrong grouping)")
    isub = p.add_subparsers(dest="incidents_action", metavar="ACTION", required=True)
    s = isub.add_parser("split", help="把留言从事件中拆出为新事件 / move items out into a new incident",
                        description="归并有误时，把指定留言从事件中拆出，成为新事件（重新研判、开启期限）。\n"
                        "Move the given items out of an incident into a new one (understood again, own deadlines).")
    s.add_argument("incident_id", type=int, help="事件编号 / incident id")
    s.add_argument("item_ids", type=int, nargs="+", metavar="ITEM_ID", help="留言编号 / item ids to move")
    s.add_argument("--actor", default="cli", help="操作人 / who does it (audit log)")
    s.set_defaults(func=lambda a: run(_split(a)))


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
