"""GET /triage — the triage queue (待分诊) in the browser: what the understanding was unsure of, with its reasons;
a person confirms it or corrects domain, department and severity (with a reason). The buttons call the triage API
(monitor/web/triage_api.py) from static/office.js, so the rules, the audit entry and the moved deadlines are
the CLI's (`yuqing triage`). A liaison sees its own department's part of the queue."""

from __future__ import annotations

from aiohttp import web

from monitor.core.model import Severity
from monitor.store.stats import stats
from monitor.understanding.names import department_names, known_domains
from monitor.web.auth import APP_KEY
from monitor.web.inputs import MAX_OFFSET, BadInput, query_int
from monitor.web.office_kit import error_page, only_department, page

ROWS = 50  # incidents on one page of the queue


async def triage_page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        limit = query_int(request.query, "limit", ROWS, 1, 1000)
        offset = query_int(request.query, "offset", 0, 0, MAX_OFFSET)
    except BadInput as exc:
        return error_page(request, 400, str(exc))
    department = only_department(request)
    async with app.store.read() as tx:
        incidents = await stats(tx).triage_queue(department, limit, offset)
        total = await stats(tx).pending_triage(department)
    rows = [{"incident": i, "why": [r["text"] for r in i.reasons if r.get("stage") == "triage"],
             "reasons": [r for r in i.reasons if r.get("stage") != "triage"]} for i in incidents]
    return page(request, "triage.html", "triage", rows=rows, total=total, offset=offset, limit=limit,
                severities=[(s.zh, f"{s.zh}（{s.roman}级）") for s in sorted(Severity, reverse=True)],
                departments=department_names(app.jurisdiction),
                domains=known_domains(app.jurisdiction, app.understander))


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/triage", triage_page)
