"""The now page's reads (当前, docs/dashboard.md): incidents in the order of what falls due first, true counts, the
overdue banner, the reminders, search over segmented words, and the change feed of the live stream.

Page order: incidents with an open deadline first, by their earliest open deadline (so overdue ones lead), then
the others by severity and last report. Pages follow a cursor (the last row's place in that order), so a long
list costs the same on its hundredth page as on its first; the indexes are in migration 0014."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import Integer, and_, any_, column, exists, func, literal, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY

from monitor.core.model import Deadline, Incident, OutboxMessage, from_row
from monitor.store.repos import _Repo, _chunks, _utc
from monitor.store.schema import UtcDateTime, deadlines, incident_changes, incidents, items, outbox

STATUSES = ("open", "closed", "merged")
_HEAVY = ("reasons", "event")  # JSON the page's rows do not show: decoding them was a third of a page's time
HITS_LISTED = 5000  # a search matching up to this many incidents is resolved to their ids once per transaction


@dataclass(frozen=True)
class NowFilter:
    """Which incidents a page or API call lists. `department` is also a liaison's only department."""

    status: str | None = "open"  # None: every status
    department: str | None = None
    severity: int | None = None
    source: str | None = None  # one of its items came from this source
    since: datetime | None = None  # first seen at or after
    until: datetime | None = None  # first seen before
    words: tuple[str, ...] = ()  # search: every word (or a word it begins) in one of its items


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class Cursor:
    """A row's place in page order: (due, id) for incidents with an open deadline, (severity, last seen, id) after."""

    id: int
    due: datetime | None = None
    severity: int = 0
    last_seen: datetime | None = None

    def encode(self) -> str:
        key = ["d", self.due.isoformat(), self.id] if self.due is not None else \
            ["n", self.severity, self.last_seen.isoformat(), self.id]
        return base64.urlsafe_b64encode(json.dumps(key, separators=(",", ":")).encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            key = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode())
            if key[0] == "d" and len(key) == 3:
                due, id_ = _aware(key[1]), key[2]
                cursor = cls(id_, due=due)
            elif key[0] == "n" and len(key) == 4 and type(key[1]) is int:
                cursor = cls(key[3], severity=key[1], last_seen=_aware(key[2]))
            else:
                raise ValueError(key)
            if type(cursor.id) is not int or not 0 < cursor.id < 2**31:
                raise ValueError(key)
            return cursor
        except (ValueError, TypeError, IndexError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadCursor(str(exc)) from None


def _aware(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("cursor time without zone")
    return when


@dataclass
class Row:
    """One incident of the page with what the page shows of its deadlines."""

    incident: Incident
    next_due: datetime | None
    deadlines: list[Deadline]

    @property
    def cursor(self) -> Cursor:
        i = self.incident
        return Cursor(i.id, self.next_due, i.severity, i.last_seen_at)


class DashboardRepo(_Repo):
    # ------------------------------------------------------------------ the list
    async def page(self, f: NowFilter, limit: int, after: Cursor | None = None, offset: int = 0, full: bool = True
                   ) -> tuple[list[Row], Cursor | None]:
        """`limit` rows after `after` (or after skipping `offset`), and the cursor of the next page (None: no more).
        `full=False` leaves out what the page does not show (reasons, event signature): a third of the time."""
        found: list[tuple[Incident, datetime | None]] = []
        if after is None or after.due is not None:
            skip_due = offset
            if offset:
                due_total = await self._count(f, with_due=True)
                skip_due = min(offset, due_total)
                offset -= skip_due
            found += await self._with_due(f, limit + 1, after, skip_due, full, await self._hits(f))
        if len(found) <= limit:
            found += [(i, None) for i in await self._without_due(f, limit + 1 - len(found),
                                                                 after if after and after.due is None else None,
                                                                 offset, full, await self._hits(f))]
        more = len(found) > limit
        found = found[:limit]
        by_incident = await self.open_deadlines([i.id for i, _ in found])
        rows = [Row(i, due, by_incident.get(i.id, [])) for i, due in found]
        return rows, (rows[-1].cursor if more and rows else None)

    @staticmethod
    def _columns(full: bool) -> list:
        return list(incidents.c) if full else [c for c in incidents.c if c.name not in _HEAVY]

    @staticmethod
    def _incident(mapping) -> Incident:
        return from_row(Incident, {"reasons": [], "event": None, **mapping})

    async def _with_due(self, f: NowFilter, limit: int, after: Cursor | None, offset: int, full: bool,
                        hits: list[int] | None = None):
        """Incidents by their earliest open deadline: open deadlines are read in due order (index) and each counts
        only if no open deadline of its incident comes before it, so a page reads a page's worth, not them all."""
        d, earlier = deadlines, deadlines.alias("earlier")
        first = ~exists().where(earlier.c.incident_id == d.c.incident_id, earlier.c.state == "open",
                                or_(earlier.c.due_at < d.c.due_at,
                                    and_(earlier.c.due_at == d.c.due_at, earlier.c.id < d.c.id)))
        stmt = (select(*self._columns(full), d.c.due_at.label("next_due"))
                .select_from(d.join(incidents, incidents.c.id == d.c.incident_id))
                .where(d.c.state == "open", first, *self._conditions(f, hits)))
        if after is not None:
            stmt = stmt.where(tuple_(d.c.due_at, d.c.incident_id) > tuple_(literal(after.due, UtcDateTime()),
                                                                           literal(after.id)))
        stmt = stmt.order_by(d.c.due_at, d.c.incident_id).limit(limit).offset(offset)
        out = []
        for r in await self.conn.execute(stmt):
            m = dict(r._mapping)
            due = m.pop("next_due")
            out.append((self._incident(m), _utc(due)))
        return out

    async def _without_due(self, f: NowFilter, limit: int, after: Cursor | None, offset: int,
                           full: bool, hits: list[int] | None = None) -> list[Incident]:
        stmt = select(*self._columns(full)).where(~self._has_open_deadline(), *self._conditions(f, hits))
        if after is not None:
            stmt = stmt.where(tuple_(incidents.c.severity, incidents.c.last_seen_at, incidents.c.id)
                              < tuple_(literal(after.severity), literal(after.last_seen, UtcDateTime()),
                                       literal(after.id)))
        stmt = stmt.order_by(incidents.c.severity.desc(), incidents.c.last_seen_at.desc(), incidents.c.id.desc())
        return [self._incident(r._mapping) for r in await self.conn.execute(stmt.limit(limit).offset(offset))]

    @staticmethod
    def _has_open_deadline():
        return exists().where(deadlines.c.incident_id == incidents.c.id, deadlines.c.state == "open")

    def _conditions(self, f: NowFilter, hits: list[int] | None = None) -> list:
        """The filter as WHERE clauses; `hits`: the search's incidents already found (self._hits)."""
        out = []
        if f.status:
            # with a search's ids the planner must start from them, not from the status index (70,000 open rows):
            # `status || ''` is the same test that no index answers
            out.append((incidents.c.status.concat("") if hits is not None else incidents.c.status) == f.status)
        if f.department:
            out.append(incidents.c.department == f.department)
        if f.severity:
            out.append(incidents.c.severity == f.severity)
        if f.since is not None:
            out.append(incidents.c.first_seen_at >= f.since)
        if f.until is not None:
            out.append(incidents.c.first_seen_at < f.until)
        if f.source:
            out.append(exists().where(items.c.incident_id == incidents.c.id, items.c.source == f.source))
        if f.words:
            out.append(self._among(hits) if hits is not None else incidents.c.id.in_(self._matching_incidents(f.words)))
        return out

    def _among(self, ids: list[int]):
        """incidents.id in `ids` as one parameter (a JSON array on SQLite, an int[] on PostgreSQL): a thousand
        bound values cost more to compile than the query takes to run."""
        if self.conn.dialect.name == "sqlite":
            return incidents.c.id.in_(select(column("value", Integer))
                                      .select_from(func.json_each(literal(json.dumps(ids)))))
        return incidents.c.id == any_(literal(ids, ARRAY(Integer)))

    async def _hits(self, f: NowFilter) -> list[int] | None:
        """The incidents a search matches, read once per transaction (a page, its count and its counts by level
        asked the full-text index 3–4 times); None when they are too many to list (the subquery is used then)."""
        if not f.words:
            return None
        memo = self.__dict__.setdefault("_hit_memo", {})
        if f.words not in memo:
            stmt = select(self._matching_incidents(f.words).subquery().c.incident_id).distinct().limit(HITS_LISTED + 1)
            ids = [r[0] for r in await self.conn.execute(stmt) if r[0] is not None]
            memo[f.words] = sorted(ids) if len(ids) <= HITS_LISTED else None
        return memo[f.words]

    def _matching_incidents(self, words: Sequence[str]):
        """Incidents with an item that has every word (or a longer word beginning with it): FTS5 on SQLite, the
        GIN-indexed tsvector on PostgreSQL, over the same segmented words."""
        if self.conn.dialect.name == "sqlite":
            query = " ".join(f'"{w}"*' for w in words)  # words are \\w+ (monitor/web/search.py): nothing to escape
            hits = (text("SELECT rowid FROM items_fts WHERE items_fts MATCH :fts").bindparams(fts=query)
                    .columns(column("rowid", Integer)))
            return select(items.c.incident_id).where(items.c.id.in_(hits))
        query = " & ".join(f"'{w}':*" for w in words)
        return select(items.c.incident_id).where(
            text("to_tsvector('simple', items.tokens) @@ to_tsquery('simple', :tsq)").bindparams(tsq=query))

    # ------------------------------------------------------------------ counts
    async def count(self, f: NowFilter) -> int:
        return await self._count(f)

    async def _count(self, f: NowFilter, with_due: bool = False) -> int:
        stmt = select(func.count()).select_from(incidents).where(*self._conditions(f, await self._hits(f)))
        if with_due:
            stmt = stmt.where(self._has_open_deadline())
        return (await self.conn.execute(stmt)).scalar_one()

    async def by_severity(self, f: NowFilter) -> list[tuple[int, int]]:
        """(severity, incidents) of the filter, any severity; most severe first."""
        f = NowFilter(f.status, f.department, None, f.source, f.since, f.until, f.words)
        stmt = (select(incidents.c.severity, func.count()).where(*self._conditions(f, await self._hits(f)))
                .group_by(incidents.c.severity).order_by(incidents.c.severity.desc()))
        return [(s, n) for s, n in await self.conn.execute(stmt)]

    async def by_department(self, status: str | None = "open", limit: int = 30) -> list[tuple[str, int]]:
        stmt = select(incidents.c.department, func.count()).group_by(incidents.c.department)
        if status:
            stmt = stmt.where(incidents.c.status == status)
        stmt = stmt.order_by(func.count().desc(), incidents.c.department).limit(limit)
        return [(d, n) for d, n in await self.conn.execute(stmt)]

    async def deadline_counts(self, now: datetime, department: str | None = None) -> dict[str, int]:
        """Open, overdue and satisfied deadlines (of one department's incidents, for a liaison)."""
        stmt = select(
            func.count().filter(deadlines.c.state == "open"),
            func.count().filter(and_(deadlines.c.state == "open", deadlines.c.due_at <= now)),
            func.count().filter(deadlines.c.state == "satisfied"),
        )
        if department:
            stmt = stmt.where(deadlines.c.department == department)
        open_, overdue, satisfied = (await self.conn.execute(stmt)).one()
        return {"open": open_, "overdue": overdue, "satisfied": satisfied}

    async def unacknowledged_overdue(self, now: datetime, department: str | None = None
                                     ) -> tuple[int, Deadline | None]:
        """The banner: open deadlines past due that nobody acknowledged since they fell due (an acknowledgement
        before that was of an earlier reminder), how many and the earliest."""
        cond = [deadlines.c.state == "open", deadlines.c.due_at <= now,
                or_(deadlines.c.acked_at.is_(None), deadlines.c.acked_at < deadlines.c.due_at)]
        if department:
            cond.append(deadlines.c.department == department)
        n = (await self.conn.execute(select(func.count()).select_from(deadlines).where(*cond))).scalar_one()
        if not n:
            return 0, None
        first = (await self.conn.execute(select(deadlines).where(*cond)
                                         .order_by(deadlines.c.due_at, deadlines.c.id).limit(1))).first()
        return n, from_row(Deadline, first._mapping)

    # ------------------------------------------------------------------ around the list
    async def open_deadlines(self, incident_ids: Sequence[int]) -> dict[int, list[Deadline]]:
        out: dict[int, list[Deadline]] = {}
        for chunk in _chunks(sorted(set(incident_ids))):
            rows = await self.conn.execute(
                select(deadlines).where(deadlines.c.state == "open", deadlines.c.incident_id.in_(chunk))
                .order_by(deadlines.c.due_at, deadlines.c.id))
            for r in rows:
                out.setdefault(r.incident_id, []).append(from_row(Deadline, r._mapping))
        return out

    async def reminders(self, department: str | None = None, limit: int = 10) -> list[OutboxMessage]:
        """The latest reminders that landed on the dashboard, and any message that could not be delivered."""
        stmt = select(outbox).where(or_(outbox.c.channel == "dashboard", outbox.c.status == "dead"))
        if department:
            stmt = stmt.join(incidents, incidents.c.id == outbox.c.incident_id).where(
                incidents.c.department == department)
        stmt = stmt.order_by(outbox.c.id.desc()).limit(limit)
        return [from_row(OutboxMessage, r._mapping) for r in await self.conn.execute(stmt)]

    async def sources(self) -> list[str]:
        """Every source items came from (the filter's choices)."""
        rows = await self.conn.execute(select(items.c.source).distinct().order_by(items.c.source).limit(500))
        return [r[0] for r in rows]

    # ------------------------------------------------------------------ the live stream
    async def last_change(self) -> int:
        return (await self.conn.execute(select(func.max(incident_changes.c.id)))).scalar_one() or 0

    async def first_change(self) -> int:
        return (await self.conn.execute(select(func.min(incident_changes.c.id)))).scalar_one() or 0

    async def changes_after(self, change_id: int, limit: int = 5000) -> list[tuple[int, int, str | None]]:
        """(change id, incident id, department it left) after `change_id`, oldest first."""
        stmt = (select(incident_changes.c.id, incident_changes.c.incident_id, incident_changes.c.was_department)
                .where(incident_changes.c.id > change_id).order_by(incident_changes.c.id).limit(limit))
        return [tuple(r) for r in await self.conn.execute(stmt)]

    async def prune_changes(self, keep: int) -> int:
        """Forget all but the last `keep` changes (the newest always stays: ids never restart)."""
        top = await self.last_change()
        if top <= keep:
            return 0
        result = await self.conn.execute(incident_changes.delete().where(incident_changes.c.id <= top - keep))
        return result.rowcount or 0

    async def rows(self, incident_ids: Sequence[int]) -> dict[int, Row]:
        """The page's rows of these incidents, whatever their status."""
        found = await self.open_deadlines(incident_ids)
        out: dict[int, Row] = {}
        for chunk in _chunks(sorted(set(incident_ids))):
            for r in await self.conn.execute(select(*self._columns(False)).where(incidents.c.id.in_(chunk))):
                ds = found.get(r.id, [])
                out[r.id] = Row(self._incident(r._mapping), min((d.due_at for d in ds), default=None), ds)
        return out

    async def fell_due(self, after: datetime, upto: datetime) -> list[int]:
        """Incidents with an open deadline that fell due in (after, upto]."""
        stmt = (select(deadlines.c.incident_id).distinct()
                .where(deadlines.c.state == "open", deadlines.c.due_at > after, deadlines.c.due_at <= upto))
        return [r[0] for r in await self.conn.execute(stmt)]

    # ------------------------------------------------------------------ the search indexer
    async def unindexed(self, limit: int) -> list[tuple[int, str, str]]:
        """Items whose words are not stored yet, newest first (they are what people look for)."""
        stmt = (select(items.c.id, items.c.title, items.c.body).where(items.c.tokens.is_(None))
                .order_by(items.c.id.desc()).limit(limit))
        return [tuple(r) for r in await self.conn.execute(stmt)]

    async def set_tokens(self, rows: list[tuple[int, str, str, str]]) -> int:
        """Store (id, title, body, words): only where the text is still the one segmented."""
        from sqlalchemy import bindparam, update

        if not rows:
            return 0
        stmt = (update(items).where(items.c.id == bindparam("b_id"), items.c.tokens.is_(None),
                                    items.c.title == bindparam("b_title"), items.c.body == bindparam("b_body"))
                .values(tokens=bindparam("b_tokens")))
        await self.conn.execute(stmt, [{"b_id": i, "b_title": t, "b_body": b, "b_tokens": w} for i, t, b, w in rows])
        return len(rows)
