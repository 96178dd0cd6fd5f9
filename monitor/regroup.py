"""A person corrects the grouping: split items out of an incident into a new one, or merge incidents that are
one real event. Both keep every clock: the deadlines of an event count from when it was first seen."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from monitor.core.model import Deadline, Incident, RawItem, Severity
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


# --------------------------------------------------------------------------- merge
class MergeError(ValueError):
    """A merge that cannot be done; `status` is the HTTP status the API answers with (404: no such incident)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class MergeResult:
    survivor: int
    merged: list[int]
    items_moved: int
    severity: tuple[int, int]  # the survivor's before and after
    first_seen_at: datetime
    deadlines: list[dict] = field(default_factory=list)  # per rule: what was kept, cancelled, satisfied

    def as_json(self) -> dict:
        return {"incident_id": self.survivor, "merged": self.merged, "items_moved": self.items_moved,
                "severity": Severity(self.severity[1]).zh, "first_seen_at": self.first_seen_at.isoformat(),
                "deadlines": self.deadlines}


def pick_survivor(incidents: list[Incident]) -> int:
    """The incident that was seen first (the lowest id on a tie): its clock is the event's clock."""
    return min(incidents, key=lambda i: (i.first_seen_at, i.id)).id


async def merge_incidents(pipeline: Pipeline, incident_ids: list[int], actor: str, reason: str = "",
                          survivor: int | None = None) -> MergeResult:
    """Merge incidents that are one real event into `survivor` (default: the first seen of them).

    Items, evidence and ledger lines move to the survivor. It keeps the earliest first-seen time (no clock
    restarts), the highest severity and every sensitive area. For each rule it keeps one deadline, with the
    earliest start and due time; the duplicates are cancelled with the reason, and evidence already recorded
    on any of them satisfies the survivor's (judged against the kept, earliest, due time). The others become
    status "merged" with `merged_into`, so the dashboard, the API and the ledger show one event."""
    incident_ids = list(incident_ids)
    if survivor is not None and survivor not in incident_ids:
        incident_ids.insert(0, survivor)
    twice = sorted({i for i in incident_ids if incident_ids.count(i) > 1})
    if twice:
        raise MergeError(f"不能把事件与自身合并：#{twice[0]} (cannot merge an incident with itself)")
    if len(incident_ids) < 2:
        raise MergeError("合并至少需要两个事件 (a merge needs at least two incidents)")
    now = pipeline.clock.now()
    actor = actor or "system"
    async with pipeline.store.write() as tx:
        await tx.items.lock_ingest()  # an import running meanwhile must not add items to an incident merged away
        found = await tx.incidents.lock_many(incident_ids)
        missing = [i for i in incident_ids if i not in found]
        if missing:
            raise MergeError(f"没有事件 {'、'.join(f'#{i}' for i in missing)} (no such incident)", 404)
        gone = [found[i] for i in incident_ids if found[i].status == "merged"]
        if gone:
            raise MergeError("；".join(f"事件 #{i.id} 已并入事件 #{i.merged_into}" for i in gone)
                             + " (already merged into another incident)")
        keep = found[survivor] if survivor is not None else found[pick_survivor(list(found.values()))]
        others = sorted((found[i] for i in incident_ids if i != keep.id), key=lambda i: (i.first_seen_at, i.id))
        other_ids = [i.id for i in others]
        everyone = [keep, *others]
        labels = "、".join(f"#{i}" for i in other_ids)

        # locked first: evidence recorded meanwhile is then either seen here or refused as merged (Service)
        deadlines = await tx.deadlines.lock_for_incidents([i.id for i in everyone])

        # 1. items, evidence and ledger lines
        moved = 0
        for o in others:
            moved += await tx.items.move_incident(o.id, keep.id, f"由事件 #{o.id} 人工合并（{actor}）", now)
            await tx.deadlines.move_evidence(o.id, keep.id)
            await tx.ledger.move(o.id, keep.id)

        # 2. deadlines: one per rule on the survivor
        summary = await _merge_deadlines(tx, keep, others, deadlines, now)

        # 3. the survivor: earliest clock, highest severity, every sensitive area
        severity = max(i.severity for i in everyone)
        first_seen = min(i.first_seen_at for i in everyone)
        published = min((i.published_at for i in everyone if i.published_at is not None), default=None)
        areas = list(dict.fromkeys(a for i in everyone for a in (i.sensitive_areas or [])))
        note = f"人工合并：{labels} 并入本事件（{actor}）" + (f"：{reason}" if reason else "")
        if severity > keep.severity:
            source = next(i.id for i in others if i.severity == severity)
            note += f"；等级取各事件最高：{Severity(keep.severity).zh}→{Severity(severity).zh}（事件 #{source}）"
        values = {"severity": severity, "first_seen_at": first_seen, "published_at": published,
                  "sensitive_areas": areas, "reasons": [*keep.reasons, {"stage": "dedupe", "text": note}],
                  "updated_at": now}
        if keep.status != "open" and any(i.status == "open" for i in others):
            values["status"] = "open"  # the event is still being handled
        if any(i.triage == "pending" for i in others) and keep.triage != "pending":
            values["triage"] = "pending"  # a question still open on a merged incident is now the survivor's
        await tx.incidents.update(keep.id, values)
        for o in others:
            gone_note = f"已并入事件 #{keep.id}（{actor}）" + (f"：{reason}" if reason else "")
            await tx.incidents.update(o.id, {
                "status": "merged", "merged_into": keep.id, "item_count": 0, "reporter_count": 0, "likes": 0,
                "reasons": [*o.reasons, {"stage": "dedupe", "text": gone_note}], "updated_at": now})
        await tx.incidents.refresh_stats([keep.id], now)

        # 4. the audit log of every incident involved
        detail = {"into": keep.id, "merged": other_ids, "reason": reason, "items_moved": moved,
                  "severity": [Severity(keep.severity).zh, Severity(severity).zh],
                  "first_seen_at": first_seen.isoformat(), "deadlines": summary}
        await tx.audit.append_many([
            {"at": now, "actor": actor, "action": "incident.merge", "entity": "incident", "entity_id": str(i.id),
             "detail": detail} for i in everyone])
    return MergeResult(keep.id, other_ids, moved, (keep.severity, severity), first_seen, summary)


