"""What a polling collector is: given its saved state, it emits batches of records; each batch and the
state after it are stored in one transaction (so a crash resumes exactly where the store says)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.core.model import RawItem
from monitor.pipeline import ImportStats
from monitor.core.errors import Reject


@dataclass
class SourceState:
    cursor: dict = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None

    def snapshot(self) -> "SourceState":
        return copy.deepcopy(self)


@dataclass
class PollContext:
    """What a collector may use. `emit` stores records together with a copy of `state`."""

    name: str
    cfg: Any
    state: SourceState
    app: Any  # monitor.app.App
    fetcher: Any = None  # monitor.sources.http.Fetcher, for web sources
    stats: ImportStats = field(default_factory=ImportStats)
    error: str | None = None  # set by the runner when the poll failed
    stop: Any = None  # asyncio.Event set when serve is stopping (a long folder import stops at once)

    async def emit(self, records: list[RawItem | Reject], file: str = "") -> ImportStats:
        stats = await self.app.pipeline.ingest(records, self.name, file, in_tx=self.saver())
        self.stats.add(stats)
        return stats

    def saver(self):
        state, name, kind = self.state.snapshot(), self.name, self.cfg.kind

        async def save(tx, now) -> None:
            await tx.sources.save(name, kind, now, cursor=state.cursor, etag=state.etag,
                                  last_modified=state.last_modified)

        return save


class Collector(Protocol):
    async def poll(self, ctx: PollContext) -> None:
        """Fetch what is new since ctx.state and emit it; raise to report a failed poll."""
        ...
