"""Repositories: the queries the rest of the program needs, each bound to one transaction (see db.Tx)."""

from __future__ import annotations

import itertools
import json
import operator
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import JSON, LargeBinary, and_, case, delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.core.excerpt import EXCERPT, bound_record
from monitor.core.model import Deadline, Incident, OutboxMessage, from_row
from monitor.store.schema import (
    UTC,
    UtcDateTime,
    audit_log,
    corrections,
    deadlines,
    evidence,
    incidents,
    item_history,
    items,
    minhash_changes,
    ledger,
    outbox,
    quarantine,
    roster,
    sources,
    users,
)

_PG_INGEST_LOCK = 73_510_002  # pg_advisory_xact_lock key held by each ingest transaction
_PG_PEOPLE_LOCK = 73_510_003  # held while users and the config roster are copied from the config
_CHUNK = 900  # bound parameters per IN (…) list; SQLite's limit is far above, PG's too
_SQLITE_PARAMS = 999  # bound parameters per multi-row INSERT: SQLite's lowest compiled-in limit


def _chunks(values: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    """Values for IN (…) lists, at most `size` at a time, each list padded (its last value repeated, which
    changes no result) to a power of two or `size`. Every list length is a new SQL text, and the driver keeps
    128 prepared statements per connection — ≈170 bytes per parameter: thousands of distinct lengths held
    tens of MB per connection during a long import."""
    for i in range(0, len(values), size):
        chunk = list(values[i : i + size])
        padded = min(size, 1 << (len(chunk) - 1).bit_length())
        yield chunk + chunk[-1:] * (padded - len(chunk))


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    def _insert(self, table):
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    async def _insert_ignore(self, table, rows: list[dict], conflict: list[str]) -> list[int]:
        """Insert rows, skipping those that collide on `conflict`; returns the new ids in order."""
        if not rows:
            return []
        stmt = self._insert(table).on_conflict_do_nothing(index_elements=conflict).returning(table.c.id)
        result = await self.conn.execute(stmt, rows)
        return [r[0] for r in result]

    async def _insert_returning_ids(self, table, rows: list[dict]) -> list[int]:
        if not rows:
            return []
        stmt = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        result = await self.conn.execute(stmt, rows)
        return [r[0] for r in result]

    def _lock(self, stmt):
        # Several `serve` processes on PostgreSQL: each claims different rows. SQLite has one writer anyway.
        if self.conn.dialect.name == "postgresql":
            return stmt.with_for_update(skip_locked=True)
        return stmt

    async def _insert_many_ids(self, table, rows: list[dict]) -> list[int]:
        """Insert rows and return their ids in order, fast. SQLite cannot batch INSERT … RETURNING in
        parameter order (SQLAlchemy falls back to one statement per row, ~0.2 ms each); inside our write
        transaction (BEGIN IMMEDIATE: the only writer) new rowids are max(id)+1 … max(id)+n, so a plain
        executemany and the previous max give the ids. PostgreSQL batches RETURNING itself."""
        if not rows:
            return []
        if self.conn.dialect.name != "sqlite":
            return await self._insert_returning_ids(table, rows)
        top = (await self.conn.execute(select(func.max(table.c.id)))).scalar_one() or 0
        await self._bulk_insert(table, rows)
        last = (await self.conn.execute(select(func.max(table.c.id)))).scalar_one()
        if last - top != len(rows):  # never expected; fail loudly rather than link rows to wrong ids
            raise RuntimeError(f"{table.name}: expected {len(rows)} new ids after {top}, got up to {last}")
        return list(range(top + 1, last + 1))

    async def _bulk_insert(self, table, rows: list[dict]) -> None:
        """Rows straight to the driver, many a statement, with each column's own bind processor (UTC datetimes,
        JSON) applied once per value: several times faster than Core's per-row parameter handling on big batches."""
        if not rows:
            return
        if self.conn.dialect.name != "sqlite":
            await self.conn.execute(table.insert(), rows)
            return
        names = [k for k in rows[0] if k != "id"]
        dialect = self.conn.dialect
        procs = [_sqlite_processor(table.c[n].type, dialect) for n in names]
        head = f'INSERT INTO "{table.name}" ({", ".join(chr(34) + n + chr(34) for n in names)}) VALUES '
        one = f'({", ".join("?" for _ in names)})'
        # Column by column: one C-level loop per column instead of Python work per cell.
        columns = []
        for name, proc in zip(names, procs):
            column = list(map(operator.itemgetter(name), rows))
            if proc is not None:
                first = column[0]
                if column.count(first) == len(column):  # e.g. every row's received_at is the same `now`
                    column = [proc(first)] * len(column)
                else:
                    column = list(map(proc, column))
            columns.append(column)
        values = list(zip(*columns))
        # Many rows per statement: on a table with an AFTER INSERT trigger (the change feed on incidents, the
        # search index on items) SQLite spends ≈ 20–40 µs per executed statement whatever the trigger does, so
        # one statement per row cost that per row (docs/import-speed.md). Same rows, order, ids and triggers.
        per = max(1, _SQLITE_PARAMS // len(names))
        whole = len(values) - len(values) % per
        flat = itertools.chain.from_iterable
        if whole:
            await self.conn.exec_driver_sql(head + ",".join([one] * per),
                                            [tuple(flat(values[k:k + per])) for k in range(0, whole, per)])
        if whole < len(values):
            rest = values[whole:]
            await self.conn.exec_driver_sql(head + ",".join([one] * len(rest)), tuple(flat(rest)))


def _sqlite_processor(column_type, dialect):
    """The column's bind processor for SQLite, or a plain function with the same stored value where
    SQLAlchemy's wrapper costs more than the work (JSON: json.dumps; UtcDateTime: the text of SQLite's
    DATETIME type; LargeBinary: bytes as they are, stored as the
    memoryview SQLAlchemy wraps them in would be)."""
    if isinstance(column_type, UtcDateTime):
        return _utc_text
    if isinstance(column_type, JSON) and dialect._json_serializer is None:
        if column_type.none_as_null:  # None is SQL NULL here, as Core stores it (items.facts, incidents.event)
            return lambda value: None if value is None else _json_text(value)
        return _json_text
    if isinstance(column_type, LargeBinary):
        return None  # sqlite3 stores bytes and memoryviews alike; SQLAlchemy's wrapper call cost more
    return column_type.bind_processor(dialect)


def _utc_text(value: datetime | None) -> str | None:
    # = the text SQLAlchemy's SQLite DATETIME writes for the naive UTC value (always 6 fractional digits:
    # stored times compare as text, so a whole second must not lose its ".000000"), without its per-row
    # wrappers; a value repeated down a column (`now`) is converted once, not per row.
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use clock.as_utc()")
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00": the naive value's text, no copy


def _utc_text_value(value: str | None) -> datetime | None:
    # a stored UtcDateTime read back raw on SQLite: as the column's result processing makes it (aware UTC)
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _json_text(value) -> str:
    if not value and value is not None and type(value) in (list, dict):
        return "[]" if type(value) is list else "{}"  # most co_departments, sensitive_areas
    return _json_dumps(value)


def _reusable_json_encoder():
    """json.dumps with default options, its C encoder made once: json.dumps builds a new one (and a dict to
    detect cycles, which plain row values never have) per call, most of the cost on short values. Falls back
    to json.dumps where the private constructor is missing or differs."""
    from json import encoder

    try:
        encode = encoder.c_make_encoder(None, json.JSONEncoder().default, encoder.encode_basestring_ascii, None,
                                        ": ", ", ", False, False, True)

        def dumps(value) -> str:
            return "".join(encode(value, 0))

        sample = [{"键": "值\n\"", "n": 1, "f": 0.5, "t": [True, None]}, "文"]
        if dumps(sample) == json.dumps(sample):
            return dumps
    except Exception:  # pragma: no cover - another Python's json internals
        pass
    return json.dumps  # pragma: no cover


_json_dumps = _reusable_json_encoder()


class ItemRepo(_Repo):
    async def by_external_ids(self, source: str, external_ids: Sequence[str]) -> dict[str, dict]:
        out: dict[str, dict] = {}
        wanted = list(external_ids)
        if self.conn.dialect.name == "sqlite" and wanted:
            # Which are known, by plain driver SQL on the unique index (a new export: almost none); whole rows
            # through Core only for those. Rendering Core's IN of every id cost more than the query.
            known = []
            for chunk in _chunks(wanted, 4096):
                rows = await self.conn.exec_driver_sql(
                    f"SELECT external_id FROM items WHERE source = ? AND external_id IN ({','.join('?' * len(chunk))})",
                    (source, *chunk))
                known.extend(r[0] for r in rows)
            wanted = known
        for chunk in _chunks(wanted):
            rows = await self.conn.execute(
                select(items).where(items.c.source == source, items.c.external_id.in_(chunk))
            )
            out.update({r.external_id: dict(r._mapping) for r in rows})
        return out

    async def incidents_by_hash(self, hashes: Sequence[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.conn.dialect.name == "sqlite":  # plain driver SQL: Core's rendering of the IN cost more than the query
            for chunk in _chunks(list(hashes), 4096):
                rows = await self.conn.exec_driver_sql(
                    "SELECT content_hash, min(incident_id) FROM items WHERE content_hash IN "
                    f"({','.join('?' * len(chunk))}) AND incident_id IS NOT NULL GROUP BY content_hash", tuple(chunk))
                out.update({h: i for h, i in rows})
            return out
        for chunk in _chunks(list(hashes)):
            rows = await self.conn.execute(
                select(items.c.content_hash, func.min(items.c.incident_id))
                .where(items.c.content_hash.in_(chunk), items.c.incident_id.is_not(None))
                .group_by(items.c.content_hash)
            )
            out.update({h: i for h, i in rows})
        return out

    async def insert_many(self, rows: list[dict]) -> None:
        if rows:
            await self.conn.execute(items.insert(), rows)

    async def seen_times(self, incident_ids: list[int], since: datetime) -> dict[int, list[datetime]]:
        """When each incident's items were seen (occurred, else received), for those seen since `since`."""
        seen = func.coalesce(items.c.occurred_at, items.c.received_at)
        out: dict[int, list[datetime]] = {}
        for chunk in _chunks(sorted(incident_ids)):
            rows = await self.conn.execute(
                select(items.c.incident_id, seen).where(items.c.incident_id.in_(chunk), seen >= since))
            for incident_id, at in rows:
                out.setdefault(incident_id, []).append(_utc(at))
        return out

    async def update(self, item_id: int, values: dict) -> None:
        await self.conn.execute(update(items).where(items.c.id == item_id), values)

    async def add_history(self, rows: list[dict]) -> None:
        if rows:
            await self.conn.execute(item_history.insert(), rows)

    async def history(self, item_id: int) -> list[dict]:
        rows = await self.conn.execute(
            select(item_history).where(item_history.c.item_id == item_id).order_by(item_history.c.id)
        )
        return [dict(r._mapping) for r in rows]

    async def for_incident(self, incident_id: int, limit: int = 200) -> list[dict]:
        rows = await self.conn.execute(
            # without the binary MinHash signature: these rows are shown and serialised as JSON
            select(*[c for c in items.c if c.name != "minhash"])
            .where(items.c.incident_id == incident_id).order_by(items.c.occurred_at).limit(limit)
        )
        return [dict(r._mapping) for r in rows]

    async def locations(self, item_ids: Sequence[int]) -> dict[int, str]:
        """id → the reported place (地址), for the few near-duplicates checked against a place conflict."""
        out: dict[int, str] = {}
        for chunk in _chunks(sorted(set(item_ids))):
            for i, loc in await self.conn.execute(select(items.c.id, items.c.location).where(items.c.id.in_(chunk))):
                out[i] = loc or ""
        return out

    async def facts_for(self, incident_ids: Iterable[int]) -> dict[int, list[tuple[int, dict]]]:
        """incident → [(item id, facts)] of its reports that state figures, oldest first."""
        out: dict[int, list[tuple[int, dict]]] = {}
        for chunk in _chunks(sorted(set(incident_ids))):
            rows = await self.conn.execute(
                select(items.c.incident_id, items.c.id, items.c.facts)
                .where(items.c.incident_id.in_(chunk), items.c.facts.is_not(None))
                .order_by(func.coalesce(items.c.occurred_at, items.c.received_at), items.c.id))
            for incident_id, item_id, facts in rows:
                if facts:
                    out.setdefault(incident_id, []).append((item_id, facts))
        return out

    async def count(self) -> int:
        return (await self.conn.execute(select(func.count()).select_from(items))).scalar_one()

    async def quarantine(self, rows: list[dict]) -> int:
        """Store rejected rows, each bounded (long values kept as excerpts, their sizes in detail["sizes"]);
        a row whose (source, row_key) is already stored is not stored again. Returns the rows added."""
        keyed, plain = [], []
        for row in rows:
            raw, sizes = bound_record(row.get("raw") or {})
            detail = dict(row.get("detail") or {})
            if sizes:
                detail["sizes"] = {**detail.get("sizes", {}), **sizes}
            bounded = {**row, "raw": raw, "detail": detail or None, "row_key": row.get("row_key"),
                       "reason": str(row["reason"])[:EXCERPT]}
            (keyed if bounded["row_key"] else plain).append(bounded)
        if plain:
            await self.conn.execute(quarantine.insert(), plain)
        return len(plain) + len(await self._insert_ignore(quarantine, keyed, ["source", "row_key"]))

    async def quarantined(self, source: str | None = None, include_resolved: bool = False) -> list[dict]:
        stmt = select(quarantine).order_by(quarantine.c.id)
        if source:
            stmt = stmt.where(quarantine.c.source == source)
        if not include_resolved:
            stmt = stmt.where(quarantine.c.resolved_at.is_(None))
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    # -- collectors (issue 4)
    async def insert_many_returning(self, rows: list[dict]) -> list[int]:
        """Insert items and return their ids in the order given."""
        return await self._insert_many_ids(items, rows)

    async def lock_ingest(self) -> None:
        """Serialise ingests on PostgreSQL (until the transaction ends), as SQLite's single writer does: the
        in-memory band index then sees item ids and minhash_changes grow in commit order."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_INGEST_LOCK})"))

    async def minhashes_after(self, item_id: int, limit: int) -> list[tuple[int, bytes | None]]:
        """(id, minhash) of the first `limit` items with an id above `item_id`, by id."""
        rows = await self.conn.execute(
            select(items.c.id, items.c.minhash)
            .where(items.c.id > item_id).order_by(items.c.id).limit(limit))
        return [(i, m) for i, m in rows]

    async def minhash_changes_after(self, seq: int) -> list[tuple[int, int, bytes | None]]:
        """(seq, item id, its current minhash) for signature changes logged after `seq`, in order."""
        rows = await self.conn.execute(
            select(minhash_changes.c.seq, items.c.id, items.c.minhash)
            .join(items, items.c.id == minhash_changes.c.item_id)
            .where(minhash_changes.c.seq > seq).order_by(minhash_changes.c.seq))
        return [tuple(r) for r in rows]

    async def log_minhash_changes(self, item_ids: Sequence[int], keep: int) -> int:
        """Record that these items' signatures changed and drop all but the last `keep` records; returns the
        last change number (ingests are serialised, so it is this transaction's)."""
        if item_ids:
            await self.conn.execute(minhash_changes.insert(), [{"item_id": i} for i in item_ids])
        last = (await self.conn.execute(select(func.coalesce(func.max(minhash_changes.c.seq), 0)))).scalar_one()
        await self.conn.execute(delete(minhash_changes).where(minhash_changes.c.seq <= last - keep))
        return last

    async def minhash_change_bounds(self) -> tuple[int, int]:
        """(first, last) change number still logged; (0, 0) when none is."""
        low, high = (await self.conn.execute(select(func.min(minhash_changes.c.seq),
                                                    func.max(minhash_changes.c.seq)))).one()
        return low or 0, high or 0

    async def texts(self, item_ids: Sequence[int]) -> dict[int, dict]:
        """What near-duplicate checks need of stored items: text, incident, time, provenance."""
        out: dict[int, dict] = {}
        cols = [items.c.id, items.c.incident_id, items.c.title, items.c.body, items.c.source,
                items.c.external_id, items.c.occurred_at, items.c.received_at]
        ids = sorted(set(item_ids))
        if self.conn.dialect.name != "sqlite":
            for chunk in _chunks(ids):
                for r in await self.conn.execute(select(*cols).where(items.c.id.in_(chunk))):
                    out[r.id] = dict(r._mapping)
            return out
        # Straight to the driver, as signatures(): Core's per-row result handling cost more than the query.
        names = [c.name for c in cols]
        for chunk in _chunks(ids, 5000):
            rows = await self.conn.exec_driver_sql(
                f"SELECT {', '.join(names)} FROM items WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk))
            for r in rows:
                row = dict(zip(names, r))
                row["occurred_at"], row["received_at"] = _utc_text_value(row["occurred_at"]), _utc_text_value(row["received_at"])
                out[r[0]] = row
        return out

    async def signatures(self, item_ids: Sequence[int]) -> dict[int, tuple[int | None, bytes | None]]:
        """id → (incident_id, minhash): what ranks a near-duplicate candidate before its text is read."""
        out: dict[int, tuple[int | None, bytes | None]] = {}
        ids = sorted(set(item_ids))
        if self.conn.dialect.name != "sqlite":
            for chunk in _chunks(ids):
                rows = await self.conn.execute(
                    select(items.c.id, items.c.incident_id, items.c.minhash).where(items.c.id.in_(chunk)))
                out.update((i, (incident, m)) for i, incident, m in rows)
            return out
        # Straight to the driver: an expanding IN of thousands of ids costs more to render than to run.
        for chunk in _chunks(ids, 5000):
            rows = await self.conn.exec_driver_sql(
                f"SELECT id, incident_id, minhash FROM items WHERE id IN ({','.join('?' * len(chunk))})", tuple(chunk))
            out.update((i, (incident, m)) for i, incident, m in rows)
        return out

    async def get_many(self, item_ids: Sequence[int]) -> list[dict]:
        rows = await self.conn.execute(select(items).where(items.c.id.in_(list(item_ids))).order_by(items.c.id))
        return [dict(r._mapping) for r in rows]

    async def move(self, item_ids: Sequence[int], incident_id: int, reason: str, now: datetime) -> int:
        result = await self.conn.execute(
            update(items).where(items.c.id.in_(list(item_ids))),
            {"incident_id": incident_id, "group_reason": reason[:300], "updated_at": now},
        )
        return result.rowcount

    async def quarantine_rows(self, ids: Sequence[int] | None = None, source: str | None = None) -> list[dict]:
        """Unresolved quarantined rows, all or the given ids."""
        stmt = select(quarantine).where(quarantine.c.resolved_at.is_(None)).order_by(quarantine.c.id)
        if ids:
            stmt = stmt.where(quarantine.c.id.in_(list(ids)))
        if source:
            stmt = stmt.where(quarantine.c.source == source)
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def resolve_quarantine(self, quarantine_id: int, now: datetime) -> None:
        await self.conn.execute(update(quarantine).where(quarantine.c.id == quarantine_id), {"resolved_at": now})

    async def requarantine(self, quarantine_id: int, reason: str) -> None:
        await self.conn.execute(update(quarantine).where(quarantine.c.id == quarantine_id), {"reason": reason})

    async def counts_by_source(self) -> dict[str, int]:
        rows = await self.conn.execute(select(items.c.source, func.count()).group_by(items.c.source))
        return {s: n for s, n in rows}

    async def quarantine_counts(self) -> dict[str, int]:
        rows = await self.conn.execute(
            select(quarantine.c.source, func.count()).where(quarantine.c.resolved_at.is_(None))
            .group_by(quarantine.c.source)
        )
        return {s: n for s, n in rows}

    # -- merge (issue 15)
    async def move_incident(self, from_incident: int, to_incident: int, reason: str, now: datetime) -> int:
        """Move every item of one incident to another (a merge); returns how many moved."""
        result = await self.conn.execute(
            update(items).where(items.c.incident_id == from_incident),
            {"incident_id": to_incident, "group_reason": reason[:300], "updated_at": now},
        )
        return result.rowcount


class IncidentRepo(_Repo):
    async def insert_many(self, rows: list[dict]) -> list[int]:
        return await self._insert_returning_ids(incidents, rows)

    async def get(self, incident_id: int) -> Incident | None:
        row = (await self.conn.execute(select(incidents).where(incidents.c.id == incident_id))).first()
        return from_row(Incident, row._mapping) if row else None

    async def get_many(self, ids: Iterable[int]) -> dict[int, Incident]:
        out: dict[int, Incident] = {}
        for chunk in _chunks(sorted(set(ids))):
            for r in await self.conn.execute(select(incidents).where(incidents.c.id.in_(chunk))):
                out[r.id] = from_row(Incident, r._mapping)
        return out

    async def heat_inputs(self, ids: Iterable[int]) -> dict[int, tuple[str, int, int, int, int, list]]:
        """id → (status, severity, item_count, reporter_count, likes, sensitive_areas), by id: what heat
        needs, without decoding whole rows (reasons, five times) for every incident an import touches."""
        cols = [incidents.c.id, incidents.c.status, incidents.c.severity, incidents.c.item_count,
                incidents.c.reporter_count, incidents.c.likes, incidents.c.sensitive_areas]
        out: dict[int, tuple] = {}
        for chunk in _chunks(sorted(set(ids))):
            for r in await self.conn.execute(select(*cols).where(incidents.c.id.in_(chunk))):
                out[r[0]] = tuple(r[1:])
        return out

    async def list(
        self,
        status: str | None = None,
        department: str | None = None,
        triage: str | None = None,
        limit: int = 200,
        offset: int = 0,
    ) -> list[Incident]:
        stmt = select(incidents)
        if status:
            stmt = stmt.where(incidents.c.status == status)
        if department:
            stmt = stmt.where(incidents.c.department == department)
        if triage:
            stmt = stmt.where(incidents.c.triage == triage)
        stmt = stmt.order_by(incidents.c.severity.desc(), incidents.c.last_seen_at.desc(), incidents.c.id.desc())
        rows = await self.conn.execute(stmt.limit(limit).offset(offset))
        return [from_row(Incident, r._mapping) for r in rows]

    async def update(self, incident_id: int, values: dict) -> None:
        await self.conn.execute(update(incidents).where(incidents.c.id == incident_id), values)

    async def open_events(self, since: datetime) -> list[tuple[int, dict, datetime, datetime]]:
        """(id, event signature, first seen, last seen) of open incidents about an event seen since `since`."""
        # no status in the WHERE: the partial index on last_seen_at (event IS NOT NULL) answers, and the few
        # closed or merged events among recent ones are dropped here
        rows = await self.conn.execute(
            select(incidents.c.id, incidents.c.event, incidents.c.first_seen_at, incidents.c.last_seen_at,
                   incidents.c.status)
            .where(incidents.c.event.is_not(None), incidents.c.last_seen_at >= since))
        return sorted((i, e, f, last) for i, e, f, last, status in rows if e and status == "open")

    async def refresh_stats(self, incident_ids: Iterable[int], now: datetime) -> None:
        """Heat from the items: how many, how many distinct reporters, likes, first/last seen."""
        ids = sorted(set(incident_ids))
        if self.conn.dialect.name == "sqlite":
            return await self._refresh_stats_sqlite(ids, now)
        for chunk in _chunks(ids):
            seen = func.coalesce(items.c.occurred_at, items.c.received_at)
            reporter = case((items.c.reporter == "", None), else_=items.c.reporter)
            stats = await self.conn.execute(
                select(
                    items.c.incident_id,
                    func.count(),
                    func.count(func.distinct(reporter)),
                    func.coalesce(func.sum(items.c.likes), 0),
                    func.min(seen),
                    func.max(seen),
                )
                .where(items.c.incident_id.in_(chunk))
                .group_by(items.c.incident_id)
            )
            rows = [
                {"b_id": i, "item_count": n, "reporter_count": max(r, 1), "likes": likes, "updated_at": now,
                 "last_seen_at": _utc(last)}
                for i, n, r, likes, first, last in stats
            ]
            if rows:
                from sqlalchemy import bindparam

                stmt = (
                    update(incidents)
                    .where(incidents.c.id == bindparam("b_id"))
                    .values(item_count=bindparam("item_count"), reporter_count=bindparam("reporter_count"),
                            likes=bindparam("likes"), updated_at=bindparam("updated_at"),
                            last_seen_at=bindparam("last_seen_at"))
                )
                await self.conn.execute(stmt, rows)

    async def _refresh_stats_sqlite(self, ids: list[int], now: datetime) -> None:
        """refresh_stats in plain driver SQL: the same query and update, times bound as Core binds them
        (Core's IN rendering and per-row update handling cost more than the work)."""
        dialect = self.conn.dialect
        stamp = incidents.c.last_seen_at.type.dialect_impl(dialect).bind_processor(dialect)
        now_text = stamp(now)
        for chunk in _chunks(ids, 4096):
            stats = await self.conn.exec_driver_sql(
                "SELECT incident_id, count(*), count(DISTINCT CASE WHEN reporter = '' THEN NULL ELSE reporter END), "
                "coalesce(sum(likes), 0), max(coalesce(occurred_at, received_at)) FROM items "
                f"WHERE incident_id IN ({','.join('?' * len(chunk))}) GROUP BY incident_id", tuple(chunk))
            rows = [(n, max(r, 1), likes, now_text, stamp(_utc(last)), i) for i, n, r, likes, last in stats]
            if rows:
                await self.conn.exec_driver_sql(
                    "UPDATE incidents SET item_count = ?, reporter_count = ?, likes = ?, updated_at = ?, "
                    "last_seen_at = ? WHERE id = ?", rows)

    async def counts(self, column: str, status: str | None = "open") -> list[tuple[Any, int]]:
        col = incidents.c[column]
        stmt = select(col, func.count()).group_by(col).order_by(func.count().desc(), col)
        if status:
            stmt = stmt.where(incidents.c.status == status)
        return [(k, n) for k, n in await self.conn.execute(stmt)]

    async def add_correction(self, row: dict) -> None:
        await self.conn.execute(corrections.insert(), row)

    async def corrections(self, incident_id: int) -> list[dict]:
        """What people corrected on this incident (triage), oldest first."""
        stmt = select(corrections).where(corrections.c.incident_id == incident_id).order_by(
            corrections.c.at, corrections.c.id)
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def domain_corrections(self) -> list[dict]:
        """Training examples from triage: each corrected incident's first item text with the latest
        corrected domain ({incident_id, title, body, label})."""
        latest = (
            select(corrections.c.incident_id, func.max(corrections.c.id).label("cid"))
            .where(corrections.c.field == "domain")
            .group_by(corrections.c.incident_id)
            .subquery()
        )
        first_item = (
            select(items.c.incident_id, func.min(items.c.id).label("iid")).group_by(items.c.incident_id).subquery()
        )
        stmt = (
            select(corrections.c.incident_id, corrections.c.new, items.c.title, items.c.body)
            .join(latest, latest.c.cid == corrections.c.id)
            .join(first_item, first_item.c.incident_id == corrections.c.incident_id)
            .join(items, items.c.id == first_item.c.iid)
            .order_by(corrections.c.incident_id)
        )
        return [{"incident_id": i, "label": label, "title": title, "body": body}
                for i, label, title, body in await self.conn.execute(stmt)]

    # -- collectors (issue 4)
    async def insert_many_fast(self, rows: list[dict]) -> list[int]:
        """insert_many for large batches (the importer): same result, without per-row statements on SQLite."""
        return await self._insert_many_ids(incidents, rows)

    # -- merge (issue 15)
    async def lock_many(self, ids: Iterable[int]) -> dict[int, Incident]:
        """get_many, the rows locked until the transaction ends (PostgreSQL; SQLite has one writer anyway),
        in id order so that two transactions locking overlapping sets cannot deadlock."""
        stmt = select(incidents).where(incidents.c.id.in_(sorted(set(ids)))).order_by(incidents.c.id)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return {r.id: from_row(Incident, r._mapping) for r in await self.conn.execute(stmt)}


def _utc(value):
    # Aggregates bypass the column type on SQLite and come back as text or naive datetimes.
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


class DeadlineRepo(_Repo):
    async def open_many(self, rows: list[dict]) -> list[int]:
        """Open deadlines; one per (incident, rule) whatever happens, so re-running opens nothing twice."""
        return await self._insert_ignore(deadlines, rows, ["incident_id", "rule"])

    async def get(self, deadline_id: int) -> Deadline | None:
        row = (await self.conn.execute(select(deadlines).where(deadlines.c.id == deadline_id))).first()
        return from_row(Deadline, row._mapping) if row else None

    async def for_incident(self, incident_id: int) -> list[Deadline]:
        rows = await self.conn.execute(
            select(deadlines).where(deadlines.c.incident_id == incident_id).order_by(deadlines.c.due_at)
        )
        return [from_row(Deadline, r._mapping) for r in rows]

    async def list(self, state: str | None = "open", overdue_at: datetime | None = None,
                   department: str | None = None, limit: int = 1000) -> list[Deadline]:
        stmt = select(deadlines).order_by(deadlines.c.due_at, deadlines.c.id)
        if state:
            stmt = stmt.where(deadlines.c.state == state)
        if overdue_at is not None:
            stmt = stmt.where(deadlines.c.due_at <= overdue_at)
        if department:
            stmt = stmt.where(deadlines.c.department == department)
        return [from_row(Deadline, r._mapping) for r in await self.conn.execute(stmt.limit(limit))]

    async def provisional(self) -> list[Deadline]:
        """Deadlines counted early for lack of a year's holiday data (few: no index)."""
        rows = await self.conn.execute(select(deadlines).where(deadlines.c.provisional_year > 0)
                                       .order_by(deadlines.c.id))
        return [from_row(Deadline, r._mapping) for r in rows]

    async def due_steps(self, now: datetime, limit: int = 500) -> list[Deadline]:
        """Open deadlines whose next escalation step is due, locked for this transaction."""
        stmt = (
            select(deadlines)
            .where(deadlines.c.state == "open", deadlines.c.next_at.is_not(None), deadlines.c.next_at <= now)
            .order_by(deadlines.c.next_at, deadlines.c.id)
            .limit(limit)
        )
        return [from_row(Deadline, r._mapping) for r in await self.conn.execute(self._lock(stmt))]

    async def next_step_at(self) -> datetime | None:
        stmt = select(func.min(deadlines.c.next_at)).where(deadlines.c.state == "open")
        return _utc((await self.conn.execute(stmt)).scalar_one())

    async def move_many(self, moves: list[dict]) -> bool:
        """Bulk compare-and-set of escalation positions: rows {b_id, b_step, b_fires, step, fires, next_at,
        updated_at}; True if every row still held (b_step, b_fires) and was open."""
        if not moves:
            return True
        from sqlalchemy import bindparam

        stmt = (
            update(deadlines)
            .where(deadlines.c.id == bindparam("b_id"), deadlines.c.step == bindparam("b_step"),
                   deadlines.c.fires == bindparam("b_fires"), deadlines.c.state == "open")
            .values(step=bindparam("step"), fires=bindparam("fires"), next_at=bindparam("next_at"),
                    updated_at=bindparam("updated_at"))
        )
        result = await self.conn.execute(stmt, moves)
        if not result.supports_sane_multi_rowcount():
            return True  # asyncpg reports no executemany rowcount; there the rows are locked FOR UPDATE anyway
        return result.rowcount == len(moves)

    async def update(self, deadline_id: int, values: dict, expect: dict | None = None) -> bool:
        """Update; with `expect`, only if those columns still hold those values (compare-and-set)."""
        stmt = update(deadlines).where(deadlines.c.id == deadline_id)
        for column, value in (expect or {}).items():
            stmt = stmt.where(deadlines.c[column] == value if value is not None else deadlines.c[column].is_(None))
        result = await self.conn.execute(stmt, values)
        return result.rowcount == 1

    async def counts(self, now: datetime) -> dict[str, int]:
        stmt = select(
            func.count().filter(deadlines.c.state == "open"),
            func.count().filter(and_(deadlines.c.state == "open", deadlines.c.due_at <= now)),
            func.count().filter(deadlines.c.state == "satisfied"),
        )
        open_, overdue, satisfied = (await self.conn.execute(stmt)).one()
        return {"open": open_, "overdue": overdue, "satisfied": satisfied}

    async def add_evidence(self, row: dict) -> int:
        return (await self.conn.execute(evidence.insert().returning(evidence.c.id), row)).scalar_one()

    async def evidence_for(self, incident_id: int) -> list[dict]:
        rows = await self.conn.execute(
            select(evidence).where(evidence.c.incident_id == incident_id).order_by(evidence.c.at)
        )
        return [dict(r._mapping) for r in rows]

    async def reassign_open(self, incident_id: int, department: str, now: datetime) -> int:
        """Move the incident's open deadlines to another department; due times stay as they are."""
        result = await self.conn.execute(
            update(deadlines)
            .where(deadlines.c.incident_id == incident_id, deadlines.c.state == "open")
            .values(department=department, updated_at=now)
        )
        return result.rowcount

    # -- merge (issue 15)
    async def lock_for_incidents(self, incident_ids: Iterable[int]) -> list[Deadline]:
        """Every deadline of these incidents, locked until the transaction ends (PostgreSQL: the sweeper then
        waits rather than firing a step of a deadline being merged), by id."""
        stmt = select(deadlines).where(deadlines.c.incident_id.in_(sorted(set(incident_ids)))).order_by(deadlines.c.id)
        if self.conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        return [from_row(Deadline, r._mapping) for r in await self.conn.execute(stmt)]

    async def move_evidence(self, from_incident: int, to_incident: int) -> int:
        """Evidence recorded on one incident now belongs to another (a merge); returns how many rows."""
        result = await self.conn.execute(
            update(evidence).where(evidence.c.incident_id == from_incident).values(incident_id=to_incident))
        return result.rowcount


class OutboxRepo(_Repo):
    async def enqueue(self, rows: list[dict]) -> list[int]:
        """Add messages; a key already present (sent or pending) is skipped: the idempotency guarantee."""
        return await self._insert_ignore(outbox, rows, ["key"])

    async def claim(self, now: datetime, owner: str, lease: timedelta, limit: int = 50,
                    keys: Sequence[str] | None = None, channels: Sequence[str] | None = None) -> list[OutboxMessage]:
        """Lease due messages to `owner` (only those with these `keys`, or of these `channels`, when given). A
        lease that expires (worker died) makes the message due again."""
        stmt = (
            select(outbox.c.id)
            .where(
                outbox.c.status == "pending",
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.lease_until.is_(None), outbox.c.lease_until <= now),
            )
            .order_by(outbox.c.next_attempt_at, outbox.c.id)
            .limit(limit)
        )
        if keys is not None:
            stmt = stmt.where(outbox.c.key.in_(list(keys)))
        if channels is not None:
            stmt = stmt.where(outbox.c.channel.in_(list(channels)))
        ids = [r[0] for r in await self.conn.execute(self._lock(stmt))]
        if not ids:
            return []
        await self.conn.execute(
            update(outbox).where(outbox.c.id.in_(ids)), {"lease_owner": owner, "lease_until": now + lease}
        )
        rows = await self.conn.execute(select(outbox).where(outbox.c.id.in_(ids)).order_by(outbox.c.id))
        return [from_row(OutboxMessage, r._mapping) for r in rows]

    async def mark_sent(self, message_id: int, owner: str, now: datetime) -> bool:
        result = await self.conn.execute(
            update(outbox)
            .where(outbox.c.id == message_id, outbox.c.lease_owner == owner, outbox.c.status == "pending")
            .values(status="sent", sent_at=now, lease_until=None, attempts=outbox.c.attempts + 1, last_error=None)
        )
        return result.rowcount == 1

    async def mark_failed(self, message_id: int, owner: str, error: str, retry_at: datetime | None,
                          attempt: bool = True) -> bool:
        """`attempt=False`: postponed before anything was sent (a send budget), so not counted."""
        values: dict = {"last_error": error[:2000], "lease_until": None,
                        "attempts": outbox.c.attempts + (1 if attempt else 0)}
        if retry_at is None:
            values["status"] = "dead"
        else:
            values["next_attempt_at"] = retry_at
        result = await self.conn.execute(
            update(outbox)
            .where(outbox.c.id == message_id, outbox.c.lease_owner == owner, outbox.c.status == "pending")
            .values(**values)
        )
        return result.rowcount == 1

    async def mark_sent_many(self, ids: Sequence[int], owner: str, now: datetime) -> int:
        """Rows that went out as one grouped message: all sent in one statement. Returns how many were still
        this owner's to mark (fewer: a lease expired and someone else took the row)."""
        done = 0
        for chunk in _chunks(list(dict.fromkeys(ids))):
            result = await self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(chunk), outbox.c.lease_owner == owner, outbox.c.status == "pending")
                .values(status="sent", sent_at=now, lease_until=None, attempts=outbox.c.attempts + 1,
                        last_error=None)
            )
            done += result.rowcount
        return done

    async def postpone(self, ids: Sequence[int], owner: str, until: datetime | None, note: str | None = None) -> int:
        """Give leased rows back, due at `until` (None: when they were), without counting an attempt (held
        by grouping, quiet hours, a send budget, or behind a failed row of the same chat). `note` replaces
        last_error; None keeps it."""
        values: dict = {"lease_until": None}
        if until is not None:
            values["next_attempt_at"] = until
        if note is not None:
            values["last_error"] = note[:2000]
        done = 0
        for chunk in _chunks(list(dict.fromkeys(ids))):
            result = await self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(chunk), outbox.c.lease_owner == owner, outbox.c.status == "pending")
                .values(**values)
            )
            done += result.rowcount
        return done

    async def mark_filtered(self, ids: Sequence[int], owner: str, reason: str) -> int:
        """Rows a channel does not carry (its severity or department filter): kept, with the reason, as
        "filtered"; never sent, never retried."""
        done = 0
        for chunk in _chunks(list(dict.fromkeys(ids))):
            result = await self.conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(chunk), outbox.c.lease_owner == owner, outbox.c.status == "pending")
                .values(status="filtered", lease_until=None, last_error=reason[:2000])
            )
            done += result.rowcount
        return done

    async def lanes(self, channel: str, hold_prefix: str, now: datetime
                    ) -> dict[str, tuple[datetime | None, datetime | None, datetime | None]]:
        """Per recipient of `channel`, over its pending rows: the oldest created_at; the latest retry time of
        those that failed (attempts > 0 and last_error not a deliberate hold, which starts `hold_prefix`); the
        earliest next_attempt_at after `now` (rows held for later)."""
        failed = and_(outbox.c.attempts > 0,
                      or_(outbox.c.last_error.is_(None), ~outbox.c.last_error.startswith(hold_prefix)))
        rows = await self.conn.execute(
            select(outbox.c.recipient, func.min(outbox.c.created_at),
                   func.max(case((failed, outbox.c.next_attempt_at), else_=None)),
                   func.min(case((outbox.c.next_attempt_at > now, outbox.c.next_attempt_at), else_=None)))
            .where(outbox.c.status == "pending", outbox.c.channel == channel)
            .group_by(outbox.c.recipient)
        )
        return {r[0]: (_utc(r[1]), _utc(r[2]), _utc(r[3])) for r in rows}

    async def last_sent(self, channel: str) -> dict[str, datetime]:
        """Per recipient of `channel`: when its last message went out."""
        rows = await self.conn.execute(
            select(outbox.c.recipient, func.max(outbox.c.sent_at))
            .where(outbox.c.status == "sent", outbox.c.channel == channel)
            .group_by(outbox.c.recipient)
        )
        return {r[0]: _utc(r[1]) for r in rows if r[1] is not None}

    async def release_leases(self, owners: list[str]) -> int:
        """Make rows leased by these (dead) workers claimable at once instead of when the lease expires."""
        if not owners:
            return 0
        result = await self.conn.execute(
            update(outbox).where(outbox.c.status == "pending", outbox.c.lease_owner.in_(owners))
            .values(lease_until=None, lease_owner=None)
        )
        return result.rowcount

    async def lease_owners(self, prefix: str) -> list[str]:
        rows = await self.conn.execute(
            select(outbox.c.lease_owner).distinct()
            .where(outbox.c.status == "pending", outbox.c.lease_owner.like(prefix + "%"))
        )
        return [r[0] for r in rows]

    async def next_attempt_at(self) -> datetime | None:
        stmt = select(func.min(func.coalesce(outbox.c.lease_until, outbox.c.next_attempt_at))).where(
            outbox.c.status == "pending"
        )
        return _utc((await self.conn.execute(stmt)).scalar_one())

    async def list(self, status: str | None = None, incident_id: int | None = None,
                   limit: int = 500) -> list[OutboxMessage]:
        stmt = select(outbox).order_by(outbox.c.id.desc()).limit(limit)
        if status:
            stmt = stmt.where(outbox.c.status == status)
        if incident_id is not None:
            stmt = stmt.where(outbox.c.incident_id == incident_id)
        return [from_row(OutboxMessage, r._mapping) for r in await self.conn.execute(stmt)]

    async def counts(self) -> dict[str, int]:
        rows = await self.conn.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        return {s: n for s, n in rows}


