"""One-shot import of files into the pipeline, in transactions of `batch` records."""

from __future__ import annotations

from pathlib import Path

from loguru import logger
from typing import Iterable, Iterator

from monitor.pipeline import ImportStats, Pipeline
from monitor.progress import progress
from monitor.settings import HotlineExportSource, Settings
from monitor.sources.hotline_export import ExportError, Reject, map_rows, read_rows
from monitor.sources.jsonlines import read_jsonlines

SUPPORTED = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", ".jsonl", ".json", ".ndjson")


def records(path: Path, source: str, settings: Settings) -> Iterator[RawItem | Reject]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ExportError(f"不支持的文件类型 (unsupported file type) {suffix or '(none)'}; use CSV, XLSX, XLS or JSON lines")
    if suffix in (".jsonl", ".json", ".ndjson"):
        return read_jsonlines(path, source)
    cfg = settings.source(source)
    mapping, encoding, sheet = {}, None, None
    if isinstance(cfg, HotlineExportSource):
        mapping, encoding, sheet = cfg.mapping, cfg.encoding, cfg.sheet
    return map_rows(read_rows(path, encoding, sheet), source, mapping)


def _batched(it: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for x in it:
        batch.append(x)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_files(
    pipeline: Pipeline,
    settings: Settings,
    paths: list[Path],
    source: str,
    batch: int = 2000,
    show_progress: bool | None = None,
) -> ImportStats:
    """Import files in order. Raises ExportError (with the file name) for a file that cannot be read;
    batches already committed stay (re-importing resumes: known records count as duplicates)."""
    total = ImportStats()
    for path in paths:
        before = total.as_json()
        if not path.is_file():
            raise ExportError(f"{path}: 文件不存在或不可读 (no such file)")
        with progress(f"导入 {path.name}", enabled=show_progress) as bar:
            try:
                for chunk in _batched(records(path, source, settings), batch):
                    stats = await pipeline.ingest(chunk, source, str(path))
                    total.add(stats)
                    bar.advance(len(chunk))
            except ExportError as exc:
                raise ExportError(f"{path}: {exc}") from None
            except OSError as exc:
                raise ExportError(f"{path}: 无法读取 (cannot read): {exc.strerror or exc}") from None
        after = total.as_json()
        logger.info("imported {}: {}", path, {k: after[k] - before[k] for k in after if k != "seconds"})
    return total
