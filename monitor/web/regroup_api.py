"""A person corrects the grouping (monitor.regroup), signed in or with a bearer token like every action
(monitor/web/security.py; in a session the actor is the user, and a liaison may merge its own incidents only):

POST /api/v1/incidents/{id}/split {"item_ids": [...], "actor"?}              → 201 {"incident_id", "new_incident_id", "item_ids"}
POST /api/v1/incidents/{id}/merge {"incident_ids": [...], "actor", "reason"?} → 200, {id} survives
"""

from __future__ import annotations

import json

from aiohttp import web

from monitor.regroup import MergeError, SplitError, merge_incidents, split_incident
from monitor.web.auth import APP_KEY, actor, incident_forbidden
from monitor.web.inputs import BadInput, id_list, json_object, row_id, text_field


def _json(value, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _request(request: web.Request, ids_key: str, what: str):
    """(app, incident id, body, ids) of a request, or the response that refuses it."""
    try:
        incident_id = row_id(request.match_info["id"])
        body = json_object(await request.read())
        ids = id_list(body, ids_key, what)
        text_field(body, "actor", 100)
        text_field(body, "reason", 500)
    except web.HTTPRequestEntityTooLarge:
        return _error("body: 请求体过大 (request body too large)", 413)
    except BadInput as exc:
        return _error(str(exc))
    return request.app[APP_KEY], incident_id, body, ids


async def split(request: web.Request) -> web.Response:
    got = await _request(request, "item_ids", "留言 item")
    if isinstance(got, web.Response):
        return got
    app, incident_id, body, ids = got
    try:
        new_id = await split_incident(app.pipeline, incident_id, ids, actor(request, body) or "api")
    except SplitError as exc:
        return _error(str(exc), 400 if "没有事件" not in str(exc) else 404)
    return _json({"incident_id": incident_id, "new_incident_id": new_id, "item_ids": ids}, 201)


async def merge(request: web.Request) -> web.Response:
    got = await _request(request, "incident_ids", "要并入的事件 incident")
    if isinstance(got, web.Response):
        return got
    app, incident_id, body, ids = got
    who, reason = actor(request, body), body.get("reason")  # checked by _request: storable, within the columns
    if not who:
        return _error("actor: 须填写操作人 (required string)")
    async with app.store.read() as tx:  # a liaison merges only incidents of its own department
        denied = incident_forbidden(request, (await tx.incidents.get_many(ids)).values())
    if denied is not None:
        return denied
    try:
        result = await merge_incidents(app.pipeline, [incident_id, *ids], who,
                                       (reason or "").strip(), survivor=incident_id)
    except MergeError as exc:
        return _error(str(exc), exc.status)
    app.escalator.wake()  # the kept deadlines may now be due earlier
    return _json(result.as_json())


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_post("/api/v1/incidents/{id}/split", split)
    web_app.router.add_post("/api/v1/incidents/{id}/merge", merge)