class AuditRepo(_Repo):
    async def append(self, at: datetime, actor: str, action: str, entity: str, entity_id: Any = "",
                     detail: dict | None = None) -> None:
        await self.conn.execute(
            audit_log.insert(),
            {"at": at, "actor": actor, "action": action, "entity": entity, "entity_id": str(entity_id),
             "detail": detail or {}},
        )

    async def append_many(self, rows: list[dict]) -> None:
        if rows:
            await self.conn.execute(audit_log.insert(), rows)

    async def list(self, entity: str | None = None, entity_id: Any = None, limit: int = 500) -> list[dict]:
        stmt = select(audit_log).order_by(audit_log.c.at, audit_log.c.id).limit(limit)
        if entity:
            stmt = stmt.where(audit_log.c.entity == entity)
        if entity_id is not None:
            stmt = stmt.where(audit_log.c.entity_id == str(entity_id))
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]

    async def latest(self, entity: str, entity_id: Any, actions: Iterable[str], n: int) -> list[dict]:
        """The last `n` entries of these actions on one entity, oldest first (the chat bot's "who did what")."""
        stmt = (select(audit_log).where(audit_log.c.entity == entity, audit_log.c.entity_id == str(entity_id),
                                        audit_log.c.action.in_(list(actions)))
                .order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(n))
        return [dict(r._mapping) for r in reversed((await self.conn.execute(stmt)).all())]


