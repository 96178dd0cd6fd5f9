"""The on-call duty dashboard (值班台), served by aiohttp. Everything scraped is escaped by Jinja2's autoescape
and stripped of bidi controls (every `{{ … }}`, through the environment's finalize); pages carry no inline script
or style, so the Content-Security-Policy of monitor/web/security.py can forbid both. A liaison sees its own
department only (monitor/web/auth.py)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import jinja2
from aiohttp import web
from loguru import logger
from markupsafe import Markup

from monitor.core.clock import fmt_local
from monitor.deadlines.rules import provisional_note
from monitor.core.model import Severity
from monitor.store.accounts import ROLES
from monitor.web.auth import APP_KEY, principal

TEMPLATES = Path(__file__).parent / "templates"
_BIDI = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise_bidi(value):
    """Text without bidi controls (LRM/RLM, embeddings, overrides, isolates): in scraped text they could make one
    department's name read as another's, or turn a line of the page around."""
    if isinstance(value, Markup):
        return Markup(_BIDI.sub("", value))
    if isinstance(value, str):
        return _BIDI.sub("", value)
    return value


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=jinja2.select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
    finalize=neutralise_bidi,  # every {{ … }} of every page, so no template can forget it
)
_env.filters["bidi"] = neutralise_bidi
_env.filters["local"] = fmt_local
_env.filters["severity_zh"] = lambda v: Severity(v).zh
_env.filters["roman"] = lambda v: Severity(v).roman
_env.filters["role_zh"] = lambda v: ROLES.get(v, v)


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


def render(template: str, request: web.Request | None = None, /, **ctx) -> web.Response:
    """A page; with the request, its header names the signed-in user and its forms carry the CSRF token."""
    who = principal(request) if request is not None else None
    ctx.setdefault("user", who)
    ctx.setdefault("csrf", who.csrf if who is not None else "")
    ctx.setdefault("can_act", who is not None and who.can_act)
    return web.Response(text=_env.get_template(template).render(**ctx), content_type="text/html", charset="utf-8")


def fragment(template: str, **ctx) -> Markup:
    """Part of a page rendered on its own (no user, no CSRF token in it), so that it can be kept and shared."""
    return Markup(_env.get_template(template).render(**ctx))


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


async def readyz(request: web.Request) -> web.Response:
    """Ready to serve: the store answers and its schema is at this program's migration head (a load balancer
    or an orchestrator waits for this; /healthz stays a cheap liveness check)."""
    app = request.app[APP_KEY]
    try:
        async with app.store.read() as tx:
            revision = await tx.metrics.revision()
    except Exception as exc:
        logger.warning("readyz: store unreachable: {}", exc)
        return web.json_response({"status": "error", "reason": "数据库无法连接 (store unreachable)"}, status=503)
    head = _head_revision()
    if revision != head:
        return web.json_response(
            {"status": "error", "revision": revision, "head": head,
             "reason": f"数据库结构版本 {revision or '（空库）'} 不是最新的 {head}，请运行 yuqing db upgrade 或重启 serve "
                       f"(schema at {revision or 'none'}, not at head {head}: run yuqing db upgrade)"}, status=503)
    return web.json_response({"status": "ready", "revision": revision})


@functools.cache
def _head_revision() -> str:
    """The newest migration this program ships (read from the migration files once per process)."""
    from monitor.store.db import head_revision

    return head_revision()
