"""What the office pages share (monitor/web/office.py registers them): a page with its tab, errors as a page or
JSON, the liaison's department and who may edit the roster."""

from __future__ import annotations

import json

from aiohttp import web

from monitor.web.auth import APP_KEY, principal
from monitor.web.pages import render


def page(request: web.Request, template: str, nav: str, **ctx) -> web.Response:
    """One of the office pages, its tab marked in the header and the time in Beijing time."""
    return render(template, request, nav=nav, now=request.app[APP_KEY].clock.now(), **ctx)


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    response = render("error.html", request, status_code=status, message=message,
                      now=request.app[APP_KEY].clock.now())
    response.set_status(status)
    return response


def json_response(value, status: int = 200) -> web.Response:
    """JSON as people read it in a terminal too: Chinese stays Chinese."""
    return web.json_response(value, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def json_error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status)


def only_department(request: web.Request) -> str | None:
    """The one department a liaison may see; None for everyone else."""
    return principal(request).only_department


def may_edit_roster(request: web.Request) -> bool:
    """The roster is the duty office's: admins and duty officers edit it (not viewers, read tokens or liaisons)."""
    who = principal(request)
    return who is not None and who.can_act and who.role in ("admin", "duty_officer")

