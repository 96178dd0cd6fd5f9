"""`yuqing import --workers N`: worker processes read each record's text (monitor.prework: normalising,
hashing, MinHash, segmentation, classification, routing, grading, event signature) while this process — the
one writer — does what needs the whole history in input order: duplicates, near-duplicates and event
grouping, deadlines and the store. The results are those of `--workers 1`.

Batches keep their size and order: batch k goes to worker k mod N and is stored k-th, in one transaction as
before, so an interrupted import resumes as before (a re-run skips what is stored). At most IN_FLIGHT
batches per worker are read ahead (backpressure: a slow store stops the reading). Workers are started with
"spawn" (a fork would copy the event loop and the database connections), load the understanding once,
ignore Ctrl-C (the writer rolls back its batch and stops them) and leave when the writer is gone (kill -9).

Each worker has a pipe of its own each way, and only the two processes at its ends hold it: a process killed
halfway through a message leaves the other one an end of file, never a wait for bytes that cannot come
(multiprocessing.Queue shares one pipe and a lock between all writers). A record that makes a worker fail is
reported with its row; a worker that dies (killed, out of memory) with the rows it held, none of them stored.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import traceback
from dataclasses import dataclass

from loguru import logger

from monitor import prework
from monitor.core.model import RawItem

MAX_WORKERS = 64
# Fewer rows: the serial path. A worker takes ≈1.3 CPU s to start (imports, dictionaries, model); on the 2-core
# machine two workers made 10,000 rows slower than one process and 20,000 faster (bench/import_parallel.py).
MIN_ROWS = 15_000
EARLY_BYTES = 8 << 20  # files this large hold more than MIN_ROWS: the workers start while the files are checked
IN_FLIGHT = 2  # batches queued per worker: one being read while the next waits
_POLL = 0.5  # seconds between checks that the worker (in the writer) or the writer (in a worker) lives


class WorkerFailed(RuntimeError):
    """A worker could not read a record, or died; the message names the rows (nothing of them is stored)."""


def default_workers() -> int:
    return os.cpu_count() or 1


@dataclass
class _Ticket:
    seq: int
    worker: int
    positions: list[int]  # where the records sent are in their batch (rejects and empty rows are not sent)
    rows: tuple[object, object]  # the first and last row numbers sent, for messages


class _Sender:
    """Sends on a connection from a thread of its own (pickling a batch and writing it into a pipe the other
    end reads later must not stop the caller). Ends by itself when the other end is gone."""

    def __init__(self, conn, name: str) -> None:
        self.conn = conn
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, message) -> None:
        self._queue.put(message)

    def _run(self) -> None:
        while (message := self._queue.get()) is not _STOP:
            try:
                self.conn.send(message)
            except (OSError, ValueError):  # the other process is gone: its death is reported where it is met
                return

    def stop(self, flush: bool) -> None:
        self._queue.put(_STOP)
        if flush:
            self._thread.join()


_STOP = object()


class Pool:
    """N worker processes; `submit` a batch, then take its results with `result` in the same order."""

    def __init__(self, settings, workers: int) -> None:
        mp = multiprocessing.get_context("spawn")
        self._procs, self._senders, self._results = [], [], []
        for i in range(workers):
            tasks_in, tasks_out = mp.Pipe(duplex=False)
            results_in, results_out = mp.Pipe(duplex=False)
            proc = mp.Process(target=_serve, args=(settings, tasks_in, results_out, os.getpid()), daemon=True,
                              name=f"yuqing-import-{i + 1}")
            proc.start()
            tasks_in.close()  # the worker's ends: held here, they would hide its death from us
            results_out.close()
            self._procs.append(proc)
            self._senders.append(_Sender(tasks_out, f"yuqing-import-send-{i + 1}"))
            self._results.append(results_in)
        self._seq = 0
        self._done: dict[int, object] = {}
        self.capacity = IN_FLIGHT * workers  # batches the importer may read ahead

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def submit(self, batch: list) -> _Ticket | None:
        """Send a batch's records to the next worker; None when it holds none (only rejects or empty rows)."""
        positions = [i for i, r in enumerate(batch) if isinstance(r, RawItem)]
        if not positions:
            return None
        ticket = _Ticket(self._seq, self._seq % len(self._procs), positions,
                         (_row(batch[positions[0]], positions[0]), _row(batch[positions[-1]], positions[-1])))
        self._seq += 1
        self._senders[ticket.worker].put((ticket.seq, [(batch[i].title, batch[i].body, batch[i].location,
                                                        _row(batch[i], i), batch[i].external_id) for i in positions]))
        return ticket

    def result(self, ticket: _Ticket, size: int) -> list[prework.Ready | None]:
        """The Ready of each record of the batch (`size` records; None where nothing was sent), waiting for it."""
        conn = self._results[ticket.worker]
        while ticket.seq not in self._done:  # a worker answers in the order it was asked
            try:
                if not conn.poll(_POLL):
                    if self._procs[ticket.worker].exitcode is not None and not conn.poll(0):
                        raise EOFError
                    continue
                kind, seq, *rest = conn.recv()
            except (EOFError, OSError):
                raise self._died(ticket) from None
            if kind == "ready":
                self._done[seq] = rest[0]
            elif kind == "log":
                logger.log(rest[0], "import worker: {}", rest[1])
            else:  # "error": a record the worker could not read
                row, external_id, error, trace = rest
                logger.debug("import worker traceback:\n{}", trace)
                raise WorkerFailed(f"导入进程处理第 {row} 行（编号 {str(external_id)[:40]}）时出错：{error}；该批次未导入，"
                                   f"之前的批次已完整保存 (an import worker failed on row {row}: the batch was not "
                                   f"stored, earlier batches are)")
        ready = prework.unpack(self._done.pop(ticket.seq))
        out: list[prework.Ready | None] = [None] * size
        for at, r in zip(ticket.positions, ready):
            out[at] = r
        return out

    def _died(self, ticket: _Ticket) -> WorkerFailed:
        p = self._procs[ticket.worker]
        p.join(1)
        return WorkerFailed(
            f"导入进程 {p.pid} 异常退出（退出码 {p.exitcode}，可能内存不足或被终止），第 {ticket.rows[0]}–{ticket.rows[1]} "
            "行未导入；已保存的批次完整，重新运行同一命令即可继续 (an import worker died, exit code "
            f"{p.exitcode}: rows {ticket.rows[0]}–{ticket.rows[1]} were not stored, stored batches are whole; "
            "run the same command again to continue)")

    def close(self, finished: bool = True) -> None:
        """Stop the workers: told to when the import `finished`, else (an error, Ctrl-C) terminated at once."""
        for sender in self._senders:
            if finished:
                sender.put(None)
            sender.stop(flush=False)
        for p in self._procs:
            if finished:
                p.join(5)
            if p.exitcode is None:
                p.terminate()
                p.join(5)
        for conn in (*self._results, *(s.conn for s in self._senders)):
            conn.close()


