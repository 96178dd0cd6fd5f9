"""The store's figures for /metrics and /readyz (monitor/web/metrics.py): counts and ages only, never a title,
a name or a text (the page is anonymous). Each read is one grouped query; every process on one database reads
the same rows, so they all report the same figures. Measured with 100,000 incidents in docs/operations.md."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, select

from monitor.store.repos import _Repo, _utc
from monitor.store.schema import deadlines, incidents, item_history, items, outbox, quarantine, sources

# What became of a stored report, from the reason the pipeline gave for its incident (monitor/pipeline.py):
# none = it started an incident; "与…内容相同" = the same text was already known; any other = it joined an
# incident as a near-duplicate or as a report of the same event (or was moved there by a person).
_OUTCOME = case((items.c.group_reason == "", "new"), (items.c.group_reason.like("与%内容相同"), "duplicate"),
                else_="grouped")


class MetricsRepo(_Repo):
    async def items(self) -> list[tuple[str, str, int]]:
        """(source, outcome, stored items): outcome new | duplicate | grouped. A full scan of items (no index
        holds the reason): the slowest read here, cached by the caller."""
        stmt = select(items.c.source, _OUTCOME, func.count()).group_by(items.c.source, _OUTCOME)
        rows = await self.conn.execute(stmt)
        return [(s, o, n) for s, o, n in rows]

    async def updates(self) -> list[tuple[str, int]]:
        """(source, changes recorded on known records): a re-imported or re-pushed record with new content."""
        rows = await self.conn.execute(select(items.c.source, func.count())
                                       .select_from(item_history.join(items, items.c.id == item_history.c.item_id))
                                       .group_by(items.c.source))
        return [(s, n) for s, n in rows]

    async def quarantine(self) -> list[tuple[str, int, int]]:
        """(source, rows ever quarantined, rows still waiting for a person)."""
        rows = await self.conn.execute(
            select(quarantine.c.source, func.count(), func.count().filter(quarantine.c.resolved_at.is_(None)))
            .group_by(quarantine.c.source))
        return [(s, n, u) for s, n, u in rows]

    async def incidents(self) -> list[tuple[str, int]]:
        """(status, incidents): open | closed | merged (the status index answers it)."""
        return [(s, n) for s, n in await self.conn.execute(
            select(incidents.c.status, func.count()).group_by(incidents.c.status))]

    async def triage_queue(self) -> int:
        """Open incidents waiting for a person (the triage queue of /api/v1/triage)."""
        stmt = select(func.count()).where(incidents.c.triage == "pending", incidents.c.status == "open")
        return (await self.conn.execute(stmt)).scalar_one()

    async def deadlines(self, now: datetime) -> list[tuple[str, int, int]]:
        """(rule, open deadlines, of which overdue at `now`)."""
        rows = await self.conn.execute(
            select(deadlines.c.rule, func.count(), func.count().filter(deadlines.c.due_at <= now))
            .where(deadlines.c.state == "open").group_by(deadlines.c.rule))
        return [(r, n, o) for r, n, o in rows]

    async def escalation_backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Escalation steps due and not yet fired, and the oldest one's time: the sweeper's lag."""
        due = and_(deadlines.c.state == "open", deadlines.c.next_at.is_not(None), deadlines.c.next_at <= now)
        n, oldest = (await self.conn.execute(select(func.count(), func.min(deadlines.c.next_at)).where(due))).one()
        return n, _utc(oldest)

    async def outbox(self) -> list[tuple[str, str, int, int]]:
        """(channel, status, messages, delivery attempts): status pending | sent | dead. A sent message's last
        attempt succeeded and every other attempt failed, so failures = attempts − sent."""
        rows = await self.conn.execute(
            select(outbox.c.channel, outbox.c.status, func.count(), func.coalesce(func.sum(outbox.c.attempts), 0))
            .group_by(outbox.c.channel, outbox.c.status))
        return [(c, s, n, a) for c, s, n, a in rows]

    async def outbox_oldest_due(self, now: datetime) -> datetime | None:
        """When the oldest pending message that is due now was due: the delivery loop's lag."""
        stmt = select(func.min(outbox.c.next_attempt_at)).where(outbox.c.status == "pending",
                                                                 outbox.c.next_attempt_at <= now)
        return _utc((await self.conn.execute(stmt)).scalar_one())

    async def sources(self) -> dict[str, dict]:
        """Each polled source's health columns by name (no cursor, no error text)."""
        cols = (sources.c.name, sources.c.failures, sources.c.last_ok_at, sources.c.updated_at,
                sources.c.next_poll_at)
        return {r.name: dict(r._mapping) for r in await self.conn.execute(select(*cols))}

    async def revision(self) -> str | None:
        """The schema revision the database is at (None: no schema yet)."""
        from monitor.store.db import _current

        return await self.conn.run_sync(_current)
