"""The now page (当前, `/`): what falls due first, with live countdowns, the overdue banner, who is on duty, the
latest reminders, filters and search; and `/api/v1/now/summary`, the page's counts that its script refreshes after
live updates (monitor/web/stream.py). docs/dashboard.md, "当前".

The filters, the cursor and the row shape are shared with `GET /api/v1/incidents` (monitor/web/api.py). A liaison
sees its own department only: asking for another one is a 403."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from monitor.core.clock import SHANGHAI, fmt_delta, fmt_local
from monitor.core.model import Severity
from monitor.deadlines.rules import provisional_note
from monitor.store.dashboard import STATUSES, BadCursor, Cursor, NowFilter, Row
from monitor.understanding.names import department_names
from monitor.web.auth import APP_KEY, principal
from monitor.web.inputs import MAX_OFFSET, BadInput, query_int, storable
from monitor.web.pages import fragment, render, shares, time_used
from monitor.web.search import query_words

PAGE_ROWS = 50  # rows the page shows before "更多"
SOON = 7200  # seconds: a deadline this close is drawn orange
ROSTER_AHEAD = timedelta(days=7)
ROSTER_ROLES = {"duty_officer": "值班员", "office_leader": "办公室负责人"}
_SOURCES_TTL = 60.0  # the source choices are a scan of items: read once a minute per process
FACETS_TTL = 10.0  # counts kept while no incident changed (and no longer: search words arrive without a change)
CACHE = web.AppKey("yuqing_now_cache", dict)
# (request key) the change feed's newest id as this request read it
MARK = web.RequestKey("yuqing_now_mark", int) if hasattr(web, "RequestKey") else "yuqing_now_mark"


class Forbidden(Exception):
    pass


class Query:
    """The filters of a page or API call, checked; `args` rebuilds them for links (更多, tabs)."""

    def __init__(self, request: web.Request, default_status: str | None = "open", default_limit: int = PAGE_ROWS):
        q = request.query
        who = principal(request)
        status = q.get("status", default_status or "all")
        if status not in (*STATUSES, "all"):
            raise BadInput("status: 须为 open、closed、merged 或 all (use open, closed, merged or all)")
        department = _text(q, "department", 100)
        own = who.only_department if who is not None else None
        if own is not None:
            if department and department != own:
                raise Forbidden(f"无权查看其他部门的事件：{department[:40]} (a liaison sees its own department only)")
            department = own
        severity = None
        if q.get("severity"):
            try:
                severity = int(Severity.parse(int(q["severity"]) if q["severity"].isdigit() else q["severity"]))
            except ValueError:
                raise BadInput("severity: 须为 1–4 或 一般、较大、重大、特别重大 (use 1-4 or a level name)") from None
        since, until = _day(q, "from"), _day(q, "to")
        self.text = _text(q, "q", 200) or ""
        words = query_words(request.app[APP_KEY].understander.segmenter, self.text) if self.text.strip() else ()
        if self.text.strip() and not words:
            raise BadInput("q: 没有可检索的字词 (the search has no words: use letters, digits or Chinese)")
        self.limit = query_int(q, "limit", default_limit, 1, 1000)
        self.offset = query_int(q, "offset", 0, 0, MAX_OFFSET)
        self.cursor = None
        if q.get("cursor"):
            if self.offset:
                raise BadInput("cursor: 不能与 offset 同用 (use cursor or offset, not both)")
            try:
                self.cursor = Cursor.decode(q["cursor"][:200])
            except BadCursor:
                raise BadInput("cursor: 无效的翻页位置，请从第一页重新开始 (invalid cursor: start from the first page)") \
                    from None
        self.status = status
        self.filter = NowFilter(None if status == "all" else status, department, severity,
                                _text(q, "source", 100) or None,
                                _start_of(since), _start_of(until + timedelta(days=1)) if until else None, words)
        self.args = {k: v for k, v in (
            ("status", status), ("department", department if own is None else None),
            ("severity", str(severity) if severity else None), ("source", self.filter.source),
            ("from", since.isoformat() if since else None), ("to", until.isoformat() if until else None),
            ("q", self.text or None)) if v}
        self.since, self.until, self.severity = since, until, severity

    def link(self, **changes) -> str:
        args = {**self.args, **{k: v for k, v in changes.items() if v is not None}}
        for k in [k for k, v in changes.items() if v is None]:
            args.pop(k, None)
        return "/?" + urlencode(args) if args else "/"

    @property
    def narrowed(self) -> bool:
        """Filters the page's script cannot check on a pushed row (source, dates, words): it then only updates
        rows it shows and never adds one."""
        f = self.filter
        return bool(f.source or f.since or f.until or f.words)


def _text(q, name: str, max_len: int) -> str | None:
    value = q.get(name)
    if value is None:
        return None
    if len(value) > max_len:
        raise BadInput(f"{name}: 超过 {max_len} 个字符 (longer than {max_len} characters)")
    return storable(value.strip(), name)


def _day(q, name: str) -> date | None:
    value = q.get(name)
    if not value:
        return None
    try:
        return date.fromisoformat(value[:10]) if len(value) == 10 else _bad_day(name)
    except ValueError:
        return _bad_day(name)


def _bad_day(name: str):
    raise BadInput(f"{name}: 须为日期，如 2026-12-06 (use a date such as 2026-12-06)")


def _start_of(day: date | None) -> datetime | None:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI) if day else None


def deadline_json(d, now: datetime) -> dict:
    return {"rule": d.rule, "title": d.title or d.rule, "starts_at": d.starts_at.isoformat(),
            "due_at": d.due_at.isoformat(), "due_local": fmt_local(d.due_at), "left": fmt_delta(d.due_at - now),
            "acked_by": d.acked_by, "acked_at": d.acked_at.isoformat() if d.acked_at else None,
            "provisional": provisional_note(d.provisional_year)}


def row_json(row: Row, now: datetime) -> dict:
    """What the page's script needs of a row (the live stream's events and the API's lists carry it)."""
    i = row.incident
    return {"id": i.id, "title": i.title, "status": i.status, "sev": i.severity, "severity": Severity(i.severity).zh,
            "department": i.department, "co_departments": i.co_departments, "domain": i.domain, "triage": i.triage,
            "merged_into": i.merged_into, "item_count": i.item_count, "reporter_count": i.reporter_count,
            "likes": i.likes, "first_seen_at": i.first_seen_at.isoformat(), "last_seen_at": i.last_seen_at.isoformat(),
            "last_seen_local": fmt_local(i.last_seen_at),
            "next_due": row.next_due.isoformat() if row.next_due else None,
            "deadlines": [deadline_json(d, now) for d in row.deadlines]}


