"""Live updates of the now page: `GET /api/v1/stream`, server-sent events (docs/dashboard.md, "当前").

One poller per process reads the store's change feed (incident_changes, written by triggers whichever process
made the change: an import, the API, the CLI, another `serve`) every half second, and the deadlines that fell due
since its last look; it builds each changed incident's row once and hands it to every connected client, so the
store sees two small queries a second per process however many officers watch. Each event:

    id: <change id>          (absent on "overdue": time passing changes no row)
    event: incident
    data: {"row": {…the page's row…}, "reason": "changed" | "overdue", "now": "…"}

A liaison gets its own department's incidents only, and `{"id": N, "gone": true}` for one that left it. A client
that reconnects sends `Last-Event-ID` and gets what it missed (or `event: reset` when that is no longer kept or too
much: it reloads). A comment every 15 s keeps proxies from closing the connection; `serve` ending closes the
streams first, so shutdown does not wait for them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime

from aiohttp import web
from loguru import logger

from monitor.web.auth import APP_KEY, principal
from monitor.web.now_page import row_json

POLL = 0.5  # seconds between looks at the change feed (the bound for the first update is 1 s)
HEARTBEAT = 15.0
KEEP_CHANGES = 50_000  # changes kept for reconnecting clients; older ones are pruned
PRUNE_EVERY = 600.0
REPLAY_MAX = 2_000  # changed incidents replayed to a reconnecting client; more: it reloads
GAP_WAIT = 30.0  # seconds a change id may stay unseen (its transaction still writing) before it is given up
QUEUE = 5_000  # events waiting for one slow client; more: it is dropped and reconnects
FEED = web.AppKey("yuqing_change_feed", object)


@dataclass
class Event:
    incident_id: int
    department: str  # where the incident is now
    left: frozenset[str]  # departments it moved away from in this change
    data: dict
    change_id: int | None = None

    def for_department(self, department: str | None) -> str | None:
        """The event as `department`'s liaison may see it (None: every department); None = not for them."""
        if department is None or department == self.department:
            return self.encode(self.data)
        if department in self.left:
            return self.encode({"id": self.incident_id, "gone": True})
        return None

    def encode(self, data: dict) -> str:
        head = f"id: {self.change_id}\n" if self.change_id is not None else ""
        return f"{head}event: incident\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@dataclass(eq=False)
class Client:
    department: str | None
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE))
    dropped: bool = False

    def put(self, event: Event) -> None:
        text = event.for_department(self.department)
        if text is None or self.dropped:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.dropped = True  # too slow: it reconnects with Last-Event-ID and catches up from the store


class ChangeFeed:
    """Reads incident_changes in id order. Ids are taken when a row is written but seen when its transaction commits,
    so on PostgreSQL a lower id can appear after a higher one (two writers at once): the feed keeps `floor`, the id
    up to which it has seen every row, and the ids it has seen above it; an id missing for GAP_WAIT is given up (a
    rolled-back transaction's). Clients get `floor` as the event id, so a reconnect replays from there."""

    def __init__(self, app) -> None:
        self.app = app
        self.clients: set[Client] = set()
        self.floor: int | None = None  # None: nobody listens, nothing read
        self.seen: set[int] = set()  # ids above floor already handed out
        self.missing: dict[int, float] = {}  # ids above floor not seen yet: since when
        self.checked_at: datetime | None = None
        self.closing = asyncio.Event()
        self._lock = asyncio.Lock()
        self._pruned_at = 0.0

    async def subscribe(self, department: str | None) -> tuple[Client, int, frozenset[int]]:
        """A new client; the id up to which the feed has handed out every change, and the ids above it it handed
        out: every other change comes to the client live."""
        async with self._lock:  # (the idle loop forgets its place only while nobody holds the lock)
            if self.floor is None:
                async with self.app.store.read() as tx:
                    self.floor = await tx.dashboard.last_change()
                self.seen, self.missing = set(), {}
                self.checked_at = self.app.clock.now()
            client = Client(department)
            self.clients.add(client)
            return client, self.floor, frozenset(self.seen)

    def unsubscribe(self, client: Client) -> None:
        self.clients.discard(client)

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if self.clients:
                try:
                    async with self._lock:
                        events = await self.poll()
                    for event in events:
                        for client in list(self.clients):
                            client.put(event)
                    if loop.time() - self._pruned_at > PRUNE_EVERY:
                        self._pruned_at = loop.time()
                        async with self.app.store.write() as tx:
                            await tx.dashboard.prune_changes(KEEP_CHANGES)
                except Exception as exc:  # the store away for a moment: the next round reads on from `floor`
                    logger.warning("live stream: change feed not read: {}", exc)
            elif not self._lock.locked():
                self.floor = None  # nobody listens: read nothing; a new client starts from the newest change
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL)

    async def poll(self) -> list[Event]:
        now = self.app.clock.now()
        async with self.app.store.read() as tx:
            fresh = [c for c in await tx.dashboard.changes_after(self.floor or 0) if c[0] not in self.seen]
            due = await tx.dashboard.fell_due(self.checked_at or now, now) if self.checked_at else []
            events = await build_events(tx, fresh, now)
            if due:
                events += await build_events(tx, [(None, i, None) for i in due], now, reason="overdue")
        self.seen.update(c[0] for c in fresh)
        self._advance()
        for event in events:
            if event.change_id is not None:
                event.change_id = self.floor
        self.checked_at = max(now, self.checked_at or now)
        return events

    def _advance(self) -> None:
        top, clock = max(self.seen, default=self.floor), time.monotonic()
        while self.floor < top:
            nxt = self.floor + 1
            if nxt in self.seen:
                self.seen.discard(nxt)
            elif clock - self.missing.setdefault(nxt, clock) < GAP_WAIT:
                break  # a transaction that took this id may still commit
            self.missing.pop(nxt, None)
            self.floor = nxt

    async def replay(self, after: int, floor: int, seen: frozenset[int]) -> list[Event] | None:
        """What a client that saw every change up to `after` missed, of what the feed had handed out when it
        subscribed (`floor`, `seen`: the rest comes live); None when that is gone or too much."""
        async with self.app.store.read() as tx:
            first = await tx.dashboard.first_change()
            if after < first - 1:
                return None
            changes = [c for c in await tx.dashboard.changes_after(after, limit=REPLAY_MAX * 5)
                       if c[0] <= floor or c[0] in seen]
            if len({c[1] for c in changes}) > REPLAY_MAX or len(changes) == REPLAY_MAX * 5:
                return None
            events = await build_events(tx, changes, self.app.clock.now())
        for event in events:
            event.change_id = max(after, min(event.change_id, floor))
        return events


