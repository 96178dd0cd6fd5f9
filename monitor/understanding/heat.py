"""Heat (pure): how much attention an incident draws — many distinct reporters, fast growth, likes — and
the severity adjustment that follows. Time is passed in (`now`), nothing is read from a clock.

Each signal over its threshold adds one step; the total raise is bounded by `max_raise` and the result
by `cap` (`sensitive_cap` when the incident touches one of the eight sensitive areas). The defaults stop
at 较大: heat alone never starts the 5-hour clock of a 重大 incident; a person raises it.
The pipeline/service layer calls `adjust` when an incident's statistics change and re-plans deadlines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from monitor.core.model import Reason, Severity


@dataclass(frozen=True)
class HeatPolicy:
    reporters: int = 10  # distinct reporters of the same matter
    growth_items: int = 5  # items arriving within `window`
    window: timedelta = timedelta(hours=1)
    likes: int = 100  # likes (点赞) summed over the items
    max_raise: int = 1  # steps, whatever the number of signals
    cap: Severity = Severity.LARGER
    sensitive_cap: Severity = Severity.LARGER

    @classmethod
    def from_dict(cls, data: dict | None) -> "HeatPolicy":
        from monitor.core.durations import Duration

        data = dict(data or {})
        kwargs: dict = {}
        for key in ("reporters", "growth_items", "likes", "max_raise"):
            if key in data:
                kwargs[key] = int(data.pop(key))
        if "window" in data:
            duration = Duration.parse(str(data.pop("window")))
            kwargs["window"] = duration.timedelta()
        for key in ("cap", "sensitive_cap"):
            if key in data:
                kwargs[key] = Severity.parse(data.pop(key))
        if data:
            raise ValueError(f"heat: unknown keys {sorted(data)}")
        return cls(**kwargs)


@dataclass(frozen=True)
class HeatSignals:
    item_count: int = 1
    reporter_count: int = 1
    likes: int = 0
    recent_items: int = 0  # items within the policy window before `now`


def signals(item_count: int, reporter_count: int, likes: int, item_times: Iterable[datetime], now: datetime,
            policy: HeatPolicy = HeatPolicy()) -> HeatSignals:
    """Count the items seen within the window ending at `now` (times in the future are ignored)."""
    start = now - policy.window
    recent = sum(1 for t in item_times if t is not None and start <= t <= now)
    return HeatSignals(item_count, reporter_count, likes, recent)


def adjust(level: Severity, heat: HeatSignals, sensitive_areas: list[str] | tuple = (),
           policy: HeatPolicy = HeatPolicy()) -> tuple[Severity, list[Reason]]:
    """The severity after heat, with one reason per signal that fired. Never lowers `level`."""
    fired: list[str] = []
    if heat.reporter_count >= policy.reporters:
        fired.append(f"{heat.reporter_count}位群众反映（≥{policy.reporters}）")
    if heat.recent_items >= policy.growth_items:
        fired.append(f"{_window_zh(policy.window)}内新增{heat.recent_items}条（≥{policy.growth_items}）")
    if heat.likes >= policy.likes:
        fired.append(f"点赞{heat.likes}（≥{policy.likes}）")
    if not fired:
        return level, []
    cap = policy.sensitive_cap if sensitive_areas else policy.cap
    steps = min(len(fired), policy.max_raise)
    raised = level if level >= cap else Severity(min(int(level) + steps, int(cap)))
    detail = "；".join(fired)
    if raised > level:
        return raised, [Reason("severity", f"热度升级：{detail} → 由{level.zh}升为{raised.zh}（上限{cap.zh}）")]
    return level, [Reason("severity", f"热度：{detail}（已达上限{cap.zh}，不再升级）")]


def _window_zh(window: timedelta) -> str:
    minutes = int(window.total_seconds() // 60)
    if minutes % 1440 == 0:
        return f"{minutes // 1440}天"
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"
