"""The reads behind the daily digest and the 月检查/季通报 reports (monitor/reports): what came in over a window,
which deadlines were open, met or missed, and what the outbox already holds for a digest date."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import and_, case, func, or_, select

from monitor.core.model import Deadline, Incident, OutboxMessage, from_row
from monitor.store.repos import _Repo, _chunks
from monitor.store.schema import deadlines, incidents, items, ledger, outbox


class ReportRepo(_Repo):
    # -- incidents
    async def new_incidents(self, start: datetime, end: datetime, seen_since: datetime) -> list[Incident]:
        """Incidents that arrived in [start, end) about something first seen at or after `seen_since` (older
        ones are a historical import), without those merged into another (one event counts once)."""
        rows = await self.conn.execute(
            select(incidents).where(incidents.c.created_at >= start, incidents.c.created_at < end,
                                    incidents.c.first_seen_at >= seen_since, incidents.c.status != "merged")
            .order_by(incidents.c.severity.desc(), incidents.c.first_seen_at, incidents.c.id))
        return [from_row(Incident, r._mapping) for r in rows]

    async def arrivals(self, bounds: Sequence[datetime], horizon: timedelta) -> tuple[list[int], list[int]]:
        """For each window [bounds[i], bounds[i+1]): (new incidents, historical ones) that arrived in it, merged
        ones left out. New = first seen no more than `horizon` before the window starts. One scan."""
        cols = []
        for lo, hi in zip(bounds, bounds[1:]):
            inside = and_(incidents.c.created_at >= lo, incidents.c.created_at < hi)
            recent = incidents.c.first_seen_at >= lo - horizon
            cols.append(func.coalesce(func.sum(case((and_(inside, recent), 1), else_=0)), 0))
            cols.append(func.coalesce(func.sum(case((and_(inside, ~recent), 1), else_=0)), 0))
        row = (await self.conn.execute(
            select(*cols).where(incidents.c.created_at >= bounds[0], incidents.c.created_at < bounds[-1],
                                incidents.c.status != "merged"))).one()
        values = [int(v) for v in row]
        return values[0::2], values[1::2]

    async def triage_pending(self) -> int:
        stmt = select(func.count()).select_from(incidents).where(incidents.c.triage == "pending",
                                                                 incidents.c.status == "open")
        return (await self.conn.execute(stmt)).scalar_one()

    async def places(self, incident_ids: Iterable[int]) -> dict[int, list[str]]:
        """incident → the places its reports name (事发地址), distinct, in order of first mention."""
        out: dict[int, list[str]] = {}
        for chunk in _chunks(sorted(set(incident_ids))):
            rows = await self.conn.execute(
                select(items.c.incident_id, items.c.location)
                .where(items.c.incident_id.in_(chunk), items.c.location != "").order_by(items.c.id))
            for incident_id, location in rows:
                seen = out.setdefault(incident_id, [])
                if location not in seen:
                    seen.append(location)
        return out

    async def incident_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """Department → incidents first seen in [start, end), merged ones left out."""
        rows = await self.conn.execute(
            select(incidents.c.department, func.count())
            .where(incidents.c.first_seen_at >= start, incidents.c.first_seen_at < end,
                   incidents.c.status != "merged")
            .group_by(incidents.c.department))
        return {d: n for d, n in rows}

    # -- deadlines
    async def deadlines_around(self, as_of: datetime, since: datetime) -> list[Deadline]:
        """Deadlines that existed at `as_of` and were open then, or closed or came due since `since`
        (cancelled ones are never counted and not read)."""
        rows = await self.conn.execute(
            select(deadlines).where(
                deadlines.c.state != "cancelled", deadlines.c.created_at <= as_of,
                or_(deadlines.c.state == "open", deadlines.c.closed_at > as_of, deadlines.c.closed_at >= since,
                    deadlines.c.due_at >= since))
            .order_by(deadlines.c.due_at, deadlines.c.id))
        return [from_row(Deadline, r._mapping) for r in rows]

    async def deadlines_due(self, start: datetime, end: datetime) -> list[Deadline]:
        """Every deadline due in [start, end), whatever its state."""
        rows = await self.conn.execute(
            select(deadlines).where(deadlines.c.due_at >= start, deadlines.c.due_at < end)
            .order_by(deadlines.c.due_at, deadlines.c.id))
        return [from_row(Deadline, r._mapping) for r in rows]

    async def incidents(self, ids: Iterable[int]) -> dict[int, Incident]:
        out: dict[int, Incident] = {}
        for chunk in _chunks(sorted(set(ids))):
            for r in await self.conn.execute(select(incidents).where(incidents.c.id.in_(chunk))):
                out[r.id] = from_row(Incident, r._mapping)
        return out

    async def first_responses(self, incident_ids: Iterable[int]) -> dict[int, datetime]:
        """incident → its first response in the ledger (a release, press conference, interpretation…; promises
        are not responses)."""
        out: dict[int, datetime] = {}
        for chunk in _chunks(sorted(set(incident_ids))):
            rows = await self.conn.execute(
                select(ledger.c.incident_id, ledger.c.responded_at)
                .where(ledger.c.incident_id.in_(chunk), ledger.c.promise == ""))
            for incident_id, at in rows:
                if incident_id not in out or at < out[incident_id]:
                    out[incident_id] = at
        return out

    # -- the outbox of a digest date
    async def outbox_with_prefix(self, prefix: str) -> list[OutboxMessage]:
        rows = await self.conn.execute(select(outbox).where(outbox.c.key.like(_like(prefix) + "%", escape="\\"))
                                       .order_by(outbox.c.id))
        return [from_row(OutboxMessage, r._mapping) for r in rows]

    async def outbox_by_keys(self, keys: Sequence[str]) -> list[OutboxMessage]:
        out: list[OutboxMessage] = []
        for chunk in _chunks(list(dict.fromkeys(keys))):
            rows = await self.conn.execute(select(outbox).where(outbox.c.key.in_(chunk)).order_by(outbox.c.id))
            out += [from_row(OutboxMessage, r._mapping) for r in rows]
        return out


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
