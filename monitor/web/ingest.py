"""POST /api/v1/ingest: pushed messages, HMAC-SHA256 signed (docs/design.md §5).

401 on a missing or wrong signature, 400 naming the bad field, 413 over the size limit, 202
{"item_id", "incident_id"}; the same id twice is stored once (the second answer names the same item).
Several webhook sources may be configured: the one whose secret verifies the signature is the source."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os

from aiohttp import web

from monitor.config.settings import WebhookSource
from monitor.sources.jsonlines import record_to_item
from monitor.web.auth import APP_KEY

SIGNATURE_HEADER = "X-Yuqing-Signature"
_LOCK = web.AppKey("yuqing_ingest_lock", asyncio.Lock)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign(secret, body), header.strip())


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def ingest(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    sources = [s for s in app.settings.sources if isinstance(s, WebhookSource) and s.enabled]
    if not sources:
        return _error(404, "未配置推送来源 (no webhook source is configured)")
    limit = max(s.max_body_bytes for s in sources)
    if request.content_length is not None and request.content_length > limit:
        return _error(413, f"body: 超过 {limit} 字节 (larger than {limit} bytes)")
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        return _error(413, f"body: 超过 {limit} 字节 (larger than {limit} bytes)")
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        return _error(401, f"缺少签名 (missing {SIGNATURE_HEADER} header: sha256=<hex HMAC-SHA256 of the body>)")
    configured = [(s, os.environ.get(s.secret_env)) for s in sources]
    if not any(secret for _, secret in configured):
        return _error(503, "推送密钥未设置 (the webhook secret environment variable is not set)")
    source = next((s for s, secret in configured if secret and verify(secret, body, header)), None)
    if source is None:
        return _error(401, f"签名错误 (bad signature in {SIGNATURE_HEADER})")
    if len(body) > source.max_body_bytes:
        return _error(413, f"body: 超过 {source.max_body_bytes} 字节 (larger than {source.max_body_bytes} bytes)")
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _error(400, f"body: 不是 UTF-8 JSON (not valid JSON: {exc})")
    try:
        item = record_to_item(obj, source.name)
    except ValueError as exc:
        return _error(400, str(exc))
    # One push at a time in this process: two copies of the same id racing would both look new.
    lock = request.app.get(_LOCK)
    async with lock:
        stats = await app.pipeline.ingest([item], source.name, "webhook")
        async with app.store.read() as tx:
            stored = (await tx.items.by_external_ids(source.name, [item.external_id]))[item.external_id]
    return web.json_response({"item_id": stored["id"], "incident_id": stored["incident_id"],
                              "duplicate": stats.inserted == 0}, status=202)


def add_routes(web_app: web.Application) -> web.Application:
    web_app[_LOCK] = asyncio.Lock()
    web_app.router.add_post("/api/v1/ingest", ingest)
    return web_app
