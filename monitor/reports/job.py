"""The reads and writes around the pure reports. `load_period` reads a month, quarter or year for
monitor/reports/period.py. The daily digest's work: read what it needs from the store, build and draw it, and queue one mail per date and
recipient in the outbox — the delivery loop sends it (responders/channels/email.py), retries it, and never sends a
key twice. Under `yuqing serve` a DigestJob does this every day at `digest.time` (Beijing): the APScheduler cron
wakes it, and at start it catches up today's digest if its moment has passed and nothing was queued for it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from typing import Callable

from loguru import logger

from monitor.config.settings import ChannelConfig, Settings
from monitor.core.clock import Clock, local
from monitor.core.loops import timer_loop
from monitor.deadlines.sweeper import People
from monitor.reports import chart, digest as digest_mod
from monitor.reports.digest import Digest, DigestData, Window
from monitor.reports.fonts import FontFile, FontMissing, find_font
from monitor.reports.period import Period, PeriodData
from monitor.reports.render import Rendered, render
from monitor.store import Store, Tx

ACTOR = "system:digest"


def horizon(settings: Settings) -> timedelta:
    """How long before a window something may have been first seen and still be new in it: the deadline
    horizon (a historical import neither opens deadlines nor counts as new)."""
    h = settings.deadline_horizon
    return timedelta(days=h.amount * 7 / 5) if h.working_days else h.timedelta()


def dashboard_url(settings: Settings) -> str:
    return (settings.digest.dashboard_url or f"http://{settings.listen}").rstrip("/")


def digest_channels(settings: Settings) -> list[ChannelConfig]:
    """The email channels the digest goes to: those `digest.channels` names, else every email channel."""
    emails = [c for c in settings.channels if c.kind == "email"]
    wanted = settings.digest.channels
    return emails if wanted is None else [c for c in emails if c.name in wanted]


def key(day: date, channel: str, address: str) -> str:
    """The idempotency key of a day's digest to one recipient: a restart or a retry never sends it twice."""
    return f"digest:{day.isoformat()}:{channel}:{address.lower()}"


async def load(tx: Tx, settings: Settings, w: Window) -> DigestData:
    back = horizon(settings)
    new = await tx.reports.new_incidents(w.start, w.end, w.start - back)
    _, historical = await tx.reports.arrivals([w.start, w.end], back)
    since = min(w.chart_bounds[0], w.start)
    deadlines = await tx.reports.deadlines_around(w.as_of, since)
    incidents = await tx.reports.incidents({d.incident_id for d in deadlines})
    arrivals, _ = await tx.reports.arrivals(w.chart_bounds, back)
    return DigestData(window=w, new=new, historical=historical[0], deadlines=deadlines, incidents=incidents,
                      places=await tx.reports.places(i.id for i in new),
                      triage_pending=await tx.reports.triage_pending(), arrivals=arrivals,
                      dashboard_url=dashboard_url(settings))


async def load_period(tx: Tx, period: Period, now: datetime) -> PeriodData:
    deadlines = await tx.reports.deadlines_due(period.start, period.end)
    ids = {d.incident_id for d in deadlines}
    return PeriodData(period=period, at=min(now, period.end),
                      incident_counts=await tx.reports.incident_counts(period.start, period.end),
                      deadlines=deadlines, incidents=await tx.reports.incidents(ids),
                      first_responses=await tx.reports.first_responses(ids))


def chart_font(settings: Settings) -> FontFile:
    configured = settings.resolve(settings.digest.font) if settings.digest.font else None
    return find_font(chart.ALPHABET, configured)


async def prepare(store: Store, settings: Settings, now: datetime, day: date | None = None,
                  organisation: str = "", own_names: tuple[str, ...] = ()) -> tuple[Digest, Rendered]:
    """The digest of `day` (default: today, Beijing) as it would be sent; FontMissing when no CJK font is there."""
    font = chart_font(settings)  # before the database: a missing font costs nothing
    hour, minute = settings.digest.hour_minute
    w = digest_mod.window(day or local(now).date(), hour, minute, now)
    async with store.read() as tx:
        data = await load(tx, settings, w)
    built = digest_mod.build(data, organisation, own_names)
    return built, render(built, chart.draw(built.days, font.path, font.index))


@dataclass(frozen=True)
class Recipient:
    channel: str
    address: str
    name: str

    @property
    def display(self) -> str:
        return f"{self.name} <{self.address}>" if self.name and self.name != self.address else self.address


