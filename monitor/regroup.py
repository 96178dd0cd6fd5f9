"""A person corrects the grouping: split items out of an incident into a new one, or merge incidents that are
one real event. Both keep every clock: the deadlines of an event count from when it was first seen."""

from __future__ import annotations

from monitor.core.model import RawItem
from monitor.pipeline import Pipeline, _incident_row


class SplitError(ValueError):
    """A split that cannot be done (no such incident, items not in it, nothing would be left)."""


async def split_incident(pipeline: Pipeline, incident_id: int, item_ids: list[int], actor: str) -> int:
    """Move `item_ids` out of an incident into a new one (a wrong grouping undone by a person). The new
    incident is understood from its earliest item and gets its own deadlines; both keep a timeline entry."""
    now = pipeline.clock.now()
    wanted = set(item_ids)
    async with pipeline.store.write() as tx:
        incident = await tx.incidents.get(incident_id)
        if incident is None:
            raise SplitError(f"没有事件 #{incident_id} (no such incident)")
        members = await tx.items.for_incident(incident_id, limit=1_000_000)
        moving = [m for m in members if m["id"] in wanted]
        missing = sorted(wanted - {m["id"] for m in moving})
        if missing:
            raise SplitError(f"留言 {missing} 不属于事件 #{incident_id} (items not in this incident)")
        if not moving:
            raise SplitError("没有指定要拆出的留言 (no items given)")
        if len(moving) == len(members):
            raise SplitError("不能拆出事件的全部留言 (cannot split off every item of an incident)")
        group = [RawItem(m["source"], m["external_id"], m["title"], m["body"], occurred_at=m["occurred_at"],
                         reporter=m["reporter"], likes=m["likes"]) for m in moving]
        group.sort(key=lambda i: i.occurred_at or now)
        understood = pipeline._understand_many([group[0]])[0]
        row = _incident_row(group, understood, now)
        row["reasons"] = [*row["reasons"], {"stage": "dedupe", "text": f"由事件 #{incident_id} 人工拆分（{actor}）"}]
        [new_id] = await tx.incidents.insert_many([row])
        await tx.items.move([m["id"] for m in moving], new_id, f"由事件 #{incident_id} 人工拆分（{actor}）", now)
        await tx.incidents.refresh_stats({incident_id, new_id}, now)
        detail = {"from": incident_id, "to": new_id, "items": sorted(wanted)}
        await tx.audit.append_many([
            {"at": now, "actor": actor, "action": "incident.split", "entity": "incident",
             "entity_id": str(i), "detail": detail} for i in (incident_id, new_id)])
        await pipeline._open_deadlines(tx, [new_id], [row], now)
    return new_id
