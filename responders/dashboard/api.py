"""JSON API: /api/v1/incidents[?status=open], /api/v1/incidents/{id}."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from aiohttp import web

from monitor.model import Severity
from responders.dashboard.web import APP_KEY, incident_detail


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
    if status not in (None, "open", "closed"):
        return web.json_response({"error": "status: use open or closed"}, status=400)
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


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/incidents", list_incidents)
    web_app.router.add_get("/api/v1/incidents/{id}", get_incident)
