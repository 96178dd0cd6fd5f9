"""The aiohttp application: dashboard pages, the JSON API and its actions, and the signed ingest endpoint."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from monitor.web import api, ingest, pages, regroup_api, triage_api
from monitor.web.auth import APP_KEY


def create_app(app) -> web.Application:
    web_app = web.Application(client_max_size=1024 * 1024)
    web_app[APP_KEY] = app
    web_app.router.add_get("/", pages.index)
    web_app.router.add_get("/incidents/{id}", pages.incident_page)
    web_app.router.add_get("/healthz", pages.healthz)
    web_app.router.add_static("/static", Path(__file__).parent / "static")
    api.add_routes(web_app)
    triage_api.add_routes(web_app)
    regroup_api.add_routes(web_app)
    ingest.add_routes(web_app)
    return web_app