def _view(d, now: datetime) -> dict:
    left = (d.due_at - now).total_seconds()
    return {"title": d.title or d.rule, "rule": d.rule, "due": fmt_local(d.due_at), "left": fmt_delta(d.due_at - now),
            "due_at": d.due_at.isoformat(), "starts_at": d.starts_at.isoformat(), "overdue": left <= 0,
            "soon": 0 < left < SOON, "used": time_used(d.starts_at, d.due_at, now), "acked_by": d.acked_by,
            "provisional": provisional_note(d.provisional_year)}


async def counted(request: web.Request, tx, what: str, key, compute, at: datetime | None = None, extra=()):
    """A read of the incidents (a count, counts by level or department, a page of rows) done once per state of the
    store and shared by every request that asks the same: kept while the change feed's newest id stays the same
    (triggers bump it on every change of an incident or its deadlines, whichever process made it), for FACETS_TTL
    seconds at most (`extra`: the rest of the key, e.g. the page's position); a read that depends on the time (`at`:
    overdue counts) only within that second. Counting 70,000 open incidents costs 10–20 ms; asking whether anything
    changed, 0.1 ms."""
    if isinstance(key, NowFilter) and key.words:  # the indexer adds words without changing an incident
        return await compute()
    cache = request.app[CACHE]
    mark = await store_mark(request, tx)
    key = (what, key, extra, int(at.timestamp()) if at is not None else None)
    hit = cache.get(key)
    clock = time.monotonic()
    if hit is not None and hit[0] == mark and clock - hit[1] < FACETS_TTL:
        return hit[2]
    value = await compute()
    if len(cache) > 1000:  # many filters: start afresh rather than grow
        cache.clear()
    cache[key] = (mark, clock, value)
    return value


