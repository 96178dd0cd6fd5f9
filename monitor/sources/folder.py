"""A watched folder of 12345 exports (hotline_export with `path`): each new or changed file is imported
once, in a worker process (monitor/sources/worker.py: serve's event loop keeps answering meanwhile). The
cursor records, per file, its size/mtime key and how many records are stored, inside each batch's
transaction: after a restart or kill -9 an interrupted file resumes at the next batch, and a finished one is
not read again. A file that cannot be read (or kills its worker) is reported (cursor and `yuqing sources`)
and skipped until it changes; the other files go on."""

from __future__ import annotations

import time
from pathlib import Path

from loguru import logger

from monitor.sources.importer import SUPPORTED
from monitor.sources.base import PollContext
from monitor.sources.worker import FileJob, import_in_worker
from monitor.core.errors import ExportError
from monitor.core.metrics import observe_import


class FolderCollector:
    def __init__(self, cfg, folder: Path) -> None:
        self.cfg, self.folder = cfg, folder

    async def poll(self, ctx: PollContext) -> None:
        if not self.folder.is_dir():
            raise ExportError(f"{self.folder}: 监视目录不存在 (watched folder does not exist)")
        files: dict[str, dict] = ctx.state.cursor.setdefault("files", {})
        settle = self.cfg.settle.timedelta().total_seconds()
        candidates = sorted((p for p in self.folder.iterdir()
                             if p.is_file() and p.suffix.lower() in SUPPORTED and not p.name.startswith((".", "~$"))),
                            key=lambda p: (p.stat().st_mtime_ns, p.name))
        errors = []
        for path in candidates:
            st = path.stat()
            key = f"{st.st_size}:{st.st_mtime_ns}"
            entry = files.get(path.name)
            if entry and entry.get("key") == key and (entry.get("done") or entry.get("error")):
                continue
            if time.time() - st.st_mtime < settle:  # file times are wall-clock facts, not the injected clock
                continue  # still being copied in
            skip = entry["rows"] if entry and entry.get("key") == key else 0
            files[path.name] = {"key": key, "rows": skip, "done": False, "error": None}
            app = ctx.app
            job = FileJob(app.settings, app.store.url, app.clock, ctx.name, self.cfg.kind, path, self.cfg.batch,
                          skip, key, ctx.state.snapshot().cursor)
            try:
                stats, rows = await observe_import(ctx.name, import_in_worker(job, ctx.stop))  # /metrics
                ctx.stats.add(stats)
                files[path.name] = {"key": key, "rows": rows, "done": True, "error": None}
                logger.info("source {}: imported {}: {}", ctx.name, path.name, stats.as_json())
            except ExportError as exc:
                files[path.name] = {"key": key, "rows": await _rows_stored(ctx, path.name, skip), "done": False,
                                    "error": str(exc)}
                errors.append(str(exc))
                logger.error("source {}: {}", ctx.name, exc)
            await ctx.emit([], str(path))  # store the file's final state
        if errors:
            ctx.state.cursor["last_file_error"] = errors[-1]


async def _rows_stored(ctx: PollContext, name: str, skip: int) -> int:
    """How far the worker got before it failed: the cursor it saved with its last batch."""
    async with ctx.app.store.read() as tx:
        row = await tx.sources.get(ctx.name)
    entry = ((row or {}).get("cursor") or {}).get("files", {}).get(name) or {}
    return max(skip, entry.get("rows", 0))
