"""The one-click action page behind the links of robot messages (responders/actionlinks.py).

`GET /act/{token}` only shows what the link will do: chat apps and mail scanners fetch links before anyone
clicks, so nothing ever happens on a GET. `POST /act/{token}` does it once, through the same service commands
as the CLI and the API, in the name of the person the link was issued to ("赵联络员（链接）"). The token is the
whole authority (monitor/core/actiontoken.py): signed, for one incident, rule and action, expiring, and single
use — its nonce is marked used (monitor/store/tokens.py) before the command runs, so of two racing requests
exactly one acts. A command the service refuses changes nothing, and its nonce is released again.

Every answer is a Chinese page that is never cached nor referred on (the token is in the URL)."""

from __future__ import annotations

import os

from aiohttp import web

from monitor.core.actiontoken import ACTIONS, Claims, Expired, TokenError, verify
from monitor.core.clock import fmt_delta, fmt_local
from monitor.core.errors import ServiceError
from monitor.deadlines.rules import EVIDENCE_NAMES
from monitor.web.auth import APP_KEY
from monitor.web.inputs import BadInput, text_field
from monitor.web.pages import render

HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",  # a one-click button must not be clickable through someone else's frame
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}
URL_MAX, NOTE_MAX = 2000, 5000  # as the JSON API (monitor/web/api.py FIELD_LIMITS)


def page(name: str, status: int = 200, **ctx) -> web.Response:
    response = render(name, **ctx)
    response.set_status(status)
    response.headers.update(HEADERS)
    return response


def message(app, status: int, heading: str, text: str, ok: bool = False,
            incident_id: int | None = None) -> web.Response:
    return page("act_result.html", status, heading=heading, text=text, ok=ok, incident_id=incident_id,
                now=app.clock.now())


async def act_get(request: web.Request) -> web.Response:
    checked = await _checked(request)
    if isinstance(checked, web.Response):
        return checked
    app, claims = checked
    return await _confirm(app, request.match_info["token"], claims)


async def act_post(request: web.Request) -> web.Response:
    checked = await _checked(request)
    if isinstance(checked, web.Response):
        return checked
    app, claims = checked
    token = request.match_info["token"]
    url = note = ""
    if claims.action == "evidence":
        try:
            url, note = await _evidence_form(request)
        except BadInput as exc:
            return await _confirm(app, token, claims, error=str(exc), url="", note="", status=400)
    actor = actor_name(app, claims)
    async with app.store.write() as tx:
        fresh = await tx.tokens.use(claims.nonce, claims.incident_id, claims.rule, claims.action, actor,
                                    app.clock.now())
    if not fresh:  # another request with this link got there first
        return await _used(app, claims)
    try:
        if claims.action == "ack":
            await app.service.acknowledge(claims.incident_id, actor, rule=claims.rule)
        else:
            done = await app.service.add_evidence(claims.incident_id, actor, url=url, note=note, rule=claims.rule)
    except ServiceError as exc:  # refused: nothing changed, so the link may be used again
        async with app.store.write() as tx:
            await tx.tokens.release(claims.nonce)
        if claims.action == "evidence":
            return await _confirm(app, token, claims, error=str(exc), url=url, note=note, status=exc.status)
        return message(app, exc.status, "未能确认", str(exc), incident_id=claims.incident_id)
    # (an unexpected error keeps the nonce used: the command may have committed, and acting twice is worse)
    app.escalator.wake()
    if claims.action == "ack":
        text = (f"已以「{actor}」的名义确认收到事件 #{claims.incident_id} 的期限提醒：当前一级的重复提醒已停止，"
                "期限仍在计时，完成回应后请登记证据。")
        return message(app, 200, "已确认收到", text, ok=True, incident_id=claims.incident_id)
    closed = "、".join(d.title for d in done)
    text = (f"已以「{actor}」的名义登记事件 #{claims.incident_id} 的证据" +
            (f"，期限「{closed}」已完成。" if closed else "（该期限此前已关闭，证据已记入回应台账）。"))
    return message(app, 200, "证据已登记", text, ok=True, incident_id=claims.incident_id)


