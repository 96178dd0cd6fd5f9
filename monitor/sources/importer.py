"""Import of files into the pipeline, in transactions of `batch` records.

A file is read once to check that it is whole (a truncated or corrupt file is refused before anything is
stored), then again in batches: each batch is one transaction. Re-importing a file compares each record with
what is stored (inserted nothing twice, changes recorded in history), so an import interrupted by a crash is
finished by running it again; the folder watcher also keeps a row cursor so it does not even re-read.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import hashlib
import itertools
import re
import time
from pathlib import Path
from typing import Awaitable, Callable, Iterable, Iterator

from loguru import logger

from monitor.core.model import RawItem
from monitor.pipeline import ImportStats, Pipeline
from monitor.core.progress import progress
from monitor.config.settings import HotlineExportSource, Settings
from monitor.core.errors import ExportError, Reject, Skipped
from monitor.sources.hotline_export import check_readable, map_rows, read_rows
from monitor.sources.jsonlines import JSON_SUFFIXES, read_jsonlines
from monitor.sources.limits import DEFAULT, ImportLimits
from monitor.sources import parallel

SUPPORTED = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".xlsb", ".ods", *JSON_SUFFIXES)


def source_config(settings: Settings, source: str) -> HotlineExportSource | None:
    """The hotline_export config of a source: its own, or for a name derived from a file ("hotline:export_11"),
    the configured source it was derived from."""
    for name in (source, source.partition(":")[0]):
        cfg = settings.source(name)
        if isinstance(cfg, HotlineExportSource):
            return cfg
    return None


def _options(settings: Settings, source: str) -> tuple[dict, str | None, str | int | None, ImportLimits]:
    cfg = source_config(settings, source)
    if cfg is not None:
        return cfg.mapping, cfg.encoding, cfg.sheet, ImportLimits(cell_chars=cfg.max_cell_chars, rows=cfg.max_rows)
    return {}, None, None, DEFAULT


_UNSAFE = re.compile(r"[^\w.\-]+")


def default_source(path: Path, settings: Settings) -> str:
    """The source of a file imported without --source. Ids are unique within one platform's exports, not
    across files: importing the shared exports one after another under one name once let different
    complaints with the same number replace each other. So: the configured source whose watched folder
    holds the file, else "<first hotline_export source, or import>:<file name>" (that source's mapping
    applies). Several exports of one platform are imported with --source to share their ids."""
    resolved = path.resolve()
    exports = [s for s in settings.sources if isinstance(s, HotlineExportSource)]
    for cfg in exports:
        if cfg.path and resolved.parent == settings.resolve(cfg.path).resolve():
            return cfg.name
    base = exports[0].name if exports else "import"
    stem = _UNSAFE.sub("_", path.stem).strip("_") or "file"
    room = 100 - len(base) - 1
    if len(stem) > room:  # the column holds 100 characters: a long name keeps its start and a hash
        stem = stem[: room - 9] + "~" + hashlib.sha1(path.stem.encode()).hexdigest()[:8]
    return f"{base}:{stem}"


def records(path: Path, source: str, settings: Settings) -> Iterator[RawItem | Reject | Skipped]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ExportError(f"不支持的文件类型 (unsupported file type) {suffix or '(none)'}; use CSV, XLSX, XLS or JSON lines")
    mapping, encoding, sheet, limits = _options(settings, source)
    if suffix in JSON_SUFFIXES:
        return read_jsonlines(path, source, limits)
    return map_rows(read_rows(path, encoding, sheet, limits), source, mapping)


def check_file(path: Path, source: str, settings: Settings) -> int:
    """Refuse a file that cannot be read to its end (ExportError naming the problem). Returns how many
    records it holds at most (rows below the first; title rows above a header make it an estimate)."""
    if not path.is_file():
        raise ExportError("文件不存在或不可读 (no such file)")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise ExportError(f"不支持的文件类型 (unsupported file type) {suffix or '(none)'}; use CSV, XLSX, XLS or JSON lines")
    _, encoding, sheet, limits = _options(settings, source)
    if suffix in JSON_SUFFIXES:
        return sum(1 for _ in read_jsonlines(path, source, limits))
    return max(0, check_readable(path, encoding, sheet, limits) - 1)  # the header row is no record


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _keyed(stream: Iterable, digest: str) -> Iterator:
    """Rejects keyed by file and row: the same file imported again quarantines nothing twice."""
    for r in stream:
        if isinstance(r, Reject) and r.key is None:
            r.key = f"{digest[:40]}:{r.row_no}"
        yield r


def _batched(it: Iterable, size: int) -> Iterator[list]:
    it = iter(it)
    while batch := list(itertools.islice(it, size)):
        yield batch


InTx = Callable[[object, object], Awaitable[None]]

# Records per transaction. 1,000 rather than 2,000: the same CPU per row, and 21 MB less peak RSS at 1M rows
# (385 against 406 MB: a batch's objects and arrays are the part of the heap that comes and goes).
BATCH = 1000

_frozen = 0  # imports running in this process that keep the heap frozen (folder imports may overlap)
_saved_threshold: tuple[int, ...] = ()
# Young objects between collections while importing (Python's default: 700). A batch makes ~10^5 container
# objects (records, rows) that live until its end: at 700 the young generation was collected ~100 times a
# batch, each survivor traversed again in the older generations (≈18 CPU µs a row, measured with
# gc.callbacks; ≈6 at 10,000). Most of them are freed by reference counting, not by these collections.
_IMPORT_GC_THRESHOLD = 10_000


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep the objects that exist before an import (models, dictionaries, config: millions of them) out of
    the cyclic GC's full collections while it runs. Each full collection otherwise walks that whole heap:
    ≈15 % of an import's CPU. gc.freeze/unfreeze only move list heads (O(1)); nothing is freed or leaked,
    garbage among the frozen objects is collected as usual once the last import ends. The young generation
    is also collected less often meanwhile (_IMPORT_GC_THRESHOLD); the thresholds are restored after."""
    global _frozen, _saved_threshold
    if _frozen == 0:
        gc.freeze()
        _saved_threshold = gc.get_threshold()
        gc.set_threshold(max(_IMPORT_GC_THRESHOLD, _saved_threshold[0]), *_saved_threshold[1:])
    _frozen += 1
    try:
        yield
    finally:
        _frozen -= 1
        if _frozen == 0:
            gc.set_threshold(*_saved_threshold)
            gc.unfreeze()


