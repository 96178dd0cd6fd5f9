"""Sign-in and sign-out of the dashboard (docs/accounts.md).

GET/POST /login, POST /logout. A session is a random id in an HttpOnly, SameSite=Lax cookie (Secure when the
request came over TLS), stored only as its digest with its CSRF token; it ends after SESSION_IDLE unused or
SESSION_MAX in all (monitor/web/auth.py), at sign-out, and when the account is disabled or its password changed.
The login form carries its own CSRF token (double submit: a cookie and a hidden field), so a foreign page cannot
sign a browser in under another account.

Throttling: failures are counted in this process's memory (a restart forgets them; several `serve` processes each
count their own): 5 per account and address, or 20 per address, within 15 minutes → 429 until the window moves
on. argon2 runs in a thread, two at a time, so sign-ins neither block the event loop nor eat the machine."""

from __future__ import annotations

import asyncio
import hmac
from collections import deque
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from aiohttp import web
from loguru import logger

from monitor.store.accounts import digest, new_secret, verify_password
from monitor.web.auth import APP_KEY, SESSION_COOKIE, SESSION_IDLE, Refused, identify, principal
from monitor.web.pages import render

LOGIN_COOKIE = "yuqing_login"
PER_ACCOUNT, PER_ADDRESS, WINDOW = 5, 20, timedelta(minutes=15)
_THROTTLE = web.AppKey("yuqing_login_throttle", object)
_HASHING = web.AppKey("yuqing_login_hashing", asyncio.Semaphore)


class Throttle:
    """Failed sign-ins per (account, address) and per address within a sliding window."""

    MAX_KEYS = 100_000  # bounded memory under a flood of made-up names

    def __init__(self, per_account: int = PER_ACCOUNT, per_address: int = PER_ADDRESS,
                 window: timedelta = WINDOW) -> None:
        self.limits = {"account": per_account, "address": per_address}
        self.window = window
        self.failures: dict[tuple, deque] = {}

    def _keys(self, name: str, address: str) -> list[tuple[tuple, int]]:
        return [(("account", name.casefold(), address), self.limits["account"]),
                (("address", address), self.limits["address"])]

    def retry_after(self, name: str, address: str, now: datetime) -> timedelta | None:
        """How long until another try is allowed; None if it is now."""
        waits = []
        for key, limit in self._keys(name, address):
            times = self.failures.get(key)
            while times and times[0] <= now - self.window:
                times.popleft()
            if times and len(times) >= limit:
                waits.append(times[0] + self.window - now)
        return max(waits) if waits else None

    def failed(self, name: str, address: str, now: datetime) -> None:
        if len(self.failures) >= self.MAX_KEYS:
            self.failures = {k: v for k, v in self.failures.items() if v and v[-1] > now - self.window}
        for key, limit in self._keys(name, address):
            self.failures.setdefault(key, deque(maxlen=limit)).append(now)

    def succeeded(self, name: str, address: str) -> None:
        self.failures.pop(self._keys(name, address)[0][0], None)


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path of this site only (never //host or a scheme: no open redirect)."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout") or "\\" in value:
        return "/"
    return value


def _form_page(request: web.Request, status: int = 200, error: str = "", name: str = "", next_: str = "/",
               token: str | None = None) -> web.Response:
    app = request.app[APP_KEY]
    token = token or request.cookies.get(LOGIN_COOKIE) or new_secret()
    response = render("login.html", request, login_csrf=token, error=error, name=name, next=next_,
                      now=app.clock.now())
    response.set_status(status)
    response.headers["Cache-Control"] = "no-store"  # the form's token is for this browser, now
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="Strict", secure=request.secure, path="/login")
    return response


async def login_page(request: web.Request) -> web.Response:
    next_ = safe_next(request.query.get("next"))
    try:
        signed_in = request.headers.get("Authorization") is None and await identify(request)
    except Refused:
        signed_in = None
    if signed_in:
        raise web.HTTPFound(next_)
    return _form_page(request, next_=next_)


async def login(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    try:
        form = await request.post()
    except (ValueError, web.HTTPException):
        return _form_page(request, 400, "表单无法读取，请重试 (unreadable form)")
    fields = {k: form.get(k) for k in ("name", "password", "csrf", "next")}
    if not all(isinstance(v, str) for v in fields.values()):
        return _form_page(request, 400, "表单不完整，请重试 (incomplete form)")
    name, password, next_ = fields["name"].strip()[:100], fields["password"], safe_next(fields["next"])
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode("utf-8", "surrogateescape"),
                                             fields["csrf"].encode("utf-8", "surrogateescape")):
        return _form_page(request, 403, "登录页面已过期，请重新输入 (the sign-in page expired: try again)", name, next_)
    now, address = app.clock.now(), request.remote or ""
    throttle: Throttle = request.app[_THROTTLE]
    wait = throttle.retry_after(name, address, now)
    if wait is not None:
        minutes = max(1, -(-int(wait.total_seconds()) // 60))
        response = _form_page(request, 429, f"登录失败次数过多，请 {minutes} 分钟后再试 "
                                             f"(too many failed sign-ins: try again in {minutes} min)", name, next_)
        response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
        return response
    async with app.store.read() as tx:
        account = await tx.accounts.get(name)
    async with request.app[_HASHING]:
        ok = await asyncio.to_thread(verify_password, account["password_hash"] if account else None, password)
    if not ok:
        throttle.failed(name, address, now)
        logger.warning("sign-in failed for {!r} from {}", name, address)
        return _form_page(request, 401, "用户名或密码错误 (wrong name or password)", name, next_)
    if account["disabled"] or (account["role"] == "liaison" and not account["department"]):
        return _form_page(request, 403, "账号已停用，请联系管理员 (this account is disabled)", name, next_)
    throttle.succeeded(name, address)
    sid, csrf = new_secret(), new_secret()  # always a new id: a session planted before sign-in is never used
    async with app.store.write() as tx:
        await tx.accounts.start_session(digest(sid), csrf, account["name"], now, now + SESSION_IDLE)
        await tx.audit.append(now, account["name"], "account.signed_in", "account", account["name"],
                              {"address": address})
    response = web.HTTPSeeOther(next_)
    response.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="Lax", secure=request.secure, path="/")
    response.del_cookie(LOGIN_COOKIE, path="/login")
    raise response


async def logout(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    who = principal(request)
    sid = request.cookies.get(SESSION_COOKIE)
    if sid and who is not None and who.kind == "session":
        async with app.store.write() as tx:
            await tx.accounts.end_session(digest(sid))
            await tx.audit.append(app.clock.now(), who.name, "account.signed_out", "account", who.name)
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


def add_routes(web_app: web.Application) -> None:
    web_app[_THROTTLE] = Throttle()
    web_app[_HASHING] = asyncio.Semaphore(2)
    web_app.router.add_get("/login", login_page)
    web_app.router.add_post("/login", login)
    web_app.router.add_post("/logout", logout)
