"""The importer's bulk insert on SQLite writes exactly what SQLAlchemy's own parameter handling writes."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import aiosqlite as sqlite_aio

from monitor.store.repos import _sqlite_processor
from monitor.store.schema import incidents, items


def _stored(value):
    """What sqlite3 stores for a bound value (its default adapters included), read back raw."""
    with sqlite3.connect(":memory:") as con:
        return con.execute("SELECT ?, typeof(?)", (value, value)).fetchone()


@pytest.mark.parametrize("table,column,values", [
    (items, "occurred_at", [None, datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
                            datetime(2026, 3, 4, 5, 6, 7, 891, tzinfo=timezone.utc),
                            datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)]),
    (items, "raw", [{}, {"标题": "路灯", "点赞数": "3"}, {"a": [1, 2.5, None, True]}]),
    (incidents, "co_departments", [[], ["区应急局", "区住房和城乡建设局"]]),
    (incidents, "reasons", [[], [{"stage": "route", "text": "属地管理：马街街道 → 区应急局"}]]),
    (items, "title", ["", "路灯不亮"]),
    (items, "likes", [0, 12]),
    (items, "minhash", [None, b"", bytes(range(96))]),
])
def test_fast_processors_store_what_sqlalchemy_values_store(table, column, values):
    dialect = sqlite_aio.dialect(dbapi=sqlite_aio.dialect.import_dbapi())  # as the store runs it
    ours = _sqlite_processor(table.c[column].type, dialect)
    # what a Core statement binds: the type's processor, then its dialect implementation's (for a datetime,
    # SQLite DATETIME's text with 6 fractional digits, which the stored values are compared against)
    theirs = _core_processor(table.c[column].type, dialect)
    for value in values:
        expected = theirs(value) if theirs else value
        got = ours(value) if ours else value
        assert _stored(got) == _stored(expected)


def _core_processor(column_type, dialect):
    outer = column_type.bind_processor(dialect)
    inner = column_type.dialect_impl(dialect).impl_instance.bind_processor(dialect) \
        if hasattr(column_type, "impl_instance") else None
    if outer and inner:
        return lambda v: inner(outer(v))
    return outer or inner


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        _sqlite_processor(items.c.occurred_at.type, sqlite.dialect())(datetime(2026, 1, 1))


async def test_candidate_texts_read_raw_equal_core_rows(app, clock):
    """ItemRepo.texts reads SQLite through the driver: the same values as a Core select of those columns."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from monitor.core.model import RawItem

    at = [datetime(2026, 1, 1, 8, tzinfo=timezone.utc), datetime(2026, 1, 2, 9, 30, 15, 123, tzinfo=timezone.utc),
          None]
    await app.pipeline.ingest([RawItem("hotline", f"T{i}", f"标题{i}", f"第{i}条留言的内容各不相同", occurred_at=t)
                               for i, t in enumerate(at)], "hotline")
    async with app.store.read() as tx:
        rows = (await tx.conn.execute(select(items.c.id))).all()
        got = await tx.items.texts([r[0] for r in rows] + [10_000])
        cols = [items.c.id, items.c.incident_id, items.c.title, items.c.body, items.c.source,
                items.c.external_id, items.c.occurred_at, items.c.received_at]
        expected = {r.id: dict(r._mapping) for r in await tx.conn.execute(select(*cols))}
    assert got == expected and len(got) == 3
    assert [got[i]["occurred_at"] for i in sorted(got)] == at


async def test_refresh_stats_stores_what_core_stored(app, clock):
    """On SQLite refresh_stats runs plain driver SQL: counts, likes and times as Core's update stored them."""
    from datetime import datetime, timezone

    from sqlalchemy import bindparam, select, update

    from monitor.core.model import RawItem

    text_ = "小区门口的路灯已经坏了两个月晚上出行很不方便请尽快派人维修"
    at = [datetime(2026, 1, 1, 8, tzinfo=timezone.utc), datetime(2026, 1, 2, 9, 30, 15, 123, tzinfo=timezone.utc)]
    await app.pipeline.ingest([RawItem("hotline", "A", "路灯", text_, occurred_at=at[0], reporter="U1", likes=2),
                               RawItem("hotline", "B", "路灯", text_ + "。", occurred_at=at[1], reporter="", likes=3)],
                              "hotline")
    now = clock.now()
    raw = "SELECT id, item_count, reporter_count, likes, updated_at, last_seen_at FROM incidents ORDER BY id"
    async with app.store.write() as tx:
        [incident_id] = [r[0] for r in (await tx.conn.execute(select(incidents.c.id))).all()]
        await tx.incidents.refresh_stats([incident_id], now)
        ours = (await tx.conn.exec_driver_sql(raw)).all()
        await tx.conn.execute(  # what the Core path writes
            update(incidents).where(incidents.c.id == bindparam("b_id")).values(
                item_count=bindparam("n"), reporter_count=bindparam("r"), likes=bindparam("l"),
                updated_at=bindparam("u"), last_seen_at=bindparam("s")),
            [{"b_id": incident_id, "n": 2, "r": 1, "l": 5, "u": now, "s": at[1]}])
        core = (await tx.conn.exec_driver_sql(raw)).all()
    assert ours == core and ours[0][1:4] == (2, 1, 5)