def actor_name(app, claims: Claims) -> str:
    """The person the link was issued to, as the audit log names them: "赵联络员（链接）"."""
    user = next((u for u in app.settings.users if u.name == claims.user), None)
    shown = (user.display or user.name) if user else (claims.user or "群成员")
    return f"{shown[:90]}（链接）"


async def _checked(request: web.Request):
    """(app, claims) of a genuine, unexpired, unused token, or the page that says why not."""
    app = request.app[APP_KEY]
    env = app.settings.api.action_secret_env
    secret = os.environ.get(env, "").strip()
    if not secret:
        return message(app, 503, "一键操作未启用",
                       f"服务未设置环境变量 {env}，一键操作链接不可用，请在值班台操作。"
                       f"(action links are not configured: {env} is not set)")
    try:
        claims = verify(secret, request.match_info["token"], app.clock.now())
    except Expired as exc:
        async with app.store.read() as tx:
            used = await tx.tokens.get(exc.claims.nonce)
        if used is not None:  # "used by whom" tells the person more than "expired"
            return await _used(app, exc.claims, used)
        return message(app, 410, "链接已过期",
                       f"此链接已于 {fmt_local(exc.claims.expires_at)}（北京时间）过期，请打开事件页面操作，"
                       "或使用下一条提醒中的新链接。(this link has expired)", incident_id=exc.claims.incident_id)
    except TokenError as exc:
        return message(app, exc.status, "链接无效",
                       f"此链接无效：{exc}。请使用提醒消息中的完整链接，或在值班台操作。")
    async with app.store.read() as tx:
        used = await tx.tokens.get(claims.nonce)
    if used is not None:
        return await _used(app, claims, used)
    return app, claims


async def _used(app, claims: Claims, used: dict | None = None) -> web.Response:
    if used is None:
        async with app.store.read() as tx:
            used = await tx.tokens.get(claims.nonce)
    who = used["used_by"] if used else "他人"
    when = fmt_local(used["used_at"]) if used else "刚才"
    return message(app, 409, "链接已使用",
                   f"此链接只能使用一次，已于 {when}（北京时间）由 {who} 使用。(this link has already been used)",
                   incident_id=claims.incident_id)


async def _confirm(app, token: str, claims: Claims, error: str = "", url: str = "", note: str = "",
                   status: int = 200) -> web.Response:
    now = app.clock.now()
    async with app.store.read() as tx:
        incident = await tx.incidents.get(claims.incident_id)
        deadlines = [d for d in await tx.deadlines.for_incident(claims.incident_id) if d.rule == claims.rule]
    if incident is None:
        return message(app, 404, "没有这个事件", f"没有事件 #{claims.incident_id} (no such incident)")
    deadline = next((d for d in deadlines if d.state == "open"), deadlines[-1] if deadlines else None)
    left = ""
    if deadline is not None and deadline.state == "open":
        delta = deadline.due_at - now
        left = f"剩余 {fmt_delta(delta)}" if delta.total_seconds() > 0 else f"已超期 {fmt_delta(-delta)}"
    return page("act.html", status, incident=incident, deadline=deadline, left=left, claims=claims,
                action_label=ACTIONS[claims.action], actor=actor_name(app, claims), token=token,
                evidence=EVIDENCE_NAMES.get(deadline.satisfied_by, deadline.satisfied_by) if deadline else "回应",
                error=error, url=url, note=note, now=now)


async def _evidence_form(request: web.Request) -> tuple[str, str]:
    try:
        form = await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise BadInput("表单过大 (form too large)") from None
    fields = {k: form.get(k) for k in ("url", "note")}
    for key, value in fields.items():
        if value is not None and not isinstance(value, str):
            raise BadInput(f"{key}: 须为文本 (must be text)")
    url = (text_field(fields, "url", URL_MAX) or "").strip()
    note = (text_field(fields, "note", NOTE_MAX) or "").strip()
    if not (url or note):
        raise BadInput("请填写发布链接或说明 (a url or a note is required)")
    return url, note


def add_routes(web_app: web.Application) -> None:
    web_app.router.add_get("/act/{token}", act_get)
    web_app.router.add_post("/act/{token}", act_post)
