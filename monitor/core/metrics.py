"""Figures only this process knows, as Prometheus instruments in the process's own registry: how long the
escalation sweep takes, how fast the last import went, HTTP requests (monitor/web/metrics.py counts those).
What lives in the store (items, deadlines, outbox…) is read from it at each scrape instead, so several
processes on one database report the same figures (monitor/store/metrics.py)."""

from __future__ import annotations

import time
from typing import Awaitable, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.process_collector import ProcessCollector

T = TypeVar("T")
disable_created_metrics()  # no *_created series: a restart shows in yuqing_process_start_time_seconds

REGISTRY = CollectorRegistry()
ProcessCollector(namespace="yuqing", registry=REGISTRY)  # yuqing_process_resident_memory_bytes, cpu, fds

SWEEP_SECONDS = Histogram(
    "yuqing_sweep_duration_seconds", "一轮升级提醒扫描的耗时 / duration of one escalation sweep (Escalator tick)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=REGISTRY)
IMPORT_RATE = Gauge(
    "yuqing_import_rows_per_second", "本进程最近一次导入的速度（行/秒，含读取文件）/ rows per second of the "
    "last file import in this process, reading included", ["source"], registry=REGISTRY)
IMPORT_ROWS = Counter(
    "yuqing_import_rows", "本进程导入的行数 / rows imported by this process", ["source"], registry=REGISTRY)


async def timed(histogram: Histogram, work: Awaitable[T]) -> T:
    """Await `work` and observe its wall time (prometheus_client's own timer does not await coroutines)."""
    started = time.perf_counter()
    try:
        return await work
    finally:
        histogram.observe(time.perf_counter() - started)


async def observe_import(source: str, work: Awaitable[T]) -> T:
    """Await a file import whose result is its ImportStats (or a tuple that starts with them) and record
    its rows and rows per second, counted from the start of reading to the end."""
    started = time.perf_counter()
    result = await work
    stats = result[0] if isinstance(result, tuple) else result
    rows = stats.read + stats.empty
    IMPORT_ROWS.labels(source).inc(rows)
    IMPORT_RATE.labels(source).set(rows / max(time.perf_counter() - started, 1e-6))
    return result
