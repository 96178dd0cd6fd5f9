"""Triage API: the queue of incidents waiting for a person (monitor.understanding.triage).

GET  /api/v1/triage[?limit&offset]           pending incidents (a liaison's: its department's)
POST /api/v1/incidents/{id}/triage/accept    {"actor"}
POST /api/v1/incidents/{id}/triage/correct   {"actor", "domain"?, "department"?, "co_departments"?,
                                              "severity"?, "response_type"?, "reason"?}
Signed in or with a bearer token (monitor/web/security.py); in a session the actor is the user.
"""

from __future__ import annotations

from aiohttp import web

from monitor.understanding import triage
from monitor.core.errors import ServiceError
from monitor.understanding.names import check_correction
from monitor.web.api import error_json, incident_json, json_body
from monitor.web.auth import APP_KEY, principal
from monitor.web.inputs import MAX_OFFSET, BadInput, query_int, row_id, storable


async def list_pending(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:  # a negative limit would read the whole queue (SQLite's LIMIT -1)
        limit = query_int(request.query, "limit", 200, 1, 1000)
        offset = query_int(request.query, "offset", 0, 0, MAX_OFFSET)
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    department = principal(request).only_department
    async with app.store.read() as tx:
        if department is None and offset == 0:
            incidents = await triage.pending(tx, limit)
        else:  # the same queue, one department's part of it or further down
            incidents = await tx.incidents.list(status="open", triage="pending", department=department,
                                                limit=limit, offset=offset)
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def accept(request: web.Request) -> web.Response:
    return await _act(request, lambda service, incident_id, actor, body: service.accept_triage(incident_id, actor))


async def correct(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    return await _act(request, lambda service, incident_id, actor, body: service.correct(
        incident_id, check_correction(app.jurisdiction, app.understander, _storable_values(
            {k: v for k, v in body.items() if k not in ("actor", "reason")})), actor, _reason(body)))


def _reason(body: dict) -> str:
    """Why a person corrects (kept in the audit log; a severity change's reason), optional."""
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise BadInput("reason: 须为不超过 500 个字符的文字 (a text of at most 500 characters)")
    return storable(reason or "", "reason")


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
