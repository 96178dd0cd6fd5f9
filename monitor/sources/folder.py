"""A watched folder of 12345 exports (hotline_export with `path`): each new or changed file is imported
once. The cursor records, per file, its size/mtime key and how many records are stored, inside each batch's
transaction: after a restart or kill -9 an interrupted file resumes at the next batch, and a finished one is
not read again. A file that cannot be read is reported (cursor and `yuqing sources`) and skipped until it
changes; the other files go on."""

from __future__ import annotations

import time
from pathlib import Path

from loguru import logger

from monitor.sources.importer import SUPPORTED, import_file
from monitor.sources.base import PollContext
from monitor.core.errors import ExportError


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

            def after_batch(done: int, name=path.name, key=key):
                files[name] = {"key": key, "rows": done, "done": False, "error": None}
                return ctx.saver()

            try:
                stats = await import_file(ctx.app.pipeline, ctx.app.settings, path, ctx.name, self.cfg.batch,
                                          skip=skip, after_batch=after_batch, show_progress=False)
                ctx.stats.add(stats)
                files[path.name] = {"key": key, "rows": files[path.name]["rows"], "done": True, "error": None}
                logger.info("source {}: imported {}: {}", ctx.name, path.name, stats.as_json())
            except ExportError as exc:
                files[path.name] = {"key": key, "rows": files[path.name]["rows"], "done": False, "error": str(exc)}
                errors.append(str(exc))
                logger.error("source {}: {}", ctx.name, exc)
            await ctx.emit([], str(path))  # store the file's final state
        if errors:
            ctx.state.cursor["last_file_error"] = errors[-1]
