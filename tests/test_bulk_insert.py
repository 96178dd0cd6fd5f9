"""The importer's bulk insert on SQLite writes exactly what SQLAlchemy's own parameter handling writes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from monitor.store.repos import _sqlite_processor
from monitor.store.schema import incidents, items


@pytest.mark.parametrize("table,column,values", [
    (items, "occurred_at", [None, datetime(2026, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))),
                            datetime(2026, 3, 4, 5, 6, 7, 891, tzinfo=timezone.utc)]),
    (items, "raw", [{}, {"标题": "路灯", "点赞数": "3"}, {"a": [1, 2.5, None, True]}]),
    (incidents, "co_departments", [[], ["区应急局", "区住房和城乡建设局"]]),
    (incidents, "reasons", [[], [{"stage": "route", "text": "属地管理：马街街道 → 区应急局"}]]),
    (items, "title", ["", "路灯不亮"]),
    (items, "likes", [0, 12]),
])
def test_fast_processors_give_sqlalchemy_values(table, column, values):
    dialect = sqlite.dialect()
    ours = _sqlite_processor(table.c[column].type, dialect)
    theirs = table.c[column].type.bind_processor(dialect)
    for value in values:
        expected = theirs(value) if theirs else value
        got = ours(value) if ours else value
        assert got == expected and type(got) is type(expected)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        _sqlite_processor(items.c.occurred_at.type, sqlite.dialect())(datetime(2026, 1, 1))
