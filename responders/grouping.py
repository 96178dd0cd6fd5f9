"""What one channel does with its due outbox rows now (pure: config, rows, what the store knows and `now` in; a
Plan out). Alertmanager's group_wait / group_interval, on the durable outbox:

- filters (`min_severity`, `departments`): a row the channel does not carry is marked "filtered" with the
  reason, never dropped unseen; the dashboard channel is never filtered, held or grouped;
- quiet hours (`quiet_hours: "22:00-07:00"`, Beijing time): rows below 重大 wait until the quiet period ends;
- chat channels (robots, Telegram) send in order, one lane per chat: a robot's group chat is one lane
  whoever is @-mentioned; other kinds have one lane per recipient, so a person's rows never join another's.
  A lane whose last attempt failed (backoff) or whose send budget is spent holds its new rows until then, so
  everything resumes together and in order;
- grouping (`group_wait`, `group_interval`, chat channels only): the rows of a lane that fall due within
  `group_wait` of the oldest pending one go as one message; the next one waits until `group_interval` after
  the previous send. 重大 and above never wait longer than `group_wait` (the 5 h / 24 h reminders stay prompt).

Holds are not attempts: the rows get a later `next_attempt_at` and keep their attempt count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from monitor.config.settings import ChannelConfig
from monitor.core.clock import as_utc, local
from monitor.core.model import DASHBOARD, OutboxMessage, Severity

URGENT = Severity.MAJOR
ROBOTS = frozenset({"dingtalk", "wecom", "feishu"})  # one group chat: a recipient is only an @-mention
CHAT = ROBOTS | {"telegram"}
# Items per grouped message, so that every line keeps its incident number, rule and countdown within the
# platform's limit (responders/render.py FORMATS; checked by tests/test_chat_grouping.py). Bigger bursts go
# as several messages, one after the other.
GROUP_MAX = {"dingtalk": 20, "wecom": 8, "feishu": 30, "telegram": 20}
HOLD = "暂缓："  # last_error of a row held on purpose (not a failure): the store does not count it as backoff


@dataclass(frozen=True)
class Lane:
    """What the store knows about a lane beyond the rows due now."""

    oldest: datetime | None = None  # created_at of its oldest pending row (a burst began then)
    backoff_until: datetime | None = None  # its last failed attempt asked to wait until then
    next_at: datetime | None = None  # its earliest row held for later: a group already set to go then
    last_sent: datetime | None = None  # its last message went out then
    budget_until: datetime | None = None  # the robot's send budget frees a slot then (this process)


@dataclass(frozen=True)
class Send:
    rows: tuple[OutboxMessage, ...]  # in order (outbox id)

    @property
    def grouped(self) -> bool:
        return len(self.rows) > 1


@dataclass
class Plan:
    lanes: list[list[Send]] = field(default_factory=list)  # each sent in order; lanes run side by side
    held: list[tuple[OutboxMessage, datetime, str]] = field(default_factory=list)  # row, until, why
    filtered: list[tuple[OutboxMessage, str]] = field(default_factory=list)  # row, why


def severity(m: OutboxMessage) -> Severity | None:
    """None: not a reminder or an alert (a digest mail): no filter applies to it."""
    value = m.payload.get("severity")
    if not value:
        return None
    try:
        return Severity.parse(value)
    except (ValueError, KeyError):
        return None


def urgent(m: OutboxMessage) -> bool:
    s = severity(m)
    return s is not None and s >= URGENT


def lane_of(kind: str, m: OutboxMessage) -> str:
    return "" if kind in ROBOTS else m.recipient


def grouping(config: ChannelConfig) -> bool:
    return config.kind in CHAT and bool(config.group_wait or config.group_interval)


def exempt(config: ChannelConfig) -> bool:
    """The dashboard always gets everything, at once."""
    return config.name == DASHBOARD or config.kind == "log"


# --------------------------------------------------------------------------- filters and quiet hours
def filter_reason(config: ChannelConfig, m: OutboxMessage) -> str | None:
    s = severity(m)
    if s is None or exempt(config):
        return None
    if config.min_severity is not None and s < config.min_severity:
        return (f"已过滤：{s.zh}低于本渠道最低等级{config.min_severity.zh} "
                f"(filtered: severity below the channel's min_severity)")
    department = str(m.payload.get("department") or "")
    if config.departments and department not in config.departments:
        return (f"已过滤：责任单位「{department or '未定'}」不在本渠道的单位之列 "
                f"(filtered: department not in the channel's departments)")
    return None


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def quiet_end(spec: str | None, now: datetime) -> datetime | None:
    """When the quiet period that `now` is in ends (UTC), or None outside one. "22:00-07:00" runs across
    midnight; equal ends mean no quiet period. Beijing time has no daylight saving, so minutes are exact."""
    if not spec:
        return None
    start, end = (_minutes(p) for p in spec.split("-"))
    t = local(now)
    minute = t.hour * 60 + t.minute
    inside = start <= minute < end if start < end else start > end and (minute >= start or minute < end)
    if not inside:
        return None
    ends = t.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= t:
        ends += timedelta(days=1)
    return as_utc(ends)


# --------------------------------------------------------------------------- the plan
def _span(value) -> timedelta:
    return value.timedelta() if value is not None else timedelta(0)


def _later(*times: datetime | None) -> datetime | None:
    known = [t for t in times if t is not None]
    return max(known) if known else None


def _at(t: datetime) -> str:
    return local(t).strftime("%H:%M:%S")


def plan(config: ChannelConfig, rows: Iterable[OutboxMessage], now: datetime,
         lane: Callable[[str], Lane] = lambda _key: Lane()) -> Plan:
    """Decide for the due rows of one channel. `lane(key)`: the store's view of a lane (see Lane)."""
    out = Plan()
    if exempt(config):
        out.lanes = [[Send((m,))] for m in sorted(rows, key=lambda m: m.id)]
        return out
    quiet_until = quiet_end(config.quiet_hours, now)
    lanes: dict[str, list[OutboxMessage]] = {}
    for m in sorted(rows, key=lambda m: m.id):
        reason = filter_reason(config, m)
        if reason:
            out.filtered.append((m, reason))
        elif quiet_until is not None and not urgent(m):
            out.held.append((m, quiet_until, f"{HOLD}免打扰时段，北京时间 {_at(quiet_until)[:5]} 后发送 (quiet hours)"))
        else:
            lanes.setdefault(lane_of(config.kind, m) if config.kind in CHAT else str(m.id), []).append(m)
    for key, due in lanes.items():
        if config.kind not in CHAT:  # webhook, email: each row on its own, side by side (as before grouping)
            out.lanes += [[Send((m,))] for m in due]
            continue
        state = lane(key)
        gate = _later(state.backoff_until, state.budget_until)
        normal, hurry = _ready(config, due, state)
        if min(normal, hurry) > now:
            for m in due:
                until = hurry if urgent(m) else normal
                why = "渠道重试或限速中" if gate is not None and until == gate else "合并发送"
                out.held.append((m, until, f"{HOLD}{why}，北京时间 {_at(until)} 后发送 (held for grouping or retry)"))
            continue
        size = GROUP_MAX.get(config.kind, 1) if grouping(config) else 1
        out.lanes.append([Send(tuple(due[i:i + size])) for i in range(0, len(due), size)])
    return out


