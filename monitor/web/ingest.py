"""POST /api/v1/ingest: pushed messages, HMAC-SHA256 signed (docs/design.md §5).

The whole body is read (bounded) before the signature is checked: a body that arrives in several network
reads (a slow link, a proxy, chunked encoding) is checked whole, and one past the limit is a 413 whatever
its framing. 401 on a missing or wrong signature, 400 naming the bad field (monitor.web.push), 202
{"item_id", "incident_id", "duplicate", "updated", "occurred_at"}: a known id with the same content is a
duplicate (nothing changes); with changed content an update (kept in the item's history and read again,
monitor.pipeline). Several webhook sources may be configured: the one whose secret verifies the signature
is the source."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os

from aiohttp import web
from loguru import logger

from monitor.config.settings import WebhookSource
from monitor.store import unavailable
from monitor.web.auth import APP_KEY
from monitor.web.inputs import BadInput, load_json
from monitor.web.push import parse_push

SIGNATURE_HEADER = "X-Yuqing-Signature"
_LOCK = web.AppKey("yuqing_ingest_lock", asyncio.Lock)
_CHUNK = 64 * 1024


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    # bytes, not str: compare_digest refuses non-ASCII str, and aiohttp hands undecodable header bytes
    # over as surrogate escapes
    return bool(header) and hmac.compare_digest(sign(secret, body).encode(),
                                                header.strip().encode("utf-8", "surrogateescape"))


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status, dumps=lambda v: json.dumps(v, ensure_ascii=False))


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None once it passes `limit`. One read() returns only what has arrived so far, so
    read until EOF; count as it comes, so a chunked body without Content-Length is bounded too."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks, size = [], 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def ingest(request: web.Request) -> web.Response:
    app = request.app[APP_KEY]
    sources = [s for s in app.settings.sources if isinstance(s, WebhookSource) and s.enabled]
    if not sources:
        return _error(404, "未配置推送来源 (no webhook source is configured)")
    limit = max(s.max_body_bytes for s in sources)
    too_large = f"body: 超过 {limit} 字节 (larger than {limit} bytes)"
    body = await read_body(request, limit)
    if body is None:
        return _error(413, too_large)
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
        push = parse_push(load_json(body), source.name, app.clock.now())
    except BadInput as exc:
        return _error(400, str(exc))
    item = push.item
    # One push at a time in this process: two copies of the same id racing would both look new.
    lock = request.app.get(_LOCK)
    try:
        async with lock:
            stats = await app.pipeline.ingest([item], source.name, "webhook")
            async with app.store.read() as tx:
                stored = (await tx.items.by_external_ids(source.name, [item.external_id]))[item.external_id]
    except Exception as exc:  # the database away or full: nothing stored, the sender retries (not a traceback each)
        if not unavailable(exc):
            raise
        logger.warning("推送未保存，数据库不可用 (push not stored, store unavailable): {}", str(exc).splitlines()[0][:200])
        response = _error(503, "数据库暂不可用，未保存，请稍后重发 (store unavailable: nothing stored, send again later)")
        response.headers["Retry-After"] = "5"
        return response
    updated = stats.updated > 0
    answer = {"item_id": stored["id"], "incident_id": stored["incident_id"],
              "duplicate": stats.known > 0 and not updated, "updated": updated,
              "occurred_at": stored["occurred_at"].isoformat() if stored["occurred_at"] else None}
    if push.time_replaced:
        answer["time_replaced"] = push.time_replaced
    return web.json_response(answer, status=202, dumps=lambda v: json.dumps(v, ensure_ascii=False))


def add_routes(web_app: web.Application) -> web.Application:
    web_app[_LOCK] = asyncio.Lock()
    web_app.router.add_post("/api/v1/ingest", ingest)
    return web_app
