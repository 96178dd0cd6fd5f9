"""The aiohttp application: dashboard pages, the JSON API and its actions, and the signed ingest endpoint; every
route but the open ones needs a session or an API token (monitor/web/security.py)."""

from __future__ import annotations

import gc
from pathlib import Path

from aiohttp import web

from monitor.web import api, ingest, pages, regroup_api, triage_api
from monitor.web import action_links
from monitor.web import incident_page
from monitor.web import now_page, search, stream
from monitor.web import metrics
from monitor.web import office
from monitor.web import login, security
from monitor.web.auth import APP_KEY


_frozen = False


async def _settle_memory(web_app: web.Application) -> None:
    """Load the dictionaries now and take what start-up loaded (dictionaries, models: millions of long-lived
    objects) out of the cyclic collector's scans: otherwise every full collection walks them again, a pause of
    tens of milliseconds in whichever request triggers it (the pages' p99). Once per process."""
    global _frozen
    if not _frozen:
        web_app[APP_KEY].understander.segmenter.cut("预热")
        gc.collect()
        gc.freeze()
        _frozen = True


def create_app(app) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.on_startup.append(_settle_memory)
    now_page.add_routes(web_app)  # / and /api/v1/now/summary: the now page (issue 18)
    stream.setup(web_app)  # /api/v1/stream: live updates, one change feed per process
    search.setup(web_app)  # the search indexer: segments new items in the background
    web_app.router.add_get("/incidents/{id}", incident_page.page)  # the incident page and its actions (issue 18)
    web_app.router.add_get("/healthz", pages.healthz)
    web_app.router.add_get("/readyz", pages.readyz)  # store reachable and schema at head
    metrics.setup(web_app, app)  # /metrics and the HTTP request counter
    security.install(web_app)  # sign-in on every route but the open ones; safety headers on every answer
    web_app.router.add_static("/static", Path(__file__).parent / "static")
    api.add_routes(web_app)
    triage_api.add_routes(web_app)
    regroup_api.add_routes(web_app)
    ingest.add_routes(web_app)
    action_links.add_routes(web_app)  # one-click links of robot messages
    login.add_routes(web_app)  # /login, /logout
    office.add_routes(web_app)  # /triage /roster /ledger /sources /stats and /api/openapi.json (issue 18)
    return web_app