class SourceRepo(_Repo):
    async def get(self, name: str) -> dict | None:
        row = (await self.conn.execute(select(sources).where(sources.c.name == name))).first()
        return dict(row._mapping) if row else None

    async def save(self, name: str, kind: str, now: datetime, **values) -> None:
        current = await self.get(name)
        if current is None:
            await self.conn.execute(
                sources.insert(), {"name": name, "kind": kind, "cursor": {}, "updated_at": now, **values}
            )
        else:
            await self.conn.execute(
                update(sources).where(sources.c.name == name), {"kind": kind, "updated_at": now, **values}
            )

    async def list(self) -> list[dict]:
        return [dict(r._mapping) for r in await self.conn.execute(select(sources).order_by(sources.c.name))]

    # -- leases: any number of collector processes, one poll of a source at a time (monitor/sources/runner.py)
    async def claim(self, name: str, kind: str, owner: str, now: datetime, until: datetime, due_only: bool = True,
                    steal_from: str | None = None) -> bool:
        """Lease the source to `owner` until `until` unless another owner's lease is still running (or, with
        `due_only`, its next poll is not due yet). One conditional UPDATE, the same on SQLite and PostgreSQL:
        of two processes that race, exactly one changes the row. `steal_from`: an owner known to be dead."""
        await self.conn.execute(self._insert(sources).on_conflict_do_nothing(index_elements=["name"]),
                                {"name": name, "kind": kind, "cursor": {}, "failures": 0, "updated_at": now})
        free = [sources.c.lease_until.is_(None), sources.c.lease_until < now, sources.c.lease_owner == owner]
        if steal_from:
            free.append(sources.c.lease_owner == steal_from)
        where = [sources.c.name == name, or_(*free)]
        if due_only:
            where.append(or_(sources.c.next_poll_at.is_(None), sources.c.next_poll_at <= now))
        result = await self.conn.execute(update(sources).where(*where).values(lease_owner=owner, lease_until=until))
        return result.rowcount == 1

    async def renew(self, name: str, owner: str, until: datetime) -> bool:
        """Extend a lease while its poll runs; False when another process has taken the source over."""
        result = await self.conn.execute(
            update(sources).where(sources.c.name == name, sources.c.lease_owner == owner).values(lease_until=until))
        return result.rowcount == 1

    async def finish(self, name: str, owner: str, now: datetime, **values) -> bool:
        """Record a poll's outcome and give the lease back, only if `owner` still holds it."""
        result = await self.conn.execute(
            update(sources).where(sources.c.name == name, sources.c.lease_owner == owner)
            .values(updated_at=now, lease_owner=None, lease_until=None, **values))
        return result.rowcount == 1


