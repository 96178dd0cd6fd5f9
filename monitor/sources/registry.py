"""Source kinds → collectors. A kind that polls has a collector; `webhook` is pushed to (monitor/web/ingest.py);
a hotline_export without `path` is only used by `yuqing import`."""

from __future__ import annotations

from monitor.sources.board import BoardCollector
from monitor.sources.feed import FeedCollector
from monitor.sources.folder import FolderCollector

def make_collector(cfg, settings):
    if not cfg.enabled:
        return None
    if cfg.kind == "board":
        return BoardCollector(cfg)
    if cfg.kind == "feed":
        return FeedCollector(cfg)
    if cfg.kind == "hotline_export" and cfg.path:
        return FolderCollector(cfg, settings.resolve(cfg.path))
    return None


def uses_http(cfg) -> bool:
    return cfg.kind in ("board", "feed")
