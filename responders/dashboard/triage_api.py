"""Triage API: the queue of incidents waiting for a person (monitor.triage).

GET  /api/v1/triage                          pending incidents
POST /api/v1/incidents/{id}/triage/accept    {"actor"}                      (Bearer token)
POST /api/v1/incidents/{id}/triage/correct   {"actor", "domain"?, "department"?, "co_departments"?,
                                              "severity"?, "response_type"?} (Bearer token)
"""

from __future__ import annotations

import hmac
import os

from aiohttp import web

from monitor import triage
from responders.dashboard.api import incident_json
from responders.dashboard.web import APP_KEY


def _authorized(request: web.Request) -> web.Response | None:
    app = request.app[APP_KEY]
    env = app.settings.api.token_env
    expected = os.environ.get(env)
    if not expected:
        return web.json_response({"error": f"API token not configured: set {env} (接口令牌未配置)"}, status=503)
    given = request.headers.get("Authorization", "")
    if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), expected.encode())):
        return web.json_response({"error": "Authorization: Bearer token missing or wrong (令牌错误)"}, status=401)
    return None


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
    return await _act(request, lambda tx, now, actor, body: triage.accept(tx, _id(request), actor, now))


async def correct(request: web.Request) -> web.Response:
    def action(tx, now, actor, body):
        values = {k: v for k, v in body.items() if k != "actor"}
        return triage.correct(tx, _id(request), values, actor, now)

    return await _act(request, action)


async def _act(request: web.Request, action) -> web.Response:
    denied = _authorized(request)
    if denied is not None:
        return denied
    app = request.app[APP_KEY]
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "body: not valid JSON"}, status=400)
    if not isinstance(body, dict):
        return web.json_response({"error": "body: expected a JSON object"}, status=400)
    actor = body.get("actor")
    if not isinstance(actor, str) or not actor.strip():
        return web.json_response({"error": "actor: required string"}, status=400)
    try:
        async with app.store.write() as tx:
            outcome = await action(tx, app.clock.now(), actor.strip(), body)
    except triage.TriageError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    return web.json_response({"incident": incident_json(outcome.incident), "changes": outcome.changes,
                              "deadlines_moved": outcome.deadlines_moved})


def _id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise triage.TriageError("id: must be an integer") from None


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/triage", list_pending)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/accept", accept)
    web_app.router.add_post("/api/v1/incidents/{id}/triage/correct", correct)
