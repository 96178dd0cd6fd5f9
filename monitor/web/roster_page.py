"""The duty roster (值班表) editor: GET /roster shows the next 14 days per role (rows roles, columns days) and
warns when a role that reminders go to has nobody in the next 7 days (monitor.deadlines.coverage); admins and
duty officers add and remove manual shifts (monitor.service add_shift/remove_shift: audited, kept across
restarts). The config's shifts are shown read-only: the config file is their source.

GET    /api/v1/roster[?days=1..31]   shifts from today (Beijing), standing roles, the 7-day gaps
POST   /api/v1/roster                {"role", "user", "starts_at", "ends_at"} (ISO 8601; without offset = Beijing)
DELETE /api/v1/roster/{id}           a manual shift
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from aiohttp import web

from monitor.core.clock import SHANGHAI, as_utc, fmt_delta, local
from monitor.core.errors import ServiceError
from monitor.deadlines.coverage import RoleGap, Shift, gaps, role_zh, watched_roles
from monitor.deadlines.roster_watch import store_gaps
from monitor.web.auth import APP_KEY, actor, principal
from monitor.web.inputs import BadInput, json_object, query_int, row_id, text_field
from monitor.web.office_kit import json_error, json_response, may_edit_roster, page

DAYS = 14  # the page's columns
_ROLE = re.compile(r"[\w.-]{1,50}")
_WEEKDAYS = "一二三四五六日"
_REFUSED = "值班表只能由值班员或管理员修改 (only duty officers and admins edit the roster)"


async def _read(app, days: int):
    now = app.clock.now()
    first = local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    end = first + timedelta(days=days)
    async with app.store.read() as tx:
        users = await tx.people.users()
        accounts = [a["name"] for a in await tx.accounts.list()]
        shifts = await tx.people.roster(as_utc(first), as_utc(end))
        warnings = await store_gaps(tx, app.settings, now)
    return now, first, end, users, accounts, shifts, warnings


def _standing(users: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, u in users.items():
        for role in u["roles"] or []:
            out.setdefault(role, []).append(u["display"] or name)
    return out


def _grid(roles, shifts, users, standing, now, first, days):
    """Rows of the table: per role, per day, the shifts in that day (clipped to it) and the hours nobody holds it."""
    holes = {g.role: g.holes for g in gaps(roles, [Shift(s["role"], s["user"], s["starts_at"], s["ends_at"])
                                                   for s in shifts], standing, now, first + timedelta(days=days) - now)}
    rows = []
    for role in roles:
        cells = []
        for n in range(days):
            start, end = first + timedelta(days=n), first + timedelta(days=n + 1)
            here = []
            for s in shifts:
                if s["role"] == role and s["starts_at"] < end and s["ends_at"] > start:
                    a, b = local(max(s["starts_at"], start)), local(min(s["ends_at"], end))
                    here.append({"who": users.get(s["user"], {}).get("display") or s["user"], "origin": s["origin"],
                                 "span": f"{a:%H:%M}–{'24:00' if b == end else format(b, '%H:%M')}"})
            missing = sum((min(b, end) - max(a, start, now) for a, b in holes.get(role, ())
                           if min(b, end) > max(a, start, now)), timedelta())
            whole = end - max(start, now) if end > now else timedelta()
            cells.append({"shifts": here, "missing": fmt_delta(missing) if missing else "",
                          "none": bool(missing) and missing >= whole})
        rows.append({"role": role, "name": role_zh(role), "standing": standing.get(role, []), "cells": cells})
    return rows


async def roster_page(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    now, first, end, users, accounts, shifts, warnings = await _read(app, DAYS)
    standing = _standing(users)
    watched = watched_roles(app.settings.rules, app.settings.escalation_policies, users)
    roles = list(dict.fromkeys([*watched, *(s["role"] for s in shifts)]))
    days = [first + timedelta(days=n) for n in range(DAYS)]
    return page(request, "roster.html", "roster", warnings=warnings, watched=watched,
                rows=_grid(roles, shifts, users, standing, now, first, DAYS),
                days=[(f"{d:%m-%d}", f"周{_WEEKDAYS[d.weekday()]}") for d in days],
                shifts=[s for s in shifts if s["ends_at"] > now], users=users,
                people=list(dict.fromkeys([*users, *accounts])), editor=may_edit_roster(request), role_name=role_zh,
                default_from=f"{first + timedelta(days=1, hours=8):%Y-%m-%dT%H:%M}",
                default_to=f"{first + timedelta(days=1, hours=20):%Y-%m-%dT%H:%M}")


def _gap_json(g: RoleGap) -> dict:
    return {"role": g.role, "nobody": g.nobody, "uncovered_hours": round(g.uncovered / timedelta(hours=1), 2),
            "holes": [[a.isoformat(), b.isoformat()] for a, b in g.holes], "text": g.text()}


def _shift_json(s: dict) -> dict:
    return {"id": s["id"], "role": s["role"], "user": s["user"], "starts_at": s["starts_at"].isoformat(),
            "ends_at": s["ends_at"].isoformat(), "origin": s["origin"]}


async def list_roster(request: web.Request) -> web.Response:
    try:
        days = query_int(request.query, "days", DAYS, 1, 31)
    except BadInput as exc:
        return json_error(str(exc))
    now, first, end, users, _, shifts, warnings = await _read(request.app[APP_KEY], days)
    return json_response({"from": as_utc(first).isoformat(), "to": as_utc(end).isoformat(),
                          "shifts": [_shift_json(s) for s in shifts], "standing": _standing(users),
                          "gaps": [_gap_json(g) for g in warnings]})


def _when(body: dict, key: str) -> datetime:
    text = text_field(body, key, 40, required=True)
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(f"{key}: 须为 ISO 8601 时间，如 2026-11-24T08:00（北京时间）"
                       f"(an ISO 8601 time, e.g. 2026-11-24T08:00 Beijing time)") from None
    return as_utc(value if value.tzinfo else value.replace(tzinfo=SHANGHAI))


async def add_shift(request: web.Request) -> web.Response:
    if not may_edit_roster(request):
        return json_error(_REFUSED, 403)
    app = request.app[APP_KEY]
    try:
        body = json_object(await request.read())
        role = text_field(body, "role", 50, required=True).strip()
        if not _ROLE.fullmatch(role):
            raise BadInput("role: 角色名为 1–50 个字母、数字、汉字或 . _ - (letters, digits, . _ -; e.g. duty_officer)")
        user = text_field(body, "user", 100, required=True).strip()
        starts_at, ends_at = _when(body, "starts_at"), _when(body, "ends_at")
        text_field(body, "actor", 100)
    except web.HTTPRequestEntityTooLarge:
        return json_error("body: 请求体过大 (request body too large)", 413)
    except BadInput as exc:
        return json_error(str(exc))
    who = actor(request, body) or principal(request).name  # a script may name its actor; else its token's name
    try:
        shift_id = await app.service.add_shift(role, user, starts_at, ends_at, who)
    except ServiceError as exc:
        return json_error(str(exc), exc.status)
    return json_response({"id": shift_id, "role": role, "user": user, "starts_at": starts_at.isoformat(),
                          "ends_at": ends_at.isoformat(), "origin": "manual"}, 201)


async def remove_shift(request: web.Request) -> web.Response:
    if not may_edit_roster(request):
        return json_error(_REFUSED, 403)
    app = request.app[APP_KEY]
    try:
        shift_id = row_id(request.match_info["id"])
        named = {"actor": request.query.get("actor")}
        text_field(named, "actor", 100)
    except BadInput as exc:
        return json_error(str(exc))
    try:
        shift = await app.service.remove_shift(shift_id, actor(request, named) or principal(request).name)
    except ServiceError as exc:
        return json_error(str(exc), exc.status)
    return json_response({"removed": _shift_json(shift)})


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/roster", roster_page)
    web_app.router.add_get("/api/v1/roster", list_roster)
    web_app.router.add_post("/api/v1/roster", add_shift)
    web_app.router.add_delete("/api/v1/roster/{id}", remove_shift)
