"""How deadlines are counted, once for every place that counts them: the monthly ledger (回应台账), the daily
digest and the 月检查/季通报/年考核 reports (pure).

- A deadline's outcome at a moment: on time, late, missing (due and no evidence), pending, or cancelled.
- One event counts once: an incident merged into another (status "merged") counts nowhere — its items, evidence
  and ledger lines are the survivor's — and a cancelled deadline (a lowered grade, a merge's duplicate) is never
  counted, neither as met nor as missing.
- A period counts the deadlines due in it, so the months of a quarter add up to the quarter.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Iterable, Mapping

from monitor.core.model import Deadline, Incident

OUTCOMES = ("on_time", "late", "missing", "pending")
PROMISE_PREFIX = "promise_"  # the rule of a commitment's deadline (monitor.service.promise)


def outcome(d: Deadline, at: datetime) -> str:
    """on_time | late | missing | pending | cancelled, judged at `at`. Evidence recorded after `at` still
    counts (a late answer is late, not missing); see `as_of` to look at a deadline as it stood at a moment."""
    if d.state == "cancelled":
        return "cancelled"
    if d.state == "satisfied" and d.closed_at is not None:
        return "on_time" if d.closed_at <= d.due_at else "late"
    return "missing" if d.due_at <= at else "pending"


def as_of(d: Deadline, at: datetime) -> Deadline | None:
    """The deadline as it stood at `at`: None if it did not exist yet, still open if it was closed later."""
    if d.created_at > at:
        return None
    if d.state != "open" and d.closed_at is not None and d.closed_at > at:
        return replace(d, state="open", closed_at=None, evidence_id=None, close_reason=None)
    return d


def is_promise(d: Deadline) -> bool:
    """A commitment made in a response (承诺事项), as opposed to a rule's deadline (法定/配置的回应期限)."""
    return d.rule.startswith(PROMISE_PREFIX)


def counted(deadlines: Iterable[Deadline], incidents: Mapping[int, Incident],
            start: datetime | None = None, end: datetime | None = None) -> list[Deadline]:
    """The deadlines that count: not cancelled, of an incident that is not merged into another, and (with a
    period) due in [start, end)."""
    out = []
    for d in deadlines:
        incident = incidents.get(d.incident_id)
        if d.state == "cancelled" or incident is None or incident.status == "merged":
            continue
        if (start is not None and d.due_at < start) or (end is not None and d.due_at >= end):
            continue
        out.append(d)
    return out


def tally(deadlines: Iterable[Deadline], at: datetime) -> dict[str, Counter]:
    """Department (the deadline's, which follows a reassignment) → Counter of outcomes at `at`."""
    out: dict[str, Counter] = {}
    for d in deadlines:
        out.setdefault(d.department, Counter())[outcome(d, at)] += 1
    return out


@dataclass(frozen=True)
class Rate:
    on_time: int
    late: int
    missing: int
    pending: int

    @classmethod
    def of(cls, c: Counter) -> "Rate":
        return cls(c["on_time"], c["late"], c["missing"], c["pending"])

    @property
    def decided(self) -> int:
        """Deadlines whose outcome is known (pending ones are not)."""
        return self.on_time + self.late + self.missing

    @property
    def total(self) -> int:
        return self.decided + self.pending

    @property
    def value(self) -> float | None:
        """The on-time rate: on time / decided; None when nothing was decided."""
        return self.on_time / self.decided if self.decided else None

    def percent(self) -> str:
        return "—" if self.value is None else f"{self.value:.0%}"
