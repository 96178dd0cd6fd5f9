from datetime import datetime, timedelta

import pytest

from monitor.core.clock import SHANGHAI, as_utc
from monitor.core.durations import Duration
from monitor.core.workcal import WorkCalendar


@pytest.mark.parametrize(
    "text,amount,unit",
    [("90s", 90, "s"), ("15m", 15, "m"), ("5h", 5, "h"), ("3d", 3, "d"), ("3wd", 3, "wd"),
     ("-2h", -2, "h"), ("+1h", 1, "h"), ("0s", 0, "s"), (" 30m ", 30, "m"), (45, 45, "s")],
)
def test_parse(text, amount, unit):
    d = Duration.parse(text)
    assert (d.amount, d.unit) == (amount, unit)


@pytest.mark.parametrize("text", ["5 hours", "5", "h", "1.5h", "3w", "", "5hh", True, None, 3.5, "--1h"])
def test_parse_rejects_with_hint(text):
    with pytest.raises(ValueError, match="use 90s, 15m, 5h, 3d, 3wd"):
        Duration.parse(text)


def test_timedelta_and_after():
    start = as_utc(datetime(2026, 11, 23, 9, 0))
    assert Duration.parse("5h").after(start) == start + timedelta(hours=5)
    assert Duration.parse("-30m").after(start) == start - timedelta(minutes=30)
    assert Duration.parse("3d").timedelta() == timedelta(days=3)
    with pytest.raises(ValueError):
        Duration.parse("3wd").timedelta()
    with pytest.raises(ValueError, match="calendar"):
        Duration.parse("3wd").after(start)


def test_working_days_use_calendar():
    # Friday 2026-11-20 10:00 Beijing + 3wd → end of Wednesday 2026-11-25.
    start = datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)
    due = Duration.parse("3wd").after(start, WorkCalendar())
    assert due.astimezone(SHANGHAI) == datetime(2026, 11, 26, 0, 0, tzinfo=SHANGHAI)


def test_str_round_trip():
    for text in ("90s", "-2h", "3wd"):
        assert str(Duration.parse(text)) == text