async def store_mark(request: web.Request, tx) -> int:
    """The change feed's newest id, read once per request (the first read of its transaction)."""
    if MARK not in request:
        request[MARK] = await tx.dashboard.last_change()
    return request[MARK]


async def summary_of(request: web.Request, tx, query: Query, now: datetime, total: int | None = None) -> dict:
    """The cards and the banner: true counts, never the length of a page (`total`: when already counted)."""
    department = query.filter.department
    counts = await counted(request, tx, "deadlines", department,
                           lambda: tx.dashboard.deadline_counts(now, department), at=now)
    if total is None:
        total = await counted(request, tx, "count", query.filter, lambda: tx.dashboard.count(query.filter))
    banner = await counted(request, tx, "banner", department, lambda: _banner(tx, now, department), at=now)
    return {"counts": counts, "total": total, "banner": banner, "now": now.isoformat()}


async def _banner(tx, now: datetime, department: str | None) -> dict | None:
    n, first = await tx.dashboard.unacknowledged_overdue(now, department)
    if first is None:
        return None
    incident = await tx.incidents.get(first.incident_id)
    return {"count": n, "incident_id": first.incident_id, "incident": incident.title if incident else "",
            "deadline": first.title or first.rule, "due_local": fmt_local(first.due_at),
            "late": fmt_delta(now - first.due_at)}


