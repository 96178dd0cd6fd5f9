"""One asyncio task per polling source under `yuqing serve` (roles all and collector). Timers are rows: the
next poll time is `sources.next_poll_at`, read from the store each round, so a restart (or kill -9) neither
loses nor repeats a poll. A failing source backs off and, after a few failures in a row, shows as unhealthy;
the other sources are separate tasks and carry on.

Any number of collector processes may share one database: a poll is done only under the source's lease
(monitor/core/lease.py: `sources.lease_owner`/`lease_until`, claimed with one conditional UPDATE), renewed while
the poll runs. A process that stops (kill -9, a frozen host) stops renewing; its lease runs out and another
takes over, at once when the holder was a dead process of this host."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from loguru import logger

from monitor.core.lease import Lease, dead_here, owner_id
from monitor.sources.base import PollContext, SourceState
from monitor.sources.http import Fetcher
from monitor.sources.registry import make_collector, uses_http

MAX_SLEEP = 30.0  # seconds: how stale a changed next_poll_at (another process, a CLI poll) may go unseen
RETRY_FIRST = timedelta(seconds=30)
LEASE_MIN = timedelta(seconds=60)


def retry_delay(failures: int, interval: timedelta) -> timedelta:
    """After a failure: 30 s, 1 min, 2 min … but never longer than the normal interval."""
    return min(interval, RETRY_FIRST * 2 ** max(0, failures - 1))


def lease_length(cfg) -> timedelta:
    """2 × the source's request timeout, at least a minute. It is renewed every third of it while the poll
    runs, so a long crawl keeps it and only a stopped process loses it."""
    timeout = getattr(cfg, "timeout", None)
    return max(LEASE_MIN, 2 * timeout.timedelta()) if timeout is not None else LEASE_MIN


class LeaseLost(Exception):
    """Another process took the source over while this one was polling it (this one was stalled)."""


class SourceRunner:
    def __init__(self, app, cfg, collector, owner: str | None = None, lease: timedelta | None = None) -> None:
        self.app, self.cfg, self.collector = app, cfg, collector
        self.stop: asyncio.Event | None = None  # serve's, while run() runs
        self.fetcher = Fetcher.for_source(cfg) if uses_http(cfg) else None
        self.interval = cfg.interval.timedelta()
        self.owner = owner or owner_id()
        self.lease = lease or lease_length(cfg)
        self.held = Lease(app.store, app.clock, cfg.name, cfg.kind, self.lease, self.owner)

    async def close(self) -> None:
        if self.fetcher is not None:
            await self.fetcher.close()

    async def due_in(self) -> float:
        """Seconds until this process may poll: the next poll time, or the end of another process's lease."""
        now = self.app.clock.now()
        async with self.app.store.read() as tx:
            row = await tx.sources.get(self.cfg.name)
        if row is None:
            return 0.0
        holder = row["lease_owner"]
        held = holder not in (None, self.owner) and not dead_here(holder)
        at = [t for t in (row["next_poll_at"], row["lease_until"] if held else None) if t]
        return max([0.0, *((t - now).total_seconds() for t in at)])

    async def claim(self, due_only: bool = True) -> bool:
        """Take the source's lease (free, expired, ours, or held by a dead process of this host)."""
        return await self.held.claim(due_only)

    async def poll_if_due(self) -> bool:
        if await self.due_in() > 0 or not await self.claim(due_only=True):
            return False
        await self._poll_leased()
        return True

    async def poll(self) -> PollContext:
        """One poll now, whatever the timer says (`yuqing sources poll`), unless another process is polling
        the source. Failures are recorded, not raised."""
        if not await self.claim(due_only=False):
            async with self.app.store.read() as tx:
                holder = (await tx.sources.get(self.cfg.name) or {}).get("lease_owner")
            ctx = PollContext(self.cfg.name, self.cfg, SourceState(), self.app, self.fetcher, stop=self.stop)
            ctx.error = f"另一个进程正在采集该来源 ({holder})，请稍后再试 (being polled by another process: try again later)"
            return ctx
        return await self._poll_leased()

    async def _poll_leased(self) -> PollContext:
        name, kind = self.cfg.name, self.cfg.kind
        async with self.app.store.read() as tx:
            row = await tx.sources.get(name)
        state = SourceState(dict(row["cursor"] or {}), row["etag"], row["last_modified"]) if row else SourceState()
        ctx = PollContext(name, self.cfg, state, self.app, self.fetcher, stop=self.stop)
        try:
            await self._holding_lease(self.collector.poll(ctx))
        except LeaseLost as exc:
            logger.warning("source {}: {}", name, exc)
            ctx.error = str(exc)
            return ctx
        except asyncio.CancelledError:  # serve is stopping: another collector may take the source at once
            await asyncio.shield(self._release())
            raise
        except Exception as exc:  # any failure of one source is recorded on its row; the loop goes on
            failures = (row["failures"] if row else 0) + 1
            now = self.app.clock.now()
            message = f"{type(exc).__name__}: {exc}"[:2000]
            logger.warning("source {} failed ({} in a row): {}", name, failures, message)
            await self.held.release(kind=kind, failures=failures, last_error=message,
                                    next_poll_at=now + retry_delay(failures, self.interval))
            ctx.error = message
            return ctx
        now = self.app.clock.now()
        recorded = await self.held.release(kind=kind, cursor=ctx.state.cursor, etag=ctx.state.etag,
                                           last_modified=ctx.state.last_modified, failures=0, last_error=None,
                                           last_ok_at=now, next_poll_at=now + self.interval)
        if not recorded:  # stalled past the lease: the batches are stored, the new holder keeps the timer
            logger.warning("source {}: lease taken over before the poll was recorded", name)
        ctx.error = None
        if ctx.stats.read:
            logger.info("source {}: {}", name, ctx.stats.as_json())
        return ctx

    async def _holding_lease(self, work) -> None:
        """Run the poll, renewing the lease every third of its length; stop it if the lease was lost."""
        task = asyncio.ensure_future(work)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.lease.total_seconds() / 3)
                if done:
                    return task.result()
                if not await self._renew():
                    raise LeaseLost("另一个进程已接管该来源，本次采集停止 (another process took the source over: "
                                    "this poll stops)")
        finally:
            if not task.done():
                task.cancel()
                await asyncio.wait({task})

    async def _renew(self) -> bool:
        try:
            return await self.held.renew()
        except Exception:  # the store is unreachable: the poll's own writes fail the same way
            logger.exception("source {}: lease renewal failed", self.cfg.name)
            return True

    async def _release(self) -> None:
        try:
            await self.held.release()
        except Exception:
            logger.exception("source {}: could not release its lease", self.cfg.name)

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
