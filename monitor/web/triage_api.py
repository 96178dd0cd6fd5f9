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
from monitor.understanding.names import check_correction
from monitor.web.api import error_json, incident_json, json_body
from monitor.web.auth import APP_KEY, authorized
from monitor.web.inputs import BadInput, query_int, row_id, storable


async def list_pending(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:  # a negative limit would read the whole queue (SQLite's LIMIT -1)
        limit = query_int(request.query, "limit", 200, 1, 1000)
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    async with app.store.read() as tx:
        incidents = await triage.pending(tx, limit)
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def accept(request: web.Request) -> web.Response:
    return await _act(request, lambda service, incident_id, actor, body: service.accept_triage(incident_id, actor))


async def correct(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    return await _act(request, lambda service, incident_id, actor, body: service.correct(
        incident_id, check_correction(app.jurisdiction, app.understander,
                                      _storable_values({k: v for k, v in body.items() if k != "actor"})), actor))


def _storable_values(values: dict) -> dict:
    """Correction values as parse_changes gets them, with every text checked for what the store cannot hold
    (types and lengths are parse_changes's to judge)."""
    for key, value in values.items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                storable(text, key)
                if len(text) > triage.MAX_LEN:
                    raise BadInput(f"{key}: 超过 {triage.MAX_LEN} 个字符 (longer than {triage.MAX_LEN} characters)")
    return values


async def _act(request: web.Request, action) -> web.Response:
    denied = authorized(request)
    if denied is not None:
        return denied
    app = request.app[APP_KEY]
    try:
        incident_id = row_id(request.match_info["id"])
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    body = await json_body(request, ("actor",))
    try:
        outcome = await action(app.service, incident_id, body["actor"].strip(), body)
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except ServiceError as exc:
        return error_json(exc)
    app.escalator.wake()
    return web.json_response({"incident": incident_json(outcome.incident), "changes": outcome.changes,
                              "deadlines_moved": outcome.deadlines_moved, "opened": outcome.opened,
                              "cancelled": outcome.cancelled})


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/triage", list_pending)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/accept", accept)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/correct", correct)
