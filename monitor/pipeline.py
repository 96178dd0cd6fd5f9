"""The one-way pipeline: raw items → normalised, de-duplicated, understood → incidents and deadlines (rows).

One call of `ingest` is one transaction: a batch is stored completely or not at all, so an interrupted
import resumes by simply importing again (items are keyed by source and external id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from loguru import logger

from monitor import deadlines as deadline_rules
from monitor.clock import Clock
from monitor.model import RawItem, Severity, Understanding
from monitor.normalize import clean_display, content_hash
from monitor.durations import Duration
from monitor.escalator import initial_state
from monitor.settings import EscalationStep, RuleConfig
from monitor.sources.hotline_export import Reject
from monitor.store import Store, Tx
from monitor.understand import Understander
from monitor.workcal import WorkCalendar

# Fields whose change on a re-imported record is an update worth a history entry.
TRACKED = ("title", "body", "status", "handler", "reply", "replied_at", "likes", "location")


@dataclass
class ImportStats:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    incidents: int = 0
    deadlines: int = 0
    seconds: float = 0.0
    new_incident_ids: list[int] = field(default_factory=list)

    def add(self, other: "ImportStats") -> None:
        for name in ("read", "inserted", "updated", "duplicates", "quarantined", "incidents", "deadlines",
                     "seconds"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.new_incident_ids.extend(other.new_incident_ids)

    def as_json(self) -> dict:
        return {"read": self.read, "inserted": self.inserted, "updated": self.updated,
                "duplicates": self.duplicates, "quarantined": self.quarantined, "incidents": self.incidents,
                "seconds": round(self.seconds, 3)}


@dataclass
class Pipeline:
    store: Store
    clock: Clock
    understander: Understander
    rules: list[RuleConfig]
    calendar: WorkCalendar
    policies: dict[str, list[EscalationStep]] = field(default_factory=dict)
    horizon: Duration = Duration(7, "d")

    async def ingest(self, records: list[RawItem | Reject], source: str, file: str = "") -> ImportStats:
        started = time.perf_counter()
        stats = ImportStats(read=len(records))
        now = self.clock.now()
        rejects = [r for r in records if isinstance(r, Reject)]
        latest: dict[tuple[str, str], RawItem] = {}
        for r in records:
            if isinstance(r, RawItem):
                if (r.source, r.external_id) in latest:
                    stats.duplicates += 1  # the same record twice in one batch: the later one wins
                latest[(r.source, r.external_id)] = r
        async with self.store.write() as tx:
            if rejects:
                await tx.items.quarantine([
                    {"source": source, "file": file, "row_no": r.row_no, "reason": r.reason, "raw": r.raw,
                     "created_at": now} for r in rejects
                ])
                stats.quarantined = len(rejects)
            by_source: dict[str, list[RawItem]] = {}
            for item in latest.values():
                by_source.setdefault(item.source, []).append(item)
            touched: set[int] = set()
            for src, batch in by_source.items():
                await self._ingest_source(tx, src, batch, now, stats, touched)
            if touched:
                await tx.incidents.refresh_stats(touched, now)
        stats.seconds = time.perf_counter() - started
        return stats

    async def _ingest_source(self, tx: Tx, source: str, batch: list[RawItem], now: datetime,
                             stats: ImportStats, touched: set[int]) -> None:
        known = await tx.items.by_external_ids(source, [i.external_id for i in batch])
        fresh: list[tuple[RawItem, str]] = []
        history: list[dict] = []
        for item in batch:
            item.title, item.body = clean_display(item.title), clean_display(item.body)
            digest = content_hash(item.title, item.body)
            old = known.get(item.external_id)
            if old is None:
                fresh.append((item, digest))
                continue
            changes = _changes(old, item)
            if not changes:
                stats.duplicates += 1
                continue
            values = {f: getattr(item, f) for f in changes} | {"content_hash": digest, "updated_at": now}
            await tx.items.update(old["id"], values)
            history.append({"item_id": old["id"], "at": now, "changes": {
                f: [_jsonable(old[f]), _jsonable(getattr(item, f))] for f in changes}})
            stats.updated += 1
            if old["incident_id"]:
                touched.add(old["incident_id"])
        await tx.items.add_history(history)
        if not fresh:
            return

        # Exact duplicates: the same text already belongs to an incident, or appears earlier in this batch.
        by_hash = await tx.items.incidents_by_hash(sorted({d for _, d in fresh}))
        new_groups: dict[str, list[RawItem]] = {}
        rows: list[dict] = []
        for item, digest in fresh:
            if digest in by_hash:
                rows.append(_item_row(item, digest, now, by_hash[digest], "与已有留言内容相同"))
                touched.add(by_hash[digest])
                stats.duplicates += 1
            else:
                if digest in new_groups:
                    stats.duplicates += 1
                else:
                    stats.inserted += 1
                new_groups.setdefault(digest, []).append(item)

        digests = list(new_groups)
        understood = [self._understand(new_groups[d][0]) for d in digests]
        incident_rows = [_incident_row(new_groups[d], u, now) for d, u in zip(digests, understood)]
        ids = await tx.incidents.insert_many(incident_rows)
        for digest, incident_id, u in zip(digests, ids, understood):
            for n, item in enumerate(new_groups[digest]):
                rows.append(_item_row(item, digest, now, incident_id, "" if n == 0 else "与同批留言内容相同",
                                      u.domain, u.domain_confidence))
            touched.add(incident_id)
        await tx.items.insert_many(rows)
        stats.incidents += len(ids)
        stats.new_incident_ids.extend(ids)
        stats.deadlines += await self._open_deadlines(tx, ids, incident_rows, now)

    def _understand(self, item: RawItem) -> Understanding:
        return self.understander.understand(item.title, item.body)

    async def _open_deadlines(self, tx: Tx, ids: list[int], incident_rows: list[dict], now: datetime) -> int:
        rows, audit = [], []
        oldest = Duration(-self.horizon.amount, self.horizon.unit).after(now, self.calendar)
        for incident_id, inc in zip(ids, incident_rows):
            start = inc["published_at"] or inc["first_seen_at"]
            plans = deadline_rules.plan(self.rules, severity=Severity(inc["severity"]), kind=inc["kind"],
                                        domain=inc["domain"], starts_at=start, calendar=self.calendar)
            if plans and start < oldest:
                note = {"stage": "deadline", "text": f"首次发现于{self.horizon.describe_zh()}之前（历史数据），未开启期限"}
                await tx.incidents.update(incident_id, {"reasons": [*inc["reasons"], note]})
                continue
            for p in plans:
                rows.append(deadline_row(incident_id, p, inc["department"], now,
                                         initial_state(self.policies, self.calendar, p.policy, p.due_at)))
                audit.append({"at": now, "actor": "system:pipeline", "action": "deadline.opened",
                              "entity": "incident", "entity_id": str(incident_id),
                              "detail": {"rule": p.rule, "due_at": p.due_at.isoformat()}})
        opened = await tx.deadlines.open_many(rows)
        await tx.audit.append_many(audit)
        if opened:
            logger.info("opened {} deadlines for {} incidents", len(opened), len(ids))
        return len(opened)


def deadline_row(incident_id: int, p: deadline_rules.DeadlinePlan, department: str, now: datetime,
                 escalation_state: dict) -> dict:
    return {"incident_id": incident_id, "rule": p.rule, "title": p.title, "department": department,
            "starts_at": p.starts_at, "due_at": p.due_at, "state": "open", "satisfied_by": p.satisfied_by,
            "policy": p.policy, **escalation_state, "created_at": now, "updated_at": now}


def _changes(old: dict, item: RawItem) -> list[str]:
    return [f for f in TRACKED if (old.get(f) or None) != (getattr(item, f) or None)]


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _item_row(item: RawItem, digest: str, now: datetime, incident_id: int, reason: str,
              domain: str = "", confidence: float = 0.0) -> dict:
    return {
        "source": item.source, "external_id": item.external_id, "content_hash": digest, "title": item.title,
        "body": item.body, "location": item.location, "reporter": item.reporter, "channel": item.channel,
        "handler": item.handler, "status": item.status, "likes": item.likes, "reply": item.reply,
        "replied_at": item.replied_at, "occurred_at": item.occurred_at, "received_at": now, "updated_at": now,
        "domain": domain, "domain_confidence": confidence, "incident_id": incident_id, "group_reason": reason,
        "raw": item.extra.get("cells", {}),
    }


def _incident_row(group: list[RawItem], u: Understanding, now: datetime) -> dict:
    first = group[0]
    seen = min((i.occurred_at or now) for i in group)
    title = first.title or first.body[:40]
    return {
        "title": title[:300], "kind": u.kind, "status": "open", "triage": "pending" if u.needs_triage else "none",
        "domain": u.domain, "domain_confidence": u.domain_confidence, "department": u.department,
        "co_departments": u.co_departments, "region": u.region, "severity": int(u.severity),
        "response_type": u.response_type, "sensitive_areas": u.sensitive_areas,
        "reasons": [r.as_dict() for r in u.reasons], "first_seen_at": seen, "last_seen_at": seen,
        "published_at": seen if u.kind == "policy" else None, "item_count": len(group),
        "reporter_count": len({i.reporter for i in group if i.reporter}) or 1,
        "likes": sum(i.likes for i in group), "created_at": now, "updated_at": now,
    }
