"""The one shape of every background loop: do the due work, then sleep until the store says the next
thing is due (capped by `poll`, so rows written by other processes are noticed), or until woken."""

from __future__ import annotations

import asyncio
import time
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
                     retry: float = 5.0, min_gap: float = 0.0) -> None:
    """`work` does what is due and returns when the next thing will be (None = nothing scheduled).
    `min_gap`: rounds start at least this many seconds apart, so that a stream of wakes or of due times
    (50 escalation steps a second) makes fewer, fuller rounds, not one transaction each."""
    while not stop.is_set():
        started = time.monotonic()
        try:
            next_at = await work()
            wait = poll if next_at is None else min(poll, max(0.0, (next_at - clock.now()).total_seconds()))
        except Exception:
            logger.exception("{} failed; retrying in {} s", name, retry)
            wait = retry
        until = time.monotonic() + wait
        gap = started + min_gap - time.monotonic()
        if gap > 0:  # a wake waits for the gap too (it stays set: nothing is missed)
            await wait_any(stop, asyncio.Event(), gap)
        await wait_any(stop, wake, max(0.0, until - time.monotonic()))
        wake.clear()
