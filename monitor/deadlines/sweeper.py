"""The sweeper: asks the store which escalation steps are due, fires them, and writes the reminders to the
outbox in the same transaction as the new escalation state. It never sleeps on a deadline itself: timers
are rows (`deadlines.next_at`), so a restart or `kill -9` loses nothing and a missed moment is caught up
at start with one combined reminder (see escalation.advance).

Work is done a batch of due deadlines at a time: one query each for the deadlines (locked), their
incidents, the people and the roster, then bulk writes — thousands of steps a second on SQLite.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from loguru import logger

from monitor.deadlines import escalation
from monitor.core.clock import Clock
from monitor.deadlines.escalation import Advance, Position
from monitor.core.loops import timer_loop
from monitor.core import metrics
from monitor.core.model import DASHBOARD, Deadline, Incident
from monitor.deadlines.notices import idempotency_key, reminder_payload
from monitor.config.settings import EscalationStep, Settings
from monitor.store import Store, Tx
from monitor.core.workcal import WorkCalendar



@dataclass(frozen=True)
class Recipient:
    name: str
    display: str
    channels: tuple[str, ...]


@dataclass
class People:
    """Who is who at one moment: the users, and who holds each roster role then."""

    users: dict[str, dict]
    on_duty: dict[str, list[str]]

    @classmethod
    async def load(cls, tx: Tx, roles: set[str], at: datetime) -> "People":
        users = await tx.people.users()
        duty = {r: await tx.people.on_duty(r, at) for r in roles if r != "responsible" and r not in users}
        return cls(users, duty)

    def resolve(self, roles: list[str], department: str) -> list[Recipient]:
        """responsible = the department's liaisons; a user name = that user; any other role = whoever the
        roster (值班表) gives it at this moment, plus users who hold it permanently."""
        names: list[str] = []
        for role in roles:
            if role == "responsible":
                found = [n for n, u in self.users.items() if u["department"] == department]
            elif role in self.users:
                found = [role]
            else:
                found = self.on_duty.get(role, []) + [n for n, u in self.users.items() if role in (u["roles"] or [])]
            names += [n for n in found if n not in names]
        out = []
        for n in names:
            u = self.users.get(n)
            channels = tuple((u["contacts"] or {}).get("channels", [])) if u else ()
            out.append(Recipient(n, (u and u["display"]) or n, channels))
        return out


async def resolve(tx: Tx, roles: list[str], deadline: Deadline, at: datetime) -> list[Recipient]:
    return (await People.load(tx, set(roles), at)).resolve(roles, deadline.department)


class Escalator:
    def __init__(self, store: Store, clock: Clock, settings: Settings, calendar: WorkCalendar,
                 batch: int = 500) -> None:
        # Reminder times only (legal due times are in the rows): a step offset into a year without holiday
        # data is counted with every day a working day rather than stopping the sweep.
        self.store, self.clock, self.settings, self.calendar = store, clock, settings, calendar.provisional()
        self.batch = batch
        self._wake = asyncio.Event()
        self.on_enqueue: Callable[[], None] = lambda: None  # serve wires the delivery loop's wake() here
        self._roles = {r for steps in settings.escalation_policies.values() for s in steps for r in s.notify}

    def wake(self) -> None:
        self._wake.set()

    async def sweep(self, max_batches: int = 20) -> int:
        """Fire what is due now, at most `max_batches` transactions (the loop comes straight back if more is
        due, so a stop request is seen between them). Returns the steps fired (suppressed repeats included)."""
        total = 0
        for _ in range(max_batches):
            now = self.clock.now()
            async with self.store.write() as tx:
                due = await tx.deadlines.due_steps(now, self.batch)
                if due:
                    total += await self._fire_batch(tx, due, now)
            if due:
                self.on_enqueue()
            if len(due) < self.batch:
                break
        return total

    async def _fire_batch(self, tx: Tx, due: list[Deadline], now: datetime) -> int:
        moves: list[dict] = []
        fired: list[tuple[Deadline, EscalationStep, Advance]] = []
        suppressed: list[tuple[Deadline, Advance]] = []
        for d in due:
            steps = self.settings.escalation_policies.get(d.policy or "")
            pos = Position(d.step, d.fires)
            adv = escalation.advance(steps, d.due_at, self.calendar, pos, now, d.acked_step) if steps else None
            if adv is None:  # no policy any more, or not due after all (config changed): just reschedule
                at = None
                if steps and d.step < len(steps):
                    at = escalation.time_of(steps, escalation.bases(steps, d.due_at, self.calendar), pos)
                moves.append(_move(d, pos, at, now))
                continue
            moves.append(_move(d, adv.next or Position(len(steps), 0), adv.next_at, now))
            if adv.suppressed:
                suppressed.append((d, adv))
            else:
                fired.append((d, steps[adv.fire.step], adv))
        # Compare-and-set on (step, fires, state): rows are locked by due_steps, so a mismatch means another
        # process got there first and this whole batch must not send anything.
        if not await tx.deadlines.move_many(moves):
            raise RuntimeError("escalation state changed underneath the sweeper; retrying")
        messages: list[dict] = []
        audit: list[dict] = []
        if fired:
            incidents = await tx.incidents.get_many([d.incident_id for d, _, _ in fired])
            people = await People.load(tx, self._roles, now)
            for d, step, adv in fired:
                batch = self._messages(incidents[d.incident_id], d, step, adv, people, now)
                messages += batch
                audit.append(_audit(now, "escalation.fired", d, {
                    "rule": d.rule, "step": adv.fire.key, "missed": adv.missed,
                    "to": sorted({f"{m['channel']}:{m['recipient']}".rstrip(":") for m in batch})}))
        audit += [_audit(now, "escalation.suppressed", d, {"rule": d.rule, "step": a.fire.key, "acked_by": d.acked_by})
                  for d, a in suppressed]
        await tx.outbox.enqueue(messages)
        await tx.audit.append_many(audit)
        caught_up = sum(1 for _, _, a in fired if a.missed)
        logger.info("escalation: {} step(s) fired, {} message(s){}{}", len(fired), len(messages),
                    f", {caught_up} caught up after a gap" if caught_up else "",
                    f", {len(suppressed)} acknowledged repeat(s) silent" if suppressed else "")
        return len(fired) + len(suppressed)

    def _messages(self, incident: Incident, d: Deadline, step: EscalationStep, adv: Advance, people: People,
                  now: datetime) -> list[dict]:
        recipients = people.resolve(step.notify, d.department)
        names = [r.display for r in recipients]
        if step.channels:
            targets = [(c, "") for c in step.channels]
        else:
            targets = [(c, r.name) for r in recipients for c in r.channels]
        if not targets:
            targets = [(DASHBOARD, "")]
            names = names or [f"（未找到{'、'.join(step.notify)}的接收人）"]
        out = []
        for channel, recipient in targets:
            key = idempotency_key(incident.id, d.rule, adv.fire.key, channel, recipient)
            out.append({
                "key": key, "channel": channel, "recipient": recipient, "incident_id": incident.id,
                "deadline_id": d.id,
                "payload": reminder_payload(incident, d, adv.fire, adv.missed, now, channel, names, key),
                "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now,
            })
        return out

    async def tick(self) -> datetime | None:
        """Sweep; return when the next step is due."""
        await metrics.timed(metrics.SWEEP_SECONDS, self.sweep())  # yuqing_sweep_duration_seconds
        async with self.store.read() as tx:
            return await tx.deadlines.next_step_at()

    async def run(self, stop: asyncio.Event, poll: float = 1.0) -> None:
        # Sweeps at most every 50 ms: steps due 20 ms apart fire a few per transaction, not one each
        # (bench/chat_delivery.py: the write lock they shared with delivery made the p99 tail).
        await timer_loop("escalation sweep", stop, self._wake, self.clock, self.tick, poll, min_gap=0.05)


def _move(d: Deadline, to: Position, at: datetime | None, now: datetime) -> dict:
    return {"b_id": d.id, "b_step": d.step, "b_fires": d.fires, "step": to.step, "fires": to.fires,
            "next_at": at, "updated_at": now}


def _audit(now: datetime, action: str, d: Deadline, detail: dict) -> dict:
    return {"at": now, "actor": "system:escalator", "action": action, "entity": "incident",
            "entity_id": str(d.incident_id), "detail": detail}
