"""The roster's gaps as the store holds it (config and manual shifts, users' standing roles), and the `serve`
worker that logs them at start and every morning: a duty office learns of an empty week before a reminder
finds nobody (monitor.deadlines.coverage computes the gaps)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from loguru import logger

from monitor.core.clock import SHANGHAI, local
from monitor.core.loops import wait_any
from monitor.deadlines.coverage import HORIZON, RoleGap, Shift, gaps, watched_roles

LOG_AT = (8, 0)  # Beijing time: when the daily check is logged, with the morning's shift change
CHECK_EVERY = 600.0  # seconds between looks at the clock (an injected clock may jump)


async def store_gaps(tx, settings, now: datetime, horizon: timedelta = HORIZON) -> list[RoleGap]:
    users = await tx.people.users()
    roles = watched_roles(settings.rules, settings.escalation_policies, users)
    shifts = [Shift(r["role"], r["user"], r["starts_at"], r["ends_at"])
              for r in await tx.people.roster(now, now + horizon)]
    return gaps(roles, shifts, {r for u in users.values() for r in (u["roles"] or [])}, now, horizon)


def next_check(now: datetime) -> datetime:
    """The next LOG_AT in Beijing time after `now`."""
    day = local(now)
    at = day.replace(hour=LOG_AT[0], minute=LOG_AT[1], second=0, microsecond=0)
    if at <= day:
        at += timedelta(days=1)
    return at.astimezone(SHANGHAI)


class RosterWatch:
    """A worker of `serve`: logs each role's gap in the next 7 days at start, then daily at LOG_AT."""

    def __init__(self, app) -> None:
        self.app = app

    async def check(self) -> list[RoleGap]:
        now = self.app.clock.now()
        async with self.app.store.read() as tx:
            found = await store_gaps(tx, self.app.settings, now)
        for gap in found:
            logger.warning("值班表 roster: {}", gap.text())
        return found

    async def run(self, stop: asyncio.Event) -> None:
        wake = asyncio.Event()  # nothing wakes it early; stop ends it
        due = self.app.clock.now()
        while not stop.is_set():
            if self.app.clock.now() >= due:
                try:
                    await self.check()
                except Exception:  # a store hiccup: the next morning tries again
                    logger.exception("roster check failed")
                due = next_check(self.app.clock.now())
            await wait_any(stop, wake, min(CHECK_EVERY, max(0.0, (due - self.app.clock.now()).total_seconds())))
