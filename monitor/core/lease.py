"""A named lease: one process at a time does a thing that must not run twice — poll a source
(monitor/sources/runner.py), long-poll a chat bot's getUpdates (responders/telegram_bot.py).

The lease is a row of the store's `sources` table (`lease_owner` host:pid, `lease_until`), taken with one
conditional UPDATE (`SourceRepo.claim`: of two processes that race, exactly one changes the row), renewed
while held and given back on stop. A holder that dies stops renewing and its lease runs out; a dead process of
this host is replaced at once (its pid is gone). `store` and `clock` are passed in (core imports no store)."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from loguru import logger


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_here(owner: str | None) -> bool:
    """Is `owner` (host:pid) a process of this host that has ended? Then its lease need not run out."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


class Lease:
    def __init__(self, store: Any, clock: Any, name: str, kind: str, length: timedelta,
                 owner: str | None = None) -> None:
        self.store, self.clock = store, clock
        self.name, self.kind, self.length = name, kind, length
        self.owner = owner or owner_id()

    async def claim(self, due_only: bool = False) -> bool:
        """Take the lease: free, expired, ours, or held by a dead process of this host. `due_only` (sources):
        only when the row's next poll is due too."""
        name, kind, now = self.name, self.kind, self.clock.now()
        async with self.store.write() as tx:
            if await tx.sources.claim(name, kind, self.owner, now, now + self.length, due_only):
                return True
            holder = (await tx.sources.get(name) or {}).get("lease_owner")
            if dead_here(holder) and await tx.sources.claim(name, kind, self.owner, now, now + self.length,
                                                            due_only, steal_from=holder):
                logger.info("{}: took over from {} (process ended)", name, holder)
                return True
        return False

    async def holder(self) -> tuple[str | None, datetime | None]:
        """Who holds the lease (None: nobody) and until when."""
        async with self.store.read() as tx:
            row = await tx.sources.get(self.name) or {}
        return row.get("lease_owner"), row.get("lease_until")

    async def renew(self) -> bool:
        """Extend it; False when another process has taken it over."""
        async with self.store.write() as tx:
            return await tx.sources.renew(self.name, self.owner, self.clock.now() + self.length)

    async def release(self, **values) -> bool:
        """Give it back (recording `values` on the row), only if still ours."""
        async with self.store.write() as tx:
            return await tx.sources.finish(self.name, self.owner, self.clock.now(), **values)