async def index(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    now = app.clock.now()
    try:
        query = Query(request)
    except BadInput as exc:
        return _error(request, 400, str(exc), now)
    except Forbidden as exc:
        return _error(request, 403, str(exc), now)
    department = query.filter.department
    async with app.store.read() as tx:
        mark = await store_mark(request, tx)  # first: the live stream replays what comes after the page's data
        rows, more = await page_of(request, tx, query, full=False)
        # the stack, and the count of every level
        by_severity = await counted(request, tx, "severity", query.filter,
                                    lambda: tx.dashboard.by_severity(query.filter))
        total = sum(n for s, n in by_severity if query.severity in (None, s))
        summary = await summary_of(request, tx, query, now, total)
        by_department = ([(department, total)] if total else []) if principal(request).only_department \
            else await counted(request, tx, "department", query.filter.status,
                               lambda: tx.dashboard.by_department(query.filter.status))
        reminders = await tx.dashboard.reminders(department)
        duty = await _on_duty(tx, now)
        sources = await _sources(request, tx)
    liaison = principal(request).only_department is not None
    departments = [department] if liaison else department_names(app.jurisdiction)
    views = [(r, [_view(d, now) for d in r.deadlines]) for r in rows]
    return render(
        "index.html", request, nav="now", now=fmt_local(now), server_now=now.isoformat(), query=query,
        rows_html=_rows_html(request, mark, views), shown=len(rows),
        next_link=query.link(cursor=more.encode(), offset=None) if more else None,
        next_cursor=more.encode() if more else "", summary=summary, counts=summary["counts"],
        by_severity=shares(by_severity, sum(n for _, n in by_severity)), by_department=shares(by_department),
        alerts=reminders, duty=duty, departments=departments, sources=sources,
        severities=[(s.value, s.zh) for s in reversed(Severity)],
        status=query.status, liaison=liaison, mark=mark)


def _rows_html(request: web.Request, mark: int, views: list) -> Markup:
    """The page's rows as HTML (half the page's time was rendering them), kept while the store and what the time
    changes in them (countdown text, bar, colour) are the same: while the change feed stands still, the same
    incidents with the same deadline views give the same HTML, whichever filter or search listed them."""
    cache = request.app[CACHE]
    key = ("rows-html", tuple((r.incident.id, r.next_due, tuple(tuple(v.values()) for v in ds)) for r, ds in views))
    hit = cache.get(key)
    clock = time.monotonic()
    if hit is not None and hit[0] == mark and clock - hit[1] < FACETS_TTL:
        return hit[2]
    html = fragment("now_rows.html", rows=views)
    if len(cache) > 1000:  # many pages: start afresh rather than grow
        cache.clear()
    cache[key] = (mark, clock, html)
    return html


async def page_of(request: web.Request, tx, query: Query, full: bool):
    """The rows of the query's page (shared while the store is unchanged; a search is always read afresh: the
    indexer adds words without changing an incident)."""
    return await counted(request, tx, "page", query.filter,
                         lambda: tx.dashboard.page(query.filter, query.limit, query.cursor, query.offset, full=full),
                         extra=(query.limit, query.cursor, query.offset, full))


def _error(request: web.Request, status: int, message: str, now) -> web.Response:
    response = render("error.html", request, status_code=status, message=message, now=now)
    response.set_status(status)
    return response


def api_query(request: web.Request, **kw) -> "Query | web.Response":
    """The API's filters, or the JSON answer that refuses them (400 bad input, 403 another department)."""
    try:
        return Query(request, **kw)
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except Forbidden as exc:
        return web.json_response({"error": str(exc)}, status=403)


async def summary(request: web.Request) -> web.Response:
    """GET /api/v1/now/summary?…filters: the now page's cards and banner, for its script after a live update."""
    app = request.app[APP_KEY]
    query = api_query(request)
    if isinstance(query, web.Response):
        return query
    now = app.clock.now()
    async with app.store.read() as tx:
        body = await summary_of(request, tx, query, now)
    return web.json_response(body)


async def _on_duty(tx, now: datetime) -> list[dict]:
    """Per roster role: who holds it now (until when) and who comes next, from the roster in the store."""
    shifts = await tx.people.roster(now, now + ROSTER_AHEAD)
    if not shifts:
        return []
    names = {name: (u.get("display") or name) for name, u in (await tx.people.users()).items()}
    out = []
    for role in sorted({s["role"] for s in shifts}, key=lambda r: (r not in ROSTER_ROLES, r)):
        mine = [s for s in shifts if s["role"] == role]
        current = [s for s in mine if s["starts_at"] <= now < s["ends_at"]]
        upcoming = sorted((s for s in mine if s["starts_at"] > now), key=lambda s: s["starts_at"])
        nxt = [s for s in upcoming if s["starts_at"] == upcoming[0]["starts_at"]] if upcoming else []
        out.append({"role": ROSTER_ROLES.get(role, role),
                    "now": [(names.get(s["user"], s["user"]), fmt_local(s["ends_at"])) for s in current],
                    "next": [(names.get(s["user"], s["user"]), fmt_local(s["starts_at"])) for s in nxt]})
    return out


async def _sources(request: web.Request, tx) -> list[str]:
    cache = request.app[CACHE]
    hit = cache.get("sources")
    if hit and time.monotonic() - hit[0] < _SOURCES_TTL:
        return hit[1]
    names = await tx.dashboard.sources()
    cache["sources"] = (time.monotonic(), names)
    return names


def add_routes(web_app: web.Application) -> None:
    web_app[CACHE] = {}
    web_app.router.add_get("/", index)
    web_app.router.add_get("/api/v1/now/summary", summary)
