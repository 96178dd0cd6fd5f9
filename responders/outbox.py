"""The delivery loop: lease due outbox rows, send each through its channel, record the result.

At-least-once towards the channel, exactly-once per idempotency key in the store: a row marked sent is
never sent again; a worker that dies mid-send leaves a lease that expires, and the row (same key) is sent
again by whoever claims it next. Several processes can run this loop on one PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from datetime import datetime, timedelta

import aiohttp
from loguru import logger

from monitor.core.clock import Clock
from monitor.core.model import DASHBOARD
from monitor.core.loops import timer_loop
from monitor.core.model import OutboxMessage
from monitor.config.settings import ChannelConfig, Settings
from monitor.store import Store
import responders.channels  # noqa: F401  (registers the channel kinds)
from responders.base import REGISTRY, DeliveryError, Notifier

MAX_ATTEMPTS = 30
MAX_BACKOFF = timedelta(minutes=10)
BATCH = 16  # rows claimed, sent concurrently and recorded in one transaction


def backoff(attempts: int, rng: random.Random = random.Random()) -> timedelta:
    """5 s, 10 s, 20 s … capped at 10 minutes, with ±20 % jitter so retries of many rows spread out."""
    base = min(MAX_BACKOFF.total_seconds(), 5 * 2 ** min(attempts, 20))
    return timedelta(seconds=base * rng.uniform(0.8, 1.2))


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Deliverer:
    def __init__(self, store: Store, clock: Clock, settings: Settings, session: aiohttp.ClientSession,
                 owner: str | None = None, lease: timedelta = timedelta(seconds=30), batch: int = BATCH) -> None:
        # A batch is sent concurrently and each send times out after 10 s, so a 30 s lease covers it.
        self.store, self.clock = store, clock
        self.owner = owner or worker_id()
        self.lease, self.batch = lease, batch
        self._wake = asyncio.Event()
        configs = {c.name: c for c in settings.channels}
        configs.setdefault(DASHBOARD, ChannelConfig(name=DASHBOARD, kind="log"))
        self.notifiers: dict[str, Notifier] = {
            name: REGISTRY[c.kind](c, session, settings) for name, c in configs.items()
        }
        for notifier in self.notifiers.values():  # countdowns and send budgets on this loop's clock
            if hasattr(notifier, "use_clock"):
                notifier.use_clock(clock)

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self, max_batches: int = 20) -> int:
        """Claim and send what is due, at most `max_batches` rounds. Returns how many were sent."""
        sent = 0
        for _ in range(max_batches):
            async with self.store.write() as tx:
                claimed = await tx.outbox.claim(self.clock.now(), self.owner, self.lease, self.batch)
            if not claimed:
                break
            errors = await asyncio.gather(*(self._send(m) for m in claimed))
            sent += await self._record(claimed, errors)
            if len(claimed) < self.batch:
                break
        return sent

    async def deliver_keys(self, keys: list[str]) -> int:
        """Send now the due messages with these keys, and nothing else (`yuqing digest --send`)."""
        async with self.store.write() as tx:
            claimed = await tx.outbox.claim(self.clock.now(), self.owner, self.lease, len(keys) or 1, keys=keys)
        if not claimed:
            return 0
        errors = await asyncio.gather(*(self._send(m) for m in claimed))
        return await self._record(claimed, errors)

    async def _send(self, message: OutboxMessage) -> DeliveryError | None:
        notifier = self.notifiers.get(message.channel)
        try:
            if notifier is None:
                raise DeliveryError(f"渠道 {message.channel} 未配置 (no such channel)", recoverable=False)
            await notifier.send(message)
        except DeliveryError as exc:
            return exc
        except Exception as exc:  # a bug in a notifier must not stop the loop
            logger.exception("notifier {} crashed", message.channel)
            return DeliveryError(f"{type(exc).__name__}: {exc}", recoverable=True)
        return None

    async def _record(self, claimed: list[OutboxMessage], errors: list[DeliveryError | None]) -> int:
        """One transaction for the batch's results. A crash before it commits re-sends the batch with the
        same idempotency keys: the receiver's to drop, the price of not committing once per message."""
        now = self.clock.now()
        sent = 0
        async with self.store.write() as tx:
            for message, error in zip(claimed, errors):
                if error is None:
                    if await tx.outbox.mark_sent(message.id, self.owner, now):
                        sent += 1
                    else:
                        logger.warning("outbox {} was sent after its lease expired", message.key)
                    continue
                if error.deferred:  # over a robot's send budget: nothing went out, not an attempt
                    await tx.outbox.mark_failed(message.id, self.owner, str(error),
                                                now + (error.retry_after or timedelta(seconds=1)), attempt=False)
                    continue
                give_up = not error.recoverable or message.attempts + 1 >= MAX_ATTEMPTS
                retry_at = None if give_up else now + max(backoff(message.attempts), error.retry_after or timedelta())
                await tx.outbox.mark_failed(message.id, self.owner, str(error), retry_at)
                if give_up:
                    await tx.audit.append(now, "system:outbox", "delivery.dead", "incident",
                                          message.incident_id or "", {"key": message.key, "error": str(error)[:500]})
                logger.warning("delivery of {} failed ({}): {}", message.key,
                               "gave up" if give_up else "will retry", error)
        return sent

    async def tick(self) -> datetime | None:
        await self.deliver_due()
        async with self.store.read() as tx:
            return await tx.outbox.next_attempt_at()

    async def reclaim(self) -> int:
        """Rows leased by a process of this host that has died (`kill -9`) are sent again now, not when
        their lease runs out."""
        host = self.owner.rsplit(":", 1)[0] + ":"
        async with self.store.write() as tx:
            owners = await tx.outbox.lease_owners(host)
            dead = [o for o in owners if o != self.owner and o.rsplit(":", 1)[1].isdigit()
                    and not _pid_alive(int(o.rsplit(":", 1)[1]))]
            released = await tx.outbox.release_leases(dead)
        if released:
            logger.info("re-sending {} message(s) left in flight by a stopped process", released)
        return released

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        await self.reclaim()
        await timer_loop("outbox delivery", stop, self._wake, self.clock, self.tick, poll)
