"""The response ledger (回应台账) of a month in the browser, filtered by department and state, and its XLSX in the
office's layout — the very workbook `yuqing ledger export` writes (monitor.deadlines.ledger). A liaison's ledger
holds its own department's incidents only.

GET /ledger?month=YYYY-MM&department=D&state=S        the page
GET /ledger.xlsx?…                                    the same rows as XLSX
GET /api/v1/ledger?…&limit=1..1000&cursor=C           JSON, a page at a time (`next_cursor`)
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from monitor.core.clock import local
from monitor.deadlines import ledger
from monitor.web.auth import APP_KEY
from monitor.web.inputs import BadInput, query_int, storable
from monitor.web.office_kit import error_page, json_error, json_response, only_department, page

# state → the 是否按时 cell (monitor.deadlines.ledger) it selects
STATES = {"on_time": "是", "late": "否（逾期）", "missing": "未按时回应", "pending": "进行中", "none": "—"}
STATE_NAMES = {"on_time": "按时", "late": "逾期", "missing": "未按时回应", "pending": "进行中", "none": "无期限"}
_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_CURSOR = re.compile(r"([0-9]{1,20})-([0-9]{1,10})")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def filters(request: web.Request) -> tuple[str, str | None, str | None]:
    """(month, department, state) of the query; BadInput names the field. A liaison's department is its own."""
    q = request.query
    month = q.get("month") or f"{local(request.app[APP_KEY].clock.now()):%Y-%m}"
    if not _MONTH.fullmatch(month):
        raise BadInput("month: 须为 YYYY-MM，如 2026-11 (use YYYY-MM)")
    try:
        ledger.month_bounds(month)
    except ValueError:
        raise BadInput("month: 须为 YYYY-MM，如 2026-11 (use YYYY-MM)") from None
    department = (q.get("department") or "").strip() or None
    if department is not None and len(storable(department, "department")) > 100:
        raise BadInput("department: 超过 100 个字符 (longer than 100 characters)")
    own = only_department(request)
    if own is not None:
        if department not in (None, own):
            raise BadInput(f"department: 只能查看本部门（{own}）的台账 (a liaison sees its own department only)")
        department = own
    state = q.get("state") or None
    if state is not None and state not in STATES:
        raise BadInput(f"state: 须为 {'、'.join(STATES)} 之一 (one of {', '.join(STATES)})")
    return month, department, state


async def month_rows(app, month: str, department: str | None, state: str | None):
    """[(incident, cells)] of the month after the filters, and the counts by department."""
    start, end = ledger.month_bounds(month)
    async with app.store.read() as tx:
        incidents, deadlines, entries = await tx.ledger.month(start, end)
    if department is not None:
        incidents = [i for i in incidents if i.department == department]
    report = ledger.build(incidents, deadlines, entries, min(app.clock.now(), end), start, end)
    # build() writes one row per incident that is not merged, in the order given
    rows = list(zip([i for i in incidents if i.status != "merged"], report.rows))
    if state is not None:
        rows = [(i, cells) for i, cells in rows if cells[6] == STATES[state]]
    stats = report.stats
    if department is not None:  # the deadline counts are by the deadline's department
        stats = [s for s in stats if s[0] == department]
    return rows, stats


async def ledger_page(request: web.Request) -> web.Response:
    try:
        month, department, state = filters(request)
    except BadInput as exc:
        return error_page(request, 400, str(exc))
    app = request.app[APP_KEY]
    rows, stats = await month_rows(app, month, department, state)
    async with app.store.read() as tx:
        known = [name for name, _ in await tx.incidents.counts("department", status=None)]
    query = "&".join(f"{k}={quote(v)}" for k, v in (("month", month), ("department", department or ""),
                                                   ("state", state or "")) if v)
    return page(request, "ledger.html", "ledger", month=month, department=department, state=state, rows=rows,
                stats=stats, columns=ledger.COLUMNS, stats_columns=ledger.STATS_COLUMNS, states=STATE_NAMES,
                departments=sorted(set(known) | ({department} if department else set())),
                own=only_department(request), query=query)


async def ledger_xlsx(request: web.Request) -> web.Response:
    try:
        month, department, state = filters(request)
    except BadInput as exc:
        return error_page(request, 400, str(exc))
    rows, stats = await month_rows(request.app[APP_KEY], month, department, state)
    label = "·".join(filter(None, [month, department, STATE_NAMES.get(state or "")]))
    data = await asyncio.to_thread(_workbook, label, ledger.Report([cells for _, cells in rows], stats))
    name = f"回应台账-{month}.xlsx"
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"ledger-{month}.xlsx\"; filename*=UTF-8''{quote(name)}"})


def _workbook(label: str, report: ledger.Report) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "ledger.xlsx"
        ledger.write_xlsx(path, label, report)
        return path.read_bytes()


def _key(incident) -> tuple[int, int]:
    return int(incident.first_seen_at.timestamp() * 1_000_000), incident.id


async def ledger_api(request: web.Request) -> web.Response:
    try:
        month, department, state = filters(request)
        limit = query_int(request.query, "limit", 200, 1, 1000)
        cursor = request.query.get("cursor")
        after = None
        if cursor is not None:
            found = _CURSOR.fullmatch(cursor)
            if not found:
                raise BadInput("cursor: 须为上一页返回的 next_cursor (use the next_cursor of the previous page)")
            after = (int(found[1]), int(found[2]))
    except BadInput as exc:
        return json_error(str(exc))
    rows, stats = await month_rows(request.app[APP_KEY], month, department, state)
    if after is not None:
        rows = [(i, cells) for i, cells in rows if _key(i) > after]
    page_rows = rows[:limit]
    more = len(rows) > limit
    return json_response({
        "month": month, "department": department, "state": state, "columns": ledger.COLUMNS,
        "rows": [{"incident_id": i.id, **dict(zip(ledger.COLUMNS, cells))} for i, cells in page_rows],
        "stats": [dict(zip(ledger.STATS_COLUMNS, s)) for s in stats],
        "next_cursor": "-".join(map(str, _key(page_rows[-1][0]))) if more else None})


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/ledger", ledger_page)
    web_app.router.add_get("/ledger.xlsx", ledger_xlsx)
    web_app.router.add_get("/api/v1/ledger", ledger_api)
