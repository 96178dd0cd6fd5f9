"""One Telegram poller per bot token across processes: two bots on one store (SQLite and PostgreSQL) against the
fake Bot API, which answers a second concurrent getUpdates with 409 Conflict as Telegram does. Only the lease
holder polls; when it stops, or its lease runs out (injected clock), the other takes over and answers."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from responders.telegram_bot import LEASE, TelegramBot, lease_name
from tests.fake_telegram import FakeTelegram
from tests.test_telegram import QIAN, ask, fake, new_bot, settings  # noqa: F401  (fixtures)


def poller(app, owner: str) -> TelegramBot:
    """A bot as another process would run it (its own owner id), retrying and renewing every 20 ms."""
    bot = new_bot(app)
    bot.owner, bot.lease_retry, bot.lease_renew = owner, 0.02, 0.02
    bot.claims = 0
    claim = bot._claim

    async def counted(lease):
        bot.claims += 1
        return await claim(lease)

    bot._claim = counted
    return bot


def polling(bot: TelegramBot) -> bool:
    return bot.application is not None and bot.application.updater.running


class Run:
    def __init__(self, bot: TelegramBot) -> None:
        self.bot, self.stop = bot, asyncio.Event()
        self.task = asyncio.create_task(bot.run(self.stop))

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 5)


async def standing_by(fake: FakeTelegram, bot: TelegramBot, tries: int = 5) -> None:
    """Until `bot` has tried (and failed) to take the lease a few more times."""
    start = bot.claims
    await fake.wait_for(lambda: bot.claims >= start + tries)


async def lease_row(app, token: str) -> dict:
    async with app.store.read() as tx:
        return await tx.sources.get(lease_name(token))


async def test_only_the_holder_polls_and_the_other_takes_over_when_it_stops(app, clock, fake):
    a, b = poller(app, "host-a:101"), poller(app, "host-b:202")
    run_a = Run(a)
    await fake.wait_for(lambda: polling(a) and fake.of("getUpdates"))
    run_b = Run(b)
    try:
        await standing_by(fake, b)
        assert polling(a) and not polling(b) and b.application is None
        assert "当前状态" in await ask(fake, QIAN, "/status")
        row = await lease_row(app, fake.token)
        assert row["lease_owner"] == "host-a:101" and row["kind"] == "telegram"
        assert row["name"] == "telegram:" + hashlib.sha256(fake.token.encode()).hexdigest()[:16]

        await run_a.halt()  # gives the lease back
        await fake.wait_for(lambda: polling(b))
        assert "值班安排" in await ask(fake, QIAN, "/duty")
        assert (await lease_row(app, fake.token))["lease_owner"] == "host-b:202"
        assert fake.conflicts == 0  # never two getUpdates at once
        assert len(fake.from_bot()) == 2  # each command answered once
    finally:
        await run_b.halt()
        if not run_a.task.done():
            await run_a.halt()
    assert (await lease_row(app, fake.token))["lease_owner"] is None  # released on stop


async def test_a_killed_holders_lease_runs_out_and_another_takes_over(app, clock, fake):
    now = clock.now()
    async with app.store.write() as tx:  # a process elsewhere polled and was killed: its lease stands
        assert await tx.sources.claim(lease_name(fake.token), "telegram", "host-gone:9", now, now + LEASE, False)
    b = poller(app, "host-b:202")
    run_b = Run(b)
    try:
        await standing_by(fake, b)
        assert not fake.of("getUpdates") and not polling(b)
        clock.advance(LEASE + timedelta(seconds=1))
        await fake.wait_for(lambda: polling(b))
        assert "当前状态" in await ask(fake, QIAN, "/status")
        assert fake.conflicts == 0
    finally:
        await run_b.halt()


async def test_a_holder_whose_lease_was_taken_stops_polling(app, clock, fake):
    """A holder stalled past its lease (here: the injected clock jumps) finds at its next renewal that another
    process holds it, stops polling, and stands by."""
    a = poller(app, "host-a:101")
    run_a = Run(a)
    try:
        await fake.wait_for(lambda: polling(a))
        stalled, renew = asyncio.Event(), a._renew

        async def frozen(lease):  # the holder stalls before its next renewal
            await stalled.wait()
            return await renew(lease)

        a._renew = frozen
        clock.advance(2 * LEASE)
        now = clock.now()
        async with app.store.write() as tx:
            assert await tx.sources.claim(lease_name(fake.token), "telegram", "host-c:303", now, now + LEASE,
                                          False)
        stalled.set()
        await fake.wait_for(lambda: not polling(a), timeout=5)
        await standing_by(fake, a)
        assert not polling(a) and (await lease_row(app, fake.token))["lease_owner"] == "host-c:303"
    finally:
        await run_a.halt()
