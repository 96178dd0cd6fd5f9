"""What guards every request and response (docs/accounts.md):

- `guard` (a middleware): every page and API call needs a signed-in session or an API token. Anonymous →
  302 to /login?next=… for a page, 401 JSON under /api/. A session's state-changing request needs its CSRF token
  (header X-CSRF-Token from fetch, or the form field `csrf`); a bearer request needs none (a foreign page cannot
  send that header). Viewers and read-scope tokens may only read; a liaison sees only its department's
  incidents (→ 403 on another's). Anonymous on purpose: /healthz (without ?detail), /metrics, /readyz, /login,
  /static/…, the HMAC-signed POST /api/v1/ingest and the signed one-click pages /act/….
- `safety_headers` (on_response_prepare, so errors and static files get them too): a strict CSP, nosniff,
  same-origin referrer, no framing, no `Server` version banner. A handler's own stricter value is kept.
Bidi controls in displayed scraped text are neutralised by the templates (monitor.web.pages.neutralise_bidi).
"""

from __future__ import annotations

import hmac
import re
from urllib.parse import quote

from aiohttp import hdrs, web
from loguru import logger

from monitor.web.auth import APP_KEY, PRINCIPAL, SAFE_METHODS, TOUCHES, Refused, identify
from monitor.web.inputs import BadInput, row_id
from monitor.web.pages import render

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
       "base-uri 'none'; form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
}
SERVER = "yuqing-sentinel"  # no version: it only helps whoever looks for a known hole
CSRF_HEADER, CSRF_FIELD = "X-CSRF-Token", "csrf"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
_OPEN_PATHS = frozenset({"/healthz", "/metrics", "/readyz", "/login"})
_INCIDENT_PATH = re.compile(r"/(?:api/v1/)?incidents/([^/]+)(?:/|$)")


def is_open(request: web.Request) -> bool:
    path = request.path
    if path == "/healthz":
        return "detail" not in request.query  # the sources' health names hosts and errors: signed-in only
    return (path in _OPEN_PATHS or path.startswith(("/static/", "/act/"))
            or (path == "/api/v1/ingest" and request.method == "POST"))


def _api(request: web.Request) -> bool:
    """A caller that reads JSON (scripts, monitoring): refused with JSON, never sent to the login page."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def refuse(request: web.Request, status: int, message: str) -> web.Response:
    """A refusal as the caller reads it: JSON for the API, a short Chinese page otherwise."""
    if _api(request):
        return web.json_response({"error": message}, status=status)
    response = render("error.html", status_code=status, message=message)
    response.set_status(status)
    return response


@web.middleware
async def guard(request: web.Request, handler):
    if is_open(request):
        return await handler(request)
    try:
        who = await identify(request)
    except Refused as exc:
        return refuse(request, exc.status, str(exc))
    if who is None:
        if _api(request):
            return web.json_response({"error": "未登录：请先登录或提供 Authorization: Bearer 令牌 "
                                               "(sign in, or send Authorization: Bearer <token>)"}, status=401)
        target = "/login" if request.path == "/logout" else "/login?next=" + quote(request.path_qs, safe="")
        raise web.HTTPFound(target)
    request[PRINCIPAL] = who
    if request.method not in SAFE_METHODS:
        if who.kind == "session" and not await _csrf_ok(request, who.csrf):
            logger.warning("CSRF token missing or wrong: {} {} by {}", request.method, request.path, who.name)
            return refuse(request, 403, "安全校验失败，请刷新页面后重试 (CSRF token missing or wrong: reload the page)")
        if request.path != "/logout" and not who.can_act:
            what = "只读令牌" if who.scope != "write" else "查看员"
            return refuse(request, 403, f"{what}只能查看，不能操作 (this {'token' if who.scope != 'write' else 'role'} "
                                        "may only read)")
    if who.only_department is not None:
        denied = await _other_department(request, who)
        if denied is not None:
            return denied
    return await handler(request)


async def _csrf_ok(request: web.Request, expected: str) -> bool:
    given = request.headers.get(CSRF_HEADER)
    if given is None and request.content_type in _FORMS:
        try:
            given = (await request.post()).get(CSRF_FIELD)
        except (ValueError, web.HTTPException):  # an unreadable or oversized form carries no token
            return False
    if not isinstance(given, str) or not given or not expected:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


async def _other_department(request: web.Request, who) -> web.Response | None:
    """A liaison asking for (or acting on) another department's incident: 403, in pages and API alike."""
    match = _INCIDENT_PATH.match(request.path)
    if not match:
        return None
    try:
        incident_id = row_id(match.group(1))
    except BadInput:
        return None  # the handler answers a malformed id as it always does
    async with request.app[APP_KEY].store.read() as tx:
        incident = await tx.incidents.get(incident_id)
    if incident is not None and not who.sees(incident):
        return refuse(request, 403, f"无权查看或处理其他部门的事件 #{incident_id} "
                                    f"(incident {incident_id} belongs to another department)")
    return None


async def safety_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers[hdrs.SERVER] = SERVER
    if PRINCIPAL in request and not request.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")  # citizens' data stays out of shared caches


def install(web_app: web.Application) -> None:
    web_app[TOUCHES] = set()
    web_app.middlewares.append(guard)
    web_app.on_response_prepare.append(safety_headers)
