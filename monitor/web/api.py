"""JSON API: /api/v1/incidents[?status=open], /api/v1/incidents/{id} (a merged one names the incident it went
to in `merged_into`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from aiohttp import web

from monitor.core.model import Severity
from monitor.understanding.names import UnknownName, check_department
from monitor.web.auth import APP_KEY, authorized
from monitor.web.inputs import MAX_OFFSET, BadInput, json_object, query_int, row_id, text_field
from monitor.web.pages import incident_detail

# longest accepted value per action field: the store's column, or a generous bound for free text
FIELD_LIMITS = {"actor": 100, "rule": 100, "kind": 50, "department": 100, "url": 2000, "note": 5000, "reason": 500}


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
        return web.json_response({"error": "status: 须为 open、closed 或 merged (use open, closed or merged)"},
                                 status=400)
    try:  # a negative limit would read the whole store (SQLite's LIMIT -1); a huge offset overflows the driver
        limit = query_int(request.query, "limit", 200, 1, 1000)
        offset = query_int(request.query, "offset", 0, 0, MAX_OFFSET)
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    async with app.store.read() as tx:
        incidents = await tx.incidents.list(status=status, limit=limit, offset=offset)
    return web.json_response({"incidents": [incident_json(i) for i in incidents]})


async def get_incident(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        incident_id = row_id(request.match_info["id"])
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
    detail = await incident_detail(app, incident_id)
    if detail is None:
        return web.json_response({"error": f"没有事件 #{incident_id} (incident {incident_id} not found)"}, status=404)
    body = incident_json(detail["incident"])
    body["route"] = {"department": detail["incident"].department,
                     "co_departments": detail["incident"].co_departments, "region": detail["incident"].region}
    body["items"] = jsonable(detail["items"])
    body["deadlines"] = jsonable(detail["deadlines"])
    body["evidence"] = jsonable(detail["evidence"])
    body["timeline"] = jsonable(detail["timeline"])
    for item in body["items"]:
        raw = item.pop("raw", None)
        if isinstance(raw, dict) and raw.get("time_replaced"):  # a pushed time in the future: both are shown
            item["time_replaced"] = raw["time_replaced"]
    return web.json_response(body)


# --------------------------------------------------------------------------- actions (authenticated)
async def json_body(request: web.Request, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """The action's JSON object with its string fields checked (type, length, storable text); raises the
    400 (or 413) that answers anything else."""
    try:
        raw = await request.read()  # bounded by the application's client_max_size
    except web.HTTPRequestEntityTooLarge:
        raise _bad("body: 请求体过大 (request body too large)", 413) from None
    try:
        body = json_object(raw)
        for key in required:
            text_field(body, key, FIELD_LIMITS.get(key, 1000), required=True)
        for key in optional:
            text_field(body, key, FIELD_LIMITS.get(key, 1000))
    except BadInput as exc:
        raise _bad(str(exc)) from None
    return body


def _bad(message: str, status: int = 400) -> web.HTTPException:
    import json

    text = json.dumps({"error": message}, ensure_ascii=False)
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=text, content_type="application/json")
    return web.HTTPBadRequest(text=text, content_type="application/json")


async def incident_action(request: web.Request) -> web.Response:
    from monitor.service import ServiceError

    denied = authorized(request)
    if denied is not None:
        return denied
    app = request.app[APP_KEY]
    try:
        incident_id = row_id(request.match_info["id"])
    except BadInput as exc:
        return web.json_response({"error": str(exc)}, status=400)
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
            department = check_department(app.jurisdiction, b["department"])  # a known department, or 400
            incident = await app.service.reassign(incident_id, department, b["actor"], b.get("reason") or "")
            out = {"department": incident.department}
    except ServiceError as exc:
        return error_json(exc)
    app.escalator.wake()
    return web.json_response(out)


def error_json(exc) -> web.Response:
    """A ServiceError as JSON; an unknown department or domain also lists the allowed names."""
    body = {"error": str(exc)}
    if isinstance(exc, UnknownName):
        body["allowed"] = exc.allowed
    return web.json_response(body, status=exc.status)


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/incidents", list_incidents)
    web_app.router.add_get("/api/v1/incidents/{id}", get_incident)
    web_app.router.add_post(r"/api/v1/incidents/{id}/{action:ack|evidence|reassign}", incident_action)
