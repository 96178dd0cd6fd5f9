"""JSON API: /api/v1/incidents[?status=open&…filters&cursor=…] (monitor/web/now_page.py), /api/v1/incidents/{id}
(a merged one names the incident it went to in `merged_into`), and the actions
POST /api/v1/incidents/{id}/ack|evidence|reassign|regrade|note|close|reopen (monitor/service.py; a rule may be named by
its title: docs/dashboard.md "事件页与办结"). Who may call what is settled before a handler runs
(monitor/web/security.py); a liaison's lists hold its own department only."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime

from aiohttp import web

from monitor.core.clock import fmt_delta
from monitor.core.model import Severity
from monitor.understanding.names import UnknownName, check_department
from monitor.web.auth import APP_KEY, principal
from monitor.web.inputs import BadInput, json_object, row_id, text_field
from monitor.web.pages import incident_detail

# longest accepted value per action field: the store's column, or a generous bound for free text
FIELD_LIMITS = {"actor": 100, "rule": 100, "kind": 50, "department": 100, "url": 2000, "note": 5000, "reason": 500,
                "text": 2000, "reply_url": 2000}


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
    """GET /api/v1/incidents: in the now page's order (earliest open deadline first) with its filters (status,
    department, severity, source, from, to, q) and paging: `limit` 1–1000, then `cursor` (the `next_cursor` of the
    previous answer; null at the end) or `offset`. `total` counts every incident of the filter."""
    from monitor.web.now_page import api_query, counted, page_of

    app = request.app[APP_KEY]
    # checked: a negative limit would read the whole store (SQLite's LIMIT -1); a huge offset overflows the driver
    query = api_query(request, default_status=None, default_limit=200)
    if isinstance(query, web.Response):
        return query
    now = app.clock.now()
    async with app.store.read() as tx:
        rows, more = await page_of(request, tx, query, full=True)
        total = await counted(request, tx, "count", query.filter, lambda: tx.dashboard.count(query.filter))
        # the answer's text, kept like its rows while the store and the countdowns it shows are the same (building
        # 200 rows' JSON was most of its time); the countdowns are the only part that moves with the clock
        lefts = tuple(fmt_delta(d.due_at - now) for r in rows for d in r.deadlines)

        async def body() -> str:
            return json.dumps({"incidents": [_listed(r, now) for r in rows],
                               "next_cursor": more.encode() if more else None, "total": total})

        text = await counted(request, tx, "api-list", query.filter, body,
                             extra=(query.limit, query.cursor, query.offset, total, lefts))
    return web.json_response(text=text)


_FIELDS = None


def _listed(row, now) -> dict:
    """incident_json(incident) and what the now page's rows add (its open deadlines, the earliest, the level as a
    number), without dataclasses.asdict's deep copy: a third of a 200-row answer's time went there."""
    from monitor.web.now_page import row_json

    global _FIELDS
    i = row.incident
    if _FIELDS is None:
        _FIELDS = tuple(dataclasses.fields(i))
    out = {f.name: getattr(i, f.name) for f in _FIELDS}
    for k, v in out.items():
        if isinstance(v, datetime):
            out[k] = v.isoformat()
    out["severity"], out["level"] = Severity(i.severity).zh, Severity(i.severity).roman
    extra = row_json(row, now)
    return out | {k: extra[k] for k in ("sev", "next_due", "deadlines", "last_seen_local")}


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


# --------------------------------------------------------------------------- actions (signed in, may act)
async def json_body(request: web.Request, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict:
    """The action's JSON object with its string fields checked (type, length, storable text); raises the
    400 (or 413) that answers anything else. In a signed-in session `actor` is the user, whatever the body
    says; a bearer script names its actor as before."""
    who = principal(request)
    session = who is not None and who.kind == "session"
    if session:
        required = tuple(k for k in required if k != "actor")
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
    if session:
        body["actor"] = who.name
    return body


def _bad(message: str, status: int = 400) -> web.HTTPException:
    import json

    text = json.dumps({"error": message}, ensure_ascii=False)
    if status == 413:
        return web.HTTPRequestEntityTooLarge(max_size=0, actual_size=0, text=text, content_type="application/json")
    return web.HTTPBadRequest(text=text, content_type="application/json")


async def incident_action(request: web.Request) -> web.Response:
    from monitor.service import ServiceError

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
            if result or b.get("kind") == "reply":  # the last deadline done and a reply on record: 办结 by itself
                async with app.store.read() as tx:
                    if (await tx.incidents.get(incident_id)).status == "closed":
                        out["incident_closed"] = True
        elif action == "reassign":
            b = await json_body(request, ("actor", "department"), ("reason",))
            department = check_department(app.jurisdiction, b["department"])  # a known department, or 400
            incident = await app.service.reassign(incident_id, department, b["actor"], b.get("reason") or "")
            out = {"department": incident.department}
        elif action == "regrade":
            b = await json_body(request, ("actor",), ("reason",))
            severity = _severity(b.get("severity"))
            result = await app.service.regrade(incident_id, severity, b["actor"], b.get("reason") or "")
            out = {"severity": severity.zh, "level": severity.roman, **result}
        elif action == "note":
            b = await json_body(request, ("actor", "text"))
            await app.service.note(incident_id, b["actor"], b["text"])
            out = {"noted": True}
        elif action == "close":
            b = await json_body(request, ("actor",), ("reply_url", "note"))
            out = await app.service.close(incident_id, b["actor"], reply_url=b.get("reply_url") or "",
                                          note=b.get("note") or "")
        else:  # reopen
            b = await json_body(request, ("actor", "reason"))
            await app.service.reopen(incident_id, b["actor"], b["reason"])
            out = {"incident_id": incident_id, "status": "open"}
    except ServiceError as exc:
        return error_json(exc)
    app.escalator.wake()
    return web.json_response(out)


def _severity(value) -> Severity:
    """A severity as the API takes it: 1–4, 一般/较大/重大/特别重大, Ⅳ–Ⅰ; anything else is a 400."""
    try:
        if value is None or isinstance(value, (bool, float, list, dict)):
            raise ValueError
        return Severity.parse(value)
    except ValueError:
        raise _bad("severity: 须为 一般、较大、重大 或 特别重大（或 1–4）(one of 一般, 较大, 重大, 特别重大 or 1-4)") from None


def error_json(exc) -> web.Response:
    """A ServiceError as JSON; an unknown department or domain also lists the allowed names."""
    body = {"error": str(exc)}
    if isinstance(exc, UnknownName) or getattr(exc, "allowed", None) is not None:  # also an unknown rule
        body["allowed"] = exc.allowed
    return web.json_response(body, status=exc.status)


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/api/v1/incidents", list_incidents)
    web_app.router.add_get("/api/v1/incidents/{id}", get_incident)
    web_app.router.add_post(r"/api/v1/incidents/{id}/{action:ack|evidence|reassign|regrade|note|close|reopen}",
                            incident_action)
