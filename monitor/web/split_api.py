"""POST /api/v1/incidents/{id}/split {"item_ids": [...], "actor"?}: undo a wrong grouping.
Authenticated with `Authorization: Bearer <token>` (the token from the env var `api.token_env` names)."""

from __future__ import annotations

import json

from aiohttp import web

from monitor.regroup import SplitError, split_incident
from monitor.web.auth import APP_KEY, authorized


async def split(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    denied = authorized(request)
    if denied is not None:
        return denied
    try:
        incident_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"error": "id: must be an integer"}, status=400)
    try:
        body = json.loads(await request.text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return web.json_response({"error": "body: not valid JSON"}, status=400)
    ids = body.get("item_ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        return web.json_response({"error": "item_ids: a non-empty list of item ids"}, status=400)
    actor = str(body.get("actor") or "api")[:100]
    try:
        new_id = await split_incident(app.pipeline, incident_id, ids, actor)
    except SplitError as exc:
        return web.json_response({"error": str(exc)}, status=400 if "没有事件" not in str(exc) else 404)
    return web.json_response({"incident_id": incident_id, "new_incident_id": new_id, "item_ids": ids}, status=201)


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_post("/api/v1/incidents/{id}/split", split)
