"""`yuqing serve`: the HTTP server (dashboard, API, webhook) and the background workers in one process.
Stops cleanly on SIGTERM/SIGINT: workers finish their current transaction, the server closes."""

from __future__ import annotations

import asyncio
import signal
from typing import Awaitable, Callable

import aiohttp
from aiohttp import web
from loguru import logger

from monitor.app import App

Worker = Callable[[asyncio.Event], Awaitable[None]]
USER_AGENT = "yuqing-sentinel/0.1 (+government duty office monitor)"


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ValueError(f"--listen {listen!r}: use HOST:PORT, e.g. 127.0.0.1:8080") from None


def web_application(app: App) -> web.Application:
    from monitor.web.routes import create_app

    return create_app(app)


def workers(app: App, session: aiohttp.ClientSession) -> list[Worker]:
    """The background loops of this process. Each returns when `stop` is set."""
    from monitor.sources.runner import source_workers
    from responders.outbox import Deliverer

    deliverer = Deliverer(app.store, app.clock, app.settings, session)
    app.escalator.on_enqueue = deliverer.wake
    digest = [app.digest.run] if app.digest is not None and app.digest.enabled else []
    if digest:
        app.digest.on_enqueue = deliverer.wake
    return [app.escalator.run, deliverer.run, *digest, *source_workers(app)]


def start_scheduler(app: App):
    """APScheduler only wakes the sweepers (timers are rows); it also gives later issues their cron jobs."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")
    scheduler.add_job(app.escalator.wake, "interval", seconds=30, id="escalation-wake", coalesce=True)
    if app.digest is not None and app.digest.enabled:  # the daily digest at digest.time, Beijing time
        hour, minute = app.settings.digest.hour_minute
        scheduler.add_job(app.digest.wake, "cron", hour=hour, minute=minute, id="daily-digest", coalesce=True)
    scheduler.start()
    return scheduler


async def serve(app: App, listen: str, ready: Callable[[str], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    host, port = parse_listen(listen)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    runner = web.AppRunner(web_application(app), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    url = f"http://{host}:{port}"
    logger.info("listening on {}", url)
    if ready:
        ready(url)
    session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
    tasks = [asyncio.create_task(w(stop), name=getattr(w, "__qualname__", "worker")) for w in workers(app, session)]
    scheduler = start_scheduler(app)
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        stop.set()
        scheduler.shutdown(wait=False)
        # Workers notice `stop` between transactions; one that does not finish in time is cancelled and
        # awaited, so nothing still uses the database when it is closed.
        done, pending = await asyncio.wait(tasks, timeout=10)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                logger.opt(exception=t.exception()).error("worker {} failed", t.get_name())
        await session.close()
        await runner.cleanup()
