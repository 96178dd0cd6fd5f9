"""The importer's bulk inserts (ItemRepo.insert_many_returning, IncidentRepo.insert_many_fast): on SQLite many
rows go in one statement (monitor/store/repos.py `_bulk_insert`); the rows, their ids and order, and what the
triggers write must be those of one statement per row."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from monitor.core.model import Reason, RawItem, Severity, Understanding
from monitor.pipeline import _incident_row, _item_row
from monitor.store import repos
from monitor.store.schema import incident_changes, incidents, items

NOW = datetime(2026, 11, 23, 9, 0).astimezone()


def _rows(n: int) -> tuple[list[RawItem], list[dict]]:
    raws = [RawItem("hotline", f"GD{k:04d}", f"标题{k}", f"第{k}条留言：小区门口积水", NOW - timedelta(minutes=k),
                    location=f"西苑街道{k}号", reporter=f"U{k % 7}", likes=k % 3, extra={"cells": {"行": str(k)}})
            for k in range(n)]
    u = [Understanding("城建", 0.5 + k / 1000, "住建局", ["水务局"] if k % 2 else [], "西苑街道",
                       Severity(1 + k % 3), "incident", [], "", [Reason("severity", f"理由{k}")],
                       facts={"injured": k} if k % 5 == 0 else {}) for k in range(n)]
    return raws, [_incident_row([r], x, NOW) for r, x in zip(raws, u)]


async def test_many_rows_a_statement_store_what_one_row_a_statement_stores(store):
    n = 3 * (repos._SQLITE_PARAMS // len(incidents.c)) + 5  # several whole statements and a remainder
    raws, incident_rows = _rows(n)
    async with store.write() as tx:
        ids = await tx.incidents.insert_many_fast(incident_rows)
        item_rows = [_item_row(r, f"h{k}", NOW, i, "", "城建", 0.5, {"injured": k} if k % 5 == 0 else None)
                     for k, (r, i) in enumerate(zip(raws, ids))]
        item_ids = await tx.items.insert_many_returning(item_rows)
    assert ids == list(range(ids[0], ids[0] + n)) and item_ids == list(range(item_ids[0], item_ids[0] + n))
    async with store.read() as tx:
        got = [dict(r._mapping) for r in await tx.conn.execute(select(incidents).order_by(incidents.c.id))]
        stored = [dict(r._mapping) for r in await tx.conn.execute(select(items).order_by(items.c.id))]
        changes = [r[0] for r in await tx.conn.execute(
            select(incident_changes.c.incident_id).order_by(incident_changes.c.id))]
    assert [r["id"] for r in got] == ids
    for row, want in zip(got, incident_rows):
        assert {k: row[k] for k in want} == want
    assert [r["id"] for r in stored] == item_ids
    for row, want in zip(stored, item_rows):
        assert {k: row[k] for k in want} == want
    assert changes == ids  # the change feed's trigger fired once per new incident, in order