async def recipients(tx: Tx, settings: Settings, at: datetime) -> tuple[list[Recipient], list[str]]:
    """Every digest recipient at `at`: addresses as written, users by their email, roles by whoever holds them
    (standing roles, and the roster's at that moment). Returns them and the names that found no address."""
    out: list[Recipient] = []
    unreachable: list[str] = []
    for channel in digest_channels(settings):
        named = [e for e in channel.to if "@" not in e]
        people = await People.load(tx, set(named), at) if named else None
        seen: set[str] = set()
        for entry in channel.to:
            if "@" in entry:
                name, address = parseaddr(entry)
                found = [(name, address or entry)]
            else:
                found = []
                for r in people.resolve([entry], ""):
                    email = ((people.users.get(r.name) or {}).get("contacts") or {}).get("email")
                    if email:
                        found.append((r.display, email))
                    else:
                        unreachable.append(f"{entry}:{r.name}")
                if not found and not any(u.startswith(f"{entry}:") for u in unreachable):
                    unreachable.append(entry)
            for name, address in found:
                if address.lower() not in seen:
                    seen.add(address.lower())
                    out.append(Recipient(channel.name, address, name))
    return out, unreachable


def payload(day: date, rendered: Rendered, to: Recipient) -> dict:
    import base64

    return {
        "kind": "digest", "date": day.isoformat(), "text": rendered.summary, "subject": rendered.subject,
        "body_text": rendered.text, "html": rendered.html, "to": to.address, "to_display": to.display,
        "images": [{"cid": i.cid, "filename": i.filename, "subtype": i.subtype,
                    "data": base64.b64encode(i.data).decode("ascii")} for i in rendered.images],
    }


@dataclass
class Queued:
    key: str
    recipient: Recipient
    new: bool  # False: that date's digest was already queued (or sent) for this recipient


async def enqueue(store: Store, settings: Settings, clock: Clock, day: date, rendered: Rendered) -> tuple[list[Queued], list[str]]:
    """One outbox row per recipient, keyed by date and recipient, in one transaction with its audit entry."""
    now = clock.now()
    async with store.write() as tx:
        people, unreachable = await recipients(tx, settings, now)
        rows = [{"key": key(day, r.channel, r.address), "channel": r.channel, "recipient": r.address,
                 "incident_id": None, "deadline_id": None, "payload": payload(day, rendered, r), "status": "pending",
                 "attempts": 0, "next_attempt_at": now, "created_at": now} for r in people]
        before = {m.key for m in await tx.reports.outbox_by_keys([r["key"] for r in rows])}
        await tx.outbox.enqueue(rows)
        queued = [Queued(r["key"], p, r["key"] not in before) for r, p in zip(rows, people)]
        await tx.audit.append(now, ACTOR, "digest.queued", "digest", day.isoformat(), {
            "to": [q.recipient.address for q in queued if q.new],
            "already": [q.recipient.address for q in queued if not q.new], "unreachable": unreachable,
            "subject": rendered.subject})
    if unreachable:
        logger.warning("daily digest {}: no email address for {}", day, ", ".join(unreachable))
    return queued, unreachable


class DigestJob:
    """Queues each day's digest once, at its moment or at the first start after it."""

    def __init__(self, store: Store, clock: Clock, settings: Settings, organisation: str = "",
                 own_names: tuple[str, ...] = ()) -> None:
        self.store, self.clock, self.settings, self.organisation = store, clock, settings, organisation
        self.own_names = own_names  # the jurisdiction's own names: not a place worth listing
        self.on_enqueue: Callable[[], None] = lambda: None  # serve wires the delivery loop's wake() here
        self._wake = asyncio.Event()
        self._failed: date | None = None  # a day whose digest cannot be drawn (no font): logged once, not retried

    @property
    def enabled(self) -> bool:
        return self.settings.digest.enabled and bool(digest_channels(self.settings))

    def wake(self) -> None:
        self._wake.set()

    async def done(self, day: date) -> bool:
        async with self.store.read() as tx:
            return bool(await tx.reports.outbox_with_prefix(f"digest:{day.isoformat()}:"))

    async def tick(self) -> datetime | None:
        now = self.clock.now()
        hour, minute = self.settings.digest.hour_minute
        day = digest_mod.digest_due(now, hour, minute)
        if day is not None and day != self._failed and not await self.done(day):
            try:
                _, rendered = await prepare(self.store, self.settings, now, day, self.organisation, self.own_names)
            except FontMissing as exc:
                self._failed = day
                logger.error("舆情日报 {} 未能生成 (daily digest not made): {}", day, exc)
                async with self.store.write() as tx:
                    await tx.audit.append(now, ACTOR, "digest.failed", "digest", day.isoformat(), {"error": str(exc)})
            else:
                queued, _ = await enqueue(self.store, self.settings, self.clock, day, rendered)
                logger.info("daily digest {} queued for {} recipient(s)", day, sum(q.new for q in queued))
                self.on_enqueue()
        return digest_mod.next_moment(now, hour, minute)

    async def run(self, stop: asyncio.Event, poll: float = 300.0) -> None:
        await timer_loop("daily digest", stop, self._wake, self.clock, self.tick, poll)
