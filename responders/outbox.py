"""The delivery loop: lease due outbox rows, decide per channel what goes now (responders/grouping.py:
filters, quiet hours, grouping, chats in order), send, record the result.

At-least-once towards the channel, exactly-once per idempotency key in the store: a row marked sent is
never sent again; a worker that dies mid-send leaves a lease that expires, and the row (same key) is sent
again by whoever claims it next. Several processes can run this loop on one PostgreSQL database.

A grouped message is one send whose payload is {"group": [payload, …], "channel", "recipients"}; its rows
are marked sent together, or fail and are retried together with one backoff. The messages of one chat go
one after another in outbox order; when one fails, the rest of that chat waits with it.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from dataclasses import dataclass, replace
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
from responders import grouping
from responders.base import REGISTRY, DeliveryError, Notifier

MAX_ATTEMPTS = 30
MAX_BACKOFF = timedelta(minutes=10)
BATCH = 16  # rows claimed, sent concurrently and recorded in one transaction
GROUP_CLAIM = 500  # due rows of a chat channel taken at once (sent in order, grouped when configured)
# Seconds a chat's lane sends in one round before the round is recorded and the rest come straight back:
# rows of other channels and new rows never wait long behind a backlog (and the 30 s lease is never near).
LANE_ROUND = 0.2
ROUND_GAP = 0.05  # seconds between the starts of two rounds of the loop (fewer, fuller transactions)


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


@dataclass
class _Result:
    """What became of the rows of one send. `error` None: sent. `skipped`: not attempted (behind a failed
    send of the same chat: due again at `retry_at`; out of time this round: `retry_at` None, due as they
    were); no attempt counted."""

    rows: tuple[OutboxMessage, ...]
    error: DeliveryError | None = None
    retry_at: datetime | None = None
    skipped: bool = False


class Deliverer:
    def __init__(self, store: Store, clock: Clock, settings: Settings, session: aiohttp.ClientSession,
                 owner: str | None = None, lease: timedelta = timedelta(seconds=30), batch: int = BATCH) -> None:
        # A batch is sent concurrently and each send times out after 10 s, so a 30 s lease covers it; the
        # sends of one chat go one after another, and stop at half the lease (the rest stay due).
        self.store, self.clock = store, clock
        self.owner = owner or worker_id()
        self.lease, self.batch = lease, batch
        self._wake = asyncio.Event()
        configs = {c.name: c for c in settings.channels}
        configs.setdefault(DASHBOARD, ChannelConfig(name=DASHBOARD, kind="log"))
        self.configs = configs
        self.notifiers: dict[str, Notifier] = {
            name: REGISTRY[c.kind](c, session, settings) for name, c in configs.items()
        }
        for notifier in self.notifiers.values():  # countdowns and send budgets on this loop's clock
            if hasattr(notifier, "use_clock"):
                notifier.use_clock(clock)
        # Per (channel, lane), this process's knowledge: when its last message went out (group_interval;
        # read from the store on first use) and until when the robot's send budget is spent.
        self._last_sent: dict[tuple[str, str], datetime] = {}
        self._known_sent: set[str] = set()
        self._budget: dict[tuple[str, str], datetime] = {}
        for c in configs.values():
            if (c.group_wait or c.group_interval) and not grouping.grouping(c):
                logger.warning("channel {}: group_wait/group_interval apply to chat channels only, not kind {}",
                               c.name, c.kind)

    def wake(self) -> None:
        self._wake.set()

    async def deliver_due(self, max_batches: int = 20) -> int:
        """Claim and send what is due, at most `max_batches` rounds. Returns how many rows were sent."""
        sent = 0
        for _ in range(max_batches):
            now = self.clock.now()
            async with self.store.write() as tx:
                claimed = await tx.outbox.claim(now, self.owner, self.lease, self.batch)
                first = len(claimed)
                # A chat sends its due rows in order, one lane (grouped: in few messages): take them all,
                # so a busy chat needs two transactions a round, not two per 16 messages.
                more = sorted({m.channel for m in claimed if self._chat(m.channel)})
                if more:
                    claimed += await tx.outbox.claim(now, self.owner, self.lease, GROUP_CLAIM, channels=more)
                lanes = await self._lanes(tx, claimed, now) if claimed else {}
            if not claimed:
                break
            sent += await self._deliver(claimed, lanes, now)
            if first < self.batch:
                break
        return sent

    async def deliver_keys(self, keys: list[str]) -> int:
        """Send now the due messages with these keys, and nothing else (`yuqing digest --send`)."""
        now = self.clock.now()
        async with self.store.write() as tx:
            claimed = await tx.outbox.claim(now, self.owner, self.lease, len(keys) or 1, keys=keys)
            lanes = await self._lanes(tx, claimed, now) if claimed else {}
        if not claimed:
            return 0
        return await self._deliver(claimed, lanes, now)

    def _chat(self, channel: str) -> bool:
        config = self.configs.get(channel)
        return config is not None and config.kind in grouping.CHAT

    async def _lanes(self, tx, claimed: list[OutboxMessage], now: datetime) -> dict[tuple[str, str], grouping.Lane]:
        """The store's view of each chat lane among the claimed rows (oldest pending row, backoff, last send)."""
        out: dict[tuple[str, str], grouping.Lane] = {}
        for channel in sorted({m.channel for m in claimed}):
            config = self.configs.get(channel)
            if config is None or config.kind not in grouping.CHAT:
                continue
            merged: dict[str, tuple[list[datetime], list[datetime], list[datetime]]] = {}
            for recipient, found in (await tx.outbox.lanes(channel, grouping.HOLD, now)).items():
                lists = merged.setdefault(recipient if config.kind not in grouping.ROBOTS else "", ([], [], []))
                for values, value in zip(lists, found):
                    values += [value] if value else []
            if config.group_interval and channel not in self._known_sent:
                for recipient, at in (await tx.outbox.last_sent(channel)).items():
                    key = (channel, recipient if config.kind not in grouping.ROBOTS else "")
                    self._last_sent[key] = max(at, self._last_sent.get(key, at))
                self._known_sent.add(channel)
            for key, (olds, backs, nexts) in merged.items():
                out[(channel, key)] = grouping.Lane(min(olds, default=None), max(backs, default=None),
                                                    min(nexts, default=None), self._last_sent.get((channel, key)),
                                                    self._budget.get((channel, key)))
        return out

    async def _deliver(self, claimed: list[OutboxMessage], lanes: dict[tuple[str, str], grouping.Lane],
                       now: datetime) -> int:
        by_channel: dict[str, list[OutboxMessage]] = {}
        for m in claimed:
            by_channel.setdefault(m.channel, []).append(m)
        plans: dict[str, grouping.Plan] = {}
        for channel, rows in by_channel.items():
            config = self.configs.get(channel)
            if config is None:  # sent alone, to fail as "no such channel"
                plans[channel] = grouping.Plan(lanes=[[grouping.Send((m,))] for m in rows])
            else:
                plans[channel] = grouping.plan(config, rows, now,
                                               lambda key, c=channel: lanes.get((c, key), grouping.Lane()))
        runs = [self._run_lane(channel, lane, now) for channel, p in plans.items() for lane in p.lanes]
        results = [r for lane in await asyncio.gather(*runs) for r in lane]
        return await self._record(results, plans)

    async def _run_lane(self, channel: str, lane: list[grouping.Send], now: datetime) -> list[_Result]:
        """The sends of one chat in order. A recoverable failure stops the lane: the rest wait with the
        failed rows and go after them; a message-specific refusal (4xx) does not hold the others."""
        out: list[_Result] = []
        started = time.monotonic()
        for i, send in enumerate(lane):
            if i and time.monotonic() - started > LANE_ROUND:
                out += [_Result(s.rows, skipped=True) for s in lane[i:]]  # released, due as they were
                break
            error = await self._send(self._message(channel, send))
            if error is None:
                out.append(_Result(send.rows))
                continue
            if error.deferred:  # over a robot's send budget: nothing went out, not an attempt
                retry_at = self.clock.now() + (error.retry_after or timedelta(seconds=1))
                self._budget[(channel, self._lane_key(channel, send.rows[0]))] = retry_at
            else:
                attempts = max(m.attempts for m in send.rows)
                retry_at = now + max(backoff(attempts), error.retry_after or timedelta())
            out.append(_Result(send.rows, error, retry_at))
            if error.recoverable and i + 1 < len(lane):
                out += [_Result(s.rows, retry_at=retry_at, skipped=True) for s in lane[i + 1:]]
                break
        return out

    def _lane_key(self, channel: str, m: OutboxMessage) -> str:
        config = self.configs.get(channel)
        return grouping.lane_of(config.kind, m) if config is not None else m.recipient

    def _message(self, channel: str, send: grouping.Send) -> OutboxMessage:
        """One row as it is, or a grouped message: payload {"group": [payload, …], "channel", "recipients"}
        (those to @-mention: each row's own recipient, or the people its reminder names)."""
        if not send.grouped:
            return send.rows[0]
        first = send.rows[0]
        names: list[str] = []
        for m in send.rows:
            for n in [m.recipient] if m.recipient else m.payload.get("recipients") or []:
                if n and n not in names:
                    names.append(n)
        recipients = {m.recipient for m in send.rows}
        payload = {"group": [m.payload for m in send.rows], "channel": channel, "recipients": names}
        return replace(first, id=0, key=f"group:{first.key}+{len(send.rows) - 1}", incident_id=None,
                       deadline_id=None, recipient=recipients.pop() if len(recipients) == 1 else "",
                       payload=payload, attempts=max(m.attempts for m in send.rows))

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

    async def _record(self, results: list[_Result], plans: dict[str, grouping.Plan]) -> int:
        """One transaction for the round's results. A crash before it commits re-sends the round with the
        same idempotency keys: the receiver's to drop, the price of not committing once per message."""
        now = self.clock.now()
        sent = 0
        async with self.store.write() as tx:
            for p in plans.values():
                for m, reason in p.filtered:
                    await tx.outbox.mark_filtered([m.id], self.owner, reason)
                holds: dict[tuple[datetime, str], list[int]] = {}
                for m, until, why in p.held:
                    holds.setdefault((until, why), []).append(m.id)
                for (until, why), ids in holds.items():
                    await tx.outbox.postpone(ids, self.owner, until, why)
            delivered = [m for r in results if r.error is None and not r.skipped for m in r.rows]
            if delivered:
                sent = await tx.outbox.mark_sent_many([m.id for m in delivered], self.owner, now)
                if sent < len(delivered):
                    logger.warning("outbox: {} row(s) were sent after their lease expired", len(delivered) - sent)
            for m in delivered:
                key = (m.channel, self._lane_key(m.channel, m))
                self._last_sent[key] = max(now, self._last_sent.get(key, now))
            skipped: dict[datetime | None, list[int]] = {}
            for r in results:
                if r.skipped:
                    skipped.setdefault(r.retry_at, []).extend(m.id for m in r.rows)
            for until, ids in skipped.items():
                await tx.outbox.postpone(ids, self.owner, until)
            for r in results:
                if r.skipped or r.error is None:
                    continue
                ids = [m.id for m in r.rows]
                if r.error.deferred:
                    await tx.outbox.postpone(ids, self.owner, r.retry_at or now, str(r.error))
                else:
                    await self._failed(tx, r, now)
        return sent

    async def _failed(self, tx, r: _Result, now: datetime) -> None:
        error = r.error
        assert error is not None
        for m in r.rows:
            give_up = not error.recoverable or m.attempts + 1 >= MAX_ATTEMPTS
            await tx.outbox.mark_failed(m.id, self.owner, str(error), None if give_up else r.retry_at)
            if give_up:
                await tx.audit.append(now, "system:outbox", "delivery.dead", "incident", m.incident_id or "",
                                      {"key": m.key, "error": str(error)[:500]})
        keys = r.rows[0].key + (f" (+{len(r.rows) - 1})" if len(r.rows) > 1 else "")
        logger.warning("delivery of {} failed ({}): {}", keys,
                       "gave up" if not error.recoverable else "will retry", error)

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
        # A round at most every ROUND_GAP: woken after each escalation sweep, it takes what is due in one go
        await timer_loop("outbox delivery", stop, self._wake, self.clock, self.tick, poll, min_gap=ROUND_GAP)
