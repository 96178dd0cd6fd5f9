"""The one shape of every background loop: do the due work, then sleep until the store says the next
thing is due (capped by `poll`, so rows written by other processes are noticed), or until woken."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Awaitable, Callable

from loguru import logger

from monitor.core.clock import Clock


async def wait_any(stop: asyncio.Event, wake: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def timer_loop(name: str, stop: asyncio.Event, wake: asyncio.Event, clock: Clock,
                     work: Callable[[], Awaitable[datetime | None]], poll: float = 1.0,
                     retry: float = 5.0) -> None:
    """`work` does what is due and returns when the next thing will be (None = nothing scheduled)."""
    while not stop.is_set():
        try:
            next_at = await work()
            wait = poll if next_at is None else min(poll, max(0.0, (next_at - clock.now()).total_seconds()))
        except Exception:
            logger.exception("{} failed; retrying in {} s", name, retry)
            wait = retry
        await wait_any(stop, wake, wait)
        wake.clear()