def _ready(config: ChannelConfig, due: list[OutboxMessage], state: Lane) -> tuple[datetime, datetime]:
    """When a lane's due rows may go, and when its rows of 重大 and above may (when either comes, all its due
    rows go). A failure's backoff and the send budget hold every row. Grouping holds a burst `group_wait`
    from the lane's oldest pending row and until `group_interval` after its last send, but a row of 重大 or
    above only `group_wait` from its own due time; a row joins a group the lane has already set to go
    sooner, and the oldest waits at most `group_wait` + `group_interval` (a stream of 重大 sends, each
    restarting the interval, cannot starve the rest)."""
    gate = _later(state.backoff_until, state.budget_until)
    first = min(m.created_at for m in due)
    if not grouping(config):
        ready = _later(gate, first) or first
        return ready, ready
    wait, interval = _span(config.group_wait), _span(config.group_interval)
    oldest = min(first, state.oldest or first)
    normal = oldest + wait
    if state.last_sent is not None and interval:
        normal = min(max(normal, state.last_sent + interval), oldest + wait + interval)
    hurry = [m.created_at for m in due if urgent(m)]
    soon = min(normal, min(hurry) + wait) if hurry else normal
    if state.next_at is not None:
        normal, soon = min(normal, state.next_at), min(soon, state.next_at)
    return _later(normal, gate) or normal, _later(soon, gate) or soon
