from datetime import date, datetime

import pytest

from monitor.core.clock import SHANGHAI
from monitor.core.workcal import CalendarUnavailable, WorkCalendar, YearSchedule

cal = WorkCalendar()


def local(*args):
    return datetime(*args, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    "day,workday",
    [
        (date(2026, 2, 14), True),  # Saturday, 调休 makeup day before 春节 2026
        (date(2026, 2, 16), False),  # 春节 holiday on a Monday
        (date(2026, 2, 28), True),  # Saturday makeup after 春节
        (date(2026, 10, 1), False),  # 国庆
        (date(2026, 10, 10), True),  # Saturday makeup after 国庆
        (date(2026, 11, 23), True),  # ordinary Monday
        (date(2026, 11, 22), False),  # ordinary Sunday
    ],
)
def test_state_council_schedule_2026(day, workday):
    assert cal.is_workday(day) is workday


def test_three_working_days_across_spring_festival():
    # Published Friday 2026-02-13: Sat 14 is a makeup working day (1), then the holiday runs to
    # Mon 23 (chinese-calendar: 15–23 off), so Tue 24 (2), Wed 25 (3) → due at 24:00 on the 25th.
    due = cal.add_working_days(local(2026, 2, 13, 16, 0), 3)
    assert due.astimezone(SHANGHAI) == local(2026, 2, 26, 0, 0)


def test_three_working_days_across_national_day():
    # Published Tuesday 2026-09-29: Wed 30 (1), 1–7 Oct off, Thu 8 (2), Fri 9 (3).
    due = cal.add_working_days(local(2026, 9, 29, 9, 0), 3)
    assert due.astimezone(SHANGHAI) == local(2026, 10, 10, 0, 0)


def test_negative_offset_keeps_wall_clock_time():
    assert cal.add_working_days(local(2026, 11, 26, 0, 0), -1) == local(2026, 11, 25, 0, 0)
    # Monday minus one working day is the previous Friday
    assert cal.add_working_days(local(2026, 11, 23, 15, 0), -1) == local(2026, 11, 20, 15, 0)


def test_unknown_year_is_a_clear_error():
    with pytest.raises(CalendarUnavailable, match="2027") as info:
        cal.add_working_days(local(2026, 12, 30, 9, 0), 3)
    assert "config/holidays/2027.yaml" in str(info.value)


def test_supplement_adds_a_year_with_makeup_days():
    schedule = YearSchedule(2027, holidays=frozenset({date(2027, 1, 1)}), workdays=frozenset({date(2027, 1, 2)}))
    c = WorkCalendar([schedule])
    assert c.is_workday(date(2027, 1, 1)) is False  # a Friday holiday
    assert c.is_workday(date(2027, 1, 2)) is True  # a Saturday makeup day
    assert c.is_workday(date(2027, 1, 3)) is False  # ordinary Sunday
    # Wed 2026-12-30 + 3wd: Thu 31 (1), Sat 2 Jan makeup (2), Mon 4 (3)
    assert c.add_working_days(local(2026, 12, 30, 9, 0), 3) == local(2027, 1, 5, 0, 0)
    assert 2027 in c.years and 2026 in c.years