class LedgerRepo(_Repo):
    async def get(self, ledger_id: int) -> dict | None:
        row = (await self.conn.execute(select(ledger).where(ledger.c.id == ledger_id))).first()
        return dict(row._mapping) if row else None

    async def add(self, row: dict) -> int:
        return (await self.conn.execute(ledger.insert().returning(ledger.c.id), row)).scalar_one()

    async def for_incident(self, incident_id: int) -> list[dict]:
        rows = await self.conn.execute(
            select(ledger).where(ledger.c.incident_id == incident_id).order_by(ledger.c.responded_at)
        )
        return [dict(r._mapping) for r in rows]

    async def between(self, start: datetime, end: datetime) -> list[dict]:
        rows = await self.conn.execute(
            select(ledger).where(ledger.c.responded_at >= start, ledger.c.responded_at < end).order_by(ledger.c.id)
        )
        return [dict(r._mapping) for r in rows]

    async def update(self, ledger_id: int, values: dict) -> None:
        await self.conn.execute(update(ledger).where(ledger.c.id == ledger_id), values)

    async def month(self, start: datetime, end: datetime) -> tuple[list[Incident], dict, dict]:
        """Incidents with a deadline due, or a ledger line written, in [start, end); their deadlines and
        ledger lines."""
        due = select(deadlines.c.incident_id).where(deadlines.c.due_at >= start, deadlines.c.due_at < end)
        wrote = select(ledger.c.incident_id).where(ledger.c.responded_at >= start, ledger.c.responded_at < end)
        rows = await self.conn.execute(
            select(incidents).where(or_(incidents.c.id.in_(due), incidents.c.id.in_(wrote)))
            .order_by(incidents.c.first_seen_at, incidents.c.id)
        )
        found = [from_row(Incident, r._mapping) for r in rows]
        ids = [i.id for i in found]
        by_deadline: dict[int, list[Deadline]] = {}
        by_entry: dict[int, list[dict]] = {}
        for chunk in _chunks(ids):
            for r in await self.conn.execute(select(deadlines).where(deadlines.c.incident_id.in_(chunk))
                                             .order_by(deadlines.c.due_at)):
                by_deadline.setdefault(r.incident_id, []).append(from_row(Deadline, r._mapping))
            for r in await self.conn.execute(select(ledger).where(ledger.c.incident_id.in_(chunk))
                                             .order_by(ledger.c.responded_at)):
                by_entry.setdefault(r.incident_id, []).append(dict(r._mapping))
        return found, by_deadline, by_entry

    # -- merge (issue 15)
    async def move(self, from_incident: int, to_incident: int) -> int:
        """Ledger lines (responses, promises) of one incident now belong to another (a merge)."""
        result = await self.conn.execute(
            update(ledger).where(ledger.c.incident_id == from_incident).values(incident_id=to_incident))
        return result.rowcount


