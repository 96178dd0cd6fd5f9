"""The reads behind the office pages: for statistics (统计, 月检查/季通报) incidents per Beijing day and severity and
reports per day over a period, optionally of one department (a liaison's view), grouped in the database (a year
of reports is not read row by row; deadlines and their outcomes come from monitor/store/reports.py); the triage
queue; the newest quarantined rows."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select

from monitor.core.model import Incident, from_row
from monitor.store.repos import _Repo
from monitor.store.schema import incidents, items, quarantine


def stats(tx) -> "StatsRepo":
    """The statistics reads in the transaction `tx` (a monitor.store.db.Tx)."""
    return StatsRepo(tx.conn)


class StatsRepo(_Repo):
    def _day(self, column):
        """The Beijing calendar day of a UTC time column, as the database computes it."""
        if self.conn.dialect.name == "postgresql":
            return func.date(func.timezone("Asia/Shanghai", column))
        return func.date(column, "+8 hours")  # SQLite keeps naive UTC text; Beijing has no DST

    async def incidents_by_day(self, start: datetime, end: datetime, department: str | None = None
                               ) -> dict[tuple[date, int], int]:
        """(Beijing day, severity) → incidents first seen then in [start, end), merged ones left out (one event
        counts once): the page's days and severities from one pass."""
        day = self._day(incidents.c.first_seen_at)
        stmt = (select(day, incidents.c.severity, func.count())
                .where(incidents.c.first_seen_at >= start, incidents.c.first_seen_at < end,
                       incidents.c.status != "merged").group_by(day, incidents.c.severity))
        if department is not None:
            stmt = stmt.where(incidents.c.department == department)
        return {(_date(d), s): n for d, s, n in await self.conn.execute(stmt)}

    async def reports_by_day(self, start: datetime, end: datetime, department: str | None = None
                             ) -> dict[date, int]:
        """Reports (items) made each day of [start, end): their own time, else when they arrived."""
        seen = func.coalesce(items.c.occurred_at, items.c.received_at)
        day = self._day(seen)
        stmt = select(day, func.count()).where(seen >= start, seen < end).group_by(day)
        if department is not None:
            stmt = stmt.join(incidents, incidents.c.id == items.c.incident_id).where(
                incidents.c.department == department)
        return {_date(d): n for d, n in await self.conn.execute(stmt)}

    def _pending(self, department: str | None):
        # the status test is an expression, not a bare column, so that SQLite searches the small triage index
        # rather than the status index (most incidents are open; few wait for triage)
        where = [incidents.c.triage == "pending", func.lower(incidents.c.status) == "open"]
        if department is not None:
            where.append(incidents.c.department == department)
        return where

    async def pending_triage(self, department: str | None = None) -> int:
        """Open incidents waiting for a person (the triage queue), of one department or all."""
        stmt = select(func.count()).select_from(incidents).where(*self._pending(department))
        return (await self.conn.execute(stmt)).scalar_one()

    async def triage_queue(self, department: str | None, limit: int, offset: int) -> list[Incident]:
        """The queue in the order of the incident lists: most severe, then most recently seen."""
        stmt = (select(incidents).where(*self._pending(department))
                .order_by(incidents.c.severity.desc(), incidents.c.last_seen_at.desc(), incidents.c.id.desc())
                .limit(limit).offset(offset))
        return [from_row(Incident, r._mapping) for r in await self.conn.execute(stmt)]

    async def latest_quarantine(self, limit: int) -> list[dict]:
        """The newest unresolved quarantined rows, without their raw values (the sources page lists them)."""
        stmt = (select(quarantine.c.id, quarantine.c.source, quarantine.c.file, quarantine.c.row_no,
                       quarantine.c.reason, quarantine.c.created_at)
                .where(quarantine.c.resolved_at.is_(None)).order_by(quarantine.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]


def _date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