async def build_events(tx, changes: list[tuple[int | None, int, str | None]], now: datetime,
                       reason: str = "changed") -> list[Event]:
    """One event per changed incident, with the id of its last change, in change order."""
    last: dict[int, int | None] = {}
    left: dict[int, set[str]] = {}
    for change_id, incident_id, was in changes:
        last.pop(incident_id, None)
        last[incident_id] = change_id  # re-inserted: the dict keeps the order of each incident's last change
        if was:
            left.setdefault(incident_id, set()).add(was)
    rows = await tx.dashboard.rows(list(last))
    out = []
    for incident_id, change_id in last.items():
        row = rows.get(incident_id)
        if row is None:
            continue
        out.append(Event(incident_id, row.incident.department, frozenset(left.get(incident_id, ())),
                         {"row": row_json(row, now), "reason": reason, "now": now.isoformat()}, change_id))
    return out


async def stream(request: web.Request) -> web.StreamResponse:
    """`Last-Event-ID` (a reconnecting browser) or `?after=` (the change id the page's data is current to: the
    page's first connection) make the stream start with what happened since."""
    feed: ChangeFeed = request.app[FEED]
    who = principal(request)
    last_seen = (request.headers.get("Last-Event-ID") or request.query.get("after") or "").strip()
    client, floor, seen = await feed.subscribe(who.only_department)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                           "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
    try:
        await response.prepare(request)
        await response.write(b"retry: 3000\n\n")
        if last_seen:
            missed = await feed.replay(int(last_seen), floor, seen) if last_seen.isdigit() and len(last_seen) < 12 \
                else None
            if missed is None:
                await response.write(b"event: reset\ndata: {}\n\n")
                return response
            for event in missed:
                text = event.for_department(client.department)
                if text is not None:
                    await response.write(text.encode())
        else:  # where the stream starts: a reconnect sends it back
            await response.write(f"id: {floor}\nevent: hello\ndata: {{}}\n\n".encode())
        while not feed.closing.is_set() and not client.dropped:
            text = await _next(client, feed.closing)
            if text is not None:
                await response.write(text.encode())
            else:
                await response.write(b": keep-alive\n\n")
    except (ConnectionResetError, asyncio.CancelledError):
        pass  # the browser went away (or the server stops)
    finally:
        feed.unsubscribe(client)
    return response


async def _next(client: Client, closing: asyncio.Event) -> str | None:
    """The client's next event, or None after HEARTBEAT seconds (or when the server closes)."""
    getter = asyncio.ensure_future(client.queue.get())
    closer = asyncio.ensure_future(closing.wait())
    try:
        done, _ = await asyncio.wait({getter, closer}, timeout=HEARTBEAT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        closer.cancel()
    if getter in done:
        return getter.result()
    getter.cancel()
    return None


def setup(web_app: web.Application) -> None:
    """The feed polls while the application runs; streams end when it shuts down (before connections drain)."""

    async def feed_ctx(web_app: web.Application):
        stop = asyncio.Event()
        web_app[FEED] = feed = ChangeFeed(web_app[APP_KEY])
        task = asyncio.create_task(feed.run(stop), name="change-feed")
        yield
        stop.set()
        feed.closing.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(task, 10)

    async def close_streams(web_app: web.Application) -> None:
        web_app[FEED].closing.set()

    web_app.cleanup_ctx.append(feed_ctx)
    web_app.on_shutdown.append(close_streams)
    web_app.router.add_get("/api/v1/stream", stream)
