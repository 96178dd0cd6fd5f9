"""Who is asking (docs/accounts.md): a signed-in session (cookie), a stored API token or the environment's token
(`api.token_env`, full scope for scripts), each as a Principal with a role. The middleware that demands one on
every route is in monitor/web/security.py; the sign-in pages in monitor/web/login.py.

Roles: viewer reads; duty_officer and admin act on everything; liaison sees and acts on its own department's
incidents only (the lead department: incidents.department). A token with scope `read` may only read; a token
with an owner acts with at most the owner's rights."""

from __future__ import annotations

import asyncio
import hmac
import os
from dataclasses import dataclass
from datetime import timedelta

from aiohttp import web
from loguru import logger

from monitor.store.accounts import digest

APP_KEY = web.AppKey("yuqing_app", object)
SESSION_COOKIE = "yuqing_session"
SESSION_IDLE = timedelta(hours=12)  # a shift: a session unused this long ends
SESSION_MAX = timedelta(hours=24)  # and none outlives a day, however busy
TOUCH_EVERY = timedelta(minutes=5)  # last-seen is written at most this often (a write per request would queue)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TOUCHES = web.AppKey("yuqing_session_touches", set)  # last-seen writes in flight (a task needs a reference)


@dataclass(frozen=True)
class Principal:
    name: str  # the account; "token:NAME" for a stored token; "api" for the environment's token
    role: str  # viewer | duty_officer | liaison | admin
    kind: str  # session | token | env
    department: str | None = None
    scope: str = "write"
    csrf: str = ""

    @property
    def can_act(self) -> bool:
        return self.scope == "write" and self.role != "viewer"

    @property
    def only_department(self) -> str | None:
        """The one department a liaison may see; None = every department."""
        return self.department if self.role == "liaison" else None

    def sees(self, incident) -> bool:
        return self.role != "liaison" or incident.department == self.department


# where the middleware leaves the principal on the request (a typed key where aiohttp has them, ≥ 3.12)
PRINCIPAL = web.RequestKey("yuqing_principal", Principal) if hasattr(web, "RequestKey") else "yuqing_principal"


def principal(request: web.Request) -> Principal | None:
    return request.get(PRINCIPAL)


class Refused(Exception):
    """A credential that was given and is wrong (401), or a token check that cannot be made (503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def identify(request: web.Request) -> Principal | None:
    """The principal of a request; None when it carries no credential (or an ended session). Raises Refused for
    a bearer token that is wrong. A bearer header wins over a cookie (and needs no CSRF token)."""
    app = request.app[APP_KEY]
    header = request.headers.get("Authorization")
    if header is not None:
        return await _bearer(app, header)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid:
        return await _session(request, app, sid)
    return None


async def _bearer(app, header: str) -> Principal:
    if not header.startswith("Bearer ") or not header[7:].strip():
        raise Refused(401, "令牌错误 (Authorization: Bearer token missing or wrong)")
    given = header[7:].strip()
    expected = os.environ.get(app.settings.api.token_env)
    # bytes, not str: aiohttp hands undecodable header bytes over as surrogate escapes
    if expected and hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                                        expected.encode("utf-8", "surrogateescape")):
        return Principal("api", "admin", "env")
    async with app.store.read() as tx:
        token = await tx.accounts.token(digest(given))
    if token is not None and not token.disabled and (token.role != "liaison" or token.department):
        role = token.role or ("duty_officer" if token.scope == "write" else "viewer")
        return Principal(f"token:{token.name}", role, "token", token.department, token.scope)
    if not expected:
        raise Refused(503, f"接口令牌未配置 (API token not configured: set {app.settings.api.token_env})")
    raise Refused(401, "令牌错误 (Authorization: Bearer token missing or wrong)")


async def _session(request: web.Request, app, sid: str) -> Principal | None:
    id_hash = digest(sid)
    async with app.store.read() as tx:
        s = await tx.accounts.session(id_hash)
    now = app.clock.now()
    if s is None or s.disabled or now >= s.expires_at or (s.role == "liaison" and not s.department):
        return None
    if now - s.last_seen_at >= TOUCH_EVERY:  # slide the idle expiry, off the request's path
        expires = min(now + SESSION_IDLE, s.created_at + SESSION_MAX)
        touches = request.app[TOUCHES]
        task = asyncio.create_task(_touch(app, id_hash, now, expires))
        touches.add(task)
        task.add_done_callback(touches.discard)
    return Principal(s.name, s.role, "session", s.department, csrf=s.csrf)


async def _touch(app, id_hash: str, now, expires) -> None:
    try:
        async with app.store.write() as tx:
            await tx.accounts.touch_session(id_hash, now, expires)
    except Exception as exc:  # a missed touch only shortens the session; never an unretrieved task error
        logger.warning("session last-seen not written: {}", exc)


def actor(request: web.Request, body: dict) -> str | None:
    """Who acts, for the audit log: the signed-in user; for a bearer script the `actor` it names."""
    p = principal(request)
    if p is not None and p.kind == "session":
        return p.name
    value = body.get("actor")
    return value.strip() if isinstance(value, str) else value


def incident_forbidden(request: web.Request, incidents) -> web.Response | None:
    """403 when the principal may not see one of `incidents` (a liaison and another department's incident)."""
    p = principal(request)
    if p is None or p.only_department is None:
        return None
    for incident in incidents:
        if incident is not None and not p.sees(incident):
            return web.json_response(
                {"error": f"无权查看或处理其他部门的事件 #{incident.id} (incident {incident.id} belongs to another "
                          "department)"}, status=403)
    return None
