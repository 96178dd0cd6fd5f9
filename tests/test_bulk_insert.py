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
    # the bulk path has always bound the type's own processor (not the dialect's string formatting)
    theirs = table.c[column].type.bind_processor(dialect)
    for value in values:
        expected = theirs(value) if theirs else value
        got = ours(value) if ours else value
        assert _stored(got) == _stored(expected)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        _sqlite_processor(items.c.occurred_at.type, sqlite.dialect())(datetime(2026, 1, 1))
