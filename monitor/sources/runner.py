"""One asyncio task per polling source under `yuqing serve`. Timers are rows: the next poll time is
`sources.next_poll_at`, read from the store each round, so a restart (or kill -9) neither loses nor repeats
a poll. A failing source backs off and, after a few failures in a row, shows as unhealthy; the other
sources are separate tasks and carry on."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from loguru import logger

from monitor.sources.base import PollContext, SourceState
from monitor.sources.http import Fetcher
from monitor.sources.registry import make_collector, uses_http

MAX_SLEEP = 30.0  # seconds: how stale a changed next_poll_at (another process, a CLI poll) may go unseen
RETRY_FIRST = timedelta(seconds=30)


def retry_delay(failures: int, interval: timedelta) -> timedelta:
    """After a failure: 30 s, 1 min, 2 min … but never longer than the normal interval."""
    return min(interval, RETRY_FIRST * 2 ** max(0, failures - 1))


class SourceRunner:
    def __init__(self, app, cfg, collector) -> None:
        self.app, self.cfg, self.collector = app, cfg, collector
        self.stop: asyncio.Event | None = None  # serve's, while run() runs
        self.fetcher = Fetcher.for_source(cfg) if uses_http(cfg) else None
        self.interval = cfg.interval.timedelta()

    async def close(self) -> None:
        if self.fetcher is not None:
            await self.fetcher.close()

    async def due_in(self) -> float:
        now = self.app.clock.now()
        async with self.app.store.read() as tx:
            row = await tx.sources.get(self.cfg.name)
        if row is None or row["next_poll_at"] is None:
            return 0.0
        return max(0.0, (row["next_poll_at"] - now).total_seconds())

    async def poll_if_due(self) -> bool:
        if await self.due_in() > 0:
            return False
        await self.poll()
        return True

    async def poll(self) -> PollContext:
        """One poll now, whatever the timer says. Failures are recorded, not raised."""
        name, kind = self.cfg.name, self.cfg.kind
        async with self.app.store.read() as tx:
            row = await tx.sources.get(name)
        state = SourceState(dict(row["cursor"] or {}), row["etag"], row["last_modified"]) if row else SourceState()
        ctx = PollContext(name, self.cfg, state, self.app, self.fetcher, stop=self.stop)
        try:
            await self.collector.poll(ctx)
        except Exception as exc:  # any failure of one source is recorded on its row; the loop goes on
            failures = (row["failures"] if row else 0) + 1
            now = self.app.clock.now()
            message = f"{type(exc).__name__}: {exc}"[:2000]
            logger.warning("source {} failed ({} in a row): {}", name, failures, message)
            async with self.app.store.write() as tx:
                await tx.sources.save(name, kind, now, failures=failures, last_error=message,
                                      next_poll_at=now + retry_delay(failures, self.interval))
            ctx.error = message
            return ctx
        now = self.app.clock.now()
        async with self.app.store.write() as tx:
            await tx.sources.save(name, kind, now, cursor=ctx.state.cursor, etag=ctx.state.etag,
                                  last_modified=ctx.state.last_modified, failures=0, last_error=None,
                                  last_ok_at=now, next_poll_at=now + self.interval)
        ctx.error = None
        if ctx.stats.read:
            logger.info("source {}: {}", name, ctx.stats.as_json())
        return ctx

    async def run(self, stop: asyncio.Event) -> None:
        self.stop = stop
        try:
            while not stop.is_set():
                try:
                    await self.poll_if_due()
                    wait = min(MAX_SLEEP, max(0.5, await self.due_in()))
                except Exception:  # the store itself failed: wait and try again
                    logger.exception("source {}: runner error", self.cfg.name)
                    wait = MAX_SLEEP
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except asyncio.TimeoutError:
                    pass
        finally:
            await self.close()


def runners(app) -> list[SourceRunner]:
    out = []
    for cfg in app.settings.sources:
        collector = make_collector(cfg, app.settings)
        if collector is not None:
            out.append(SourceRunner(app, cfg, collector))
    return out


def source_workers(app) -> list:
    """The `yuqing serve` workers: one loop per polling source (`async def worker(stop)`)."""
    workers = []
    for r in runners(app):
        async def worker(stop: asyncio.Event, r=r) -> None:
            await r.run(stop)

        worker.__name__ = f"source:{r.cfg.name}"
        workers.append(worker)
    return workers