def _row(record, position: int):
    return record.extra.get("row", position + 1) if isinstance(record, RawItem) else getattr(record, "row_no", position)


# ------------------------------------------------------------------------------------------------- the worker
def _serve(settings, tasks, results, parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the writer's to handle: it stops us
    out = _Sender(results, "results")

    def forward(message) -> None:
        record = message.record
        out.put(("log", 0, record["level"].name, record["message"]))

    logger.remove()
    logger.add(forward, level="INFO", format="{message}")
    understander = load_understander(settings)
    reader = prework.events_reader(understander)
    while True:
        try:
            if not tasks.poll(_POLL):
                if os.getppid() != parent:
                    return  # the writer died (kill -9): its open transaction was rolled back
                continue
            task = tasks.recv()
        except (EOFError, OSError):
            return  # the writer is gone
        if task is None:
            out.stop(flush=True)  # every answer sent before leaving
            return
        seq, records = task
        try:
            packed = prework.pack(prework.compute(understander, reader, [(t, b, loc) for t, b, loc, _, _ in records]))
        except Exception as exc:  # find the record, so that the message names its row
            row, external_id = _culprit(understander, reader, records)
            out.put(("error", seq, row, external_id, f"{type(exc).__name__}: {str(exc)[:200]}", traceback.format_exc()))
            continue
        out.put(("ready", seq, packed))


def _culprit(understander, reader, records) -> tuple[object, object]:
    for title, body, location, row, external_id in records:
        try:
            prework.compute(understander, reader, [(title, body, location)])
        except Exception:
            return row, external_id
    return f"{records[0][3]}–{records[-1][3]}", "?"  # only the batch together fails


def load_understander(settings):
    """The understanding as monitor.app.build loads it, from the same settings."""
    from monitor.understanding.classifier.domain import model_path
    from monitor.understanding.jurisdiction import load_jurisdiction
    from monitor.understanding.understander import Understander

    return Understander.load(settings.lexicons_path, load_jurisdiction(settings.jurisdiction_path),
                             settings.classifier.min_confidence, model_path(settings.data_path))