async def _merge_deadlines(tx, keep: Incident, others: list[Incident], deadlines: list[Deadline],
                           now: datetime) -> list[dict]:
    """Per rule: the survivor keeps one deadline with the earliest start/due time of the live ones (its own
    row, or a merged incident's row moved over when it has none of that rule), satisfied by the earliest
    evidence any of them recorded; every other live one is cancelled with the reason."""
    by_rule: dict[str, list[Deadline]] = {}
    for d in deadlines:
        by_rule.setdefault(d.rule, []).append(d)
    summary = []
    for rule, ds in sorted(by_rule.items()):
        live = [d for d in ds if d.state != "cancelled"]
        own = next((d for d in ds if d.incident_id == keep.id), None)
        if not live or (len(live) == 1 and live[0] is own):
            continue  # nothing to merge for this rule
        earliest = min(live, key=lambda d: (d.starts_at, d.due_at, d.id))
        proofs = [d for d in live if d.state == "satisfied" and d.closed_at is not None]
        proof = min(proofs, key=lambda d: (d.closed_at, d.id)) if proofs else None
        kept = own or earliest
        values: dict = {"incident_id": keep.id, "starts_at": earliest.starts_at, "due_at": earliest.due_at,
                        "provisional_year": earliest.provisional_year, "updated_at": now}
        if proof is not None:
            values.update(state="satisfied", closed_at=proof.closed_at, evidence_id=proof.evidence_id, next_at=None)
            if proof is not kept:
                values["close_reason"] = f"由事件 #{proof.incident_id} 已登记的证据满足（合并）"
        else:  # all open: the escalation goes on where the earliest one's has got to
            values.update(state="open", closed_at=None, close_reason=None, evidence_id=None, policy=earliest.policy,
                          step=earliest.step, fires=earliest.fires, next_at=earliest.next_at,
                          acked_step=earliest.acked_step, acked_by=earliest.acked_by, acked_at=earliest.acked_at)
            if kept is not own and not rule.startswith("promise_"):
                values["department"] = keep.department  # moved over: the survivor's department answers for it
        if not await tx.deadlines.update(kept.id, values, {"state": kept.state, "incident_id": kept.incident_id}):
            raise RuntimeError(f"deadline {kept.id} changed while merging; retry")
        cancelled = []
        for d in live:
            if d is kept:
                continue
            ok = await tx.deadlines.update(d.id, {
                "state": "cancelled", "closed_at": now, "next_at": None, "close_reason": f"并入事件 #{keep.id}",
                "updated_at": now}, {"state": d.state})
            if not ok:
                raise RuntimeError(f"deadline {d.id} changed while merging; retry")
            cancelled.append(d.incident_id)
        summary.append({
            "rule": rule, "kept": kept.id, "clock_from": earliest.incident_id, "due_at": earliest.due_at.isoformat(),
            "state": values["state"], "cancelled_on": cancelled,
            "evidence_from": proof.incident_id if proof is not None else None,
            "on_time": (proof.closed_at <= earliest.due_at) if proof is not None else None})
    return summary
