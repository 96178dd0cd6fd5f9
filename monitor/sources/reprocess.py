"""Re-processing quarantined rows after a mapping or config fix: each row is mapped again with the current
settings; rows that now make items are ingested and marked resolved in the same transaction, the others keep
their place in quarantine with the new reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from monitor.core.model import RawItem
from monitor.pipeline import ImportStats, Pipeline
from monitor.config.settings import Settings
from monitor.core.errors import ExportError, Reject
from monitor.sources.hotline_export import map_rows
from monitor.sources.importer import source_config
from monitor.sources.jsonlines import JSON_SUFFIXES, record_to_item



@dataclass
class ReprocessResult:
    resolved: int = 0
    still: int = 0
    stats: ImportStats = field(default_factory=ImportStats)


def remap(row: dict, settings: Settings) -> RawItem | Reject:
    """One quarantined row → an item, or a reject with today's reason. A row kept as excerpts (a value cut
    for its size) or an id conflict (a person decides which text is right) stays where it is."""
    raw, source, row_no = row["raw"] or {}, row["source"], row["row_no"] or 0
    detail = row.get("detail") or {}
    if detail.get("sizes") or detail.get("conflict"):
        return Reject(row_no, row["reason"], raw)
    if "record" in raw or Path(row["file"] or "").suffix.lower() in JSON_SUFFIXES:
        record = raw.get("record", raw)
        if "line" in raw and len(raw) == 1:
            return Reject(row_no, row["reason"], raw)  # not JSON at all: nothing to re-map
        try:
            return record_to_item(record, source, row_no)
        except ValueError as exc:
            return Reject(row_no, str(exc), raw)
    cfg = source_config(settings, source)
    mapping = cfg.mapping if cfg is not None else {}
    headers = list(raw)
    try:
        out = list(map_rows(iter([(0, headers), (row_no, [raw[h] for h in headers])]), source, mapping))
    except ExportError as exc:
        return Reject(row_no, f"{exc}", raw)
    return out[0] if out and isinstance(out[0], (RawItem, Reject)) else Reject(row_no, row["reason"], raw)


async def reprocess(pipeline: Pipeline, settings: Settings, source: str | None = None,
                    ids: list[int] | None = None) -> ReprocessResult:
    result = ReprocessResult()
    async with pipeline.store.read() as tx:
        rows = await tx.items.quarantine_rows(ids, source)
    by_source: dict[str, list[tuple[dict, RawItem]]] = {}
    retry: list[tuple[int, str]] = []
    for row in rows:
        mapped = remap(row, settings)
        if isinstance(mapped, Reject):
            retry.append((row["id"], mapped.reason))
        else:
            by_source.setdefault(row["source"], []).append((row, mapped))
    for src, pairs in by_source.items():
        async def resolve(tx, now, pairs=pairs):
            for row, _ in pairs:
                await tx.items.resolve_quarantine(row["id"], now)

        stats = await pipeline.ingest([item for _, item in pairs], src, "quarantine", in_tx=resolve)
        result.stats.add(stats)
        result.resolved += len(pairs)
    if retry:
        async with pipeline.store.write() as tx:
            for qid, reason in retry:
                await tx.items.requarantine(qid, reason)
    result.still = len(retry)
    return result
