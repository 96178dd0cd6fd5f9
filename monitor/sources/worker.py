"""A watched folder's file is imported in a worker process, so that `serve`'s event loop — dashboard, API,
webhook, sweepers — keeps answering while a large or hostile file is read and understood (a bomb dropped in
the folder once blocked `serve` for 17 s), and a file that kills its worker is reported while the service
stays up.

The worker builds its own app from the same settings, database and clock, imports the one file with the
cursor saved in each batch's transaction (as in-process imports do), and sends its log lines and the result
back through a pipe. It stops when told to (serve is stopping; the batch in flight is rolled back and the
cursor resumes it) and when its parent dies."""

from __future__ import annotations

import asyncio
import copy
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from monitor.core.errors import ExportError


@dataclass
class FileJob:
    settings: object  # monitor.config.settings.Settings
    db_url: str
    clock: object
    source: str
    kind: str
    path: Path
    batch: int
    skip: int
    key: str  # the file's size:mtime key in the cursor
    cursor: dict  # the source's cursor as the parent has it (the worker saves it with its file's progress)


class WorkerDied(ExportError):
    """The worker process ended without an answer (killed: out of memory?)."""


def _child(job: FileJob, conn, parent: int) -> None:
    def forward(message) -> None:
        record = message.record
        try:
            conn.send(("log", record["level"].name, record["message"]))
        except (OSError, ValueError):
            pass

    logger.remove()
    logger.add(forward, level="INFO", format="{message}")
    try:
        stats, rows = asyncio.run(_import(job, parent))
        conn.send(("done", stats, rows))
    except ExportError as exc:
        conn.send(("error", str(exc)))
    except BaseException as exc:  # anything else is the parent's to report, with its type
        conn.send(("fail", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


async def _import(job: FileJob, parent: int):
    from monitor.app import build
    from monitor.sources.importer import import_file

    app = await build(job.settings, job.db_url, job.clock, migrate=False)
    try:
        files = job.cursor.setdefault("files", {})

        def after_batch(done: int):
            if os.getppid() != parent:
                raise SystemExit("parent gone")  # serve died (kill -9): the cursor resumes at its next start
            files[job.path.name] = {"key": job.key, "rows": done, "done": False, "error": None}
            cursor = copy.deepcopy(job.cursor)

            async def save(tx, now) -> None:
                await tx.sources.save(job.source, job.kind, now, cursor=cursor)

            return save

        stats = await import_file(app.pipeline, job.settings, job.path, job.source, job.batch, skip=job.skip,
                                  after_batch=after_batch, show_progress=False)
        return stats, files.get(job.path.name, {}).get("rows", job.skip)
    finally:
        await app.close()


async def import_in_worker(job: FileJob, stop: asyncio.Event | None = None):
    """(ImportStats, records done) of the file, imported in a fresh process. Raises ExportError for a file
    that cannot be read (or WorkerDied), and asyncio.CancelledError when `stop` is set first."""
    mp = multiprocessing.get_context("spawn")  # fork would copy the event loop, the pool's sockets, threads
    receive, send = mp.Pipe(duplex=False)
    proc = mp.Process(target=_child, args=(job, send, os.getpid()), name=f"import:{job.path.name}", daemon=True)
    proc.start()
    send.close()
    stopping = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            message = asyncio.ensure_future(asyncio.to_thread(_receive, receive))
            waiting = {message, stopping} if stopping is not None else {message}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not message.done():
                raise asyncio.CancelledError("serve is stopping")
            kind, *rest = message.result()
            if kind == "log":
                logger.log(rest[0], "{}: {}", job.path.name, rest[1])
            elif kind == "done":
                return rest[0], rest[1]
            elif kind == "error":
                raise ExportError(rest[0])
            elif kind == "fail":
                raise RuntimeError(f"import worker failed: {rest[0]}")
            else:
                await asyncio.to_thread(proc.join, 10)
                raise WorkerDied(f"导入进程异常退出（可能内存不足），退出码 {proc.exitcode} "
                                 f"(the import worker died, exit code {proc.exitcode}: out of memory?)")
    finally:
        if stopping is not None:
            stopping.cancel()
        if proc.is_alive():
            proc.terminate()  # its open transaction is rolled back; the cursor says where to resume
        await asyncio.to_thread(proc.join, 10)
        receive.close()


def _receive(conn):
    try:
        return conn.recv()
    except (EOFError, OSError):
        return ("died",)
