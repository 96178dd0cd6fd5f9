"""Durations as written in config: 90s, 15m, 5h, 3d (calendar), 3wd (working days), signed for offsets."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # pragma: no cover
    from monitor.core.workcal import WorkCalendar

Unit = Literal["s", "m", "h", "d", "wd"]
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*([+-]?)(\d{1,6})\s*(wd|s|m|h|d)\s*$")
HINT = "use 90s, 15m, 5h, 3d, 3wd"


@dataclass(frozen=True, order=True)
class Duration:
    amount: int  # signed
    unit: Unit

    @classmethod
    def parse(cls, text: object) -> "Duration":
        if isinstance(text, Duration):
            return text
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise ValueError(f"{text!r} is not a duration ({HINT})")
        if isinstance(text, int):  # a bare number in YAML is seconds
            return cls(text, "s")
        match = _PATTERN.match(text)
        if not match:
            raise ValueError(f'"{text}" is not a duration ({HINT})')
        sign, amount, unit = match.groups()
        value = int(amount)
        return cls(-value if sign == "-" else value, unit)  # type: ignore[arg-type]

    @property
    def working_days(self) -> bool:
        return self.unit == "wd"

    def timedelta(self) -> timedelta:
        if self.working_days:
            raise ValueError(f"{self} counts working days and has no fixed length")
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def after(self, start: datetime, calendar: "WorkCalendar | None" = None) -> datetime:
        """start + self. Working days need the calendar (see WorkCalendar.add_working_days)."""
        if self.working_days:
            if calendar is None:
                raise ValueError(f"{self} needs a working-day calendar")
            return calendar.add_working_days(start, self.amount)
        return start + self.timedelta()

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def describe_zh(self) -> str:
        names = {"s": "秒", "m": "分钟", "h": "小时", "d": "天", "wd": "个工作日"}
        return f"{abs(self.amount)}{names[self.unit]}"