class PeopleRepo(_Repo):
    async def sync_from_config(self, user_rows: list[dict], roster_rows: list[dict], now: datetime) -> None:
        """Config is the source of truth for users and the config part of the roster; manual roster
        entries (added from the dashboard or CLI) are kept. Processes starting at once on one database may
        run it together: users are upserted, and on PostgreSQL the config roster is replaced under a lock (two
        deletes would each miss the other's inserts and leave every config shift twice)."""
        if self.conn.dialect.name == "postgresql":
            await self.conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_PEOPLE_LOCK})"))
        for row in user_rows:
            stmt = self._insert(users).values({**row, "updated_at": now})
            changed = {k: stmt.excluded[k] for k in (*row, "updated_at") if k != "name"}
            await self.conn.execute(stmt.on_conflict_do_update(index_elements=[users.c.name], set_=changed))
        await self.conn.execute(roster.delete().where(roster.c.origin == "config"))
        if roster_rows:
            await self.conn.execute(roster.insert(), [{**r, "origin": "config"} for r in roster_rows])

    async def users(self) -> dict[str, dict]:
        return {r.name: dict(r._mapping) for r in await self.conn.execute(select(users))}

    async def on_duty(self, role: str, at: datetime) -> list[str]:
        """Who holds `role` at `at` (half-open [starts_at, ends_at): the next shift owns the boundary minute)."""
        rows = await self.conn.execute(
            select(roster.c.user)
            .where(roster.c.role == role, roster.c.starts_at <= at, roster.c.ends_at > at)
            .order_by(roster.c.starts_at.desc(), roster.c.id)
        )
        return [r[0] for r in rows]

    async def add_shift(self, row: dict) -> int:
        values = {**row, "origin": row.get("origin", "manual")}
        return (await self.conn.execute(roster.insert().returning(roster.c.id), values)).scalar_one()

    async def shift(self, shift_id: int) -> dict | None:
        row = (await self.conn.execute(select(roster).where(roster.c.id == shift_id))).first()
        return dict(row._mapping) if row else None

    async def remove_shift(self, shift_id: int) -> bool:
        """Only a manual shift: the config's come back from the config at every start."""
        result = await self.conn.execute(delete(roster).where(roster.c.id == shift_id, roster.c.origin == "manual"))
        return result.rowcount == 1

    async def roster(self, start: datetime, end: datetime) -> list[dict]:
        rows = await self.conn.execute(
            select(roster).where(roster.c.ends_at > start, roster.c.starts_at < end).order_by(roster.c.starts_at)
        )
        return [dict(r._mapping) for r in rows]
