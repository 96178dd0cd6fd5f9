"""Sources health (数据源): each configured source's last poll, last success, next poll, consecutive errors and
last error, the reports it stored and its quarantined rows — what `yuqing sources` and `yuqing quarantine` show
(monitor.sources.health). The quarantined rows themselves (file, row, reason) are listed for the duty office, not
for a liaison: a row that could not be routed belongs to no department yet.

GET /sources
GET /api/v1/sources
"""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from monitor.sources.health import health_report
from monitor.store.stats import stats
from monitor.web.auth import APP_KEY
from monitor.web.office_kit import json_response, only_department, page

QUARANTINE_ROWS = 50  # the latest unresolved rows shown; `yuqing quarantine` lists them all


async def health(app) -> list[dict]:
    """Each source's health with its stored reports, quarantined rows and last poll (the row's last update)."""
    report = await health_report(app.settings, app.store, app.clock.now())
    async with app.store.read() as tx:
        stored = await tx.items.counts_by_source()
        quarantined = await tx.items.quarantine_counts()
        polled = {r["name"]: r["updated_at"] for r in await tx.sources.list()}
    for r in report:
        last = polled.get(r["name"])
        r.update(items=stored.get(r["name"], 0), quarantined=quarantined.get(r["name"], 0),
                 last_poll_at=last.isoformat() if last else None)
    return report


async def sources_page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    report = await health(app)
    rows = []
    if only_department(request) is None:
        async with app.store.read() as tx:
            rows = await stats(tx).latest_quarantine(QUARANTINE_ROWS)
    when = {k: datetime.fromisoformat(v) if v else None for r in report
            for k, v in ((f"{r['name']}/{f}", r[f]) for f in ("last_poll_at", "last_ok_at", "next_poll_at"))}
    return page(request, "sources.html", "sources", sources=report, when=when, quarantine=rows,
                show_quarantine=only_department(request) is None,
                quarantined_total=sum(r["quarantined"] for r in report))


async def sources_api(request: web.Request) -> web.Response:
    return json_response({"sources": await health(request.app[APP_KEY])})


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/sources", sources_page)
    web_app.router.add_get("/api/v1/sources", sources_api)
