"""Who will be there to be reminded: the hours in the coming days when a role that an escalation policy notifies
has nobody on the duty roster (值班表). Without this, a reminder at such an hour reaches nobody, silently (the
example roster covers one day). Pure: the roster page, `yuqing check-config` and the `serve` log all call
`gaps` with the shifts they know and `now`.

Who counts as holding a role is what monitor.deadlines.sweeper.People resolves: a roster shift ([from, to)),
or a user who holds the role permanently (users[].roles). `responsible` is a department's liaisons, not a
roster role, and a notify entry that names a user is that user: neither can have a gap here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from monitor.core.clock import fmt_delta, fmt_local

HORIZON = timedelta(days=7)  # the warning looks this far ahead
ROLE_ZH = {"duty_officer": "值班员", "office_leader": "办公室负责人", "responsible": "责任单位联络员"}
PROMISE_POLICY = "routine"  # a commitment's deadline escalates along this policy (monitor.service.promise)


@dataclass(frozen=True)
class Shift:
    role: str
    user: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class RoleGap:
    """The hours of [start, end) when nobody holds `role`, as intervals, earliest first."""

    role: str
    start: datetime
    end: datetime
    holes: tuple[tuple[datetime, datetime], ...]

    @property
    def uncovered(self) -> timedelta:
        return sum((b - a for a, b in self.holes), timedelta())

    @property
    def nobody(self) -> bool:
        """Nobody at all in the whole window."""
        return self.uncovered >= self.end - self.start

    def zh(self) -> str:
        name = role_zh(self.role)
        first = self.holes[0]
        if self.nobody:
            return f"角色「{name}」（{self.role}）未来 {_days(self.end - self.start)}无人值班，升级提醒将无人接收"
        return (f"角色「{name}」（{self.role}）未来 {_days(self.end - self.start)}内有 {fmt_delta(self.uncovered)} 无人值班"
                f"（最早 {fmt_local(first[0])} 至 {fmt_local(first[1])}），其间升级提醒无人接收")

    def en(self) -> str:
        days = (self.end - self.start) / timedelta(days=1)
        if self.nobody:
            return f"nobody holds role {self.role} in the next {days:g} days: its reminders reach nobody"
        hours = self.uncovered / timedelta(hours=1)
        return (f"role {self.role} has nobody for {hours:.0f} h of the next {days:g} days (first from "
                f"{fmt_local(self.holes[0][0])} Beijing time): its reminders then reach nobody")

    def text(self) -> str:
        return f"警告：{self.zh()} / warning: {self.en()}"


def role_zh(role: str) -> str:
    return ROLE_ZH.get(role, role)


def _days(delta: timedelta) -> str:
    days = delta / timedelta(days=1)
    return f"{days:g} 天" if days >= 1 else fmt_delta(delta)


def watched_roles(rules, policies: dict, user_names: Iterable[str] = ()) -> list[str]:
    """The roster roles that reminders go to: those the escalation policies of `rules` notify (and of the policy
    commitments use), without `responsible` and without entries that name a user. In policy order."""
    used = [r.escalation for r in rules if r.escalation] + [PROMISE_POLICY]
    people = set(user_names)
    out: list[str] = []
    for name in dict.fromkeys(used):
        for step in policies.get(name, ()):
            for role in step.notify:
                if role != "responsible" and role not in people and role not in out:
                    out.append(role)
    return out


def gaps(roles: Iterable[str], shifts: Iterable[Shift], standing: Iterable[str], now: datetime,
         horizon: timedelta = HORIZON) -> list[RoleGap]:
    """For each of `roles` that somebody lacks in [now, now + horizon): its holes. Roles in `standing` (held
    permanently by a user) never lack anybody."""
    end = now + horizon
    permanent = set(standing)
    by_role: dict[str, list[tuple[datetime, datetime]]] = {}
    for s in shifts:
        if s.ends_at > now and s.starts_at < end:
            by_role.setdefault(s.role, []).append((max(s.starts_at, now), min(s.ends_at, end)))
    out = []
    for role in dict.fromkeys(roles):
        if role in permanent:
            continue
        holes, at = [], now
        for a, b in sorted(by_role.get(role, [])):
            if a > at:
                holes.append((at, a))
            at = max(at, b)
        if at < end:
            holes.append((at, end))
        if holes:
            out.append(RoleGap(role, now, end, tuple(holes)))
    return out


def config_gaps(settings, now: datetime) -> list[RoleGap]:
    """The gaps of the configured roster alone (what `check-config` can know: manual shifts live in the store)."""
    names = [u.name for u in settings.users]
    roles = watched_roles(settings.rules, settings.escalation_policies, names)
    shifts = [Shift(e.role, e.user, e.from_, e.to) for e in settings.roster]
    return gaps(roles, shifts, {r for u in settings.users for r in u.roles}, now)
