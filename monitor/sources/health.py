"""Source health from its row (pure): a source that keeps failing is unhealthy, the others carry on."""

from __future__ import annotations

from datetime import datetime

UNHEALTHY_AFTER = 3  # consecutive failed polls


def source_health(cfg, row: dict | None, now: datetime) -> dict:
    """What `yuqing sources` and `/healthz?detail=1` show for one configured source."""
    failures = (row or {}).get("failures") or 0
    if not cfg.enabled:
        state, healthy = "停用 disabled", True
    elif cfg.kind == "webhook":
        state, healthy = "接收推送 push", True
    elif cfg.kind == "hotline_export" and not getattr(cfg, "path", None):
        state, healthy = "仅导入 import only", True
    elif row is None or row.get("last_ok_at") is None and not failures:
        state, healthy = "尚未运行 not yet polled", True
    elif failures >= UNHEALTHY_AFTER:
        state, healthy = "异常 unhealthy", False
    elif failures:
        state, healthy = "重试中 retrying", True
    else:
        state, healthy = "正常 ok", True
    next_poll = (row or {}).get("next_poll_at")
    return {
        "name": cfg.name, "kind": cfg.kind, "enabled": cfg.enabled, "healthy": healthy, "state": state,
        "failures": failures, "last_ok_at": _iso((row or {}).get("last_ok_at")),
        "last_error": (row or {}).get("last_error"), "next_poll_at": _iso(next_poll),
        "overdue": bool(cfg.enabled and next_poll is not None and next_poll < now),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def health_report(settings, store, now: datetime) -> list[dict]:
    async with store.read() as tx:
        rows = {r["name"]: r for r in await tx.sources.list()}
    return [source_health(cfg, rows.get(cfg.name), now) for cfg in settings.sources]
