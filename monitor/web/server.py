"""`yuqing serve`: the HTTP server (dashboard, API, webhook) and the background workers in one process, or
one role of them (docs/roles.md): `web` serves HTTP only, `collector` polls the sources, `worker` runs the
sweeper, the outbox delivery and the digest; collector and worker answer only /healthz, on --listen if given.
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
ROLES = ("all", "web", "collector", "worker")
HTTP_ROLES = ("all", "web")  # dashboard, API and ingest
WORKER_ROLES = ("all", "worker")  # escalation sweeper, outbox delivery, daily digest, chat bots
COLLECTOR_ROLES = ("all", "collector")  # source polling and watched folders
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


def health_application(app: App) -> web.Application:
    """What a collector or worker answers on --listen: /healthz for the orchestrator, no pages."""
    from monitor.web import pages
    from monitor.web.auth import APP_KEY

    web_app = web.Application()
    web_app[APP_KEY] = app
    web_app.router.add_get("/healthz", pages.healthz)
    return web_app


def workers(app: App, session: aiohttp.ClientSession, role: str = "all") -> list[Worker]:
    """The background loops of this process's role. Each returns when `stop` is set."""
    from monitor.sources.runner import source_workers
    from monitor.understanding.names import check_department, department_names
    from responders.outbox import Deliverer
    from responders.telegram_bot import telegram_workers

    loops: list[Worker] = []
    if role in WORKER_ROLES:
        deliverer = Deliverer(app.store, app.clock, app.settings, session)
        app.escalator.on_enqueue = deliverer.wake
        digest = [app.digest.run] if app.digest is not None and app.digest.enabled else []
        if digest:
            app.digest.on_enqueue = deliverer.wake
        loops += [app.escalator.run, deliverer.run, *digest]
        loops += telegram_workers(app, department_names(app.jurisdiction),
                                  lambda n: check_department(app.jurisdiction, n))  # the Telegram bot
        from monitor.deadlines.roster_watch import RosterWatch  # roster gaps in the log at start and daily
        loops.append(RosterWatch(app).run)
    if role in COLLECTOR_ROLES:
        loops += source_workers(app)
    return loops


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


async def serve(app: App, listen: str | None, ready: Callable[[str | None], None] | None = None,
                stop: asyncio.Event | None = None, role: str = "all") -> None:
    """Serve `role` until `stop` (or SIGTERM/SIGINT). `listen` None: no HTTP listener (collector, worker);
    `ready` then gets None."""
    if role not in ROLES:
        raise ValueError(f"role {role!r}: use one of {', '.join(ROLES)}")
    if listen is None and role in HTTP_ROLES:
        raise ValueError(f"role {role} needs --listen HOST:PORT")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass
    runner, url = None, None
    if listen is not None:
        host, port = parse_listen(listen)
        runner = web.AppRunner(web_application(app) if role in HTTP_ROLES else health_application(app),
                               access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port).start()
        except BaseException:
            await runner.cleanup()
            raise
        url = f"http://{host}:{port}"
        logger.info("role {}: listening on {}", role, url)
    else:
        logger.info("role {}: no HTTP listener", role)
    if ready:
        ready(url)
    session = aiohttp.ClientSession(headers={"User-Agent": USER_AGENT})
    tasks = [asyncio.create_task(w(stop), name=getattr(w, "__qualname__", "worker"))
             for w in workers(app, session, role)]
    scheduler = start_scheduler(app) if role in WORKER_ROLES else None
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        stop.set()
        if scheduler is not None:
            scheduler.shutdown(wait=False)
        # Workers notice `stop` between transactions; one that does not finish in time is cancelled and
        # awaited, so nothing still uses the database when it is closed.
        done, pending = await asyncio.wait(tasks, timeout=10) if tasks else (set(), set())
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                logger.opt(exception=t.exception()).error("worker {} failed", t.get_name())
        await session.close()
        if runner is not None:
            await runner.cleanup()
