"""Who may call the API: the key under which the app is stored, and the bearer-token check every action uses
(503 while no token is configured, 401 for a wrong one)."""

from __future__ import annotations

import hmac
import os

from aiohttp import web

APP_KEY = web.AppKey("yuqing_app", object)


def authorized(request: web.Request) -> web.Response | None:
    app = request.app[APP_KEY]
    expected = os.environ.get(app.settings.api.token_env)
    if not expected:
        return web.json_response(
            {"error": f"接口令牌未配置 (API token not configured: set {app.settings.api.token_env})"}, status=503)
    given = request.headers.get("Authorization", "")
    # aiohttp hands undecodable header bytes over as surrogate escapes: encode them back, never fail on them
    if not (given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode("utf-8", "surrogateescape"),
                                                                 expected.encode("utf-8", "surrogateescape"))):
        return web.json_response({"error": "令牌错误 (Authorization: Bearer token missing or wrong)"}, status=401)
    return None
