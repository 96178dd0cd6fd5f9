"""JSON API: /api/v1/incidents[?status=open], /api/v1/incidents/{id} (a merged one names the incident it went
to in `merged_into`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from aiohttp import web

from monitor.core.model import Severity
from monitor.web.auth import APP_KEY, authorized
from monitor.web.pages import incident_detail


def jsonable(value):
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def incident_json(incident) -> dict:
    out = jsonable(incident)
    out["severity"] = Severity(incident.severity).zh
    out["level"] = Severity(incident.severity).roman
    return out


async def list_incidents(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    status = request.query.get("status")
    if status not in (None, "open", "closed", "merged"):
        return web.json_response({"error": "status: use open, closed or merged"}, status=400)
    try:
        limit = min(int(request.query.get("limit", "200")), 1000)
        offset = int(request.query.get("offset", "0"))
    except ValueError:
        return web.json_response({"error": "limit/offset: must be integers"}, status=400)
    async with app.store.read() as tx:
        incidents = await tx.incidents.list(status=status, limit=limit, offset=offset)
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def get_incident(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        incident_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"error": "id: must be an integer"}, status=400)
    detail = await incident_detail(app, incident_id)
    if detail is None:
        return web.json_response({"error": f"incident {incident_id} not found"}, status=404)
    body = incident_json(detail["incident"])
    body["route"] = {"department": detail["incident"].department,
                     "co_departments": detail["incident"].co_departments, "region": detail["incident"].region}
    body["items"] = jsonable(detail["items"])
    body["deadlines"] = jsonable(detail["deadlines"])
    body["evidence"] = jsonable(detail["evidence"])
    body["timeline"] = jsonable(detail["timeline"])
    for item in body["items"]:
        item.pop("raw", None)
    return web.json_response(body)


# --------------------------------------------------------------------------- actions (authenticated)
async def json_body(request: web.Request, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    try:
        body = await request.json()
    except ValueError:
        raise _bad("body: not valid JSON") from None
    if not isinstance(body, dict):
        raise _bad("body: expected a JSON object")
    for key in required:
        if not isinstance(body.get(key), str) or not body[key].strip():
            raise _bad(f"{key}: required string")
    for key in optional:
        if key in body and body[key] is not None and not isinstance(body[key], str):
            raise _bad(f"{key}: must be a string")
    return body


def _bad(message: str) -> web.HTTPBadRequest:
    import json

    return web.HTTPBadRequest(text=json.dumps({"error": message}, ensure_ascii=False), content_type="application/json")


async def incident_action(request: web.Request) -> web.Response:
    from monitor.service import ServiceError

    denied = authorized(request)
    if denied is not None:
        return denied
    app = request.app[APP_KEY]
    try:
        incident_id = int(request.match_info["id"])
    except ValueError:
        return web.json_response({"error": "id: must be an integer"}, status=400)
    action = request.match_info["action"]
    try:
        if action == "ack":
            b = await json_body(request, ("actor",), ("rule",))
            result = await app.service.acknowledge(incident_id, b["actor"], rule=b.get("rule"))
            out = {"acknowledged": [d.rule for d in result]}
        elif action == "evidence":
            b = await json_body(request, ("actor",), ("rule", "kind", "url", "note"))
            result = await app.service.add_evidence(incident_id, b["actor"], url=b.get("url") or "",
                                                    note=b.get("note") or "", rule=b.get("rule"), kind=b.get("kind"))
            out = {"satisfied": [{"rule": d.rule, "on_time": d.closed_at <= d.due_at} for d in result]}
        else:  # reassign
            b = await json_body(request, ("actor", "department"), ("reason",))
            incident = await app.service.reassign(incident_id, b["department"], b["actor"], b.get("reason") or "")
            out = {"department": incident.department}
    except ServiceError as exc:
        return web.json_response({"error": str(exc)}, status=exc.status)
    app.escalator.wake()
    return web.json_response(out)


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/incidents", list_incidents)
    web_app.router.add_get("/api/v1/incidents/{id}", get_incident)
    web_app.router.add_post(r"/api/v1/incidents/{id}/{action:ack|evidence|reassign}", incident_action)
