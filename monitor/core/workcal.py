"""Chinese working days: the State Council holiday schedule with 调休 makeup days.

chinese-calendar knows 2004–2026. Each later year's schedule is published by the State Council in late
autumn and added as a supplement file (config/holidays/2027.yaml). A date in a year with no data raises
CalendarUnavailable instead of guessing: a wrong legal deadline is worse than a loud error. Callers that must
not stop (an import, the escalator) use `provisional()`: it counts every day of an unknown year as a working
day, so a deadline computed with it can only come early, never late, and is flagged as provisional until the
year's schedule is configured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import chinese_calendar

from monitor.core.clock import SHANGHAI, as_utc


class CalendarUnavailable(ValueError):
    def __init__(self, year: int) -> None:
        self.year = year
        super().__init__(
            f"{year} 年的节假日安排未知，无法计算工作日期限；请把国务院办公厅公布的 {year} 年放假安排写入 "
            f"config/holidays/{year}.yaml 并在配置 holidays 中列出 "
            f"(no holiday schedule for {year}: add config/holidays/{year}.yaml)"
        )


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule: days off that fall on weekdays, and weekend days that are worked."""

    year: int
    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)
    source: str = ""


def _builtin_years() -> set[int]:
    known = {d.year for d in chinese_calendar.constants.holidays}
    return set(range(min(known), max(known) + 1))


_BUILTIN = _builtin_years()


class WorkCalendar:
    def __init__(self, supplements: list[YearSchedule] | tuple[YearSchedule, ...] = (),
                 every_day_in_unknown_years: bool = False) -> None:
        self._supplements = {s.year: s for s in supplements}
        self._every_day = every_day_in_unknown_years
        self._provisional = self if every_day_in_unknown_years else None

    def provisional(self) -> "WorkCalendar":
        """This calendar, with every day of a year without data counted as a working day (the earliest
        possible deadline: n working days are at least n days). Made once: deadline rows ask per row."""
        if self._provisional is None:
            self._provisional = WorkCalendar(tuple(self._supplements.values()), every_day_in_unknown_years=True)
        return self._provisional

    @property
    def years(self) -> set[int]:
        return _BUILTIN | set(self._supplements)

    def is_workday(self, day: date) -> bool:
        schedule = self._supplements.get(day.year)
        if schedule is not None:
            if day in schedule.workdays:
                return True
            if day in schedule.holidays:
                return False
            return day.weekday() < 5
        if day.year not in _BUILTIN:
            if self._every_day:
                return True
            raise CalendarUnavailable(day.year)
        return chinese_calendar.is_workday(day)

    def nth_workday(self, start: date, n: int) -> date:
        """The n-th working day after (n > 0) or before (n < 0) `start`, not counting `start` itself."""
        if n == 0:
            return start
        step = timedelta(days=1 if n > 0 else -1)
        day, left = start, abs(n)
        while left:
            day += step
            if self.is_workday(day):
                left -= 1
        return day

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """A deadline of n working days from `start`: the end (24:00 Beijing time) of the n-th working day
        after the day of `start`. For negative n (an escalation offset before such a deadline) the same
        wall-clock time n working days earlier."""
        local_start = as_utc(start).astimezone(SHANGHAI)
        if n >= 0:
            day = self.nth_workday(local_start.date(), n)
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI)
            return as_utc(end)
        day = self.nth_workday(local_start.date(), n)
        return as_utc(datetime.combine(day, local_start.timetz()))
