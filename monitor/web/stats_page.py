"""Statistics (统计) for 月检查/季通报: by day (incidents, reports), by department, by severity and the on-time
rate per rule over a month, quarter or year (monitor.reports.stats, counted as `yuqing report` counts). The page
shows every number in tables; static/stats.js draws the same numbers as charts with the ECharts copy the app
serves itself (static/vendor/, no CDN: offices are often on closed networks), fetched from the JSON endpoint.
A liaison's statistics are its own department's.

GET /stats?period=2026-11|2026Q4|2026
GET /api/v1/stats?period=…
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta

from aiohttp import web

from monitor.core.clock import fmt_local, local
from monitor.reports.job import load_period
from monitor.reports.period import Period, parse_period
from monitor.reports.stats import StatsData, build
from monitor.store.stats import stats
from monitor.web.auth import APP_KEY
from monitor.web.inputs import BadInput
from monitor.web.office_kit import error_page, json_error, json_response, only_department, page

_FORMS = ((re.compile(r"[0-9]{4}-[0-9]{2}"), "month"), (re.compile(r"[0-9]{4}[Qq][1-4]"), "quarter"),
          (re.compile(r"[0-9]{4}"), "year"))
_HINT = "period: 须为月份 2026-11、季度 2026Q4 或年份 2026 (a month YYYY-MM, a quarter YYYYQn or a year YYYY)"


def period_of(request: web.Request) -> Period:
    """The period the query names (default: this month, Beijing time); BadInput otherwise."""
    text = request.query.get("period") or f"{local(request.app[APP_KEY].clock.now()):%Y-%m}"
    for pattern, kind in _FORMS:
        if pattern.fullmatch(text) and 1900 <= int(text[:4]) <= 2999:
            try:
                return parse_period(**{kind: text})
            except ValueError:
                break
    raise BadInput(_HINT)


async def numbers(request: web.Request, period: Period) -> dict:
    app = request.app[APP_KEY]
    department = only_department(request)
    async with app.store.read() as tx:
        data = await load_period(tx, period, app.clock.now())
        repo = stats(tx)
        by_day_severity = await repo.incidents_by_day(period.start, period.end, department)
        reports = await repo.reports_by_day(period.start, period.end, department)
    by_day: Counter = Counter()
    severity: Counter = Counter()
    for (day, level), n in by_day_severity.items():
        by_day[day] += n
        severity[level] += n
    titles = {r.name: r.title or r.name for r in app.settings.rules}
    return build(StatsData(data, by_day, reports, severity, titles), department)


def choices(request: web.Request) -> list[tuple[str, str]]:
    """Quick links of the period picker: this and last month, this and last quarter, this and last year."""
    today = local(request.app[APP_KEY].clock.now()).date()
    last_month = today.replace(day=1) - timedelta(days=1)
    q = (today.month - 1) // 3 + 1
    last_q = (today.year, q - 1) if q > 1 else (today.year - 1, 4)
    return [(f"{today:%Y-%m}", "本月"), (f"{last_month:%Y-%m}", "上月"), (f"{today.year}Q{q}", "本季度"),
            (f"{last_q[0]}Q{last_q[1]}", "上季度"), (str(today.year), "本年"), (str(today.year - 1), "上年")]


async def stats_page(request: web.Request) -> web.Response:
    try:
        period = period_of(request)
    except BadInput as exc:
        return error_page(request, 400, str(exc))
    s = await numbers(request, period)
    return page(request, "stats.html", "stats", s=s, period=period, choices=choices(request),
                at=fmt_local(datetime.fromisoformat(s["period"]["at"])))


async def stats_api(request: web.Request) -> web.Response:
    try:
        period = period_of(request)
    except BadInput as exc:
        return json_error(str(exc))
    return json_response(await numbers(request, period))


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/stats", stats_page)
    web_app.router.add_get("/api/v1/stats", stats_api)
