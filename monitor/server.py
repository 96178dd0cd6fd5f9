"""`yuqing serve`: the HTTP server (dashboard, API, webhook) and the background workers in one process.
Stops cleanly on SIGTERM/SIGINT: workers finish their current transaction, the server closes."""

from __future__ import annotations

import asyncio
import signal
from typing import Awaitable, Callable

from aiohttp import web
from loguru import logger

from monitor.app import App

Worker = Callable[[asyncio.Event], Awaitable[None]]


def parse_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    try:
        return host or "127.0.0.1", int(port)
    except ValueError:
        raise ValueError(f"--listen {listen!r}: use HOST:PORT, e.g. 127.0.0.1:8080") from None


def web_application(app: App) -> web.Application:
    from responders.dashboard import create_app
    from monitor.sources.webhook import add_routes as add_ingest_route

    return add_ingest_route(create_app(app))


def workers(app: App) -> list[Worker]:
    """The background loops of this process. Each returns when `stop` is set."""
    from monitor.sources.runner import source_workers

    return [*source_workers(app)]


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
    tasks = [asyncio.create_task(w(stop), name=getattr(w, "__name__", "worker")) for w in workers(app)]
    try:
        await stop.wait()
    finally:
        logger.info("stopping")
        stop.set()
        for t in tasks:
            try:
                await asyncio.wait_for(t, timeout=10)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                t.cancel()
            except Exception:
                logger.exception("worker {} failed while stopping", t.get_name())
        await runner.cleanup()
