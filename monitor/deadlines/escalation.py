"""What the next escalation step is and when (pure: policy × due time × now; no I/O, no sleeping).

A policy is a list of steps, each at an offset from the deadline's due time ("-2h", "0s", "+1h"), optionally
repeating. Together they form one ordered sequence of fire times; a deadline's escalation state is its
position in that sequence: (step, fires) = the step index and how many times that step has fired.

Catching up: when several fire times have passed (the process was down, or the clock jumped), only the
latest passed one is fired, once, with the number it stands for ("missed while down"), never a burst.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Sequence

from monitor.config.settings import EscalationStep
from monitor.core.workcal import WorkCalendar


@dataclass(frozen=True, order=True)
class Position:
    step: int
    fires: int = 0

    @property
    def key(self) -> str:
        """The step part of an idempotency key: "2", or "3r4" for the fourth repeat of step 3."""
        return f"{self.step}r{self.fires}" if self.fires else str(self.step)


@dataclass(frozen=True)
class Advance:
    fire: Position  # the position to fire now
    missed: int  # earlier positions passed over (their time came while nothing fired)
    next: Position | None  # the following position, or None when the policy is exhausted
    next_at: datetime | None
    suppressed: bool = False  # a repeat of an acknowledged step: advance silently


def bases(steps: Sequence[EscalationStep], due_at: datetime, calendar: WorkCalendar) -> list[datetime]:
    """Each step's first fire time, made non-decreasing (config lists steps in time order; working-day
    offsets around holidays could otherwise reorder them)."""
    out: list[datetime] = []
    for step in steps:
        at = step.at.after(due_at, calendar)
        out.append(max(at, out[-1]) if out else at)
    return out


def time_of(steps: Sequence[EscalationStep], base: list[datetime], pos: Position) -> datetime:
    step = steps[pos.step]
    if pos.fires == 0:
        return base[pos.step]
    return base[pos.step] + pos.fires * step.repeat.timedelta()  # type: ignore[union-attr]


def following(steps: Sequence[EscalationStep], base: list[datetime], pos: Position) -> Position | None:
    """The position after `pos`: the next repeat of this step if it comes before the next step starts."""
    step = steps[pos.step]
    if step.repeat is not None:
        nxt = base[pos.step] + (pos.fires + 1) * step.repeat.timedelta()
        if pos.step + 1 >= len(steps) or nxt < base[pos.step + 1]:
            return Position(pos.step, pos.fires + 1)
    if pos.step + 1 < len(steps):
        return Position(pos.step + 1, 0)
    return None


def first(steps: Sequence[EscalationStep], due_at: datetime, calendar: WorkCalendar) -> tuple[Position, datetime] | None:
    """Where a new deadline's escalation starts: the first step and its time (possibly already past)."""
    if not steps:
        return None
    base = bases(steps, due_at, calendar)
    return Position(0, 0), base[0]


def _last_at_or_before(steps, base, pos: Position, now: datetime) -> tuple[Position, int]:
    """From `pos` (whose time has come), the latest position whose time is <= now, and how many positions
    were passed over on the way. Repeats are skipped arithmetically, not one by one."""
    passed = 0
    while True:
        step = steps[pos.step]
        seg_end = base[pos.step + 1] if pos.step + 1 < len(steps) else None
        if step.repeat is not None:
            period = step.repeat.timedelta()
            limit = now if seg_end is None else min(now, seg_end - timedelta(microseconds=1))
            last_fires = max(pos.fires, int((limit - base[pos.step]) / period))
            passed += last_fires - pos.fires
            pos = Position(pos.step, last_fires)
        nxt = following(steps, base, pos)
        if nxt is None or time_of(steps, base, nxt) > now:
            return pos, passed
        passed += 1
        pos = nxt


def advance(
    steps: Sequence[EscalationStep],
    due_at: datetime,
    calendar: WorkCalendar,
    pos: Position,
    now: datetime,
    acked_step: int | None = None,
) -> Advance | None:
    """Fire what is due at `now` from position `pos`. None if `pos` is not due yet."""
    base = bases(steps, due_at, calendar)
    if pos.step >= len(steps) or time_of(steps, base, pos) > now:
        return None
    fire, missed = _last_at_or_before(steps, base, pos, now)
    nxt = following(steps, base, fire)
    # An acknowledgement silences repeats of the step that was acknowledged, not the steps after it.
    suppressed = acked_step is not None and fire.step == acked_step and fire.fires > 0
    return Advance(fire, missed, nxt, time_of(steps, base, nxt) if nxt else None, suppressed)


def last_fired(pos: Position) -> int | None:
    """The index of the step most recently fired, given the stored next position (an exhausted policy is
    stored as Position(len(steps), 0))."""
    if pos.fires > 0:
        return pos.step
    return pos.step - 1 if pos.step > 0 else None


def initial_state(policies: dict[str, list[EscalationStep]], calendar: WorkCalendar, policy: str | None,
                  due_at: datetime) -> dict:
    """step/fires/next_at for a newly opened deadline."""
    steps = policies.get(policy or "") or []
    start = first(steps, due_at, calendar.provisional())  # as the Escalator counts (see there)
    if start is None:
        return {"step": 0, "fires": 0, "next_at": None}
    pos, at = start
    return {"step": pos.step, "fires": pos.fires, "next_at": at}