def _load_trim():
    """glibc's malloc_trim, or None elsewhere. Each batch frees many numpy buffers and strings; without a
    trim the freed heap stays resident and RSS creeps up over a long import (measured at 1M rows)."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


_malloc_trim = _load_trim()


def _trim_heap() -> None:
    if _malloc_trim is not None:
        _malloc_trim(0)


async def import_file(
    pipeline: Pipeline,
    settings: Settings,
    path: Path,
    source: str,
    batch: int = BATCH,
    skip: int = 0,
    after_batch: Callable[[int], InTx | None] | None = None,
    show_progress: bool | None = None,
    rows: int | None = None,
    pool: parallel.Pool | None = None,
) -> ImportStats:
    """Import one file. `skip` records already stored by an earlier, interrupted run are not read again;
    `after_batch(records_done)` may return a hook that runs inside each batch's transaction (a cursor).
    `rows`: the row count from an earlier check_file (skips the second check). `pool`: import workers that
    read the records' text ahead (monitor.sources.parallel); the batches are stored in order all the same."""
    total = ImportStats()
    try:
        if rows is None:
            rows = check_file(path, source, settings)
        with frozen_heap(), progress(f"导入 {path.name}", total=rows, enabled=show_progress) as bar:
            done = skip
            stream = _keyed(itertools.islice(records(path, source, settings), skip, None), file_digest(path))
            ahead: collections.deque = collections.deque()  # (batch, records done after it, ticket)

            async def store(chunk: list, done: int, ticket) -> None:
                hook = after_batch(done) if after_batch else None
                if hook is None and all(type(r) is Skipped for r in chunk):
                    total.empty += len(chunk)  # blank rows only: nothing to store, no transaction
                else:
                    ready = None
                    if ticket is not None:
                        waited = (time.perf_counter(), time.process_time())
                        ready = pool.result(ticket, len(chunk))
                        now = pipeline.timings.add("workers: wait and receive", waited)
                        total.seconds += now[0] - waited[0]  # the batch's time includes waiting for it
                    total.add(await pipeline.ingest(chunk, source, str(path), in_tx=hook, id_conflicts=True,
                                                    ready=ready))
                bar.advance(len(chunk))
                _trim_heap()

            for chunk in _batched(stream, batch):
                done += len(chunk)
                if pool is None:
                    await store(chunk, done, None)
                    continue
                ahead.append((chunk, done, pool.submit(chunk)))
                if len(ahead) > pool.capacity:  # read ahead no further than the workers can hold
                    await store(*ahead.popleft())
            while ahead:
                await store(*ahead.popleft())
            bar.total(done)  # the bar ends full: title rows above the header were counted in the estimate
    except ExportError as exc:
        raise ExportError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ExportError(f"{path}: 无法读取 (cannot read): {exc.strerror or exc}") from None
    return total


def _bytes(paths: list[Path]) -> int:
    try:
        return sum(p.stat().st_size for p in paths)
    except OSError:
        return 0  # check_file says what is wrong with it


def _start(settings: Settings, workers: int) -> parallel.Pool:
    logger.info("{} 个导入进程读取文本 ({} import workers read the text; one writer stores it)", workers, workers)
    return parallel.Pool(settings, workers)


async def import_files(
    pipeline: Pipeline,
    settings: Settings,
    paths: list[Path],
    source: str | None,
    batch: int = BATCH,
    show_progress: bool | None = None,
    workers: int = 1,
) -> ImportStats:
    """Import files in order, under `source`, or each under its default_source when it is None. Raises
    ExportError (with the file name) for a file that cannot be read; every file is checked before the first
    is imported, so a bad file in the list leaves nothing half done. `workers` > 1: that many processes read
    the records' text (monitor.sources.parallel) when there are parallel.MIN_ROWS rows or more."""
    sources = [source or default_source(path, settings) for path in paths]
    total = ImportStats()
    pool = None
    finished = False
    try:
        if workers > 1 and _bytes(paths) >= parallel.EARLY_BYTES:  # surely large: the workers load while we check
            pool = _start(settings, workers)
        counts = []
        for path, src in zip(paths, sources):
            try:
                counts.append(check_file(path, src, settings))
            except ExportError as exc:
                raise ExportError(f"{path}: {exc}") from None
            except OSError as exc:
                raise ExportError(f"{path}: 无法读取 (cannot read): {exc.strerror or exc}") from None
        if workers > 1 and pool is None and sum(counts) >= parallel.MIN_ROWS:
            pool = _start(settings, workers)  # fewer rows: starting the workers would cost more than it saves
        for path, src, rows in zip(paths, sources, counts):
            stats = await import_file(pipeline, settings, path, src, batch, show_progress=show_progress, rows=rows,
                                      pool=pool)
            total.add(stats)
            logger.info("imported {} as source {}: {}", path, src,
                        {k: v for k, v in stats.as_json().items() if k != "seconds"})
        finished = True
    finally:
        if pool is not None:
            pool.close(finished)
    return total
