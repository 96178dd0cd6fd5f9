"""The on-call duty dashboard (值班台) and the JSON API, served by aiohttp. Everything scraped is escaped
by Jinja2's autoescape; the API returns JSON and never HTML."""

from __future__ import annotations

from pathlib import Path

import jinja2
from aiohttp import web

from monitor.core.clock import fmt_delta, fmt_local
from monitor.deadlines.rules import provisional_note
from monitor.core.model import Severity
from monitor.web.auth import APP_KEY

TEMPLATES = Path(__file__).parent / "templates"

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["local"] = fmt_local
_env.filters["severity_zh"] = lambda v: Severity(v).zh
_env.filters["roman"] = lambda v: Severity(v).roman


def time_used(starts_at, due_at, now) -> int:
    """How much of a deadline's window has gone, 0–100 %: the bar a duty officer reads at a glance."""
    window = (due_at - starts_at).total_seconds()
    if window <= 0:
        return 100
    return max(0, min(100, round(100 * (now - starts_at).total_seconds() / window)))


def shares(counts: list[tuple], total: int | None = None) -> list[tuple]:
    """(key, n, percent of the largest or of total) for CSS bar widths; percent is an int, never text."""
    top = total or max((n for _, n in counts), default=0) or 1
    return [(k, n, round(100 * n / top)) for k, n in counts]


_env.filters["provisional"] = lambda d: provisional_note(d.provisional_year)
_env.filters["time_used"] = lambda d, now: time_used(d.starts_at, d.due_at, now)


def render(name: str, **ctx) -> web.Response:
    return web.Response(text=_env.get_template(name).render(**ctx), content_type="text/html", charset="utf-8")


async def index(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    now = app.clock.now()
    status = request.query.get("status", "open")
    if status not in ("open", "closed", "merged", "all"):
        status = "open"
    async with app.store.read() as tx:
        incidents = await tx.incidents.list(status=None if status == "all" else status, limit=300)
        open_deadlines = await tx.deadlines.list(state="open", limit=500)
        counts = await tx.deadlines.counts(now)
        by_department = await tx.incidents.counts("department")
        by_severity = await tx.incidents.counts("severity")
        alerts = await tx.outbox.list(limit=20)
    due_by_incident: dict[int, list] = {}
    for d in open_deadlines:
        due_by_incident.setdefault(d.incident_id, []).append(
            {"title": d.title, "due": fmt_local(d.due_at), "left": fmt_delta(d.due_at - now),
             "overdue": d.due_at <= now, "soon": (d.due_at - now).total_seconds() < 7200,
             "used": time_used(d.starts_at, d.due_at, now), "provisional": provisional_note(d.provisional_year)}
        )
    return render("index.html", incidents=incidents, due=due_by_incident, counts=counts,
                  by_department=shares(by_department), now=fmt_local(now), status=status, alerts=alerts,
                  by_severity=shares(sorted(by_severity, reverse=True), sum(n for _, n in by_severity)))


async def incident_page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    detail = await incident_detail(app, _int(request.match_info["id"]))
    if detail is None:
        raise web.HTTPNotFound(text="没有这个事件 (no such incident)")
    return render("incident.html", **detail, now=app.clock.now())


async def incident_detail(app, incident_id: int) -> dict | None:
    async with app.store.read() as tx:
        incident = await tx.incidents.get(incident_id)
        if incident is None:
            return None
        items = await tx.items.for_incident(incident_id)
        deadlines = await tx.deadlines.for_incident(incident_id)
        timeline = await tx.audit.list(entity="incident", entity_id=incident_id)
        evidence = await tx.deadlines.evidence_for(incident_id)
    return {"incident": incident, "items": items, "deadlines": deadlines, "timeline": timeline,
            "evidence": evidence}


async def healthz(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    if await app.store.ping():
        if request.query.get("detail"):  # source health: a failing source does not make the service down
            from monitor.sources.health import health_report

            sources = await health_report(app.settings, app.store, app.clock.now())
            return web.json_response({"status": "ok", "detail": {"sources": sources}})
        return web.json_response({"status": "ok"})
    return web.json_response({"status": "error", "detail": "store unreachable"}, status=503)


def _int(text: str) -> int:
    from monitor.web.inputs import BadInput, row_id

    try:  # an id past the database's integer range is no incident either (and no driver error)
        return row_id(text)
    except BadInput:
        raise web.HTTPNotFound(text="没有这个事件 (no such incident)") from None
