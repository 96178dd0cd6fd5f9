"""Triage API: the queue of incidents waiting for a person (monitor.understanding.triage).

GET  /api/v1/triage                          pending incidents
POST /api/v1/incidents/{id}/triage/accept    {"actor"}                      (Bearer token)
POST /api/v1/incidents/{id}/triage/correct   {"actor", "domain"?, "department"?, "co_departments"?,
                                              "severity"?, "response_type"?} (Bearer token)
"""

from __future__ import annotations

from aiohttp import web

from monitor.understanding import triage
from monitor.core.errors import ServiceError
from monitor.web.api import incident_json, json_body
from monitor.web.auth import APP_KEY, authorized


async def list_pending(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        limit = min(int(request.query.get("limit", "200")), 1000)
    except ValueError:
        return web.json_response({"error": "limit: must be an integer"}, status=400)
    async with app.store.read() as tx:
        incidents = await triage.pending(tx, limit)
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def accept(request: web.Request) -> web.Response:
    return await _act(request, lambda service, actor, body: service.accept_triage(_id(request), actor))


async def correct(request: web.Request) -> web.Response:
    return await _act(request, lambda service, actor, body: service.correct(
        _id(request), {k: v for k, v in body.items() if k != "actor"}, actor))


async def _act(request: web.Request, action) -> web.Response:
    denied = authorized(request)
    if denied is not None:
        return denied
    app = request.app[APP_KEY]
    body = await json_body(request, ("actor",))
    try:
        outcome = await action(app.service, body["actor"].strip(), body)
    except ServiceError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    app.escalator.wake()
    return web.json_response({"incident": incident_json(outcome.incident), "changes": outcome.changes,
                              "deadlines_moved": outcome.deadlines_moved, "opened": outcome.opened,
                              "cancelled": outcome.cancelled})


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise ServiceError("id: must be an integer") from None


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/triage", list_pending)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/accept", accept)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/correct", correct)
